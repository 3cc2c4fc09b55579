"""Guest-state get/put forwarding ("state_forwarding").

Walks each block keeping, per state slot:

* the value the slot is known to hold (from the last ``put`` of it, or a ``get`` of it): a later
  ``get`` of the slot is replaced by that value, and a ``put`` of exactly that value is deleted
  (the slot already holds it, so no point ever sees a difference);
* the last ``put`` of the slot no one has observed yet: when another ``put`` of the slot
  follows with no observation point in between, the earlier one is deleted.

Observation points. PRECISE STATE (DESIGN.md section 5): wherever control can leave generated
code, guest state in memory must be exactly that at the start of the guest instruction there.
So every op that may leave (``load``, ``store``, ``call``, ``call_fn``, ``check_budget``,
``exit``, ``trap``: the ``leaves`` flag of the opcode table) and every other op that reads
state observes all pending puts: they are never deleted, and nothing is moved -- this pass
only deletes instructions. Calls (``call``, ``call_fn``) may also write guest state (a helper
can, another region does), so after one no slot value is known. The end of a block observes
its pending puts, except that across ``br`` into a block with that single predecessor the
walk continues as if it were one block; known values also flow into every single-predecessor
successor (their definitions dominate it).

Slots are compared by their resolved ``(name, index)``, so ``gpr[1]`` and ``gpr[01]`` are one
slot; slots never overlap (``StateLayout`` gives each element its own bytes).
"""

from __future__ import annotations

from ..ir.nodes import Module, Region
from .analysis import (CFG, LEAVING_OPS, STATE_CLOBBERING_OPS, STATE_READING_OPS,
                       Substitution)

_OBSERVERS = LEAVING_OPS | STATE_READING_OPS


def run(region: Region, module: Module) -> int:
    """Forward state values and delete overwritten puts in ``region`` in place; return how many
    ``get``/``put`` instructions were deleted."""
    cfg = CFG(region)
    resolve = module.state.resolve
    slot_keys: dict = {}
    subst = Substitution()
    dead: set = set()
    inherited: dict = {}       # single-predecessor block -> (known, pending) at its head
    entry = region.blocks[0]
    for block in cfg.rpo:
        known, pending = inherited.pop(block, None) or ({}, {})
        for inst in block.insts:
            subst.rewrite(inst)
            op = inst.op
            if op == "get" or op == "put":
                ref = inst.attrs["slot"]
                key = slot_keys.get(ref)
                if key is None:
                    slot, index = resolve(ref)
                    key = slot_keys[ref] = (slot.name, index)
                held = known.get(key)
                if op == "get":
                    result = inst.results[0]
                    if held is not None and held.type is result.type:
                        subst[result] = held
                        dead.add(inst)
                    else:
                        known[key] = result
                        pending.pop(key, None)
                elif held is inst.args[0]:
                    dead.add(inst)
                else:
                    overwritten = pending.get(key)
                    if overwritten is not None:
                        dead.add(overwritten)
                    pending[key] = inst
                    known[key] = inst.args[0]
            elif op in _OBSERVERS:
                pending = {}
                if op in STATE_CLOBBERING_OPS:
                    known = {}
        term = block.insts[-1] if block.insts else None
        if term is None or not term.targets:
            continue
        singles = [c.block for c in term.targets
                   if c.block is not entry and len(cfg.preds[c.block]) == 1]
        for n, succ in enumerate(singles):
            inherited[succ] = (known if n == 0 else dict(known),
                               pending if term.op == "br" else {})
    if not dead:
        return 0
    subst.apply(cfg.order[len(cfg.rpo):])      # reachable uses were rewritten on the way
    for block in cfg.rpo:
        block.insts = [i for i in block.insts if i not in dead]
    return len(dead)
