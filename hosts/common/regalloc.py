"""Linear-scan register allocation over SSA live ranges (Poletto & Sarkar, "Linear Scan
Register Allocation", TOPLAS 1999), with whole-lifetime spilling.

Steps:

1. Block order: reverse post-order from the entry (unreachable blocks are dropped). In that
   order every block comes after the block that defines each value it uses (dominance).
2. Selection (``fold.select``): values their users absorb (immediates, views, fused
   compares) get no interval; a use of one counts as a use of what it stands for.
3. Positions: block ``b`` gets an even label position where its parameters are defined; its
   ``k``-th instruction reads its operands at the next even positions and defines its results
   one after (odd). A block ends one past its terminator.
4. Liveness (regions of several blocks): the usual backward data flow to a fixed point (so
   values live around a loop stay live through its back edge). Branch arguments are uses in
   the branching block; a block's parameters are defined at its start.
5. Intervals: each value gets one hull ``[start, end]`` covering its definition, its uses and
   every block it is live into or out of. A value whose interval contains a ``CALL``-flagged
   instruction strictly inside (defined before it, needed after it) may only take a
   callee-saved register; floats have none, so they spill.
6. Scan in order of start: expire intervals that ended; take the register of the value's
   hint (its definition's first operand, when that interval just ended: the rule can then
   compute in place), else the first free register of the class (caller-saved first), else
   spill the active interval that ends last (or the current one if it ends later). A spilled
   value lives in its stack slot for its whole life; slots are reused once free.

The register file is the host's (``RegisterFile``); everything else is host-independent.

Block parameters are not coalesced: the lowering resolves each edge's arguments into the
target's parameter locations as one parallel move (``codegen.parallel_move``).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Callable

from dynarec.errors import CompileError
from dynarec.ir.nodes import Region, Value
from dynarec.ir.opcodes import CALL, OPS

from .fold import Selection, select


@dataclass(frozen=True)
class RegisterFile:
    """What the allocator needs to know of a host: allocatable register names --
    ``caller_saved`` and ``callee_saved`` general registers, ``floats`` (all caller-saved:
    a float live across a call spills) -- and the host's location types: ``reg(name)``,
    ``slot(offset)`` (a spill slot), ``imm(value)`` (a folded constant), plus ``fits(value,
    bits)``, whether a constant can be an immediate where a rule is not ``Rule.wide``
    (``fold.select``). Register objects must have a ``name``; slots an ``offset``."""

    caller_saved: tuple
    callee_saved: tuple
    floats: tuple
    reg: Callable[[str], object]
    slot: Callable[[int], object]
    imm: Callable[[int], object]
    fits: Callable[[int, int], bool]

    @property
    def gprs(self) -> tuple:
        """General registers in preference order: caller-saved first."""
        return self.caller_saved + self.callee_saved


class Interval:
    """Live range of ``value``: positions ``start .. end`` inclusive; ``loc`` once allocated;
    ``across_call`` when a call happens strictly inside it; ``hint`` the Value whose register
    the value would like (the first operand of its definition: an in-place instruction then
    needs no copy)."""

    __slots__ = ("value", "start", "end", "hint", "across_call", "loc")

    def __init__(self, value: Value, start: int, hint: Value = None):
        self.value = value
        self.start = self.end = start
        self.hint = hint
        self.across_call = False
        self.loc = None

    def __repr__(self) -> str:
        return f"<Interval v{self.value.id} {self.start}..{self.end} {self.loc}>"


@dataclass
class Allocation:
    """Result of ``allocate``.

    ``order``: blocks in emission order. ``loc``: Value -> register, slot or immediate (views
    share the location of the value they view). ``intervals``: Value -> Interval.
    ``spill_bytes``: bytes of spill slots used from ``spill_base``. ``callee_saved``:
    callee-saved registers handed out (a function region saves them). ``selection``: the
    ``fold.Selection`` the allocation honours.
    """

    order: list
    loc: dict
    intervals: dict
    spill_bytes: int
    callee_saved: list = field(default_factory=list)
    selection: Selection = None


def successors(block) -> list:
    """The blocks ``block``'s last instruction may branch to (in target order)."""
    return [t.block for t in block.insts[-1].targets] if block.insts else []


def block_order(region: Region) -> list:
    """Reachable blocks of ``region`` in reverse post-order from the entry."""
    seen, post = set(), []
    stack = [(region.entry, iter(successors(region.entry)))]
    seen.add(id(region.entry))
    while stack:
        blk, succs = stack[-1]
        for s in succs:
            if id(s) not in seen:
                seen.add(id(s))
                stack.append((s, iter(successors(s))))
                break
        else:
            post.append(blk)
            stack.pop()
    return post[::-1]


def _liveness(order: list, gen: dict, kill: dict) -> dict:
    """id(Block) -> set of Values live on entry, from each block's ``gen`` (used before any
    definition in it) and ``kill`` (defined in it) sets."""
    succs = {id(b): [id(s) for s in successors(b)] for b in order}
    live_in = {id(b): set() for b in order}
    changed = True
    while changed:
        changed = False
        for b in reversed(order):
            out = set()
            for s in succs[id(b)]:
                out |= live_in.get(s, ())
            new = gen[id(b)] | (out - kill[id(b)])
            if len(new) != len(live_in[id(b)]):        # sets only grow
                live_in[id(b)] = new
                changed = True
    return live_in


_CALLS = frozenset(name for name, row in OPS.items() if row.has(CALL))
_start = attrgetter("start")


def allocate(region: Region, regfile: RegisterFile, spill_base: int, spill_all: bool = False,
             rules: dict = None) -> Allocation:
    """Allocate every value of ``region`` that needs a location in ``regfile``'s registers;
    spill slots are ``regfile.slot(spill_base + 8*k)`` (``spill_all``: every value). ``rules``
    (op name -> ``Rule``) enables the selection of ``fold.py``; without it every value gets
    a location. Raises ``CompileError`` if a value is used without being defined in a
    reachable block."""
    order = block_order(region)
    sel = select(order, rules if rules is not None else {}, regfile.fits)
    folded, uses = sel.folded, sel.uses
    ivs: dict = {}
    calls, spans, gen, kill = [], [], {}, {}
    p = 0
    for b in order:
        start = p
        defined, used_first = set(b.params), set()
        for v in b.params:
            ivs[v] = Interval(v, start)
        for inst in b.insts:
            p += 2
            if id(inst) in folded:
                continue
            used = uses(inst)
            for v in used:
                iv = ivs.get(v)
                if iv is None:
                    raise CompileError(f"region {region.name}: {inst.op} in {b.name} uses a "
                                       f"value that no reachable block defines before it")
                if p > iv.end:
                    iv.end = p
                if v not in defined:
                    used_first.add(v)
            if inst.results:
                hint = used[0] if used else None
                for r in inst.results:
                    ivs[r] = Interval(r, p + 1, hint)
                defined.update(inst.results)
            if inst.op in _CALLS:
                calls.append(p)
        p += 2
        spans.append((b, start, p - 1))
        gen[id(b)], kill[id(b)] = used_first, defined
    if len(order) > 1:
        _extend_live_ranges(region, order, _liveness(order, gen, kill), spans, ivs)
    intervals = sorted(ivs.values(), key=_start)
    for c in calls:
        for iv in intervals:
            if iv.start < c and iv.end > c + 1:
                iv.across_call = True
    callee_saved = [] if spill_all else _scan(intervals, ivs, regfile)
    spill_bytes = _assign_slots([iv for iv in intervals if iv.loc is None], spill_base,
                                regfile.slot)
    loc = {iv.value: iv.loc for iv in intervals}
    for v, value in sel.imm.items():
        loc[v] = regfile.imm(value)
    for v, root in sel.alias.items():
        if root in loc:
            loc[v] = loc[root]
    return Allocation(order, loc, ivs, spill_bytes, callee_saved, sel)


def _extend_live_ranges(region, order, live_in, spans, ivs) -> None:
    """Stretch intervals over every block a value is live into (from its start) or out of
    (to its end)."""
    for b, start, end in spans:
        live = [(v, start) for v in live_in[id(b)]]
        for s in successors(b):
            live += [(v, end) for v in live_in.get(id(s), ())]
        for v, p in live:
            iv = ivs.get(v)
            if iv is None:
                raise CompileError(f"region {region.name}: block {b.name} uses a value that "
                                   f"no reachable block defines before it")
            if p < iv.start:
                iv.start = p
            if p > iv.end:
                iv.end = p


def _scan(intervals: list, ivs: dict, regfile: RegisterFile) -> list:
    """Give registers (``iv.loc = Reg``) to as many intervals as fit; the rest keep
    ``loc None`` (spilled). An interval takes its hint's register when that is free (the
    hint's interval ended where this one starts). Returns the callee-saved registers used."""
    active: list = []                 # (end, n, interval), a heap on end
    busy: set = set()
    used_callee = set()
    n = 0
    for iv in intervals:
        start = iv.start
        while active and active[0][0] < start:
            old = heapq.heappop(active)[2]
            if old.loc is not None:                 # None: spilled while active
                busy.discard(old.loc.name)
        if iv.value.type.is_float:
            if iv.across_call:
                continue                            # no callee-saved xmm: spill
            allowed = regfile.floats
        else:
            allowed = regfile.callee_saved if iv.across_call else regfile.gprs
        free = None
        hint = ivs.get(iv.hint)
        if hint is not None and hint.loc is not None and hint.end < start:
            name = hint.loc.name
            if name not in busy and name in allowed:
                free = name
        if free is None:
            for name in allowed:
                if name not in busy:
                    free = name
                    break
            else:
                victims = [a for _, _, a in active if a.loc is not None and a.loc.name in allowed]
                victim = max(victims, key=attrgetter("end"), default=None)
                if victim is None or victim.end <= iv.end:
                    continue
                free = victim.loc.name
                victim.loc = None
                busy.discard(free)
        iv.loc = regfile.reg(free)
        busy.add(free)
        n += 1
        heapq.heappush(active, (iv.end, n, iv))
        if free in regfile.callee_saved:
            used_callee.add(free)
    return [r for r in regfile.callee_saved if r in used_callee]


def _assign_slots(spilled: list, base: int, slot: Callable[[int], object]) -> int:
    """Stack slots (``slot(offset)``) for spilled intervals (sorted by start), reusing a slot
    once its interval has ended. Returns the bytes used."""
    free, active, count = [], [], 0
    for iv in spilled:
        for old in [a for a in active if a.end < iv.start]:
            active.remove(old)
            free.append(old.loc.offset)
        if free:
            offset = free.pop()
        else:
            offset = base + 8 * count
            count += 1
        iv.loc = slot(offset)
        active.append(iv)
    return 8 * count
