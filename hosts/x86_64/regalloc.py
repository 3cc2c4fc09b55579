"""Linear-scan register allocation over SSA live ranges (Poletto & Sarkar, "Linear Scan
Register Allocation", TOPLAS 1999), with whole-lifetime spilling.

Steps:

1. Block order: reverse post-order from the entry (unreachable blocks are dropped). In that
   order every block comes after the block that defines each value it uses (dominance).
2. Positions: block ``b`` gets an even label position where its parameters are defined; its
   ``k``-th instruction reads its operands at the next even positions and defines its results
   one after (odd). A block ends one past its terminator.
3. Liveness: the usual backward data flow to a fixed point (so values live around a loop stay
   live through its back edge). Branch arguments are uses in the branching block; a block's
   parameters are defined at its start.
4. Intervals: each value gets one hull ``[start, end]`` covering its definition, its uses and
   every block it is live into or out of. A value whose interval contains a ``CALL``-flagged
   instruction strictly inside (defined before it, needed after it) may only take a
   callee-saved register; floats have none, so they spill.
5. Scan in order of start: expire intervals that ended, take a free register of the class,
   else spill the active interval that ends last (or the current one if it ends later).
   A spilled value lives in its stack slot for its whole life; slots are reused once free.

Block parameters are not coalesced: the lowering resolves each edge's arguments into the
target's parameter locations as one parallel move (``lower.parallel_move``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dynarec.errors import CompileError
from dynarec.ir.nodes import Inst, Region, Value
from dynarec.ir.opcodes import CALL, OPS

from .regs import ALLOC_CALLEE_SAVED, ALLOC_CALLER_SAVED, ALLOC_XMM, Loc, Mem, Reg


@dataclass
class Interval:
    """Live range of ``value``: positions ``start .. end`` inclusive; ``loc`` once allocated;
    ``across_call`` when a call happens strictly inside it."""

    value: Value
    start: int
    end: int
    across_call: bool = False
    loc: Loc = None


@dataclass
class Allocation:
    """Result of ``allocate``.

    ``order``: blocks in emission order. ``loc``: Value -> ``Reg``/``Mem``. ``position``:
    Inst -> its operand position. ``intervals``: Value -> Interval. ``spill_bytes``: bytes of
    spill slots used from ``spill_base``. ``callee_saved``: callee-saved registers handed out
    (a function region saves them).
    """

    order: list
    loc: dict
    position: dict
    intervals: dict
    spill_bytes: int
    callee_saved: list = field(default_factory=list)


def block_order(region: Region) -> list:
    """Reachable blocks of ``region`` in reverse post-order from the entry."""
    seen, post = set(), []
    stack = [(region.entry, iter(region.entry.successors()))]
    seen.add(id(region.entry))
    while stack:
        blk, succs = stack[-1]
        for s in succs:
            if id(s) not in seen:
                seen.add(id(s))
                stack.append((s, iter(s.successors())))
                break
        else:
            post.append(blk)
            stack.pop()
    return post[::-1]


def _uses(inst: Inst) -> list:
    vals = list(inst.args)
    for t in inst.targets:
        vals.extend(t.args)
    return vals


def _liveness(order: list) -> dict:
    """Block -> set of Values live on entry (ids of Values, to keep hashing cheap)."""
    gen, kill = {}, {}
    for b in order:
        g, k = set(), {id(p) for p in b.params}
        for inst in b.insts:
            for v in _uses(inst):
                if id(v) not in k:
                    g.add(id(v))
            k.update(id(r) for r in inst.results)
        gen[id(b)], kill[id(b)] = g, k
    live_in = {id(b): set() for b in order}
    changed = True
    while changed:
        changed = False
        for b in reversed(order):
            out = set()
            for s in b.successors():
                out |= live_in.get(id(s), set())
            new = gen[id(b)] | (out - kill[id(b)])
            if new != live_in[id(b)]:
                live_in[id(b)] = new
                changed = True
    return live_in


def allocate(region: Region, spill_base: int, spill_all: bool = False) -> Allocation:
    """Allocate every value of ``region``; spill slots are ``Mem(spill_base + 8*k)``
    (``spill_all``: every value). Raises ``CompileError`` if a value is used without being
    defined in a reachable block."""
    order = block_order(region)
    position, block_span = {}, {}
    pos = 0
    for b in order:
        start = pos
        pos += 2
        for inst in b.insts:
            position[inst] = pos
            pos += 2
        block_span[id(b)] = (start, pos - 1)
    live_in = _liveness(order)

    ivs: dict = {}

    def define(v: Value, p: int):
        ivs[id(v)] = Interval(v, p, p)

    def extend(vid: int, p: int, what: str):
        iv = ivs.get(vid)
        if iv is None:
            raise CompileError(f"region {region.name}: {what} uses a value that no reachable "
                               f"block defines before it")
        iv.start, iv.end = min(iv.start, p), max(iv.end, p)

    calls = []
    for b in order:
        start, end = block_span[id(b)]
        for v in b.params:
            define(v, start)
        for inst in b.insts:
            p = position[inst]
            for v in _uses(inst):
                extend(id(v), p, f"{inst.op} in {b.name}")
            for r in inst.results:
                define(r, p + 1)
            if OPS[inst.op].has(CALL):
                calls.append(p)
    for b in order:
        start, end = block_span[id(b)]
        for vid in live_in[id(b)]:
            extend(vid, start, f"block {b.name}")
        for s in b.successors():
            for vid in live_in.get(id(s), ()):
                extend(vid, end, f"block {b.name}")

    intervals = sorted(ivs.values(), key=lambda iv: (iv.start, iv.value.id))
    for iv in intervals:
        iv.across_call = any(iv.start < c and iv.end > c + 1 for c in calls)
    callee_saved = [] if spill_all else _scan(intervals)
    spill_bytes = _assign_slots([iv for iv in intervals if iv.loc is None], spill_base)
    return Allocation(order, {iv.value: iv.loc for iv in intervals}, position,
                      {iv.value: iv for iv in intervals}, spill_bytes, callee_saved)


def _allowed(iv: Interval) -> tuple:
    if iv.value.type.is_float:
        return () if iv.across_call else ALLOC_XMM
    return ALLOC_CALLEE_SAVED if iv.across_call else ALLOC_CALLER_SAVED + ALLOC_CALLEE_SAVED


def _scan(intervals: list) -> list:
    """Give registers (``iv.loc = Reg``) to as many intervals as fit; the rest keep
    ``loc None`` (spilled). Returns the callee-saved registers used."""
    active: list = []
    busy: set = set()
    used_callee = set()
    for iv in intervals:
        for old in [a for a in active if a.end < iv.start]:
            active.remove(old)
            busy.discard(old.loc.name)
        allowed = _allowed(iv)
        if not allowed:
            continue
        free = next((r for r in allowed if r not in busy), None)
        if free is None:
            victims = [a for a in active if a.loc.name in allowed]
            victim = max(victims, key=lambda a: a.end, default=None)
            if victim is None or victim.end <= iv.end:
                continue
            free = victim.loc.name
            victim.loc = None
            active.remove(victim)
            busy.discard(free)
        iv.loc = Reg(free)
        busy.add(free)
        active.append(iv)
        if free in ALLOC_CALLEE_SAVED:
            used_callee.add(free)
    return [r for r in ALLOC_CALLEE_SAVED if r in used_callee]


def _assign_slots(spilled: list, base: int) -> int:
    """Stack slots for spilled intervals (sorted by start), reusing a slot once its interval
    has ended. Returns the bytes used."""
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
        iv.loc = Mem(offset)
        active.append(iv)
    return 8 * count
