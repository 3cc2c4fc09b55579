"""The Unicorn oracle (``MipsOracle`` over ``dynarec.oracle.UnicornOracle``) and the quirk
table: exception numbering and sites, instruction counts around delay slots, the store log,
errors; every quirk observed on Unicorn and explained, and real divergences left
unexplained."""

import pytest

from mips_testlib import (CODE_VADDR, DATA_PHYS, DATA_SIZE, Item, Program,
                          lockstep_with_unicorn)

from dynarec import FAULT
from dynarec.guests.mips.arch import KSEG0, KSEG1, MASK64, Exc
from dynarec.guests.mips.oracle import MipsOracle
from dynarec.guests.mips.quirks import BY_NAME, QUIRKS, explain
from dynarec.oracle import Oracle, OracleError, Store

DATA0, DATA1 = KSEG0 + DATA_PHYS, KSEG1 + DATA_PHYS


def loaded(*parts, **regs) -> MipsOracle:
    items = [p if isinstance(p, Item) else Item("plain", p) for p in parts]
    state = {"gpr[26]": DATA0, "gpr[27]": DATA1}
    state.update({f"gpr[{k[3:]}]" if k.startswith("gpr") else k: v & MASK64
                  for k, v in regs.items()})
    prog = Program(items, state, bytes(DATA_SIZE))
    oracle = MipsOracle()
    oracle.load(prog.memory(), prog.state())
    return oracle


def test_it_is_an_oracle():
    oracle = MipsOracle()
    assert isinstance(oracle, Oracle)
    assert set(oracle.refs) == {"pc", "hi", "lo", *(f"gpr[{n}]" for n in range(32))}


@pytest.mark.parametrize("insn, cause", [
    ("syscall", Exc.Sys), ("break", Exc.Bp), ("teq $0, $0", Exc.Tr),
    ("add $1, $2, $2", Exc.Ov), ("lw $1, 2($26)", Exc.AdEL), ("sw $1, 2($26)", Exc.AdES),
    (".word 0x7c000000", Exc.RI),
])
def test_exceptions_are_reported_with_cause_and_pc(insn, cause):
    oracle = loaded("nop", insn, gpr2=0x7FFF_FFFF)
    run = oracle.run(5)
    assert run.retired == 1
    assert (run.exception.cause, run.exception.pc, run.exception.delay) == \
        (cause, CODE_VADDR + 4, 0)
    assert oracle.read_regs()["pc"] == CODE_VADDR + 4


@pytest.mark.parametrize("branch", ["beq $0, $0", "bne $0, $0"])
def test_an_exception_in_a_delay_slot_reports_the_branch(branch):
    oracle = loaded(Item("branch", branch, 2, "add $1, $2, $2"), "nop", gpr2=0x7FFF_FFFF)
    run = oracle.run(5)
    assert run.retired == 1
    assert (run.exception.cause, run.exception.pc, run.exception.delay) == \
        (Exc.Ov, CODE_VADDR, 1)


def test_memory_without_backing_is_a_fault():
    run = loaded("lui $2, 0x8010", "lw $3, 0($2)").run(5)
    assert run.exception.cause == FAULT and run.exception.pc == CODE_VADDR + 4


def test_counts_keep_a_branch_with_its_slot():
    oracle = loaded(Item("branch", "beq $0, $0", 2, "ori $1, $0, 1"), "ori $2, $0, 2",
                    "ori $3, $0, 3")
    run = oracle.run(1)                                   # cannot stop inside the pair
    assert run.retired == 2 and oracle.read_regs()["pc"] == CODE_VADDR + 12
    assert oracle.run(1).retired == 1 and oracle.read_regs()["gpr[3]"] == 3


def test_a_nullified_slot_counts_as_retired():
    oracle = loaded(Item("branch", "bnel $0, $0", 2, "ori $1, $0, 1"), "ori $2, $0, 2")
    run = oracle.run(2)
    regs = oracle.read_regs()
    assert run.retired == 2 and regs["pc"] == CODE_VADDR + 8 and regs["gpr[1]"] == 0


def test_a_not_taken_branch_runs_its_slot():
    oracle = loaded(Item("branch", "bne $0, $0", 2, "sw $4, 0($26)"), "ori $2, $0, 2",
                    gpr4=0x55)
    run = oracle.run(2)
    assert run.retired == 2 and oracle.read_regs()["pc"] == CODE_VADDR + 8
    assert [tuple(s) for s in run.stores] == [(DATA_PHYS, 4, 0x55)]


def test_store_log():
    oracle = loaded("sw $2, 8($26)", "sb $2, 17($27)", "swl $2, 33($26)", "sdr $3, 42($26)",
                    "ll $5, 8($26)", "sc $4, 8($26)", gpr2=0xAABBCCDD,
                    gpr3=0x1122334455667788, gpr4=0x99)
    run = oracle.run(6)
    assert run.retired == 6 and run.exception is None
    d = DATA_PHYS
    assert run.stores == [
        Store(d + 8, 4, 0xAABBCCDD), Store(d + 17, 1, 0xDD),     # SW; SB through KSEG1
        Store(d + 33, 1, 0xAA), Store(d + 34, 2, 0xBBCC),        # SWL at byte 1 of a word
        Store(d + 40, 2, 0x6677), Store(d + 42, 1, 0x88),        # SDR at byte 2 of a dword
        Store(d + 8, 4, 0x99),                                   # SC (linked by LL)
    ]
    assert oracle.read_memory(DATA_PHYS + 8, 4) == bytes.fromhex("00000099")


def test_a_failed_sc_stores_nothing():
    run = loaded("sc $4, 0($26)", gpr4=0x99).run(1)
    assert run.stores == [] and run.exception is None


def test_errors():
    oracle = loaded("nop")
    with pytest.raises(ValueError, match="positive"):
        oracle.run(0)
    with pytest.raises(OracleError, match="cop0"):
        oracle.write_regs({"cop0[12]": 0})
    oracle.write_memory(DATA_PHYS, b"\x12\x34")
    assert oracle.read_memory(DATA_PHYS, 2) == b"\x12\x34"


# --- quirks --------------------------------------------------------------------------------

def quirk_program(*parts, data=b"", **regs) -> Program:
    items = [p if isinstance(p, Item) else Item("plain", p) for p in parts]
    state = {"gpr[26]": DATA0, "gpr[27]": DATA1}
    for k, v in regs.items():
        key = f"gpr[{k[3:]}]" if k.startswith("gpr") else \
            f"cop0[{k[5:]}]" if k.startswith("cop0_") else k
        state[key] = v & MASK64
    return Program(items, state, data.ljust(DATA_SIZE, b"\0"))


@pytest.mark.parametrize("quirk, program", [
    ("sra_wide_input", quirk_program("sra $3, $2, 4", gpr2=0x01234567_89ABCDEF)),
    ("sra_wide_input", quirk_program("srav $3, $2, $4", gpr2=0x1_0000_0000, gpr4=1)),
    ("divide_by_zero", quirk_program("div $0, $2, $0", gpr2=-5)),
    ("divide_by_zero", quirk_program("ddivu $0, $2, $0", gpr2=7)),
    ("sc_link", quirk_program("ll $5, 0($26)", "sw $2, 0($26)", "sc $4, 0($26)",
                              gpr2=1, gpr4=0x99)),
    ("sc_link", quirk_program("sc $0, 0($26)", llbit=1)),
    ("sc_misaligned", quirk_program("sc $4, 2($26)", gpr4=0x99)),
    ("cop0_count", quirk_program("mfc0 $2, $9", cop0_9=1234)),
    ("cop0_registers", quirk_program("mtc0 $2, $14", "dmfc0 $3, $14", gpr2=0x1_0000_0005)),
    ("add32_wide_input", quirk_program("add $1, $18, $26", gpr18=0x8000_0000)),
    ("add32_wide_input", quirk_program("add $1, $2, $0", gpr2=0x8000_0000)),
])
def test_each_quirk_is_observed_on_unicorn_and_explained(quirk, program):
    assert quirk in lockstep_with_unicorn(program, MipsOracle())


def test_explain_leaves_real_divergences_unexplained():
    word = 0x00021903                                   # sra $3, $2, 4
    before = {"pc": CODE_VADDR, "gpr[2]": 0x01234567_89ABCDEF, "gpr[3]": 0}
    theirs = {"pc": CODE_VADDR + 4, "gpr[3]": 0x0012_3456_789A_BCDE}
    right = dict(theirs, **{"gpr[3]": 0x789A_BCDE})
    wrong = dict(theirs, **{"gpr[3]": 0x789A_BCDF})
    assert explain(word, before, right, theirs).quirk is BY_NAME["sra_wide_input"]
    assert explain(word, before, wrong, theirs) is None
    assert explain(word, before, theirs, theirs) is None               # nothing to explain
    add = 0x00430820                                   # add $1, $2, $3 (no quirk applies)
    assert explain(add, {"pc": 0}, {"gpr[1]": 1}, {"gpr[1]": 2}) is None


def test_every_quirk_says_what_differs_and_cites_a_source():
    for q in QUIRKS:
        assert q.unicorn and q.vr4300 and q.source, q.name
