"""The decoder table: every VR4300 CPU instruction the issue lists is a row, Keystone's
encoding of it decodes to that row with the right fields, and every row has a translator and
reference semantics. Also the capstone disassembler."""

import pytest

from mips_testlib import assemble

from dynarec.guests.mips import interpreter, translator
from dynarec.guests.mips.decoder import BY_MNEMONIC, TABLE, Row, decode
from dynarec.guests.mips.disasm import disassemble

# One sample per instruction, written from the VR4300 manual's assembler syntax (numeric
# registers: DESIGN.md section 10). Branch targets are labels or absolute addresses.
SAMPLES = {
    "SLL": "sll $1, $2, 3", "SRL": "srl $1, $2, 3", "SRA": "sra $1, $2, 3",
    "SLLV": "sllv $1, $2, $3", "SRLV": "srlv $1, $2, $3", "SRAV": "srav $1, $2, $3",
    "DSLLV": "dsllv $1, $2, $3", "DSRLV": "dsrlv $1, $2, $3", "DSRAV": "dsrav $1, $2, $3",
    "DSLL": "dsll $1, $2, 3", "DSRL": "dsrl $1, $2, 3", "DSRA": "dsra $1, $2, 3",
    "DSLL32": "dsll32 $1, $2, 3", "DSRL32": "dsrl32 $1, $2, 3", "DSRA32": "dsra32 $1, $2, 3",
    "JR": "jr $2", "JALR": "jalr $1, $2", "SYSCALL": "syscall", "BREAK": "break",
    "SYNC": "sync", "MFHI": "mfhi $1", "MTHI": "mthi $2", "MFLO": "mflo $1", "MTLO": "mtlo $2",
    "MULT": "mult $2, $3", "MULTU": "multu $2, $3", "DIV": "div $0, $2, $3",
    "DIVU": "divu $0, $2, $3", "DMULT": "dmult $2, $3", "DMULTU": "dmultu $2, $3",
    "DDIV": "ddiv $0, $2, $3", "DDIVU": "ddivu $0, $2, $3",
    "ADD": "add $1, $2, $3", "ADDU": "addu $1, $2, $3", "SUB": "sub $1, $2, $3",
    "SUBU": "subu $1, $2, $3", "AND": "and $1, $2, $3", "OR": "or $1, $2, $3",
    "XOR": "xor $1, $2, $3", "NOR": "nor $1, $2, $3", "SLT": "slt $1, $2, $3",
    "SLTU": "sltu $1, $2, $3", "DADD": "dadd $1, $2, $3", "DADDU": "daddu $1, $2, $3",
    "DSUB": "dsub $1, $2, $3", "DSUBU": "dsubu $1, $2, $3",
    "TGE": "tge $2, $3", "TGEU": "tgeu $2, $3", "TLT": "tlt $2, $3", "TLTU": "tltu $2, $3",
    "TEQ": "teq $2, $3", "TNE": "tne $2, $3",
    "BLTZ": "bltz $2, L", "BGEZ": "bgez $2, L", "BLTZL": "bltzl $2, L", "BGEZL": "bgezl $2, L",
    "TGEI": "tgei $2, -7", "TGEIU": "tgeiu $2, -7", "TLTI": "tlti $2, -7",
    "TLTIU": "tltiu $2, -7", "TEQI": "teqi $2, -7", "TNEI": "tnei $2, -7",
    "BLTZAL": "bltzal $2, L", "BGEZAL": "bgezal $2, L", "BLTZALL": "bltzall $2, L",
    "BGEZALL": "bgezall $2, L", "J": "j 0x2000", "JAL": "jal 0x2000",
    "BEQ": "beq $2, $3, L", "BNE": "bne $2, $3, L", "BLEZ": "blez $2, L", "BGTZ": "bgtz $2, L",
    "BEQL": "beql $2, $3, L", "BNEL": "bnel $2, $3, L", "BLEZL": "blezl $2, L",
    "BGTZL": "bgtzl $2, L",
    "ADDI": "addi $1, $2, -7", "ADDIU": "addiu $1, $2, -7", "SLTI": "slti $1, $2, -7",
    "SLTIU": "sltiu $1, $2, -7", "ANDI": "andi $1, $2, 0xfff9", "ORI": "ori $1, $2, 0xfff9",
    "XORI": "xori $1, $2, 0xfff9", "LUI": "lui $1, 0xfff9", "DADDI": "daddi $1, $2, -7",
    "DADDIU": "daddiu $1, $2, -7",
    "MFC0": "mfc0 $1, $12", "DMFC0": "dmfc0 $1, $14", "MTC0": "mtc0 $1, $12",
    "DMTC0": "dmtc0 $1, $14", "ERET": "eret",
    "LDL": "ldl $1, -7($2)", "LDR": "ldr $1, -7($2)", "LB": "lb $1, -7($2)",
    "LH": "lh $1, -7($2)", "LWL": "lwl $1, -7($2)", "LW": "lw $1, -7($2)",
    "LBU": "lbu $1, -7($2)", "LHU": "lhu $1, -7($2)", "LWR": "lwr $1, -7($2)",
    "LWU": "lwu $1, -7($2)", "LL": "ll $1, -7($2)", "LLD": "lld $1, -7($2)",
    "LD": "ld $1, -7($2)",
    "SB": "sb $1, -7($2)", "SH": "sh $1, -7($2)", "SWL": "swl $1, -7($2)",
    "SW": "sw $1, -7($2)", "SDL": "sdl $1, -7($2)", "SDR": "sdr $1, -7($2)",
    "SWR": "swr $1, -7($2)", "SC": "sc $1, -7($2)", "SCD": "scd $1, -7($2)",
    "SD": "sd $1, -7($2)", "CACHE": "cache 0x15, -7($2)",
}

#: the instruction set the issue lists, by group (ISSUE: SPECIAL, REGIMM, jumps/branches,
#: immediates, loads/stores, COP0)
ISSUE_LIST = (
    "SLL SRL SRA SLLV SRLV SRAV DSLL DSRL DSRA DSLL32 DSRL32 DSRA32 DSLLV DSRLV DSRAV JR JALR "
    "SYSCALL BREAK SYNC MFHI MTHI MFLO MTLO MULT MULTU DIV DIVU DMULT DMULTU DDIV DDIVU ADD "
    "ADDU SUB SUBU DADD DADDU DSUB DSUBU AND OR XOR NOR SLT SLTU TGE TGEU TLT TLTU TEQ TNE "
    "BLTZ BGEZ BLTZL BGEZL BLTZAL BGEZAL BLTZALL BGEZALL TGEI TGEIU TLTI TLTIU TEQI TNEI "
    "J JAL BEQ BNE BLEZ BGTZ BEQL BNEL BLEZL BGTZL ADDI ADDIU DADDI DADDIU SLTI SLTIU ANDI "
    "ORI XORI LUI LB LBU LH LHU LW LWU LD LWL LWR LDL LDR SB SH SW SD SWL SWR SDL SDR LL LLD "
    "SC SCD CACHE MFC0 MTC0 DMFC0 DMTC0 ERET").split()


def encode(mnemonic: str) -> int:
    """Keystone's word for the sample (with a label ``L`` after it for branches)."""
    code = assemble(f"{SAMPLES[mnemonic]}\nnop\nL: nop", 0x1000)
    return int.from_bytes(code[:4], "big")


def test_the_table_is_exactly_the_issues_instruction_list():
    assert sorted(BY_MNEMONIC) == sorted(ISSUE_LIST)
    assert sorted(SAMPLES) == sorted(ISSUE_LIST)


@pytest.mark.parametrize("mnemonic", sorted(SAMPLES))
def test_keystone_encoding_decodes_to_its_row(mnemonic):
    insn = decode(encode(mnemonic))
    assert insn is not None and insn.mnemonic == mnemonic


@pytest.mark.parametrize("mnemonic", sorted(BY_MNEMONIC))
def test_every_row_has_a_translator_and_reference_semantics(mnemonic):
    assert callable(translator.TRANSLATORS[mnemonic])
    assert callable(interpreter.SEMANTICS[mnemonic])


def test_fields_are_extracted_with_the_manuals_names():
    r = decode(encode("ADD"))
    assert (r.rs, r.rt, r.rd) == (2, 3, 1)
    i = decode(encode("ADDIU"))
    assert (i.rs, i.rt, i.immediate, i.simm) == (2, 1, 0xFFF9, -7)
    m = decode(encode("LW"))
    assert (m.base, m.rt, m.offset, m.simm) == (2, 1, 0xFFF9, -7)
    s = decode(encode("DSLL32"))
    assert (s.rt, s.rd, s.sa) == (2, 1, 3)
    j = decode(encode("J"))
    assert j.target == 0x2000 >> 2
    c = decode(encode("CACHE"))
    assert (c.base, c.op, c.simm) == (2, 0x15, -7)
    cop = decode(encode("MTC0"))
    assert (cop.rt, cop.rd) == (1, 12)
    b = decode(encode("BNE"))
    assert b.simm == 1                           # L follows the delay slot: PC + 4 + (1 << 2)


def test_branch_likely_and_delay_slot_flags():
    likely = {r.mnemonic for r in TABLE if r.likely}
    assert likely == {"BEQL", "BNEL", "BLEZL", "BGTZL", "BLTZL", "BGEZL", "BLTZALL", "BGEZALL"}
    slots = {r.mnemonic for r in TABLE if r.has_delay_slot}
    assert slots == {"J", "JAL", "JR", "JALR", "BEQ", "BNE", "BLEZ", "BGTZ", "BLTZ", "BGEZ",
                     "BLTZAL", "BGEZAL"} | likely


@pytest.mark.parametrize("word, what", [
    (0x7C000000, "SPECIAL3 (MIPS32r2 EXT)"),
    (0x46000000, "COP1 ADD.S"),
    (0x42000002, "TLBWI (not modelled)"),
    (0x00000001, "SPECIAL function 1"),
    (0x00200000, "SLL with a non-zero rs field"),
])
def test_words_outside_the_table_are_reserved(word, what):
    assert decode(word) is None, what


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="32-bit"):
        decode(1 << 32)
    with pytest.raises(ValueError, match="33 bits"):
        Row("BAD", "000000 rs rt rd 000000 100000", "alu")
    with pytest.raises(ValueError, match="unknown field"):
        Row("BAD", "000000 rs rt rq 00000 100000", "alu")
    with pytest.raises(ValueError, match="unknown class"):
        Row("BAD", "000000 rs rt rd 00000 100000", "fpu")


def test_disassembler_names_cop0_registers_and_64_bit_targets():
    code = assemble("mfc0 $8, $12\nbeq $0, $0, L\nnop\nL: jal 0x2000\nnop", 0x1000)
    code += (0x7C000000).to_bytes(4, "big")
    lines = disassemble(code, 0xFFFFFFFF80001000)
    assert lines[0] == "0xffffffff80001000: mfc0 $t0, Status"
    assert lines[1] == "0xffffffff80001004: b 0xffffffff8000100c"
    assert lines[3] == "0xffffffff8000100c: jal 0xffffffff80002000"
    assert lines[5].endswith("(not in the decoder table: RI)")
