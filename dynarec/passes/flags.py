"""Dead-flag elimination ("flags"): compute each flag bit only where something reads it.

Guests with a flags register (the SM83's F, x86's EFLAGS, the NZCV of Arm) compute every flag
of every instruction, while most are overwritten before anything reads them: of ``INC B;
DEC C; JR NZ`` only DEC's Z is read, and of INC's flags only C reaches DEC (which keeps it).
The guest names its flags register with the region attribute ``flags=<slot>`` (a state slot
reference, e.g. ``flags=f``); every bit of that slot is tracked on its own, so a register that
also holds non-flag bits (mode bits, the SM83's always-zero low nibble) needs no further
declaration. Regions without the attribute are left alone.

Two backward analyses, solved together until neither changes:

* **Flag liveness** over the control-flow graph: the bits of the flags slot that a later point
  may read. Every bit is live wherever control can leave generated code (the ``leaves`` ops:
  ``load``, ``store``, calls, ``check_budget``, ``exit``, ``trap``; and ``ret``), since guest
  state must be exact there (DESIGN.md section 5, "Precise state"); where cycle accounting
  will put a budget check, which may leave too (before the first ``insn_start`` of every loop
  header, ``dynarec.passes.cycles``); and at every other op that reads guest state as a
  whole. A ``get`` of the slot makes live the bits its value is demanded in; a ``put`` of the
  slot demands, of the value it writes, the bits live after it, and kills every bit.
* **Demanded bits** of every value (the DemandedBits analysis of LLVM): the bits some use can
  observe. The ops this pass understands -- bitwise ops, shifts and rotates by a constant,
  extensions, ``trunc``, ``select``, and ``add``/``sub``/``mul``/``neg``, whose low result
  bits depend on low operand bits only -- pass a demand on to their operands; every other use
  demands every bit. A block parameter passes its demand to the arguments bound to it. What a
  use demands of one operand never rests on what another operand holds, constants apart
  (``and x, y`` demands of ``x`` every demanded bit, even those ``y`` may never set): the
  rewrites below may change those other operands.

Rewrites, in one walk in reverse postorder, using also the bits each value may have set,
computed on the way from the operands as already rewritten (an ``iconst`` has its own bits,
``and`` the intersection, ``shl`` by 7 of a ``zext`` of an ``i1`` only bit 7, ...):

* a ``put`` of the flags slot with no bit live after it is deleted;
* a pure op or ``get`` whose demanded bits and possibly-set bits do not meet becomes, in
  place, ``iconst 0`` (every use observes the same bits as before): the flag computations no
  one reads turn into constants that ``constfold`` and ``dce`` then sweep away;
* ``and x, c`` with a constant ``c`` that keeps every demanded bit ``x`` may have set is
  replaced by ``x`` (reading one flag out of a value that holds only that flag).

The flags slot is compared by its resolved ``(name, index)``, as ``state_forwarding`` does.
Each round is linear in the size of the region; another round runs only when a demand reached
a ``get`` of the flags slot in a block the round had already walked.
"""

from __future__ import annotations

from typing import Callable, Optional

from ..ir.nodes import Inst, Module, Region, Value
from .analysis import (CFG, LEAVING_OPS, PURE_OPS, STATE_READING_OPS, Substitution,
                       const_value)

#: ops before which (walking backwards) every flag bit is live
_READS_ALL = LEAVING_OPS | STATE_READING_OPS | {"ret"}
_LOW_BITS_OPS = frozenset({"add", "sub", "mul", "neg"})
_SHIFT_OPS = frozenset({"shl", "lshr", "rotl", "rotr"})
#: ops whose operands' demands follow from their result's (``_operand_demands``)
_TRANSFER_OPS = frozenset({"and", "or", "xor", "not", "zext", "sext", "trunc", "select"}) \
    | _LOW_BITS_OPS | _SHIFT_OPS


def run(region: Region, module: Module) -> int:
    """Delete the dead puts of the flags slot of ``region`` and simplify the values no one
    fully observes, in place; return how many puts were deleted plus values rewritten. Raises
    ``KeyError`` when the ``flags`` attribute names no state slot."""
    ref = region.attrs.get("flags")
    if ref is None:
        return 0
    resolve = module.state.resolve
    slot, index = resolve(ref)
    target = (slot.name, index)
    known: dict = {}                    # slot reference -> whether it is the flags slot

    def is_flags(inst: Inst) -> bool:
        ref = inst.attrs["slot"]
        if ref not in known:
            found, i = resolve(ref)
            known[ref] = (found.name, i) == target
        return known[ref]

    cfg = CFG(region)
    demand = _Demand(cfg)
    for block in cfg.rpo:
        for inst in block.insts:
            if inst.op in _TRANSFER_OPS or (inst.op == "put" and is_flags(inst)):
                continue
            for a in inst.args:
                demand.need(a, a.type.mask)
    live_after = _liveness(cfg, is_flags, demand, slot.type.mask)
    dead = {put for put, live in live_after.items() if not live}
    for block in cfg.rpo:
        block.insts = [i for i in block.insts if i not in dead]
    return len(dead) + _simplify(cfg, demand)


def _liveness(cfg: CFG, is_flags: Callable, demand: "_Demand", every: int) -> dict:
    """Solve flag liveness (module docstring) together with ``demand``; return the bits live
    after each ``put`` of the flags slot. ``every``: the mask of all the slot's bits."""
    live_in = {b: 0 for b in cfg.rpo}
    live_after: dict = {}
    postorder = cfg.rpo[::-1]
    checks = {_first_insn_start(b) for b in cfg.back_edge_targets} - {None}
    while True:
        grown = demand.grown
        changed = False
        for block in postorder:
            live = 0
            for succ in block.successors():
                live |= live_in[succ]
            for inst in reversed(block.insts):
                op = inst.op
                if inst in checks:                      # a budget check goes before it
                    live = every
                elif op == "put" and is_flags(inst):
                    live_after[inst] = live
                    demand.need(inst.args[0], live)
                    live = 0
                elif op == "get" and is_flags(inst):
                    live |= demand.bits.get(inst.results[0], 0)
                elif op in _READS_ALL:
                    live = every
            if live != live_in[block]:
                live_in[block] = live
                changed = True
        if not changed and demand.grown == grown:
            return live_after


def _first_insn_start(block) -> Optional[Inst]:
    return next((i for i in block.insts if i.op == "insn_start"), None)


def _simplify(cfg: CFG, demand: "_Demand") -> int:
    """Apply the value rewrites (module docstring) in one walk in reverse postorder; return
    how many. The possibly-set bits are computed on the way, from operands already
    rewritten, so they hold for the values as they are now; the demands do not depend on
    them, so every use still observes only bits its operands keep."""
    subst = Substitution()
    possible: dict = {}

    def maybe(v: Value) -> int:
        return possible.get(v, v.type.mask)

    changes = 0
    for block in cfg.rpo:
        for inst in block.insts:
            subst.rewrite(inst)
            if len(inst.results) != 1 or not inst.results[0].type.is_int:
                continue
            result = inst.results[0]
            bits = _possible(inst, maybe)
            bits = result.type.mask if bits is None else bits & result.type.mask
            possible[result] = bits
            op = inst.op
            if op == "iconst" or not (op in PURE_OPS or op == "get"):
                continue
            demanded = demand.bits.get(result, 0)
            if demanded & bits == 0:
                inst.op, inst.args, inst.attrs = "iconst", [], {"value": 0}
                possible[result] = 0
                changes += 1
            elif op == "and":
                kept = _kept_operand(inst, demanded, maybe)
                if kept is not None:
                    subst[result] = kept
                    changes += 1
    subst.apply(cfg.order[len(cfg.rpo):])
    return changes


def _kept_operand(inst: Inst, demanded: int, maybe: Callable) -> Optional[Value]:
    """The operand of ``and x, c`` (``c`` constant) that the ``and`` equals on ``demanded``
    bits -- ``c`` keeps every demanded bit ``x`` may have set -- or ``None``."""
    for x, mask in (inst.args, inst.args[::-1]):
        c = const_value(mask)
        if c is not None and maybe(x) & demanded & ~c == 0:
            return x
    return None


# --- bit facts ----------------------------------------------------------------------------------

def _low_mask(bits: int) -> int:
    """The bits at or below the highest of ``bits``: those a carry chain's result bits there
    depend on."""
    return (1 << bits.bit_length()) - 1


def _rotate(bits: int, count: int, width: int) -> int:
    """``bits`` rotated left by ``count`` (any integer) within ``width`` bits."""
    count %= width
    return ((bits << count) | (bits >> (width - count))) & ((1 << width) - 1)


def _possible(inst: Inst, maybe: Callable) -> Optional[int]:
    """The bits the result of ``inst`` may have set, from its operands' (``maybe(v)``);
    ``None`` when the pass does not know the op (any bit may be set)."""
    op, args = inst.op, inst.args
    if op == "iconst":
        return inst.attrs["value"]
    if op == "icmp":
        return 1
    if op == "and":
        return maybe(args[0]) & maybe(args[1])
    if op in ("or", "xor"):
        return maybe(args[0]) | maybe(args[1])
    if op == "select":
        return maybe(args[1]) | maybe(args[2])
    if op in ("zext", "trunc"):
        return maybe(args[0])
    if op in _SHIFT_OPS:
        k = const_value(args[1])
        if k is None:
            return None
        x, width = maybe(args[0]), args[0].type.bits
        if op == "shl":
            return x << k if k < width else 0
        if op == "lshr":
            return x >> k if k < width else 0
        return _rotate(x, k if op == "rotl" else -k, width)
    return None


def _operand_demands(inst: Inst, demanded: int) -> list:
    """``[(operand, bits)]``: what a ``_TRANSFER_OPS`` op whose result is demanded in
    ``demanded`` demands of each operand, whatever values the other operands take (a
    rewrite may change them) -- but constants, which no rewrite changes."""
    op, args = inst.op, inst.args
    if op == "and":
        x, y = args
        return [(x, _masked(demanded, y)), (y, _masked(demanded, x))]
    if op in ("or", "xor", "not"):
        return [(a, demanded) for a in args]
    if op == "select":
        return [(args[0], 1), (args[1], demanded), (args[2], demanded)]
    if op in _LOW_BITS_OPS:
        return [(a, _low_mask(demanded)) for a in args]
    if op in ("zext", "trunc"):
        return [(args[0], demanded)]
    if op == "sext":
        x = args[0]
        sign = 1 << (x.type.bits - 1) if demanded & ~x.type.mask else 0
        return [(x, demanded | sign)]
    x, count = args                                     # shifts and rotates
    k = const_value(count)
    if k is None:
        return [(x, x.type.mask), (count, count.type.mask)]
    width = x.type.bits
    if op == "shl":
        bits = demanded >> k if k < width else 0
    elif op == "lshr":
        bits = demanded << k if k < width else 0
    else:
        bits = _rotate(demanded, -k if op == "rotl" else k, width)
    return [(x, bits), (count, count.type.mask)]


def _masked(demanded: int, other: Value) -> int:
    """What ``and`` demands of one operand: ``demanded``, less the bits a constant ``other``
    clears."""
    c = const_value(other)
    return demanded if c is None else demanded & c


class _Demand:
    """The demanded bits of every value (``bits``: Value -> mask, absent means none), grown
    with ``need``."""

    def __init__(self, cfg: CFG):
        self.bits: dict = {}
        self.grown = 0                  # counts the demands that grew: a change detector
        self._bound: dict = {}          # block parameter -> [(index, BlockCall)] binding it
        for block in cfg.rpo:
            for index, param in enumerate(block.params):
                self._bound[param] = [(index, call) for _, call in cfg.preds[block]]

    def need(self, v: Value, bits: int) -> None:
        """Add ``bits`` to the demand of ``v`` and pass the growth on to what defines it."""
        work = [(v, bits)]
        while work:
            value, wanted = work.pop()
            wanted &= value.type.mask
            old = self.bits.get(value, 0)
            if not wanted & ~old:
                continue
            self.bits[value] = demanded = old | wanted
            self.grown += 1
            d = value.defn
            if d is None:
                work += [(call.args[i], demanded) for i, call in self._bound.get(value, ())]
            elif d.op in _TRANSFER_OPS:
                work += _operand_demands(d, demanded)
