"""Copy propagation ("copyprop").

A value is a *copy* of another when it always equals it:

* a block parameter whose incoming edges all pass the same value ``x`` -- or the parameter
  itself, as a loop's back edge does for a value the loop does not change -- is a copy of
  ``x``. (``x`` then dominates the block: the first arrival at the block comes through an edge
  that passes ``x``, so ``x`` is defined on every path to it.)
* ``select c, x, x`` is a copy of ``x``.

Copies are found to a fixed point (one copy can make another: a parameter that receives either
``x`` or a copy of ``x``), then every use -- operands and branch arguments -- is rewritten in
one walk. The copying ``select``\\ s are deleted; parameters that became unused are left for
``dce``, which removes them with their branch arguments. Only edges from reachable blocks count
(``dce`` deletes the others). The entry block's parameters are arguments, never copies.
"""

from __future__ import annotations

from ..ir.nodes import Module, Region
from .analysis import CFG, Substitution

_NONE = object()


def run(region: Region, module: Module) -> int:
    """Replace every use of a copy in ``region`` by the value copied; return how many copies
    were found."""
    cfg = CFG(region)
    subst = Substitution()
    find = subst.find
    entry = region.blocks[0]
    joins = [b for b in cfg.rpo if b.params and b is not entry]
    selects = [i for b in cfg.rpo for i in b.insts if i.op == "select"]
    changed = True
    while changed:
        changed = False
        for block in joins:
            incoming = cfg.preds[block]
            for index, param in enumerate(block.params):
                if param in subst:
                    continue
                same = _NONE
                for _, call in incoming:
                    a = find(call.args[index])
                    if a is param or a is same:
                        continue
                    if same is not _NONE:
                        break
                    same = a
                else:
                    if same is not _NONE:
                        subst[param] = same
                        changed = True
        for inst in selects:
            result = inst.results[0]
            if result not in subst:
                a = find(inst.args[1])
                if a is find(inst.args[2]):
                    subst[result] = a
                    changed = True
    if not len(subst):
        return 0
    subst.apply(cfg.order)
    for block in cfg.rpo:
        block.insts = [i for i in block.insts
                       if not (i.op == "select" and i.results[0] in subst)]
    return len(subst)
