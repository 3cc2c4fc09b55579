"""The reference interpreter against the SingleStepTests SM83 suite (``../shared/sm83-tests``,
50 cases per opcode; format and its HALT/STOP deviation in the suite's README): every case
runs as one step on a flat 64 KiB bus without an interrupt controller, and the registers,
the whole memory, the M-cycle count and the per-M-cycle bus activity must equal the suite's.
The opcodes of ``deviations.DEVIATIONS`` must instead disagree exactly as their entry says.
One test per opcode file (500 ids)."""

import pytest

from sm83_testlib import (OPCODES, SUITE, differences, file_name, interpret, load_cases,
                          case_id)

from dynarec.guests.sm83.arch import RunMode
from dynarec.guests.sm83.decoder import TABLE
from dynarec.guests.sm83.deviations import DEVIATIONS


def test_the_suite_has_one_file_per_instruction():
    if not SUITE.is_dir():
        pytest.skip(f"the SM83 suite is not at {SUITE}")
    assert sorted(p.name for p in SUITE.glob("*.json.gz")) == sorted(map(file_name, OPCODES))


@pytest.mark.parametrize("opcode", [op for op in OPCODES if op not in DEVIATIONS],
                         ids=[case_id(op) for op in OPCODES if op not in DEVIATIONS])
def test_every_case_matches_the_suite(opcode):
    failures = []
    for case in load_cases(opcode):
        state, bus, trace, result = interpret(case)
        found = differences(case, state, bus.memory, result.cycles, trace)
        if found:
            failures.append(f"{case['name']}: " + "; ".join(found))
    assert not failures, f"{len(failures)} of 50 cases differ; first: " + "\n".join(failures[:3])


@pytest.mark.parametrize("opcode", sorted(DEVIATIONS),
                         ids=[case_id(op) for op in sorted(DEVIATIONS)])
def test_deviation_disagrees_exactly_as_documented(opcode):
    deviation, row = DEVIATIONS[opcode], TABLE[opcode]
    assert (row.length, row.cycles) != (deviation.suite_length, deviation.suite_cycles), \
        "the entry documents no disagreement"
    for case in load_cases(opcode):
        initial, final = case["initial"], case["final"]
        assert final["pc"] - initial["pc"] & 0xFFFF == deviation.suite_length, case["name"]
        assert len(case["cycles"]) == deviation.suite_cycles, case["name"]

        state, bus, trace, result = interpret(case)
        assert state["pc"] - initial["pc"] & 0xFFFF == row.length, case["name"]
        assert result.cycles == row.cycles, case["name"]
        assert state["run_mode"] == deviation.run_mode != RunMode.RUNNING, case["name"]
        suite_cycles = case["cycles"]
        assert [list(c) for c in trace] == suite_cycles[:row.cycles], case["name"]
        assert all(kind == "---" for _, _, kind in suite_cycles[row.cycles:]), case["name"]
        assert differences(case, state, bus.memory, result.cycles,
                           ignore=("pc", "cycles")) == [], case["name"]


def test_every_deviation_names_a_real_opcode_with_reason_and_source():
    for opcode, deviation in DEVIATIONS.items():
        assert deviation.opcode == opcode and TABLE[opcode].cls != "illegal"
        assert deviation.reason and deviation.source
