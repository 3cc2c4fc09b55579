"""Shared helpers of the SM83 tests: the SingleStepTests suite (``../shared/sm83-tests``, 50
cases per opcode; format and its HALT/STOP deviation in the suite's README) -- its files and
cases -- with runners for the reference interpreter and for the JIT on the flat 64 KiB system;
what a run did differently from a case's final state is ``singlestep.differences``, the
comparison ``dynarec-diff sm83 FILE.json`` makes. Imported by name: pytest puts this
directory on ``sys.path``."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from dynarec.guests.sm83.decoder import TABLE
from dynarec.guests.sm83.interpreter import FlatBus, new_state, step
from dynarec.guests.sm83.singlestep import REGISTERS, differences  # noqa: F401 (re-exported)
from dynarec.guests.sm83.system import load_state

SUITE = Path(__file__).resolve().parents[4] / "shared" / "sm83-tests"
OPCODES = [opcode for opcode, row in TABLE.items() if row.cls != "illegal"]


def file_name(opcode: int) -> str:
    """The suite's file for an opcode: ``3e.json.gz``, ``cb_4f.json.gz``."""
    return (f"cb_{opcode & 0xFF:02x}" if opcode > 0xFF else f"{opcode:02x}") + ".json.gz"


def case_id(opcode: int) -> str:
    """The pytest id of an opcode's tests: its file name without the suffix."""
    return file_name(opcode)[:-len(".json.gz")]


def load_cases(opcode: int) -> list:
    """The 50 cases of ``opcode``; skips the test when the suite is not beside the repo."""
    if not SUITE.is_dir():
        pytest.skip(f"the SM83 suite is not at {SUITE} (../shared/sm83-tests beside the repo)")
    with gzip.open(SUITE / file_name(opcode)) as f:
        return json.load(f)


def interpret(case):
    """One step of the interpreter from the case's initial state: (state, bus, trace,
    StepResult)."""
    initial = case["initial"]
    state = new_state(**{name: initial[name] for name in REGISTERS})
    bus = FlatBus(initial["ram"])
    trace = []
    result = step(state, bus, trace, interrupts=False)
    return state, bus, trace, result


def run_jit(machine, case):
    """One region of the JIT (a machine of ``system.flat_machine(max_insns=1)``: one
    instruction) from the case's initial state: (state, memory, M-cycles, RunResult)."""
    initial = case["initial"]
    load_state(machine, {name: initial[name] for name in REGISTERS}, initial["ram"])
    start = machine.cycles
    result = machine.run(max_regions=1)
    return (machine.regs.as_dict(), machine.memory.read_bytes(0, 0x10000),
            machine.cycles - start, result)
