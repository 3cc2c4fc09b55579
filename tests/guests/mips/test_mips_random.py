"""Random valid VR4300 programs (every instruction class, random registers, memory inside a
mapped page) run on every engine: the reference interpreter agrees with Unicorn step by step
(differences only where the quirk table explains them), and the translator -- on the IR
interpreter, with and without the pass pipeline -- and the JIT (``dynarec.Machine``, with
multi-instruction and single-instruction regions, on the x86-64 host and on the AArch64 host
under Unicorn) agree with the reference interpreter on the final registers, data memory,
retired instruction count and the exception that ended the run. The ``full`` variants run
many more and longer programs."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mips_testlib import (lockstep_with_unicorn, programs, run_ir, run_machine,
                          run_reference)

from dynarec.guests.mips.oracle import MipsOracle

FAST = settings(max_examples=80, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))
FULL = settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))

ORACLE = MipsOracle()


def assert_same(expected, actual, what):
    diffs = {ref: (hex(v), hex(actual.regs[ref])) for ref, v in expected.regs.items()
             if actual.regs[ref] != v}
    assert not diffs, f"{what}: registers differ {diffs}"
    assert actual.exception == expected.exception, what
    assert actual.data == expected.data, f"{what}: data memory differs"
    if actual.retired is not None:
        assert actual.retired == expected.retired, f"{what}: retired count differs"


def check_interpreter_against_unicorn(prog):
    lockstep_with_unicorn(prog, ORACLE)


def check_translator(prog, max_insns):
    expected = run_reference(prog)
    assert_same(expected, run_ir(prog, max_insns, passes=True), "IR after passes")
    raw = run_ir(prog, max_insns, passes=False)
    raw.retired = None                       # only the cycle-accounting pass counts
    assert_same(expected, raw, "IR without passes")


def check_jit(prog, max_insns, host=None):
    assert_same(run_reference(prog), run_machine(prog, max_insns, host=host), f"JIT on {host}")


@FAST
@given(programs())
def test_reference_interpreter_agrees_with_unicorn(prog):
    check_interpreter_against_unicorn(prog)


@FAST
@given(programs(), st.sampled_from([1, 3, 64]))
def test_translator_on_the_ir_interpreter_agrees_with_the_reference(prog, max_insns):
    check_translator(prog, max_insns)


@FAST
@given(programs(), st.sampled_from([1, 64]))
def test_jit_agrees_with_the_reference_and_unicorn(prog, max_insns):
    check_jit(prog, max_insns)
    check_interpreter_against_unicorn(prog)


@FAST
@given(programs(), st.sampled_from([1, 64]))
def test_jit_on_aarch64_agrees_with_the_reference(prog, max_insns):
    check_jit(prog, max_insns, "aarch64")


@pytest.mark.full
@FULL
@given(programs(max_items=48))
def test_full_reference_interpreter_agrees_with_unicorn(prog):
    check_interpreter_against_unicorn(prog)


@pytest.mark.full
@FULL
@given(programs(max_items=48), st.sampled_from([1, 2, 5, 64]))
def test_full_translator_agrees_with_the_reference(prog, max_insns):
    check_translator(prog, max_insns)


@pytest.mark.full
@FULL
@given(programs(max_items=48), st.sampled_from([1, 2, 5, 64]))
def test_full_jit_agrees_with_the_reference(prog, max_insns):
    check_jit(prog, max_insns)


@pytest.mark.full
@FULL
@given(programs(max_items=48), st.sampled_from([1, 2, 5, 64]))
def test_full_jit_on_aarch64_agrees_with_the_reference(prog, max_insns):
    check_jit(prog, max_insns, "aarch64")
