"""Exact stops with linking on: ``run(cycles=N)`` finishes with single-instruction regions up
to N, breakpoints stop before their instruction and undo links into the regions that held
it, ``step`` runs one instruction. Checked on the MIPS test programs against the reference
interpreter (guests/mips/interpreter.py, written from the VR4300 manual) and the programs'
expected outputs (from a native build of the same C sources)."""

import pytest
from mips_programs import expected_output as expected, mips_program as program

from dynarec import ExitReason, Machine


def reference_visits(name, pc):
    """How often the reference interpreter starts a step at ``pc`` before ``_halt``."""
    m, _, symbols = program(name)
    visits = 0
    while m.pc != symbols["_halt"]:
        visits += m.pc == pc
        result = m.guest.step(m)
        assert result.exception is None, result.exception
    return visits


@pytest.mark.parametrize("slice_", [1, 97, 1000])
def test_run_cycles_stops_at_the_first_instruction_boundary_past_n(slice_):
    whole, _, _ = program("crc32")
    assert whole.run().reason == ExitReason.HALT
    m, system, _ = program("crc32")
    while True:
        result = m.run(cycles=slice_)
        if result.reason == ExitReason.HALT:
            break
        assert result.reason == ExitReason.BUDGET
        # one cycle per instruction; only a branch with its delay slot is one step of two
        assert slice_ <= result.cycles <= slice_ + 1, result
        if slice_ == 1000:
            break
    if slice_ == 1000:
        assert m.run().reason == ExitReason.HALT
    assert system.text() == expected("crc32")
    assert m.insns == m.cycles == whole.insns
    assert (m.stats["links_patched"] > 0) == (slice_ > 1)  # slice 1: single instructions


def test_an_inexact_run_stops_at_a_region_start_and_compiles_nothing_more():
    whole, _, _ = program("crc32")
    assert whole.run().reason == ExitReason.HALT
    m, system, _ = program("crc32")
    overruns = []
    while (result := m.run(cycles=97, exact=False)).reason == ExitReason.BUDGET:
        overruns.append(result.cycles - 97)
    assert result.reason == ExitReason.HALT and system.text() == expected("crc32")
    assert m.insns == m.cycles == whole.insns
    assert min(overruns) >= 0 and max(overruns) > 1         # past the target, not exactly
    # every stop was where a region starts (a budget check or an exit), none mid-region
    assert m.stats["regions_compiled"] == whole.stats["regions_compiled"]


def test_a_breakpoint_stops_every_time_its_instruction_is_reached_with_linking_on():
    m, system, symbols = program("mixed")
    print_ = symbols["rt_print"]
    m.add_breakpoint(print_)
    hits = 0
    while (result := m.run()).reason == ExitReason.BREAKPOINT:
        assert result.pc == m.pc == print_
        hits += 1
    assert result.reason == ExitReason.HALT
    assert hits == reference_visits("mixed", print_) > 0
    assert system.text() == expected("mixed")
    assert m.stats["links_patched"] > 0


def test_a_breakpoint_inside_linked_code_undoes_the_links_into_it():
    m, system, symbols = program("crc32")
    assert m.run(cycles=20_000).reason == ExitReason.BUDGET
    restored = m.stats["links_restored"]
    # the run stopped in a hot region (exactly at 20,000 cycles): break at its next
    # instruction, which it is about to reach
    region = min((r for r in m.blocks if m.pc in r.guest_pcs and len(r.guest_pcs) > 2),
                 key=lambda r: r.key.pc)
    inside = min((pc for pc in region.guest_pcs if pc > m.pc), default=region.key.pc)
    m.add_breakpoint(inside)
    assert m.stats["links_restored"] > restored
    result = m.run()
    assert result.reason == ExitReason.BREAKPOINT and result.pc == inside
    m.remove_breakpoint(inside)
    assert m.run().reason == ExitReason.HALT
    assert system.text() == expected("crc32")


def test_step_runs_one_instruction_like_the_reference_interpreter():
    jit, _, _ = program("bitops")
    ref, _, _ = program("bitops")
    for _ in range(300):
        before = jit.insns
        result = jit.step()
        assert result.reason == ExitReason.NEXT
        assert ref.guest.step(ref).exception is None
        assert jit.regs.as_dict() == ref.regs.as_dict()
        assert jit.insns - before in (1, 2)         # a branch and its delay slot: 2


def test_step_runs_the_instruction_at_a_breakpoint():
    m, _, _ = program("bitops")
    start = m.pc
    m.add_breakpoint(start)
    assert m.step().reason == ExitReason.NEXT and m.pc != start
    assert m.breakpoints == {start}


def test_a_run_shorter_than_the_instruction_at_a_breakpoint_still_steps_over_it():
    """run(cycles=1) at a breakpoint on an instruction of 3 cycles runs that instruction
    anyway (an instruction that alone costs more than the budget runs) instead of returning
    BREAKPOINT where it started."""
    from dynarec import IRGuest
    text = """state pc:i64 r:i64[2]
region a block pc=0x100 {
block0:
    insn_start pc=0x100 cost=2
    v0:i64 = get slot=r[0]
    v1:i64 = iconst value=1
    v2:i64 = add v0, v1
    put v2 slot=r[0]
    exit kind=jump pc=0x200
}
region b block pc=0x200 {
block0:
    insn_start pc=0x200 cost=3
    exit kind=jump pc=0x100
}
"""
    m = Machine(IRGuest(text))
    m.pc = 0x100
    m.add_breakpoint(0x200)
    assert m.run().reason == ExitReason.BREAKPOINT and m.pc == 0x200 and m.cycles == 2
    result = m.run(cycles=1)
    assert result.reason == ExitReason.BUDGET and m.pc == 0x100 and m.cycles == 5
    assert m.run().reason == ExitReason.BREAKPOINT and m.cycles == 7 and m.regs["r[0]"] == 2
