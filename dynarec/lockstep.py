"""Lockstep differential runs: the JIT against an oracle, compared at every region exit.

::

    from dynarec.lockstep import Lockstep
    report = Lockstep(machine, machine.guest.oracle()).run(max_insns=None)
    print(report.summary())
    if report.divergence:
        print(report.divergence.format())

The protocol (DESIGN.md section 7), per region:

1. The machine logs its stores and device reads (``AddressSpace.log_accesses``) and runs ONE
   region (``Machine.run(max_regions=1)``): regions are not linked, so every region exit is
   a comparison point, and ``Machine.insns`` says how many guest instructions it retired.
2. The old bytes under each of its stores are read from the oracle, which has not run the
   region yet (they undo the region if it has to be replayed).
3. The oracle is handed the machine's device reads to replay (``Oracle.devices``) and runs
   the same count -- one more after a guest exception, which it must raise at the same pc.
4. The registers the oracle models, the store logs, the exception and the device reads must
   agree. This is the common path: no per-instruction Python work besides the oracle's own.
5. Otherwise the region is replayed one step at a time: the machine is rewound to the state
   before it (registers from a copy, memory from the bytes of step 2), so is the oracle
   (reloaded if its run raised an exception), and each step runs on the guest's reference
   interpreter -- on the machine, its device handlers answering from the same reads -- and
   on the oracle. Where those two differ, the guest's quirk explainer is asked; a quirk's
   correct values are written into the oracle and counted, and comparing goes on (one quirk
   never hides what follows it). At the end the JIT's results must equal the reference
   interpreter's over the whole guest state. Any difference nothing explains is a
   divergence: the run stops with a ``Divergence`` that carries the guest code, the IR
   before and after passes, the host code, a register and memory diff, and the passes
   that, each switched off alone, make the region agree with the reference interpreter.

What the guest provides (``machine.guest``), besides its oracle:

* ``step(target)``: the reference interpreter, as ``dynarec.oracle.InterpreterOracle``
  describes it (run here on the Machine itself). Without it a mismatch cannot be replayed
  and is reported as a divergence at once.
* ``explain_oracle_difference(machine, before, ours, theirs, ours_exception,
  theirs_exception, ours_stores, theirs_stores)``: for one step that started from state
  ``before`` (every reference -> raw bits), whose results were ``ours`` (the reference
  interpreter's) and ``theirs`` (the oracle's; registers by the oracle's references,
  exception causes or ``None``, ``(address, size, value)`` store lists), an object with
  ``quirk.name`` and ``fix.regs`` (state values to write into the oracle) and
  ``fix.stores`` (``(address, size, value)`` records the oracle failed to make) when a known
  oracle quirk accounts for every difference, else ``None``. Optional: without it every
  difference is a divergence.
* ``disassemble(code, address)`` for the report.

The Machine should be built with ``keep_ir=True`` so that a divergence report can show the
region's IR; ``cycle_accounting`` must not be disabled (it counts retired instructions).
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import operator
import re
import struct
import time
from dataclasses import dataclass, field
from typing import Optional

from .context import GUEST_STATE_OFFSET, ExitReason
from .errors import GuestFault
from .oracle import DeviceReplay
from .runtime import FAULT, RunResult

#: the pass that counts retired instructions: a lockstep run cannot do without it
COUNTING_PASS = "cycle_accounting"

_STRUCT_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}
_INSN_START = re.compile(r"insn_start pc=(0x[0-9a-fA-F]+|\d+)( delay=1)?")


@dataclass
class Outcome:
    """What one side did over a region or a step: ``retired`` guest instructions, ``regs``
    (state reference -> raw bits), ``stores`` (``(address, size, value)`` tuples in order),
    ``exception`` (``(cause, pc, delay)`` or ``None``) and ``problems`` with device reads."""

    retired: int
    regs: dict
    stores: list
    exception: Optional[tuple] = None
    problems: list = field(default_factory=list)


@dataclass
class Divergence:
    """The first difference nothing explains.

    ``what``: one line. ``pc``: the region's guest pc; ``insns``: instructions retired before
    the region. ``sides``: the names of the two outcomes compared (``"JIT"``, ``"oracle"``,
    ``"reference interpreter"``); ``outcomes``: their ``Outcome``s; ``before``: the full state
    before the region or step compared; ``refs``: the references compared; ``memory``:
    ``(address, bytes of side 0, bytes of side 1)`` where the stores left memory different.
    ``guest_code``/``ir_before``/``ir_after``/``host_code``: the region (lines or text; empty
    when unknown). ``passes``: the passes that, switched off alone, make the JIT's region
    agree with the reference interpreter (``None``: not tried).
    """

    what: str
    pc: int
    insns: int
    sides: tuple
    outcomes: tuple
    before: dict
    refs: list
    memory: list = field(default_factory=list)
    guest_code: list = field(default_factory=list)
    ir_before: str = ""
    ir_after: str = ""
    host_code: list = field(default_factory=list)
    passes: Optional[list] = None

    def differences(self) -> list:
        """One line per difference between the two outcomes."""
        return _differences(self.outcomes[0], self.outcomes[1], self.refs, self.sides)

    def format(self) -> str:
        """The full report: what, the guest code, the IR before and after passes, the host
        code, the register diff, the stores and the memory they left different."""
        a, b = self.sides
        out = [f"DIVERGENCE: {self.what}",
               f"region at pc={self.pc:#x}, after {self.insns:,} instructions", "",
               "guest code:"]
        out += ["    " + line for line in self.guest_code or ["(unknown)"]]
        out += ["", "IR before passes:", self.ir_before or "    (not kept: Machine(keep_ir=True))",
                "", "IR after passes:", self.ir_after or "    (not kept)", "", "host code:"]
        out += ["    " + line for line in self.host_code or ["(unknown)"]]
        out += ["", f"differences ({a} | {b}):"]
        out += ["    " + line for line in self.differences()]
        rows = [r for r in self.refs
                if self.outcomes[0].regs.get(r) != self.outcomes[1].regs.get(r)]
        if rows:
            out += ["", f"registers: {'ref':10s} {'before':>18s}  {a:>18s}  {b:>18s}"]
            out += [f"           {r:10s} {_hex(self.before.get(r)):>18s}  "
                    f"{_hex(self.outcomes[0].regs.get(r)):>18s}  "
                    f"{_hex(self.outcomes[1].regs.get(r)):>18s}" for r in rows]
        for side, outcome in zip(self.sides, self.outcomes):
            out += ["", f"stores of the {side}:"]
            out += [f"    [{addr:#x}] {size} byte(s) = {value:#x}"
                    for addr, size, value in outcome.stores] or ["    (none)"]
        if self.memory:
            out += ["", f"memory after the stores ({a} | {b}):"]
            out += [f"    {addr:#x}: {x.hex()} | {y.hex()}" for addr, x, y in self.memory]
        if self.passes is not None:
            out += ["", "passes: " + (
                f"the region agrees with the reference interpreter when "
                f"{' or '.join(self.passes)} is switched off (--disable-pass)"
                if self.passes else "switching off any one pass does not make the region agree")]
        return "\n".join(out)


@dataclass
class Report:
    """What a lockstep run did: ``insns`` and ``regions`` executed and compared, ``quirks``
    (quirk name -> times the oracle was corrected), ``result`` (the machine's last
    ``RunResult``), ``limit_reached`` (stopped at ``max_insns``), ``divergence`` (the first
    one, or ``None``) and ``seconds`` of wall time."""

    insns: int = 0
    regions: int = 0
    quirks: collections.Counter = field(default_factory=collections.Counter)
    result: Optional[RunResult] = None
    limit_reached: bool = False
    divergence: Optional[Divergence] = None
    seconds: float = 0.0

    @property
    def divergences(self) -> int:
        return 0 if self.divergence is None else 1

    def ending(self) -> str:
        """How the run ended, in words."""
        if self.divergence is not None:
            return f"diverged in the region at pc={self.divergence.pc:#x}"
        if self.limit_reached:
            return "stopped at the instruction limit"
        r = self.result
        if r is None:
            return "ran nothing"
        if r.reason == ExitReason.HALT:
            return f"halted at pc={r.pc:#x}"
        if r.reason == ExitReason.EXCEPTION:
            what = f"memory fault ({r.fault})" if r.cause == FAULT else f"cause {r.cause}"
            return f"guest exception, {what}, at pc={r.pc:#x}, as the oracle's"
        return f"stopped: {r}"

    def summary(self) -> str:
        """The one summary line: instructions, regions, divergences, oracle quirks."""
        detail = ", ".join(f"{name} x{n}" for name, n in sorted(self.quirks.items()))
        rate = self.insns / self.seconds if self.seconds else 0.0
        return (f"{_count(self.insns, 'instruction')}, {_count(self.regions, 'region')}, "
                f"{_count(self.divergences, 'divergence')}, "
                f"{_count(sum(self.quirks.values()), 'oracle quirk')}"
                f"{f' ({detail})' if detail else ''}; {self.ending()}; "
                f"{self.seconds:.1f} s, {rate:,.0f} instructions/s")


class Lockstep:
    """Run ``machine`` (its state and memory set up, e.g. by ``Guest.load_program``) in
    lockstep with ``oracle`` (a ``dynarec.oracle.Oracle``); see the module docstring.

    ``run(max_insns=None, cycles=None) -> Report``: from the machine's current state until a
    halt, a guest exception, a handler error, the first divergence, or -- with ``max_insns``
    -- the first region exit at or past that many instructions; with ``cycles`` (an
    embedder's time to its next device event) also the first region exit at or past that
    many cycles from now, or one for budget (``Machine.end_entry``: the embedder asked for
    control). Raises ``ValueError`` when the counting pass is disabled or the oracle names
    a reference the guest state lacks, and whatever ``Machine.run`` raises
    (``CompileError``, ...).
    """

    def __init__(self, machine, oracle):
        if COUNTING_PASS in machine.disabled_passes:
            raise ValueError(f"a lockstep run cannot disable {COUNTING_PASS}: it counts the "
                             f"instructions each region retires")
        self.machine = machine
        self.oracle = oracle
        guest = machine.guest
        layout = guest.state
        for ref in oracle.refs:
            try:
                layout.offset(ref)
            except KeyError:
                raise ValueError(f"the oracle models {ref!r}, which the {guest.name} guest "
                                 f"state does not have") from None
        self._refs = sorted(oracle.refs, key=layout.offset)
        self._all_refs = list(layout.refs())
        self._layout = layout
        self._cycles: Optional[int] = None      # the cycle bound of the current region's run
        self._reference = getattr(guest, "step", None)
        self._explain = getattr(guest, "explain_oracle_difference", None)
        self._state_address = machine.context_address + GUEST_STATE_OFFSET
        self._state = (ctypes.c_char * layout.size).from_address(self._state_address)
        self._compared = _state_struct(layout, self._refs)
        pick = operator.itemgetter(*self._refs)         # the compared values, as a tuple
        self._pick = pick if len(self._refs) > 1 else (lambda regs: (pick(regs),))

    # --- the run ------------------------------------------------------------------------------

    def run(self, max_insns: Optional[int] = None, cycles: Optional[int] = None) -> Report:
        """Run and compare region after region (see the class docstring)."""
        m = self.machine
        report = Report()
        end = None if cycles is None else m.cycles + cycles
        t0 = time.perf_counter()
        m.memory.log_accesses(True)
        try:
            self.oracle.load(m.memory, m.regs.as_dict())
            while True:
                if max_insns is not None and report.insns >= max_insns:
                    report.limit_reached = True
                    break
                bounds = [bound for bound in (
                    None if max_insns is None else max_insns - report.insns,
                    None if end is None else end - m.cycles) if bound is not None]
                if not self._region(report, min(bounds, default=None)):
                    break
                if end is not None and (m.cycles >= end
                                        or report.result.reason == ExitReason.BUDGET):
                    break
        finally:
            m.memory.log_accesses(False)
            report.seconds = time.perf_counter() - t0
        return report

    def _region(self, report: Report, cycles: Optional[int]) -> bool:
        """Run and compare one region -- for at most about ``cycles`` cycles (a region that
        loops stops at a budget check past them; ``None``: no bound); False when the run
        ends."""
        m, oracle, mem = self.machine, self.oracle, self.machine.memory
        start = bytes(self._state)
        insns = m.insns
        self._cycles = cycles
        result = m.run(cycles, max_regions=1, errors="return")
        report.result = result
        if result.reason == ExitReason.ERROR:
            return False
        retired = m.insns - insns
        stores, reads = mem.store_log, mem.read_log
        mem.store_log, mem.read_log = [], []
        undo = [(addr, oracle.read_memory(addr, size)) for addr, size, _ in stores
                if not _is_device(mem, addr)]
        raised = result.reason == ExitReason.EXCEPTION
        count = retired + 1 if raised else retired
        theirs_run = None
        if count:
            oracle.devices.queue(reads)
            theirs_run = oracle.run(count)
        agree = theirs_run is None or (
            theirs_run.retired == retired
            and self._compared.unpack_from(self._state) == self._oracle_values()
            and [(s.address, s.size, s.value) for s in theirs_run.stores] == stores
            and _exception(theirs_run.exception) == (_result_exception(result) if raised
                                                     else None)
            and not oracle.devices.problems())
        if not agree:
            jit = Outcome(retired, self._decode(bytes(self._state)), stores,
                          _result_exception(result) if raised else None)
            pc = self._decode(start)[m.guest.pc_slot]
            divergence = self._replay(report, pc, start, undo, reads, jit, theirs_run)
            if divergence is not None:
                report.divergence = divergence
                return False
        report.insns += retired
        report.regions += 1
        return result.reason in (ExitReason.NEXT, ExitReason.BUDGET)

    def _oracle_values(self) -> tuple:
        return self._pick(self.oracle.read_regs())

    def _decode(self, raw: bytes) -> dict:
        """Every reference's raw bits from a copy of the guest state."""
        layout = self._layout
        out = {}
        for ref in self._all_refs:
            off, size = layout.offset(ref), layout.type(ref).bytes
            out[ref] = int.from_bytes(raw[off:off + size], "little")
        return out

    # --- a region that did not agree ----------------------------------------------------------

    def _replay(self, report: Report, pc: int, start: bytes, undo: list, reads: list,
                jit: Outcome, theirs_run) -> Optional[Divergence]:
        """Rewind the region that started from guest state ``start`` (``undo``: ``(address,
        old bytes)`` under its stores), replay it step by step (see the module docstring) and
        return the ``Divergence`` found, or ``None`` when quirks explained every difference
        (counted in ``report.quirks``). ``jit``: the machine's ``Outcome``; ``theirs_run``:
        the oracle's ``OracleRun``."""
        m, oracle, insns = self.machine, self.oracle, report.insns
        theirs = Outcome(theirs_run.retired, oracle.read_regs(),
                         [(s.address, s.size, s.value) for s in theirs_run.stores],
                         _exception(theirs_run.exception), oracle.devices.problems())
        post = bytes(self._state)
        for addr, old in reversed(undo):
            m.memory.write_bytes(addr, old)
        ctypes.memmove(self._state_address, start, len(start))
        before = self._decode(start)
        replay_undo: list = []        # (address, old bytes) under the replayed steps' stores

        def divergence(what, sides, outcomes, state_before, refs, earlier_stores=()):
            info = self._region_info(pc)
            for addr, old in reversed(replay_undo):
                m.memory.write_bytes(addr, old)
            ctypes.memmove(self._state_address, start, len(start))
            snapshot = m.save()                                # the state before the region
            found = Divergence(what, pc, insns, sides, outcomes, state_before, list(refs),
                               self._memory_diff(outcomes, snapshot, earlier_stores), **info)
            if sides == ("JIT", "reference interpreter"):
                found.passes = self._bisect(snapshot, reads, outcomes[1])
            return found

        if self._reference is None:
            return divergence(f"the JIT and the oracle differ after the region at pc={pc:#x} "
                              f"(the guest has no reference interpreter to replay it)",
                              ("JIT", "oracle"), (jit, theirs), before, self._refs)
        self._rewind_oracle(before, theirs, reads)
        ref = Outcome(0, {}, [])
        quirks = []
        with _replayed_devices(m.memory, reads) as devices:
            while True:
                step_before = m.regs.as_dict()
                step = self._reference(m)
                replay_undo += [(addr, oracle.read_memory(addr, size))
                                for addr, size, _ in step.stores
                                if not _is_device(m.memory, addr)]
                found = self._compare_step(step, step_before, quirks)
                if found is not None:
                    what, outcomes = found
                    return divergence(what, ("reference interpreter", "oracle"), outcomes,
                                      step_before, self._refs, ref.stores)
                ref.retired += step.retired
                ref.stores += [tuple(s) for s in step.stores]
                e = step.exception
                if e is not None:
                    ref.exception = (int(e.cause), e.pc, e.delay)
                    break
                if step.retired == 0 or ref.retired >= jit.retired + (jit.exception is not None):
                    break
            ref.problems = devices.problems()
        ref.regs = m.regs.as_dict()
        if _differences(jit, ref, self._all_refs):
            return divergence(f"the JIT and the reference interpreter differ after the region "
                              f"at pc={pc:#x}", ("JIT", "reference interpreter"), (jit, ref),
                              before, self._all_refs)
        problems = oracle.devices.problems()
        if not quirks or problems or \
                self._compared.unpack_from(self._state) != self._oracle_values():
            return divergence(f"the oracle's run of the region at pc={pc:#x} differs from the "
                              f"JIT's, but the JIT agrees with the reference interpreter and no "
                              f"oracle quirk explains it"
                              + (f" ({'; '.join(problems)})" if problems else ""),
                              ("JIT", "oracle"), (jit, theirs), before, self._refs)
        ctypes.memmove(self._state_address, post, len(post))
        report.quirks.update(quirks)
        return None

    def _rewind_oracle(self, before: dict, run: Outcome, reads: list) -> None:
        """Return the oracle to the state before the region (the machine's, rewound): write
        back its registers and the bytes under the stores of its ``run`` -- or reload it
        when the run raised an exception, which can leave state behind that the oracle
        does not model (e.g. Unicorn's delay-slot flags) -- and queue ``reads`` again."""
        m, oracle = self.machine, self.oracle
        if run.exception is not None:
            oracle.load(m.memory, before)
        else:
            for addr, size, _ in run.stores:
                if not _is_device(m.memory, addr):
                    oracle.write_memory(addr, m.memory.read_bytes(addr, size))
            oracle.write_regs({ref: before[ref] for ref in oracle.refs})
        oracle.devices.problems()                     # forget what the first run left
        oracle.devices.queue(reads)

    def _compare_step(self, step, before: dict, quirks: list) -> Optional[tuple]:
        """Run the oracle over the step the reference interpreter just made and compare;
        correct the oracle where a quirk explains the difference (appending its name to
        ``quirks``). ``(what, (reference Outcome, oracle Outcome))`` for a difference
        nothing explains, else ``None``."""
        m, oracle = self.machine, self.oracle
        run = oracle.run(max(step.retired, 1))
        e = step.exception
        ours = Outcome(step.retired, {ref: m.regs.raw(ref) for ref in self._refs},
                       [tuple(s) for s in step.stores],
                       None if e is None else (int(e.cause), e.pc, e.delay))
        theirs = Outcome(run.retired, oracle.read_regs(),
                         [(s.address, s.size, s.value) for s in run.stores],
                         _exception(run.exception))
        if not _differences(ours, theirs, self._refs):
            return None
        why = None
        if self._explain is not None:
            why = self._explain(m, before, ours.regs, theirs.regs,
                                ours.exception and ours.exception[0],
                                theirs.exception and theirs.exception[0],
                                ours.stores, theirs.stores)
        if why is None:
            return (f"the oracle and the reference interpreter differ at "
                    f"pc={before[m.guest.pc_slot]:#x} and no oracle quirk explains it",
                    (ours, theirs))
        oracle.write_regs({ref: v for ref, v in why.fix.regs.items() if ref in oracle.refs})
        byteorder = m.memory.byteorder
        for addr, size, value in why.fix.stores:
            oracle.write_memory(addr, value.to_bytes(size, byteorder))
        quirks.append(why.quirk.name)
        return None

    def _bisect(self, snapshot, reads: list, ref: Outcome) -> list:
        """The passes that, switched off alone, make the region (run again from
        ``snapshot``) agree with the reference interpreter's ``ref``."""
        from .passes import DEFAULT_PIPELINE
        m = self.machine
        original = set(m.disabled_passes)
        found = []
        try:
            for name in DEFAULT_PIPELINE:
                if name in original or name == COUNTING_PASS:
                    continue
                m.disabled_passes = original | {name}
                m.restore(snapshot)
                with _replayed_devices(m.memory, reads):
                    insns = m.insns
                    result = m.run(self._cycles, max_regions=1, errors="return")
                stores = m.memory.store_log
                m.memory.store_log, m.memory.read_log = [], []
                raised = result.reason == ExitReason.EXCEPTION
                outcome = Outcome(m.insns - insns, m.regs.as_dict(), stores,
                                  _result_exception(result) if raised else None)
                if result.reason != ExitReason.ERROR and \
                        not _differences(outcome, ref, self._all_refs):
                    found.append(name)
        finally:
            m.disabled_passes = original
        return found

    # --- the report ---------------------------------------------------------------------------

    def _region_info(self, pc: int) -> dict:
        """The region at ``pc`` for the report: guest code, IR, host code."""
        m = self.machine
        try:
            entry = m.blocks.lookup(m.key(pc))
        except GuestFault:
            entry = None
        if entry is None:
            return {}
        code = m.cache.read(entry.code.entry, entry.code.size)
        return {"guest_code": _guest_listing(m, pc, entry.ir_before or ""),
                "ir_before": entry.ir_before or "", "ir_after": entry.ir_after or "",
                "host_code": m.host.disassemble(code, entry.code.entry)}

    def _memory_diff(self, outcomes: tuple, snapshot, earlier_stores) -> list:
        """``(address, bytes of side 0, bytes of side 1)`` for every memory range (not MMIO)
        that either outcome stored to and where the two leave different bytes. The bytes a
        side did not write are those of ``snapshot`` (``Machine.save`` before the region)
        updated by ``earlier_stores`` (made in the region before the compared step)."""
        mem = self.machine.memory
        base = _written_bytes(earlier_stores, mem.byteorder)
        written = [_written_bytes(o.stores, mem.byteorder) for o in outcomes]
        ranges = sorted({(addr, size) for o in outcomes for addr, size, _ in o.stores
                         if not _is_device(mem, addr)})

        def byte(side: dict, a: int) -> int:
            if a in side:
                return side[a]
            return base[a] if a in base else _saved_byte(snapshot, mem, a)

        out = []
        for addr, size in ranges:
            x, y = (bytes(byte(side, a) for a in range(addr, addr + size)) for side in written)
            if x != y:
                out.append((addr, x, y))
        return out


# --- helpers ------------------------------------------------------------------------------------

def _state_struct(layout, refs: list) -> struct.Struct:
    """A ``Struct`` that unpacks the raw bits of ``refs`` (sorted by offset) from the guest
    state (little-endian host integers, as ``Registers.raw`` reads them)."""
    fmt, pos = "<", 0
    for ref in refs:
        off, size = layout.offset(ref), layout.type(ref).bytes
        if off > pos:
            fmt += f"{off - pos}x"
        fmt += _STRUCT_CODES[size]
        pos = off + size
    return struct.Struct(fmt)


def _exception(e) -> Optional[tuple]:
    """An ``OracleException`` as ``(cause, pc, delay)``."""
    return None if e is None else (e.cause, e.pc, e.delay)


def _result_exception(result: RunResult) -> tuple:
    return (result.cause, result.pc, result.delay)


def _written_bytes(stores, byteorder: str) -> dict:
    """address -> the last byte ``stores`` (``(address, size, value)``) wrote there."""
    out = {}
    for addr, size, value in stores:
        for i, byte in enumerate(value.to_bytes(size, byteorder)):
            out[addr + i] = byte
    return out


def _saved_byte(snapshot, memory, address: int) -> int:
    """The byte at ``address`` in a ``Machine.save`` snapshot (``address`` is RAM/ROM)."""
    m = memory.find(address)
    return snapshot.memory[(m.name, m.base)][m.offset + address - m.base]


def _is_device(memory, address: int) -> bool:
    """True when ``address`` is MMIO (or unmapped): no bytes there to save or restore."""
    m = memory.find(address)
    return m is None or m.buffer is None


@contextlib.contextmanager
def _replayed_devices(memory, reads: list):
    """Within the block, every handler of ``memory`` is a ``DeviceReplay`` answering
    ``reads`` (device writes do nothing), so a region can run again without side effects."""
    devices = DeviceReplay(memory.byteorder)
    devices.queue(reads)
    saved = [(m, m.read, m.write) for m in memory.mappings
             if m.read is not None or m.write is not None]
    for m, read, write in saved:
        m.read = devices.read if read is not None else None
        m.write = devices.write if write is not None else None
    try:
        yield devices
    finally:
        for m, read, write in saved:
            m.read, m.write = read, write


def _differences(a: Outcome, b: Outcome, refs, sides=("one side", "the other")) -> list:
    """Lines naming every difference between two outcomes (registers over ``refs``)."""
    x, y = sides
    out = []
    if a.exception != b.exception:
        out.append(f"exception: {_describe(a.exception)} | {_describe(b.exception)}")
    if a.retired != b.retired:
        out.append(f"instructions retired: {a.retired} | {b.retired}")
    for ref in refs:
        if a.regs.get(ref) != b.regs.get(ref):
            out.append(f"{ref}: {_hex(a.regs.get(ref))} | {_hex(b.regs.get(ref))}")
    if a.stores != b.stores:
        out.append(f"stores differ: {len(a.stores)} by the {x}, {len(b.stores)} by the {y}"
                   + _first_store_difference(a.stores, b.stores))
    out += [f"{x}: {p}" for p in a.problems] + [f"{y}: {p}" for p in b.problems]
    return out


def _first_store_difference(a: list, b: list) -> str:
    for i, (s, t) in enumerate(zip(a, b)):
        if s != t:
            return f"; #{i + 1}: {_describe_store(s)} | {_describe_store(t)}"
    i = min(len(a), len(b))
    return f"; #{i + 1}: {_describe_store(a[i] if i < len(a) else None)} | " \
           f"{_describe_store(b[i] if i < len(b) else None)}"


def _describe_store(s) -> str:
    return "none" if s is None else f"[{s[0]:#x}] {s[1]} byte(s) = {s[2]:#x}"


def _describe(exception: Optional[tuple]) -> str:
    if exception is None:
        return "none"
    cause, pc, delay = exception
    return f"cause {cause} at pc={_hex(pc)}" + (" (delay slot)" if delay else "")


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _hex(value) -> str:
    return "-" if value is None else f"{value:#x}"


def _guest_listing(machine, pc: int, ir_text: str) -> list:
    """Guest disassembly of the instructions a region's ``insn_start`` markers name, in
    order; a marker with ``delay=1`` lists the instruction after its pc too (the slot)."""
    starts: dict = {}
    for match in _INSN_START.finditer(ir_text):
        at = int(match.group(1), 0)
        starts[at] = starts.get(at, False) or bool(match.group(2))
    if not starts:
        starts = {pc: False}
    guest, lines = machine.guest, []
    pcs = list(starts)
    for i, at in enumerate(pcs):
        nxt = pcs[i + 1] if i + 1 < len(pcs) else None
        span = nxt - at if nxt is not None and 0 < nxt - at <= 64 else 16
        code = b""
        while span and not code:
            try:
                code = machine.memory.read_bytes(guest.code_address(machine, at), span)
            except GuestFault:
                span //= 2
        listing = guest.disassemble(code, at) if code else [f"{at:#x}: (no memory)"]
        lines += listing[:2 if starts[at] else 1]
    return lines
