"""The MIPS guest through the public API: ``Machine("mips")`` from the entry point, reset
state, a real loop under a cycle budget, guest exceptions and faults as run results, the TLB
hook's errors, the reference interpreter and disassembler on a Machine."""

import pytest

from mips_testlib import CODE_PHYS, CODE_VADDR, DATA_PHYS, SUM_LOOP, assemble

from dynarec import FAULT, ExitReason, Machine
from dynarec.guests.mips import MipsGuest
from dynarec.guests.mips.arch import KSEG0, KSEG1, Exc
from dynarec.registry import available_guests


def machine(text: str, **guest_options) -> Machine:
    m = Machine(MipsGuest(**guest_options))
    m.memory.map_ram(0, 0x10000)
    m.memory.write_bytes(CODE_PHYS, assemble(text))
    m.pc = CODE_VADDR
    return m


def test_the_guest_is_registered_and_resets_like_a_vr4300():
    assert "mips" in available_guests()
    m = Machine("mips")
    assert isinstance(m.guest, MipsGuest)
    assert m.pc == 0xFFFF_FFFF_BFC0_0000                    # reset vector
    assert m.regs["cop0[12]"] == 0x0040_0004                # Status: BEV, ERL
    assert m.regs["cop0[1]"] == 31                          # Random




@pytest.mark.parametrize("max_insns", [1, 64])
def test_a_loop_runs_under_a_cycle_budget(max_insns):
    m = machine(SUM_LOOP, max_insns=max_insns)
    m.regs["gpr[26]"] = KSEG0 + DATA_PHYS
    first = m.run(cycles=500)
    assert first.reason == ExitReason.BUDGET and 500 <= m.cycles < 510
    result = m.run()
    assert result.reason == ExitReason.EXCEPTION and result.cause == Exc.Sys
    assert result.pc == CODE_VADDR + 28 and result.delay == 0
    assert m.regs["gpr[2]"] == sum(range(1, 1001))
    assert m.memory.read(DATA_PHYS, 4) == sum(range(1, 1001))
    assert m.insns == 2 + 4 * 1000 + 1                      # syscall did not retire


def test_an_exception_in_a_delay_slot_reports_the_branch():
    m = machine("nop\nbeq $0, $0, L\nlw $5, 1($0)\nnop\nL: nop")
    result = m.run()
    assert (result.reason, result.cause, result.pc, result.delay) == \
        (ExitReason.EXCEPTION, Exc.AdEL, CODE_VADDR + 4, 1)
    assert m.regs["cop0[8]"] == 1                           # BadVAddr


def test_memory_without_backing_is_a_fault():
    m = machine("lui $2, 0x8010\nlw $3, 0($2)")
    result = m.run()
    assert (result.reason, result.cause, result.pc) == (ExitReason.EXCEPTION, FAULT,
                                                         CODE_VADDR + 4)


def test_a_tlb_hook_returning_a_bad_address_is_a_clear_error():
    m = machine("lw $3, 0($0)", tlb=lambda vaddr, access: 1 << 40)
    with pytest.raises(ValueError, match="32-bit physical address"):
        m.run()
    assert m.pc == CODE_VADDR


def test_the_reference_interpreter_steps_a_machine():
    m = machine("ori $1, $0, 5\nbeq $0, $0, L\nori $2, $0, 6\nnop\nL: syscall")
    assert m.guest.step(m).retired == 1
    assert m.guest.step(m).retired == 2 and m.regs["gpr[2]"] == 6
    assert m.pc == CODE_VADDR + 16
    assert m.guest.step(m).exception.cause == Exc.Sys


def test_bad_options():
    with pytest.raises(ValueError, match="max_insns"):
        MipsGuest(max_insns=0)


def test_disassembly_for_reports():
    code = assemble("addiu $29, $29, -32\njr $31\nnop")
    assert MipsGuest.disassemble(code, CODE_VADDR) == [
        "0xffffffff80001000: addiu $sp, $sp, -0x20",
        "0xffffffff80001004: jr $ra",
        "0xffffffff80001008: nop",
    ]


def test_regions_are_keyed_by_the_physical_page_behind_the_pc():
    m = machine("nop", tlb=lambda vaddr, access: CODE_PHYS + (vaddr & 0xFFF)
                if vaddr >> 12 == 0x400 else None)
    kseg0, kseg1, kuseg = (m.key(KSEG0 + CODE_PHYS), m.key(KSEG1 + CODE_PHYS),
                           m.key(0x0040_0000))
    assert kseg0.page == kseg1.page == kuseg.page
    assert m.key(KSEG0 + DATA_PHYS).page != kseg0.page
    assert m.guest.code_address(m, 0x1000) == 0x1000          # unmapped: the pc itself
