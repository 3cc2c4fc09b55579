"""The run loop around the native dispatcher.

``run_loop(machine, cycles)`` enters generated code, and on every return to Python decides what
comes next from the context's exit fields: chain to the next region, fire scheduled events,
stop at the cycle target, report a halt, breakpoint, guest exception or handler error. Python
is only on this path between regions; inside a region, helpers and MMIO handlers are called
synchronously by generated code. Once linked (``Machine.chain_exit`` after a LINK or MISS
exit), transitions between regions do not come here at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .context import ExitReason
from .errors import DynarecError, GuestFault

FAULT = -1      # RunResult.cause of a memory fault (GuestFault) -- guests map it to their own

_EXIT_COUNTER = {
    ExitReason.NEXT: "exits_next", ExitReason.BUDGET: "exits_budget",
    ExitReason.HALT: "exits_halt", ExitReason.BREAKPOINT: "exits_breakpoint",
    ExitReason.EXCEPTION: "exits_exception", ExitReason.ERROR: "exits_error",
    ExitReason.LINK: "exits_link", ExitReason.MISS: "exits_miss",
}
_CONTINUE = (ExitReason.NEXT, ExitReason.LINK, ExitReason.MISS)


@dataclass
class RunResult:
    """What ``Machine.run`` stopped for.

    ``reason``: ``ExitReason`` (BUDGET, HALT, BREAKPOINT, EXCEPTION or ERROR). ``pc``: guest pc
    where execution stopped (for EXCEPTION the faulting instruction's; nothing at ``pc`` has
    run). ``cycles``: guest cycles this call ran. ``cause``: the trap cause for EXCEPTION
    (``runtime.FAULT`` for a memory fault, with ``fault`` the ``GuestFault``). ``delay``: the
    delay-slot flag of the instruction at ``pc``. ``error``: the exception, for ERROR results
    (only with ``errors="return"``).
    """

    reason: ExitReason
    pc: int
    cycles: int
    cause: Optional[int] = None
    delay: int = 0
    fault: Optional[GuestFault] = None
    error: Optional[BaseException] = None

    def __str__(self) -> str:
        text = f"{self.reason.name} at pc={self.pc:#x} after {self.cycles} cycles"
        if self.reason == ExitReason.EXCEPTION:
            text += f" (cause {self.cause}" + (f": {self.fault}" if self.fault else "") + ")"
        if self.error is not None:
            text += f" ({type(self.error).__name__}: {self.error})"
        return text


UNLIMITED = (1 << 62)


class CodeModified(Exception):
    """Raised by ``Machine``'s code-write listener inside a store of generated code that
    would change guest code (``pc``: the storing instruction's; ``start``/``end``: the bytes).
    The store is not made; the region exits (ERROR, with this pending) with the state at the
    start of that instruction, and the run loop runs it again as a single-instruction region
    (``Machine.rerun_single``), which makes the store -- so the code after it, in the same
    region or not, runs as it is after the store. Never reaches the embedder."""

    def __init__(self, pc: int, start: int, end: int):
        super().__init__(f"store at pc={pc:#x} writes code at {start:#x}..{end:#x}")
        self.pc, self.start, self.end = pc, start, end


def run_loop(m, cycles: Optional[int], errors: str = "raise",
             max_regions: Optional[int] = None, step: bool = False,
             exact: bool = True) -> RunResult:
    """Run machine ``m`` for ``cycles`` guest cycles (``None``: until it stops by itself).

    Stops at the first of: the cycle target (BUDGET), a HALT or BREAKPOINT exit, a guest
    exception, or a handler error (re-raised unchanged, or returned as ERROR with
    ``errors="return"``). The cycle target and scheduled events are met exactly: when the
    budget left cannot cover a region's next stretch (its ``check_budget`` exits before
    running anything), the loop goes on with single-instruction regions
    (``Machine.region_at(single=True)``) up to the event; only an instruction that alone
    costs more than the budget left overruns it. With ``exact=False`` the loop instead
    grants the refused stretch its cost (the check's ``exit_info``) once, so the run stops at
    the next budget check past the target. A run that starts at a breakpoint first
    runs that instruction (steps over it). ``step``: the first entry runs one instruction
    (a single-instruction region), breakpoint or not (``Machine.step``).
    Scheduled events fire at region boundaries once their time has come. With
    ``max_regions``, it also stops (reason NEXT) after that many entries into generated code,
    each running one region (chaining is off): a lockstep runner compares state there.
    A LINK or MISS exit is acted on (``Machine.chain_exit``) once its target region exists.
    A store that would change guest code stops its entry (``CodeModified``): the next entry
    runs that instruction alone.
    """
    ctx = m.context
    start = m.cycles
    target = None if cycles is None else start + cycles
    force = 0                        # cycles granted to an instruction that cannot be split
    chaining = m.set_chaining(max_regions is None)
    chain = None                     # (reason, exit_site, exit_route, flushes) of a LINK/MISS
    over = step or m.pc in m.breakpoints     # one instruction first, even at a breakpoint
    single_until = None              # run single instructions until this cycle count
    while True:
        m.scheduler.fire_due(m)
        stop = m.scheduler.next_time()
        if target is not None:
            stop = target if stop is None else min(stop, target)
        if target is not None and m.cycles >= target:
            return RunResult(ExitReason.BUDGET, m.pc, m.cycles - start)
        if max_regions is not None:
            if max_regions <= 0:
                return RunResult(ExitReason.NEXT, m.pc, m.cycles - start)
            max_regions -= 1
        budget = UNLIMITED if stop is None else max(stop - m.cycles, force)
        force = 0
        if single_until is not None and (stop is None or m.cycles >= single_until):
            single_until = None
        single = over or single_until is not None or m.rerun_single
        m.rerun_single = False
        pc = m.pc
        try:
            region = m.region_at(pc, single=single, over=over)
        except GuestFault as fault:
            return RunResult(ExitReason.EXCEPTION, pc, m.cycles - start, FAULT, fault=fault)
        if chain is not None:
            reason, site, route, flushes = chain
            chain = None
            if m.cache.flushes == flushes and not single:   # else the site went with the
                m.chain_exit(reason, site, route, region)    # flush, or leads to one insn
        entry = region.code.entry
        ctx.budget = budget
        ctx.insns = 0
        m.stats["entries"] += 1
        m.entering(budget, single)
        try:
            reason = ExitReason(m.dispatcher.enter(m.context_address,
                                                   m.memory.page_table_address, entry))
        except BaseException as exc:       # a helper or handler raised inside generated code
            m.account_entry()
            m.pc = ctx.next_pc
            if isinstance(exc, CodeModified):    # run again alone (still over a breakpoint)
                m.stats["exits_code_write"] += 1
                m.rerun_single = True
                continue
            over = False
            m.stats["exits_error"] += 1
            if isinstance(exc, GuestFault):
                m.stats["exits_exception"] += 1
                return RunResult(ExitReason.EXCEPTION, ctx.next_pc, m.cycles - start, FAULT,
                                 ctx.exit_delay, fault=exc)
            if errors == "return" and isinstance(exc, Exception):
                return RunResult(ExitReason.ERROR, ctx.next_pc, m.cycles - start,
                                 delay=ctx.exit_delay, error=exc)
            raise
        m.account_entry()
        m.stats[_EXIT_COUNTER[reason]] += 1
        m.pc = ctx.next_pc
        stalled = reason == ExitReason.BUDGET and ctx.next_pc == pc and ctx.budget == budget
        if not stalled:
            over = False                        # the breakpoint's instruction has run
        if m.end_requested:                     # Machine.end_entry: back to the embedder
            m.end_requested = False
            if reason in _CONTINUE or reason == ExitReason.BUDGET:
                return RunResult(ExitReason.BUDGET, m.pc, m.cycles - start)
        if reason in _CONTINUE:
            if chaining and reason != ExitReason.NEXT:
                chain = (reason, ctx.exit_site, ctx.exit_route, m.cache.flushes)
            continue
        if reason == ExitReason.BUDGET:
            if stalled:
                # No progress: the next stretch costs more than the budget left. Go on one
                # instruction at a time up to the event; an instruction that alone costs
                # more runs anyway (exit_info holds its cost), so every run makes progress.
                if target is not None and m.cycles >= target:
                    return RunResult(ExitReason.BUDGET, m.pc, m.cycles - start)
                if single or not exact:
                    force = max(int(ctx.exit_info), 1)
                if exact:
                    single_until = stop
                if max_regions is not None:
                    max_regions += 1             # that entry ran nothing: run it again
            continue
        if reason == ExitReason.ERROR:
            raise DynarecError(f"generated code exited with ERROR at pc={ctx.next_pc:#x} "
                               f"but no Python exception was pending")
        cause = int(ctx.exit_info) if reason == ExitReason.EXCEPTION else None
        return RunResult(reason, ctx.next_pc, m.cycles - start, cause, int(ctx.exit_delay))
