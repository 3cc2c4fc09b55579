"""Dead code elimination ("dce").

Three clean-ups, in one linear walk each:

1. Blocks the entry cannot reach are deleted.
2. Liveness is marked backwards from the instructions that must stay -- everything with an
   effect: ``put``, ``store``, ``load`` (it may trap), calls of helpers not declared pure,
   ``call_fn``, ``charge``, ``check_budget``, ``insn_start`` and terminators. A value is live
   if a live instruction uses it, or if it is passed to a live block parameter. Unmarked
   instructions are deleted; they are all removable (``analysis.is_removable``: pure ops,
   ``get``, pure helper calls).
3. Unmarked block parameters are deleted together with the branch arguments bound to them. The
   entry block keeps its parameters (they are a function region's arguments).

Since the marking starts from effects rather than from uses, dead cycles (a value fed only to
itself around a loop) disappear too.
"""

from __future__ import annotations

from ..ir.nodes import Module, Region
from .analysis import CFG, is_removable


def run(region: Region, module: Module) -> int:
    """Delete dead blocks, instructions and block parameters of ``region`` in place; return how
    many were deleted (blocks + instructions + parameters)."""
    cfg = CFG(region)
    changes = len(region.blocks) - len(cfg.rpo)
    if changes:
        region.blocks = [b for b in region.blocks if b in cfg.reachable]

    live_values: set = set()
    live_insts: set = set()
    work: list = []
    for block in region.blocks:
        for inst in block.insts:
            if not is_removable(inst, module):
                live_insts.add(inst)
                work.extend(inst.args)
    param_index = {p: i for b in region.blocks for i, p in enumerate(b.params)}
    preds = cfg.preds
    while work:
        v = work.pop()
        if v in live_values:
            continue
        live_values.add(v)
        d = v.defn
        if d is not None:
            if d not in live_insts:
                live_insts.add(d)
                work.extend(d.args)
        elif v.block is not None:
            i = param_index[v]
            for _, call in preds[v.block]:
                work.append(call.args[i])

    entry = region.blocks[0]
    for block in region.blocks:
        n = len(block.insts)
        block.insts = [i for i in block.insts if i in live_insts]
        changes += n - len(block.insts)
        if block is entry or not block.params:
            continue
        keep = [p in live_values for p in block.params]
        if all(keep):
            continue
        changes += keep.count(False)
        block.params = [p for p, k in zip(block.params, keep) if k]
        for _, call in preds[block]:
            call.args = [a for a, k in zip(call.args, keep) if k]
    return changes
