"""SingleStepTests files through the reference interpreter and the JIT (``dynarec-diff sm83
FILE.json[.gz]``).

::

    from dynarec.guests.sm83.singlestep import SuiteRun, load_cases
    run = SuiteRun()                                  # options go to Machine
    result = run.check(load_cases("3e.json.gz"))
    print(result.summary())                           # 50 cases: 50 passed, 0 failed
    for failure in result.failures[:5]:
        print(failure)

The format (``../shared/sm83-tests/README.md``): a JSON array (gzip-compressed for
``.json.gz``) of cases, each with ``name``; ``initial``: the registers ``pc sp a b c d e f h l
ime`` (and ``ie``, a flag of the generator, ignored) and ``ram`` as ``[address, value]``
pairs; ``final``: the same registers (``ei`` too for EI cases) and ``ram``; ``cycles``: one
``[address, data, kind]`` per M-cycle.

Every case runs from its initial state on the flat 64 KiB system without an interrupt
controller (``system``), as the README asks: one step of the reference interpreter, and one
single-instruction region of the JIT (``flat_machine(max_insns=1)``). Each side must leave
the suite's final state: the registers (``ei_pending`` against ``ei``), the whole memory and
the M-cycle count; the interpreter also the per-M-cycle bus activity. A case of an opcode in
``deviations.DEVIATIONS`` (HALT, STOP) is a *deviation*, not a failure, when each side
differs from the suite exactly as the entry says (the hardware's pc advance, M-cycle count
and run mode; the suite's length and cycles as the entry records them; the hardware's bus
cycles a prefix of the suite's) and in nothing else.
"""

from __future__ import annotations

import gzip
import json
import sys
from dataclasses import dataclass, field

from dynarec.cli.diff import PROG
from dynarec.runtime import ExitReason

from .decoder import CB_PREFIX, TABLE
from .deviations import DEVIATIONS
from .interpreter import FlatBus, new_state, step
from .system import RAM_SIZE, flat_machine, load_state

REGISTERS = ("pc", "sp", "a", "b", "c", "d", "e", "f", "h", "l", "ime")
#: differing bytes listed per side and case
MEMORY_LINES = 4


def load_cases(path) -> list:
    """The cases of a SingleStepTests file (``.json`` or ``.json.gz``). Raises ``OSError``
    (unreadable, bad gzip data) or ``ValueError`` naming the file (not JSON, not a list of
    cases with ``name``, ``initial``, ``final`` and ``cycles``)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        try:
            cases = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: not JSON ({e})") from None
    keys = {"name", "initial", "final", "cycles"}
    if not isinstance(cases, list) or not all(isinstance(c, dict) and keys <= c.keys()
                                              for c in cases):
        raise ValueError(f"{path}: not SingleStepTests cases (a JSON array of objects with "
                         f"{', '.join(sorted(keys))})")
    return cases


@dataclass
class Failure:
    """A case one side got wrong: ``case`` (its name), ``side`` (``"interpreter"`` or
    ``"JIT"``), ``problems`` (one line per difference from the suite)."""

    case: str
    side: str
    problems: list

    def __str__(self) -> str:
        return f"{self.case} ({self.side}): " + "; ".join(self.problems)


@dataclass
class SuiteResult:
    """What checking cases gave: ``cases`` run, ``passed``, ``deviations`` (cases of a suite
    deviation that differ exactly as documented: ``opcode -> count``) and ``failures`` (one
    ``Failure`` per case and side, in order). A case is failed when either side failed."""

    cases: int = 0
    passed: int = 0
    deviations: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)

    @property
    def failed(self) -> int:
        """Cases at least one side failed."""
        return len({failure.case for failure in self.failures})

    def summary(self) -> str:
        """``N cases: P passed, F failed`` and, if any, the suite deviations met."""
        line = f"{self.cases:,} cases: {self.passed:,} passed, {self.failed:,} failed"
        if self.deviations:
            line += ", " + ", ".join(
                f"{count:,} documented suite deviations ({TABLE[opcode].op}, {opcode:02X})"
                for opcode, count in sorted(self.deviations.items()))
        return line


class SuiteRun:
    """Checks cases on the interpreter and the JIT: ``SuiteRun(**machine_options)`` (e.g.
    ``disabled_passes``, ``host``: for ``Machine``); ``check(cases) -> SuiteResult``. A case
    whose state is malformed (a register missing, an address or value out of range) raises
    ``ValueError`` naming it."""

    def __init__(self, **machine_options):
        self.machine = flat_machine(max_insns=1, **machine_options)

    def check(self, cases: list) -> SuiteResult:
        """Run every case on both sides and tally them (class docstring)."""
        result = SuiteResult()
        for case in cases:
            try:
                opcode = _opcode(case)
                found = {"interpreter": self._interpret(case, opcode),
                         "JIT": self._run_jit(case, opcode)}
            except (KeyError, TypeError, ValueError) as e:
                raise ValueError(f"case {case.get('name')!r}: malformed state ({e})") from None
            result.cases += 1
            failures = [Failure(case["name"], side, problems)
                        for side, problems in found.items() if problems]
            result.failures += failures
            if failures:
                continue
            if opcode in DEVIATIONS:
                result.deviations[opcode] = result.deviations.get(opcode, 0) + 1
            else:
                result.passed += 1
        return result

    def _interpret(self, case: dict, opcode: int) -> list:
        """The interpreter's differences from the suite (module docstring)."""
        initial = case["initial"]
        state = new_state(**{name: initial[name] for name in REGISTERS})
        bus = FlatBus(initial["ram"])
        trace: list = []
        cycles = step(state, bus, trace, interrupts=False).cycles
        deviation = DEVIATIONS.get(opcode)
        if deviation is None:
            return differences(case, state, bus.memory, cycles, trace)
        problems = _deviating(case, opcode, state, bus.memory, cycles)
        suite_cycles = case["cycles"]
        if [list(c) for c in trace] != suite_cycles[:cycles] or \
                any(kind != "---" for _, _, kind in suite_cycles[cycles:]):
            problems.append(f"bus cycles {[list(c) for c in trace]} are not the suite's "
                            f"{suite_cycles} up to its extra internal cycles")
        return problems

    def _run_jit(self, case: dict, opcode: int) -> list:
        """The JIT's differences from the suite (module docstring)."""
        machine = self.machine
        initial = case["initial"]
        load_state(machine, {name: initial[name] for name in REGISTERS}, initial["ram"])
        start = machine.cycles
        run = machine.run(max_regions=1, errors="return")
        state = machine.regs.as_dict()
        memory = machine.memory.read_bytes(0, RAM_SIZE)
        cycles = machine.cycles - start
        if opcode in DEVIATIONS:
            problems = _deviating(case, opcode, state, memory, cycles)
            expected = ExitReason.HALT
        else:
            problems = differences(case, state, memory, cycles)
            expected = ExitReason.NEXT
        if run.reason != expected:
            problems.append(f"the region ended with {run}, not {expected.name}")
        return problems


def _opcode(case: dict) -> int:
    """The opcode at the initial pc (``0xCBnn`` for CB-prefixed ones)."""
    initial = case["initial"]
    memory = FlatBus(initial["ram"]).memory
    pc = initial["pc"]
    opcode = memory[pc]
    return CB_PREFIX << 8 | memory[pc + 1 & 0xFFFF] if opcode == CB_PREFIX else opcode


def differences(case: dict, state, memory, cycles: int, trace=None, ignore=()) -> list:
    """One line per way a run differs from the case's final state: ``state`` (the
    registers, and ``ei_pending`` against the suite's ``ei``; a dict), ``memory`` (64 KiB,
    bytes-like) and ``cycles`` (M-cycles) and, given one, the per-M-cycle bus ``trace``
    (``[address, data, kind]`` per M-cycle). Registers in ``ignore`` and, for ``"cycles"``,
    the count and the trace are left out."""
    final = case["final"]
    expected = {name: final[name] for name in REGISTERS if name not in ignore}
    expected["ei_pending"] = final.get("ei", 0)
    problems = [f"{name}: {state[name]:#x}, suite {value:#x}"
                for name, value in expected.items() if state[name] != value]
    want = FlatBus(case["initial"]["ram"])
    for address, value in final["ram"]:
        want.write(address, value)
    if bytes(memory) != bytes(want.memory):
        problems += [f"memory {address:#06x}: {memory[address]:#04x}, suite "
                     f"{want.memory[address]:#04x}" for address in range(RAM_SIZE)
                     if memory[address] != want.memory[address]][:MEMORY_LINES]
    if "cycles" not in ignore:
        if trace is not None and [list(c) for c in trace] != case["cycles"]:
            problems.append(f"bus cycles {[list(c) for c in trace]}, suite {case['cycles']}")
        if cycles != len(case["cycles"]):
            problems.append(f"{cycles} M-cycles, suite {len(case['cycles'])}")
    return problems


def _deviating(case: dict, opcode: int, state, memory, cycles: int) -> list:
    """What a run of a deviation's opcode does otherwise than the deviation says (empty:
    a documented deviation): the hardware's pc advance, cycles and run mode, the suite's
    recorded length and cycles, and the suite's final state in everything else."""
    deviation, row = DEVIATIONS[opcode], TABLE[opcode]
    initial, final = case["initial"], case["final"]
    problems = []
    checks = (("suite pc advance", final["pc"] - initial["pc"] & 0xFFFF, deviation.suite_length),
              ("suite M-cycles", len(case["cycles"]), deviation.suite_cycles),
              ("pc advance", state["pc"] - initial["pc"] & 0xFFFF, row.length),
              ("M-cycles", cycles, row.cycles),
              ("run mode", state["run_mode"], deviation.run_mode))
    problems += [f"{what} {got}, the deviation says {want}"
                 for what, got, want in checks if got != want]
    return problems + differences(case, state, memory, cycles, ignore=("pc", "cycles"))


class SingleStepTests:
    """The ``dynarec.systems`` entry of SingleStepTests files for ``dynarec-diff``
    (``dynarec.cli.diff``): ``dynarec-diff sm83 FILE.json[.gz]``."""

    guest = "sm83"
    suffixes = (".json", ".json.gz")
    #: failures printed after the summary
    SHOWN = 10

    def diff(self, args) -> int:
        """Check every case of ``args.file`` (``args.disable_pass``, ``args.host`` for the
        JIT); print the first failures, the ``--stats`` table and the summary line
        (stderr). 0 when every case passed or deviated as documented, else 1. ``OSError``
        or ``ValueError`` for a file that is not a suite file or a malformed case."""
        cases = load_cases(args.file)
        run = SuiteRun(disabled_passes=args.disable_pass, host=args.host)
        result = run.check(cases)
        for failure in result.failures[:self.SHOWN]:
            print(f"FAILED {failure}", file=sys.stderr)
        if args.stats:
            print(run.machine.stats.table(), file=sys.stderr)
        print(f"{PROG}: {result.summary()}", file=sys.stderr)
        return 1 if result.failures else 0


#: the entry point object (pyproject: ``[project.entry-points."dynarec.systems"]``)
SYSTEM = SingleStepTests()
