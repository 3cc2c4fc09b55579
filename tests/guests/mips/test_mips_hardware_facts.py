"""Hand-written VR4300 facts, each with its source, checked on every engine: the reference
interpreter, the translator on the IR interpreter (after the pass pipeline) and the JIT
(``dynarec.Machine``, with multi-instruction and single-instruction regions). Expected values
come from the sources (hardware test suites, the manuals), never from our own output."""

import pytest

from mips_testlib import (BASE_KSEG0, BASE_KSEG1, CODE_VADDR, DATA_PHYS, DATA_SIZE, Item,
                          Program, run_ir, run_machine, run_reference)

from dynarec import FAULT
from dynarec.guests.mips.arch import KSEG0, KSEG1, MASK64, Exc

ENGINES = {
    "interpreter": run_reference,
    "ir": lambda prog, **kw: run_ir(prog, passes=True, **kw),
    "jit": run_machine,
    "jit-single": lambda prog, **kw: run_machine(prog, max_insns=1, **kw),
}

DATA0 = KSEG0 + DATA_PHYS                    # $26
DATA1 = KSEG1 + DATA_PHYS                    # $27
SYS = int(Exc.Sys)


@pytest.fixture(params=sorted(ENGINES))
def run(request):
    return ENGINES[request.param]


def program(*parts, data=b"", **regs) -> Program:
    """Items from strings (plain instructions) or ``Item``s; ``regs`` like ``gpr2=5``
    become ``gpr[2]``, others keep their name (``hi``, ``cop0_14`` -> ``cop0[14]``)."""
    items = [p if isinstance(p, Item) else Item("plain", p) for p in parts]
    state = {f"gpr[{BASE_KSEG0}]": DATA0, f"gpr[{BASE_KSEG1}]": DATA1}
    for name, value in regs.items():
        if name.startswith("gpr"):
            name = f"gpr[{name[3:]}]"
        elif name.startswith("cop0_"):
            name = f"cop0[{name[5:]}]"
        state[name] = value & MASK64
    return Program(items, state, data.ljust(DATA_SIZE, b"\0"))


def ended(out, prog):
    """The run reached the closing syscall."""
    assert out.exception == (SYS, prog.end_pc, 0), out.exception
    return out.regs


# --- shifts: lemmy-64/n64-systemtest src/tests/arithmetic/shifts.rs (hardware results) -------

@pytest.mark.parametrize("op, value, sa, expected", [
    ("sra", 0x00000000_12345678, 4, 0x00000000_01234567),
    ("sra", 0x00000000_82345678, 0, 0xFFFFFFFF_82345678),
    ("sra", 0x01234567_89ABCDEF, 4, 0x00000000_789ABCDE),
    ("sra", 0x00000008_789ABCDE, 4, 0xFFFFFFFF_8789ABCD),
    ("srl", 0x01234567_89ABCDEF, 4, 0x00000000_089ABCDE),
    ("srl", 0x00000008_789ABCDE, 4, 0x00000000_0789ABCD),
    ("sll", 0x12345678_789ABCDE, 4, 0xFFFFFFFF_89ABCDE0),
    ("sll", 0x00000000_82345678, 0, 0xFFFFFFFF_82345678),
])
def test_32_bit_shifts_of_64_bit_inputs(run, op, value, sa, expected):
    prog = program(f"{op} $3, $2, {sa}", f"{op}v $4, $2, $5", gpr2=value, gpr5=sa)
    regs = ended(run(prog), prog)
    assert regs["gpr[3]"] == expected and regs["gpr[4]"] == expected


# --- multiply and divide: DESIGN.md section 10 (division by zero, measured), manual ch. 16 --

@pytest.mark.parametrize("op, rs, rt, lo, hi", [
    ("div", -5, 0, 1, -5),                         # negative dividend: LO = +1
    ("div", 5, 0, -1, 5),                          # LO = -1, HI = dividend
    ("div", 0x1_0000_0007, 0x2_0000_0000, -1, 7),  # the divisor's low word is zero
    ("divu", 0xFFFF_FFF0, 0, -1, -16),             # HI = sign-extended low word of rs
    ("ddiv", -(1 << 40), 0, 1, -(1 << 40)),
    ("ddivu", 1 << 63, 0, -1, 1 << 63),
    ("div", -(1 << 31), -1, -(1 << 31), 0),        # MIN / -1: LO = MIN, HI = 0
    ("ddiv", -(1 << 63), -1, -(1 << 63), 0),
    ("div", -7, 2, -3, -1),                        # truncation toward zero
    ("ddivu", 100, 7, 14, 2),
])
def test_division_results(run, op, rs, rt, lo, hi):
    prog = program(f"{op} $0, $2, $3", gpr2=rs, gpr3=rt)
    regs = ended(run(prog), prog)
    assert (regs["lo"], regs["hi"]) == (lo & MASK64, hi & MASK64)


@pytest.mark.parametrize("op, rs, rt, lo, hi", [
    ("mult", 0x7FFF_FFFF, 0x7FFF_FFFF, 0x1, 0x3FFF_FFFF),
    ("mult", -2, 3, -6, -1),
    ("multu", 0xFFFF_FFFF, 0xFFFF_FFFF, 1, -2),     # HI 0xFFFFFFFE sign-extended
    ("dmult", -1, 1 << 62, -(1 << 62), -1),
    ("dmultu", MASK64, MASK64, 1, MASK64 - 1),
])
def test_multiply_results(run, op, rs, rt, lo, hi):
    prog = program(f"{op} $2, $3", "mflo $4", "mfhi $5", gpr2=rs, gpr3=rt)
    regs = ended(run(prog), prog)
    assert (regs["gpr[4]"], regs["gpr[5]"]) == (lo & MASK64, hi & MASK64)


# --- overflow: lemmy-64/n64-systemtest src/tests/overflow_exception/mod.rs -------------------

@pytest.mark.parametrize("insn, a, b", [
    ("add $2, $4, $5", 0x7FFF_FFFF, 0x7FFF_FFFF),
    ("add $2, $4, $5", 0xFFFF_FFFF_E876_0110, 0xFFFF_FFFF_8321_4321),
    ("sub $2, $4, $5", 0xFFFF_FFFF_8000_0000, 0x7FFF_FFFF),
    ("addi $2, $4, 1", 0x7FFF_FFFF, 0),
    ("dadd $2, $4, $5", 0x7FFF_FFFF_0000_0000, 0x7FFF_FFFF_0000_0000),
    ("dsub $2, $4, $5", 0x8000_0000_0000_0000, 0x7FFF_FFFF_0000_0000),
    ("add $0, $4, $5", 0x7FFF_FFFF, 0x7FFF_FFFF),
])
def test_overflow_traps_and_leaves_the_destination(run, insn, a, b):
    prog = program(insn, gpr2=0xBADDECAF, gpr4=a, gpr5=b)
    out = run(prog)
    assert out.exception == (Exc.Ov, CODE_VADDR, 0)
    assert out.regs["gpr[2]"] == 0xBADDECAF


@pytest.mark.parametrize("branch", ["bne $0, $0", "beq $0, $0"])
def test_overflow_in_a_delay_slot_reports_the_branch(run, branch):
    # n64-systemtest AddOverflowDelaySlot1/2: Cause.BD set, EPC = the branch
    prog = program("nop", Item("branch", branch, 2, "add $2, $4, $6"), "nop",
                   gpr2=0xBADDECAF, gpr4=0x7FFF_FFFF, gpr6=0x7FFF_FFFF)
    out = run(prog)
    assert out.exception == (Exc.Ov, prog.addresses[1], 1)
    assert out.regs["gpr[2]"] == 0xBADDECAF


def test_link_register_is_written_before_a_faulting_delay_slot(run):
    # the link write belongs to the branch, which completed (VR4300 manual ch. 16, BGEZAL)
    prog = program(Item("branch", "bgezal $0", 2, "lw $3, 1($26)"), "nop", "nop")
    out = run(prog)
    assert out.exception == (Exc.AdEL, CODE_VADDR, 1)
    assert out.regs["gpr[31]"] == CODE_VADDR + 8
    assert out.regs["cop0[8]"] == DATA0 + 1                  # BadVAddr


# --- branch-likely, delay slots, traps ------------------------------------------------------

@pytest.mark.parametrize("branch, taken", [("beql $2, $2", True), ("bnel $2, $2", False),
                                           ("bgezall $0", True), ("bltzall $0", False)])
def test_branch_likely_nullifies_its_slot_when_not_taken(run, branch, taken):
    prog = program(Item("branch", branch, 2, "ori $3, $0, 7"), "ori $4, $0, 9", gpr2=1)
    regs = ended(run(prog), prog)
    assert regs["gpr[3]"] == (7 if taken else 0)
    assert regs["gpr[4]"] == (0 if taken else 9)


def test_branch_reads_its_registers_before_the_slot_writes_them(run):
    prog = program(Item("branch", "beq $2, $0", 2, "ori $2, $0, 1"), "ori $4, $0, 9")
    regs = ended(run(prog), prog)
    assert regs["gpr[2]"] == 1 and regs["gpr[4]"] == 0       # taken: $2 was 0 at the branch


def test_jalr_reads_its_target_before_linking(run):
    prog = program(Item("jreg", "jalr $25, $25", 2, "nop"), "ori $4, $0, 9", "nop")
    regs = ended(run(prog), prog)
    assert regs["gpr[4]"] == 0 and regs["gpr[25]"] == prog.addresses[0] + 16


@pytest.mark.parametrize("insn, cause", [
    ("syscall", Exc.Sys), ("break", Exc.Bp), ("teq $0, $0", Exc.Tr), ("tnei $2, 0", Exc.Tr),
    ("tltu $0, $2", Exc.Tr), ("tgeiu $2, -1", None), ("tlti $2, 1", None),
])
def test_exception_instructions(run, insn, cause):
    prog = program(insn, gpr2=1)
    out = run(prog)
    expected = (SYS, prog.end_pc, 0) if cause is None else (cause, CODE_VADDR, 0)
    assert out.exception == expected


def test_an_exception_outside_a_delay_slot_has_no_delay_flag(run):
    # the trap's region goes on to a jump and its slot: only the slot has delay=1
    prog = program("tgei $2, 0", Item("jump", "j", 1, "nop"))
    assert run(prog).exception == (Exc.Tr, CODE_VADDR, 0)


def test_reserved_instruction_and_branch_in_a_delay_slot(run):
    prog = program(".word 0x7c000000")
    assert run(prog).exception == (Exc.RI, CODE_VADDR, 0)
    nested = program(Item("branch", "beq $0, $0", 2, "b 0"), "nop")
    assert run(nested).exception == (Exc.RI, CODE_VADDR, 1)


def test_jump_to_a_misaligned_address_faults_at_the_target(run):
    prog = program("lui $25, 0x8000", "ori $25, $25, 0x1002", "jr $25", "nop")
    out = run(prog)
    assert out.exception == (Exc.AdEL, KSEG0 + 0x1002, 0)
    assert out.regs["cop0[8]"] == KSEG0 + 0x1002


# --- loads and stores ----------------------------------------------------------------------

def test_loads_sign_and_zero_extend(run):
    data = bytes.fromhex("89ABCDEF01234567")
    prog = program("lb $2, 0($26)", "lbu $3, 0($26)", "lh $4, 0($27)", "lhu $5, 0($27)",
                   "lw $6, 0($26)", "lwu $7, 0($26)", "ld $8, 0($27)", data=data)
    regs = ended(run(prog), prog)
    assert regs["gpr[2]"] == 0xFFFF_FFFF_FFFF_FF89 and regs["gpr[3]"] == 0x89
    assert regs["gpr[4]"] == 0xFFFF_FFFF_FFFF_89AB and regs["gpr[5]"] == 0x89AB
    assert regs["gpr[6]"] == 0xFFFF_FFFF_89AB_CDEF and regs["gpr[7]"] == 0x89AB_CDEF
    assert regs["gpr[8]"] == 0x89AB_CDEF_0123_4567


def test_unaligned_loads_merge_big_endian_bytes(run):
    # manual ch. 16 LWL/LWR figures, big-endian: memory 11 22 33 44 | 55 66 77 88 ...
    data = bytes.fromhex("1122334455667788")
    prog = program("lwl $2, 1($26)", "lwr $3, 1($26)", "lwl $4, 0($26)", "lwr $5, 3($26)",
                   "ldl $6, 3($26)", "ldr $7, 3($26)", data=data,
                   gpr2=0xAABBCCDD, gpr3=0xAABBCCDD, gpr6=0x0102030405060708,
                   gpr7=0x0102030405060708)
    regs = ended(run(prog), prog)
    assert regs["gpr[2]"] == 0x223344DD
    assert regs["gpr[3]"] == 0xFFFF_FFFF_AABB_1122
    assert regs["gpr[4]"] == regs["gpr[5]"] == 0x11223344
    assert regs["gpr[6]"] == 0x4455667788060708
    assert regs["gpr[7]"] == 0x0102030411223344


def test_unaligned_stores_write_only_the_addressed_bytes(run):
    prog = program("swl $2, 1($26)", "swr $2, 10($26)", "sdl $3, 21($26)", "sdr $3, 34($26)",
                   data=bytes(range(1, 41)), gpr2=0xAABBCCDD, gpr3=0x1122334455667788)
    out = run(prog)
    ended(out, prog)
    d = out.data
    assert d[0:4] == bytes([1, 0xAA, 0xBB, 0xCC])              # SWL at offset 1
    assert d[8:12] == bytes([0xBB, 0xCC, 0xDD, 12])            # SWR at offset 2 of the word
    assert d[16:24] == bytes([17, 18, 19, 20, 21, 0x11, 0x22, 0x33])   # SDL at offset 5
    assert d[32:40] == bytes([0x66, 0x77, 0x88, 36, 37, 38, 39, 40])   # SDR at offset 2


@pytest.mark.parametrize("insn, cause", [("lw $2, 2($26)", Exc.AdEL), ("lh $2, 1($26)", Exc.AdEL),
                                         ("ld $2, 4($26)", Exc.AdEL), ("sw $2, 2($26)", Exc.AdES),
                                         ("sd $2, 4($27)", Exc.AdES), ("ll $2, 2($26)", Exc.AdEL)])
def test_misaligned_accesses_raise_address_errors_with_badvaddr(run, insn, cause):
    prog = program(insn)
    out = run(prog)
    assert out.exception == (cause, CODE_VADDR, 0)
    offset = int(insn.split(",")[1].split("(")[0])
    base = DATA1 if "$27" in insn else DATA0
    assert out.regs["cop0[8]"] == base + offset


def tlb_one_page(vaddr, access):
    """A TLB hook mapping the KUSEG page at 0x400000 to DATA_PHYS + 0x100."""
    return DATA_PHYS + 0x100 + (vaddr & 0xFFF) if vaddr >> 12 == 0x400 else None


def test_tlb_segments_go_through_the_hook(run):
    prog = program("lui $2, 0x40", "sw $3, 8($2)", "lw $4, 0x108($26)", "lw $5, 4($0)",
                   gpr3=0x1234)
    out = run(prog, tlb=tlb_one_page)
    assert out.regs["gpr[4]"] == 0x1234
    assert out.exception == (Exc.AdEL, prog.addresses[3], 0)    # KUSEG 4: no mapping
    assert out.regs["cop0[8]"] == 4


def test_memory_without_backing_is_a_fault(run):
    prog = program("lui $2, 0x8010", "lw $3, 0($2)")            # physical 0x100000: unmapped
    assert run(prog).exception == (FAULT, prog.addresses[1], 0)


# --- LL/SC: lemmy-64/n64-systemtest src/tests/arithmetic/ll_sc.rs; DESIGN.md section 10 -----

def test_ll_sign_extends_and_sets_lladdr(run):
    prog = program("ll $4, 16($26)", "lld $5, 24($27)",
                   data=bytes(16) + bytes.fromhex("89ABCDEF00000000 89ABCDEF01234567"))
    regs = ended(run(prog), prog)
    assert regs["gpr[4]"] == 0xFFFF_FFFF_89AB_CDEF
    assert regs["gpr[5]"] == 0x89AB_CDEF_0123_4567
    assert regs["cop0[17]"] == (DATA_PHYS + 24) >> 4 and regs["llbit"] == 1


def test_sc_succeeds_while_the_link_bit_is_set(run):
    # an intervening store and an SC through the KSEG1 alias do not break the link
    prog = program("ll $5, 0($26)", "sw $0, 0($26)", "sc $4, 0($27)", "sc $6, 8($26)",
                   data=bytes.fromhex("89ABCDEF"), gpr4=0x13579BDF, gpr6=0x2468ACE0)
    out = run(prog)
    regs = ended(out, prog)
    assert regs["gpr[5]"] == 0xFFFF_FFFF_89AB_CDEF
    assert regs["gpr[4]"] == 1 and regs["gpr[6]"] == 1
    assert out.data[0:4] == bytes.fromhex("13579BDF") and out.data[8:12] == bytes.fromhex(
        "2468ACE0")


def at(index: int) -> int:
    """Virtual address of item ``index`` of a program of plain instructions."""
    return CODE_VADDR + 4 * index


def test_eret_clears_the_link_bit_and_sc_then_fails(run):
    # n64-systemtest SCAfterERET: SC fails, memory unchanged, LLAddr kept
    prog = program("ll $5, 0($26)", "eret", "nop", "sc $4, 0($26)",
                   data=bytes.fromhex("89ABCDEF"), gpr4=0x13579BDF, cop0_12=0x2,
                   cop0_14=at(3))
    out = run(prog)
    regs = ended(out, prog)
    assert regs["gpr[4]"] == 0 and out.data[0:4] == bytes.fromhex("89ABCDEF")
    assert regs["llbit"] == 0 and regs["cop0[17]"] == DATA_PHYS >> 4
    assert regs["cop0[12]"] == 0                              # EXL cleared


def test_eret_with_erl_returns_to_errorepc(run):
    prog = program("eret", "ori $2, $0, 1", "ori $3, $0, 1", cop0_12=0x6, cop0_30=at(2),
                   cop0_14=at(1))
    regs = ended(run(prog), prog)
    assert (regs["gpr[2]"], regs["gpr[3]"]) == (0, 1)
    assert regs["cop0[12]"] == 0x2                            # ERL cleared, EXL kept


# --- COP0 moves: ares CPU::MTC0 (sign-extended low word) and the register write masks ------

def test_cop0_moves(run):
    prog = program("mtc0 $2, $14", "dmfc0 $3, $14", "dmtc0 $2, $30", "dmfc0 $4, $30",
                   "mfc0 $5, $30", "mtc0 $6, $13", "mfc0 $7, $13", "mtc0 $2, $11",
                   "mfc0 $8, $13", "dmtc0 $2, $8", "dmfc0 $9, $8",
                   gpr2=0x1_8000_0001, gpr6=0xFFFF_FFFF, cop0_13=0x8000, cop0_8=0x77)
    regs = ended(run(prog), prog)
    assert regs["gpr[3]"] == 0xFFFF_FFFF_8000_0001           # MTC0 sign-extends the low word
    assert regs["gpr[4]"] == 0x1_8000_0001                   # DMTC0 writes all 64 bits
    assert regs["gpr[5]"] == 0xFFFF_FFFF_8000_0001           # MFC0 sign-extends
    assert regs["gpr[7]"] == 0x8300                          # Cause: only IP1:0 writable
    assert regs["gpr[8]"] == 0x0300                          # a Compare write clears IP7
    assert regs["gpr[9]"] == 0x77                            # BadVAddr is read-only
