"""The decoder table: one row per VR4300 CPU instruction.

Each row gives the vendor mnemonic, the encoding as the VR4300 User's Manual draws it (chapter
16, "CPU Instruction Set Details": fixed bits, then fields named as in the manual), the
instruction class -- which says where its translator (``translator.CLASS_MODULES``: one
``translate_*.py`` module per group of classes) and its reference semantics (the section of
``interpreter.py`` of the same name) live -- and its cost in cycles (1 for every instruction for now; multiply/divide latencies come with the dispatch
work). ``decode(word)`` returns an ``Insn`` naming the row and holding the field values, or
``None`` for a reserved instruction (the guest raises RI).

Encoding strings are groups of fixed bits (``0``/``1``) and field names, most significant bit
first, 32 bits in all. Field widths: ``rs rt rd sa base op`` 5 bits, ``offset immediate`` 16,
``target`` 26; ``code`` says its width (``code:20`` in SYSCALL/BREAK, ``code:10`` in the trap
group). Bits the manual shows as ``0`` are part of the pattern: a word with other bits there
is a reserved instruction.

Not in the table (they raise RI): the TLB instructions (TLBR/TLBWI/TLBWR/TLBP), the FPU
(COP1, LWC1/SWC1/LDC1/SDC1 ...) and COP2.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Optional

FIELD_WIDTHS = {"rs": 5, "rt": 5, "rd": 5, "sa": 5, "base": 5, "op": 5,
                "offset": 16, "immediate": 16, "target": 26}

CLASSES = ("alu", "shift", "muldiv", "jump", "branch", "trap", "load", "store", "system")


@dataclass(frozen=True)
class Row:
    """One instruction: ``mnemonic`` (vendor spelling), ``encoding`` (see the module doc),
    ``cls`` (one of ``CLASSES``), ``cycles`` (cost of one execution), ``likely`` (a
    branch-likely: the delay slot is nullified when the branch is not taken).

    Derived: ``mask``/``match`` (``word & mask == match`` selects the row) and ``fields``
    (``(name, lsb, width)`` per field). Raises ``ValueError`` for an encoding that is not 32
    bits or names an unknown field.
    """

    mnemonic: str
    encoding: str
    cls: str
    cycles: int = 1
    likely: bool = False
    mask: int = field(init=False, repr=False)
    match: int = field(init=False, repr=False)
    fields: tuple = field(init=False, repr=False)

    def __post_init__(self):
        if self.cls not in CLASSES:
            raise ValueError(f"{self.mnemonic}: unknown class {self.cls!r}")
        mask = match = pos = 0
        fields = []
        for part in reversed(self.encoding.split()):
            if set(part) <= {"0", "1"}:
                mask |= ((1 << len(part)) - 1) << pos
                match |= int(part, 2) << pos
                pos += len(part)
                continue
            name, _, width = part.partition(":")
            if name not in FIELD_WIDTHS and not width:
                raise ValueError(f"{self.mnemonic}: unknown field {part!r}")
            bits = int(width) if width else FIELD_WIDTHS[name]
            fields.append((name, pos, bits))
            pos += bits
        if pos != 32:
            raise ValueError(f"{self.mnemonic}: encoding has {pos} bits, not 32")
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "match", match)
        object.__setattr__(self, "fields", tuple(reversed(fields)))

    @property
    def has_delay_slot(self) -> bool:
        """Branches and jumps execute the next instruction (the delay slot) before moving."""
        return self.cls in ("jump", "branch")


_R = "000000"            # SPECIAL
_RI = "000001"           # REGIMM
_C0 = "010000"           # COP0

TABLE: tuple = (
    # --- SPECIAL: shifts ----------------------------------------------------------------------
    Row("SLL", f"{_R} 00000 rt rd sa 000000", "shift"),
    Row("SRL", f"{_R} 00000 rt rd sa 000010", "shift"),
    Row("SRA", f"{_R} 00000 rt rd sa 000011", "shift"),
    Row("SLLV", f"{_R} rs rt rd 00000 000100", "shift"),
    Row("SRLV", f"{_R} rs rt rd 00000 000110", "shift"),
    Row("SRAV", f"{_R} rs rt rd 00000 000111", "shift"),
    Row("DSLLV", f"{_R} rs rt rd 00000 010100", "shift"),
    Row("DSRLV", f"{_R} rs rt rd 00000 010110", "shift"),
    Row("DSRAV", f"{_R} rs rt rd 00000 010111", "shift"),
    Row("DSLL", f"{_R} 00000 rt rd sa 111000", "shift"),
    Row("DSRL", f"{_R} 00000 rt rd sa 111010", "shift"),
    Row("DSRA", f"{_R} 00000 rt rd sa 111011", "shift"),
    Row("DSLL32", f"{_R} 00000 rt rd sa 111100", "shift"),
    Row("DSRL32", f"{_R} 00000 rt rd sa 111110", "shift"),
    Row("DSRA32", f"{_R} 00000 rt rd sa 111111", "shift"),
    # --- SPECIAL: jumps through registers ---------------------------------------------------
    Row("JR", f"{_R} rs 000000000000000 001000", "jump"),
    Row("JALR", f"{_R} rs 00000 rd 00000 001001", "jump"),
    # --- SPECIAL: exceptions and ordering ---------------------------------------------------
    Row("SYSCALL", f"{_R} code:20 001100", "trap"),
    Row("BREAK", f"{_R} code:20 001101", "trap"),
    Row("SYNC", f"{_R} 00000000000000000000 001111", "system"),
    # --- SPECIAL: HI/LO, multiply and divide ------------------------------------------------
    Row("MFHI", f"{_R} 0000000000 rd 00000 010000", "muldiv"),
    Row("MTHI", f"{_R} rs 000000000000000 010001", "muldiv"),
    Row("MFLO", f"{_R} 0000000000 rd 00000 010010", "muldiv"),
    Row("MTLO", f"{_R} rs 000000000000000 010011", "muldiv"),
    Row("MULT", f"{_R} rs rt 0000000000 011000", "muldiv"),
    Row("MULTU", f"{_R} rs rt 0000000000 011001", "muldiv"),
    Row("DIV", f"{_R} rs rt 0000000000 011010", "muldiv"),
    Row("DIVU", f"{_R} rs rt 0000000000 011011", "muldiv"),
    Row("DMULT", f"{_R} rs rt 0000000000 011100", "muldiv"),
    Row("DMULTU", f"{_R} rs rt 0000000000 011101", "muldiv"),
    Row("DDIV", f"{_R} rs rt 0000000000 011110", "muldiv"),
    Row("DDIVU", f"{_R} rs rt 0000000000 011111", "muldiv"),
    # --- SPECIAL: arithmetic and logic ------------------------------------------------------
    Row("ADD", f"{_R} rs rt rd 00000 100000", "alu"),
    Row("ADDU", f"{_R} rs rt rd 00000 100001", "alu"),
    Row("SUB", f"{_R} rs rt rd 00000 100010", "alu"),
    Row("SUBU", f"{_R} rs rt rd 00000 100011", "alu"),
    Row("AND", f"{_R} rs rt rd 00000 100100", "alu"),
    Row("OR", f"{_R} rs rt rd 00000 100101", "alu"),
    Row("XOR", f"{_R} rs rt rd 00000 100110", "alu"),
    Row("NOR", f"{_R} rs rt rd 00000 100111", "alu"),
    Row("SLT", f"{_R} rs rt rd 00000 101010", "alu"),
    Row("SLTU", f"{_R} rs rt rd 00000 101011", "alu"),
    Row("DADD", f"{_R} rs rt rd 00000 101100", "alu"),
    Row("DADDU", f"{_R} rs rt rd 00000 101101", "alu"),
    Row("DSUB", f"{_R} rs rt rd 00000 101110", "alu"),
    Row("DSUBU", f"{_R} rs rt rd 00000 101111", "alu"),
    # --- SPECIAL: conditional traps ---------------------------------------------------------
    Row("TGE", f"{_R} rs rt code:10 110000", "trap"),
    Row("TGEU", f"{_R} rs rt code:10 110001", "trap"),
    Row("TLT", f"{_R} rs rt code:10 110010", "trap"),
    Row("TLTU", f"{_R} rs rt code:10 110011", "trap"),
    Row("TEQ", f"{_R} rs rt code:10 110100", "trap"),
    Row("TNE", f"{_R} rs rt code:10 110110", "trap"),
    # --- REGIMM -------------------------------------------------------------------------------
    Row("BLTZ", f"{_RI} rs 00000 offset", "branch"),
    Row("BGEZ", f"{_RI} rs 00001 offset", "branch"),
    Row("BLTZL", f"{_RI} rs 00010 offset", "branch", likely=True),
    Row("BGEZL", f"{_RI} rs 00011 offset", "branch", likely=True),
    Row("TGEI", f"{_RI} rs 01000 immediate", "trap"),
    Row("TGEIU", f"{_RI} rs 01001 immediate", "trap"),
    Row("TLTI", f"{_RI} rs 01010 immediate", "trap"),
    Row("TLTIU", f"{_RI} rs 01011 immediate", "trap"),
    Row("TEQI", f"{_RI} rs 01100 immediate", "trap"),
    Row("TNEI", f"{_RI} rs 01110 immediate", "trap"),
    Row("BLTZAL", f"{_RI} rs 10000 offset", "branch"),
    Row("BGEZAL", f"{_RI} rs 10001 offset", "branch"),
    Row("BLTZALL", f"{_RI} rs 10010 offset", "branch", likely=True),
    Row("BGEZALL", f"{_RI} rs 10011 offset", "branch", likely=True),
    # --- jumps and branches -------------------------------------------------------------------
    Row("J", "000010 target", "jump"),
    Row("JAL", "000011 target", "jump"),
    Row("BEQ", "000100 rs rt offset", "branch"),
    Row("BNE", "000101 rs rt offset", "branch"),
    Row("BLEZ", "000110 rs 00000 offset", "branch"),
    Row("BGTZ", "000111 rs 00000 offset", "branch"),
    Row("BEQL", "010100 rs rt offset", "branch", likely=True),
    Row("BNEL", "010101 rs rt offset", "branch", likely=True),
    Row("BLEZL", "010110 rs 00000 offset", "branch", likely=True),
    Row("BGTZL", "010111 rs 00000 offset", "branch", likely=True),
    # --- immediates ---------------------------------------------------------------------------
    Row("ADDI", "001000 rs rt immediate", "alu"),
    Row("ADDIU", "001001 rs rt immediate", "alu"),
    Row("SLTI", "001010 rs rt immediate", "alu"),
    Row("SLTIU", "001011 rs rt immediate", "alu"),
    Row("ANDI", "001100 rs rt immediate", "alu"),
    Row("ORI", "001101 rs rt immediate", "alu"),
    Row("XORI", "001110 rs rt immediate", "alu"),
    Row("LUI", "001111 00000 rt immediate", "alu"),
    Row("DADDI", "011000 rs rt immediate", "alu"),
    Row("DADDIU", "011001 rs rt immediate", "alu"),
    # --- COP0 ---------------------------------------------------------------------------------
    Row("MFC0", f"{_C0} 00000 rt rd 00000000000", "system"),
    Row("DMFC0", f"{_C0} 00001 rt rd 00000000000", "system"),
    Row("MTC0", f"{_C0} 00100 rt rd 00000000000", "system"),
    Row("DMTC0", f"{_C0} 00101 rt rd 00000000000", "system"),
    Row("ERET", f"{_C0} 1 0000000000000000000 011000", "system"),
    # --- loads --------------------------------------------------------------------------------
    Row("LDL", "011010 base rt offset", "load"),
    Row("LDR", "011011 base rt offset", "load"),
    Row("LB", "100000 base rt offset", "load"),
    Row("LH", "100001 base rt offset", "load"),
    Row("LWL", "100010 base rt offset", "load"),
    Row("LW", "100011 base rt offset", "load"),
    Row("LBU", "100100 base rt offset", "load"),
    Row("LHU", "100101 base rt offset", "load"),
    Row("LWR", "100110 base rt offset", "load"),
    Row("LWU", "100111 base rt offset", "load"),
    Row("LL", "110000 base rt offset", "load"),
    Row("LLD", "110100 base rt offset", "load"),
    Row("LD", "110111 base rt offset", "load"),
    # --- stores -------------------------------------------------------------------------------
    Row("SB", "101000 base rt offset", "store"),
    Row("SH", "101001 base rt offset", "store"),
    Row("SWL", "101010 base rt offset", "store"),
    Row("SW", "101011 base rt offset", "store"),
    Row("SDL", "101100 base rt offset", "store"),
    Row("SDR", "101101 base rt offset", "store"),
    Row("SWR", "101110 base rt offset", "store"),
    Row("SC", "111000 base rt offset", "store"),
    Row("SCD", "111100 base rt offset", "store"),
    Row("SD", "111111 base rt offset", "store"),
    # --- cache --------------------------------------------------------------------------------
    Row("CACHE", "101111 base op offset", "system"),
)

BY_MNEMONIC: dict = {row.mnemonic: row for row in TABLE}
assert len(BY_MNEMONIC) == len(TABLE), "duplicate mnemonic in the decoder table"


def _check_disjoint(rows) -> None:
    """No word may match two rows (so the table's order does not matter)."""
    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            common = a.mask & b.mask
            if (a.match ^ b.match) & common == 0:
                raise AssertionError(f"decoder rows {a.mnemonic} and {b.mnemonic} overlap")


_check_disjoint(TABLE)

_BY_OPCODE: dict = {}
for _row in TABLE:
    _BY_OPCODE.setdefault(_row.match >> 26, []).append(_row)


@dataclass(frozen=True)
class Insn:
    """A decoded instruction: its ``row``, the raw ``word`` and the field values (unsigned, as
    encoded; ``None`` for fields the format does not have)."""

    row: Row
    word: int
    rs: Optional[int] = None
    rt: Optional[int] = None
    rd: Optional[int] = None
    sa: Optional[int] = None
    base: Optional[int] = None
    op: Optional[int] = None
    offset: Optional[int] = None
    immediate: Optional[int] = None
    target: Optional[int] = None
    code: Optional[int] = None

    @property
    def mnemonic(self) -> str:
        return self.row.mnemonic

    @property
    def simm(self) -> int:
        """The 16-bit ``immediate``/``offset`` read as two's complement (a Python int)."""
        raw = self.immediate if self.immediate is not None else self.offset
        return raw - 0x10000 if raw & 0x8000 else raw


@functools.lru_cache(maxsize=1 << 16)
def decode(word: int) -> Optional[Insn]:
    """The instruction ``word`` (a 32-bit int) encodes, or ``None`` if it matches no row (a
    reserved instruction). Raises ``ValueError`` for a value outside ``0 .. 2**32-1``."""
    if not 0 <= word <= 0xFFFF_FFFF:
        raise ValueError(f"instruction word {word!r} is not a 32-bit value")
    for row in _BY_OPCODE.get(word >> 26, ()):
        if word & row.mask == row.match:
            values = {name: (word >> lsb) & ((1 << width) - 1) for name, lsb, width in row.fields}
            return Insn(row, word, **values)
    return None
