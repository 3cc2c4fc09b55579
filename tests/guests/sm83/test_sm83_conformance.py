"""The reference interpreter against the SingleStepTests SM83 suite (``../shared/sm83-tests``,
50 cases per opcode; format and its HALT/STOP deviation in the suite's README): every case
runs as one step on a flat 64 KiB bus without an interrupt controller, and the registers,
the whole memory, the M-cycle count and the per-M-cycle bus activity must equal the suite's.
The opcodes of ``deviations.DEVIATIONS`` must instead disagree exactly as their entry says.
One test per opcode file (500 ids)."""

import gzip
import json
from pathlib import Path

import pytest

from dynarec.guests.sm83.arch import RunMode
from dynarec.guests.sm83.decoder import TABLE
from dynarec.guests.sm83.deviations import DEVIATIONS
from dynarec.guests.sm83.interpreter import FlatBus, new_state, step

SUITE = Path(__file__).resolve().parents[4] / "shared" / "sm83-tests"
REGISTERS = ("pc", "sp", "a", "b", "c", "d", "e", "f", "h", "l", "ime")
OPCODES = [opcode for opcode, row in TABLE.items() if row.cls != "illegal"]


def file_name(opcode: int) -> str:
    """The suite's file for an opcode: ``3e.json.gz``, ``cb_4f.json.gz``."""
    return (f"cb_{opcode & 0xFF:02x}" if opcode > 0xFF else f"{opcode:02x}") + ".json.gz"


def load_cases(opcode: int) -> list:
    if not SUITE.is_dir():
        pytest.skip(f"the SM83 suite is not at {SUITE} (../shared/sm83-tests beside the repo)")
    with gzip.open(SUITE / file_name(opcode)) as f:
        return json.load(f)


def run(case):
    """One step of the interpreter from the case's initial state: (state, bus, trace,
    StepResult)."""
    initial = case["initial"]
    state = new_state(**{name: initial[name] for name in REGISTERS})
    bus = FlatBus(initial["ram"])
    trace = []
    result = step(state, bus, trace, interrupts=False)
    return state, bus, trace, result


def expected_memory(case) -> bytearray:
    memory = FlatBus(case["initial"]["ram"])
    for address, value in case["final"]["ram"]:
        memory.write(address, value)
    return memory.memory


def differences(case, state, bus, trace, result, ignore=()) -> list:
    """What the run did differently from the suite's final state and cycles."""
    final = case["final"]
    expected = {name: final[name] for name in REGISTERS if name not in ignore}
    expected["ei_pending"] = final.get("ei", 0)
    got = {name: state[name] for name in expected}
    found = [f"{name}: {got[name]:#x}, suite {value:#x}"
             for name, value in expected.items() if got[name] != value]
    memory = expected_memory(case)
    if bus.memory != memory:
        found += [f"memory {address:#06x}: {bus.memory[address]:#04x}, suite "
                  f"{memory[address]:#04x}"
                  for address in range(0x10000) if bus.memory[address] != memory[address]][:4]
    if "cycles" not in ignore:
        if [list(cycle) for cycle in trace] != case["cycles"]:
            found.append(f"bus cycles {trace}, suite {case['cycles']}")
        if result.cycles != len(case["cycles"]):
            found.append(f"{result.cycles} M-cycles, suite {len(case['cycles'])}")
    return found


def test_the_suite_has_one_file_per_instruction():
    if not SUITE.is_dir():
        pytest.skip(f"the SM83 suite is not at {SUITE}")
    assert sorted(p.name for p in SUITE.glob("*.json.gz")) == sorted(map(file_name, OPCODES))


@pytest.mark.parametrize("opcode", [op for op in OPCODES if op not in DEVIATIONS],
                         ids=[file_name(op)[:-8] for op in OPCODES if op not in DEVIATIONS])
def test_every_case_matches_the_suite(opcode):
    failures = []
    for case in load_cases(opcode):
        found = differences(case, *run(case))
        if found:
            failures.append(f"{case['name']}: " + "; ".join(found))
    assert not failures, f"{len(failures)} of 50 cases differ; first: " + "\n".join(failures[:3])


@pytest.mark.parametrize("opcode", sorted(DEVIATIONS),
                         ids=[file_name(op)[:-8] for op in sorted(DEVIATIONS)])
def test_deviation_disagrees_exactly_as_documented(opcode):
    deviation, row = DEVIATIONS[opcode], TABLE[opcode]
    assert (row.length, row.cycles) != (deviation.suite_length, deviation.suite_cycles), \
        "the entry documents no disagreement"
    for case in load_cases(opcode):
        initial, final = case["initial"], case["final"]
        assert final["pc"] - initial["pc"] & 0xFFFF == deviation.suite_length, case["name"]
        assert len(case["cycles"]) == deviation.suite_cycles, case["name"]

        state, bus, trace, result = run(case)
        assert state["pc"] - initial["pc"] & 0xFFFF == row.length, case["name"]
        assert result.cycles == row.cycles, case["name"]
        assert state["run_mode"] == deviation.run_mode != RunMode.RUNNING, case["name"]
        suite_cycles = case["cycles"]
        assert [list(c) for c in trace] == suite_cycles[:row.cycles], case["name"]
        assert all(kind == "---" for _, _, kind in suite_cycles[row.cycles:]), case["name"]
        assert differences(case, state, bus, trace, result, ignore=("pc", "cycles")) == [], \
            case["name"]


def test_every_deviation_names_a_real_opcode_with_reason_and_source():
    for opcode, deviation in DEVIATIONS.items():
        assert deviation.opcode == opcode and TABLE[opcode].cls != "illegal"
        assert deviation.reason and deviation.source
