"""``dynarec-diff orus FILE.json``: the Orus JIT in lockstep with the reference interpreter.

::

    report = Lockstep(loader.load("fib25.json")).run()
    print(report.summary())              # "1,000 region exits compared, no divergence, ..."

Comparison points are the JIT's region exits: every return of a function and the end of the
program (``OrusJit(trace=...)``). At each, generated code calls back into Python with the
shared registers written back; the runner then runs the interpreter to its next return (or
end, or error) and compares: which function returned, the value it returned, every shared
register (R0-R63, R240-R255; arrays by content), and everything printed so far. A runtime
error is a comparison point too (same message and location). At the first difference the
run stops with a report naming the comparison point, the function, and what differs.

``main(argv)`` is the command (what ``dynarec-diff orus FILE.json`` runs; options
``--max-events N`` and ``--stats``); ``SYSTEM`` is the object ``dynarec-diff`` finds through
its ``dynarec.systems`` entry point group (``diff(args)``). Exit status: 0 when both agree to
the end, 1 at a divergence, 2 for a file that cannot be loaded.
"""

from __future__ import annotations

import argparse
import io
import struct
import sys
import time
from dataclasses import dataclass
from typing import Optional

from dynarec.errors import DynarecError

from .errors import OrusLoadError
from .heap import TAG_VOID
from .interpreter import Interpreter
from .jit import SHARED, OrusJit, registers
from .loader import Program, load
from .values import Array

PROG = "dynarec-diff orus"


class Diverged(DynarecError):
    """The JIT and the interpreter disagree (raised inside generated code to stop it)."""


def canonical(value, seen=None):
    """A comparable form of a runtime value: arrays by content (cycles cut), f64 by bits."""
    if type(value) is Array:
        seen = set() if seen is None else seen
        if id(value) in seen:
            return ("array", "...")
        seen.add(id(value))
        return ("array", tuple(canonical(v, seen) for v in value))
    if type(value) is float:
        return ("f64", struct.pack("<d", value))
    if isinstance(value, (int, bytes)):
        return (type(value).__name__, value)
    return (type(value).__name__, repr(value))            # iterators


@dataclass
class Event:
    """One comparison point: ``function`` (name, ``None`` for the program's end or top
    level), ``value`` (canonical; ``None``: none), ``shared`` (``(register, canonical
    value)`` of the shared registers the program names; empty at an error), ``output``
    (bytes printed since the previous point), ``error`` (text, or ``None``)."""

    function: Optional[str]
    value: object
    shared: tuple
    output: bytes
    error: Optional[str] = None

    def differences(self, other: "Event") -> list:
        """Lines naming each field that differs (``self`` is the JIT's, ``other`` the
        interpreter's)."""
        out = []
        for name in ("function", "error", "value"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                out.append(f"  {name}: JIT {mine!r}, interpreter {theirs!r}")
        for (r, mine), (_, theirs) in zip(self.shared, other.shared):
            if mine != theirs:
                out.append(f"  R{r}: JIT {mine!r}, interpreter {theirs!r}")
        if self.output != other.output:
            common = len(_common_prefix(self.output, other.output))
            out.append(f"  output differs at byte {common}: JIT "
                       f"{self.output[common:common + 40]!r}, interpreter "
                       f"{other.output[common:common + 40]!r}")
        return out


def _printed(stream: io.BytesIO) -> bytes:
    """What was printed since the last comparison point (the stream is emptied)."""
    data = stream.getvalue()
    stream.seek(0)
    stream.truncate()
    return data


def _common_prefix(a: bytes, b: bytes) -> bytes:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


class _TracingInterpreter(Interpreter):
    """The interpreter, stopping after every return and at the end (``events``)."""

    def __init__(self, program, output):
        super().__init__(program, output=output)
        self.returned: Optional[tuple] = None

    def _leave(self, value, has_value: bool) -> int:
        name = self.frames[-1].name
        result = super()._leave(value, has_value)
        self.returned = (name, value if has_value else None)
        self._stop = True
        return result

    def _end(self, offset: int) -> int:
        self.returned = (None, None)
        return super()._end(offset)


@dataclass
class Report:
    """What a lockstep run found: ``events`` compared, the ``divergence`` report (text, or
    ``None``), ``ended`` (how the run ended) and ``seconds`` (wall time)."""

    events: int
    divergence: Optional[str]
    ended: str
    seconds: float

    def summary(self) -> str:
        """One line: events compared, the verdict, how the program ended, the time."""
        agreed = "no divergence" if self.divergence is None else "DIVERGED"
        return (f"{self.events:,} region exits compared, {agreed}; the program {self.ended} "
                f"({self.seconds:.2f} s)")


class Lockstep:
    """The JIT and the interpreter over one program (module doc). ``max_events``: stop
    comparing (and running) after that many comparison points."""

    def __init__(self, program: Program, max_events: Optional[int] = None):
        self.program = program
        self.max_events = max_events
        self.jit_output, self.interp_output = io.BytesIO(), io.BytesIO()
        self.interp = _TracingInterpreter(program, self.interp_output)
        self.jit = OrusJit(program, output=self.jit_output, trace=self._jit_event)
        used = {r for _, chunk in program.chunks() for insn in chunk.insns
                for regs in registers(insn) for r in regs}
        self.output = bytearray()           # what the JIT printed
        self.shared = [r for r in SHARED if r in used]
        self.events = 0
        self.divergence: Optional[str] = None

    def _jit_printed(self) -> bytes:
        data = _printed(self.jit_output)
        self.output += data
        return data

    def _shared_jit(self) -> tuple:
        values = tuple((r, canonical(self.jit.register(r))) for r in self.shared)
        self.jit.runtime.finish(False)
        return values

    def _shared_interp(self) -> tuple:
        regs = self.interp.frames[-1].regs
        return tuple((r, canonical(regs[r])) for r in self.shared)

    def _interp_event(self) -> Event:
        """Run the interpreter to its next comparison point."""
        self.interp.returned = None
        while self.interp.returned is None:
            result = self.interp.run()
            if result.error is not None:       # registers may differ mid-instruction
                return Event(self.interp.frame.name, None, (), self.interp_output.getvalue(),
                             str(result.error))
            if result.halted and self.interp.returned is None:
                self.interp.returned = (None, None)
        name, value = self.interp.returned
        value = None if name is None or value is None else canonical(value)
        return Event(name, value, self._shared_interp(), _printed(self.interp_output))

    def _compare(self, mine: Event) -> None:
        self.events += 1
        theirs = self._interp_event()
        lines = mine.differences(theirs)
        if lines:
            self.divergence = "\n".join([f"divergence at region exit {self.events} (return "
                                         f"from {mine.function or 'top level'}):", *lines])
            raise Diverged(self.divergence)
        if self.max_events is not None and self.events >= self.max_events:
            raise Diverged("event limit")

    def _jit_event(self, where: int, tag: int, payload: int) -> None:
        function = None if where == 0 else self.program.functions[where - 1].name
        value = None
        if function is not None and tag != TAG_VOID:
            value = canonical(self.jit.runtime.unbox(tag, payload))
        self._compare(Event(function, value, self._shared_jit(), self._jit_printed()))

    def run(self) -> Report:
        """Run both to the end, the first divergence or ``max_events``."""
        start = time.perf_counter()
        ended = "ran to its end"
        try:
            result = self.jit.run()
            if result.error is not None:
                ended = f"stopped with: {result.error}"
                self._compare(Event(result.error.function, None, (), self._jit_printed(),
                                    str(result.error)))
        except Diverged:
            if self.divergence is None:
                ended = f"was stopped after {self.events:,} region exits"
        self._jit_printed()
        return Report(self.events, self.divergence, ended, time.perf_counter() - start)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Run an Orus dump on the JIT in "
                                "lockstep with the reference interpreter.")
    p.add_argument("file", help="the dump (NAME.json)")
    p.add_argument("--max-events", type=int, default=None,
                   help="stop after this many comparison points")
    p.add_argument("--stats", action="store_true", help="print the JIT's counters")
    return p


def run_file(path: str, max_events: Optional[int] = None, stats: bool = False) -> int:
    """Lockstep-run the dump at ``path``: the JIT's output to stdout, the report and the
    summary to stderr; returns the exit status (module doc)."""
    try:
        lockstep = Lockstep(load(path), max_events)
    except OrusLoadError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    report = lockstep.run()
    sys.stdout.buffer.write(lockstep.output)
    sys.stdout.flush()
    if report.divergence is not None:
        print(report.divergence, file=sys.stderr)
    if stats:
        print(lockstep.jit.stats_table(), file=sys.stderr)
    print(f"{PROG}: {report.summary()}", file=sys.stderr)
    return 1 if report.divergence is not None else 0


def main(argv: Optional[list] = None) -> int:
    """``dynarec-diff orus FILE.json [--max-events N] [--stats]``; returns the exit
    status."""
    args = _parser().parse_args(argv)
    return run_file(args.file, args.max_events, args.stats)


class _System:
    """The ``dynarec.systems`` entry of Orus dumps (``dynarec.cli.diff``)."""

    guest = "orus"
    suffixes = (".json",)

    @staticmethod
    def diff(args) -> int:
        """``dynarec-diff orus FILE.json``: ``run_file`` on ``args.file``; the exit status."""
        return run_file(args.file, getattr(args, "max_events", None),
                        getattr(args, "stats", False))


SYSTEM = _System()

if __name__ == "__main__":
    sys.exit(main())
