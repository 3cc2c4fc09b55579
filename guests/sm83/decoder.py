"""The decoder table: one row per SM83 opcode, the single description of each instruction.

``TABLE`` maps every opcode to its ``Row``: the 255 one-byte opcodes 0x00-0xFF (0xCB is the
prefix, not an instruction; the 11 unused opcodes D3 DB DD E3 E4 EB EC ED F4 FC FD are rows
of class ``"illegal"``) and the 256 CB-prefixed ones, keyed ``0xCB00 | second byte``: 511
rows, 500 of them real instructions. The table is generated from the opcode structure Pan
Docs' "CPU Instruction Set" draws (the 8x8 grids of LD r,r', ALU A,r and the CB
rotate/BIT/RES/SET blocks; register fields ``R8``, ``R16``, ``R16STK``, ``R16MEM``, ``COND``),
with the irregular opcodes listed one by one.

Mnemonics are spelled as the Game Boy CPU Manual and the gbdev opcode tables
(gbdev.io/gb-opcodes/optables, the reference card Pan Docs points to) spell them: memory
operands in parentheses, SUB/AND/XOR/OR/CP without the ``A,`` that ADD/ADC/SBC carry,
``LD (HL+),A``, ``LDH (a8),A``, ``LD (C),A``, ``RST 38H``. Operand placeholders are those of
rgbds' gbz80(7) and the optables: ``n8``/``n16`` immediate data, ``a8`` the low byte of a
``FF00+a8`` address, ``a16`` an address, ``e8`` a signed offset.

Each row gives the length in bytes, the cost in M-cycles (conditional branches: taken and not
taken; gbdev optables, checked against the SingleStepTests suite by the tests) and the flag
effects in the optables' notation, one character per flag in the order Z N H C: ``-``
unchanged, ``0`` reset, ``1`` set, the flag's letter computed from the operation. ``cls``
names the instruction class the translator dispatches on (``CLASSES``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Optional

from .arch import FLAGS

R8 = ("B", "C", "D", "E", "H", "L", "(HL)", "A")      # 3-bit register field; 6 is (HL)
R16 = ("BC", "DE", "HL", "SP")                          # 2-bit pair field
R16STK = ("BC", "DE", "HL", "AF")                       # PUSH/POP pair field
R16MEM = ("(BC)", "(DE)", "(HL+)", "(HL-)")             # LD (rr),A / LD A,(rr) field
COND = ("NZ", "Z", "NC", "C")                           # 2-bit condition field
ALU_OPS = ("ADD", "ADC", "SUB", "SBC", "AND", "XOR", "OR", "CP")
CB_SHIFTS = ("RLC", "RRC", "RL", "RR", "SLA", "SRA", "SWAP", "SRL")
ILLEGAL = (0xD3, 0xDB, 0xDD, 0xE3, 0xE4, 0xEB, 0xEC, 0xED, 0xF4, 0xFC, 0xFD)
CB_PREFIX = 0xCB

#: Instruction classes: "load" 8-bit loads and stores; "load16" 16-bit loads (LD rr,n16,
#: LD (a16),SP, LD SP,HL, LD HL,SP+e8); "stack" PUSH/POP; "alu" 8-bit ADD..CP; "incdec"
#: INC/DEC of 8-bit operands; "arith16" INC/DEC rr, ADD HL,rr, ADD SP,e8; "rotate_a" RLCA
#: RRCA RLA RRA; "accflag" DAA CPL SCF CCF; "cb_shift" CB rotates, shifts and SWAP; "cb_bit"
#: BIT; "cb_setres" RES/SET; "jump" JP/JR; "call"; "ret" RET/RETI; "rst"; "control" NOP HALT
#: STOP DI EI; "illegal" the unused opcodes (they lock the CPU).
CLASSES = ("load", "load16", "stack", "alu", "incdec", "arith16", "rotate_a", "accflag",
           "cb_shift", "cb_bit", "cb_setres", "jump", "call", "ret", "rst", "control",
           "illegal")

#: Immediate operand placeholders and their size in bytes.
IMMEDIATES = {"n8": 1, "a8": 1, "e8": 1, "n16": 2, "a16": 2}

#: Flags each operation reads as an input (besides the conditions of branches, and PUSH AF,
#: which stores all four). Pan Docs "CPU Instruction Set" / gbz80(7) operation descriptions.
_FLAGS_READ_BY_OP = {"ADC": "C", "SBC": "C", "RLA": "C", "RRA": "C", "RL": "C", "RR": "C",
                     "CCF": "C", "DAA": "NHC"}
_COND_FLAG = {"NZ": "Z", "Z": "Z", "NC": "C", "C": "C"}
_BRANCHES = ("JR", "JP", "CALL", "RET")


class Effect(enum.Enum):
    """What an instruction does to one flag."""

    UNCHANGED = "-"
    RESET = "0"
    SET = "1"
    COMPUTED = "*"


@dataclass(frozen=True)
class Row:
    """One opcode. Given: ``opcode`` (0x00-0xFF, or ``0xCB00 | byte`` for the CB page),
    ``mnemonic`` (see the module doc), ``cls`` (one of ``CLASSES``), ``cycles`` (M-cycles; for
    a conditional branch, when taken), ``cycles_not_taken`` (conditional branches only),
    ``flags`` (four characters for Z N H C: ``-`` ``0`` ``1`` or the flag's letter).

    Derived from the mnemonic: ``op`` (its first word), ``operands`` (the operand tokens as
    written, e.g. ``("A", "(HL+)")``), ``imm`` (the immediate placeholder among them, or
    ``None``), ``cond`` (``"NZ" "Z" "NC" "C"`` of a conditional branch, else ``None``),
    ``bit`` (BIT/RES/SET bit index), ``vector`` (RST target), ``length`` (bytes, prefix and
    immediates included), ``flags_read`` and ``flags_written`` (masks of F bits).

    Raises ``ValueError`` naming the opcode for an unknown class, a malformed flags string or
    a conditional branch without its not-taken cost (or another row with one).
    """

    opcode: int
    mnemonic: str
    cls: str
    cycles: int
    cycles_not_taken: Optional[int] = None
    flags: str = "----"
    op: str = field(init=False)
    operands: tuple = field(init=False)
    imm: Optional[str] = field(init=False)
    cond: Optional[str] = field(init=False)
    bit: Optional[int] = field(init=False)
    vector: Optional[int] = field(init=False)
    length: int = field(init=False)
    flags_read: int = field(init=False)
    flags_written: int = field(init=False)

    def __post_init__(self):
        where = f"opcode {self.opcode:#04x} ({self.mnemonic})"
        if self.cls not in CLASSES:
            raise ValueError(f"{where}: unknown class {self.cls!r}")
        if len(self.flags) != 4 or any(ch not in ("-", "0", "1", name)
                                       for ch, name in zip(self.flags, FLAGS)):
            raise ValueError(f"{where}: flags {self.flags!r} is not four of '-01' or the "
                             f"flag's letter, in the order Z N H C")
        op, _, rest = self.mnemonic.partition(" ")
        operands = tuple(rest.split(",")) if rest else ()
        cond = operands[0] if op in _BRANCHES and operands and operands[0] in COND else None
        if (cond is None) != (self.cycles_not_taken is None):
            raise ValueError(f"{where}: a not-taken cost belongs to conditional branches only")
        imms = [name for name in IMMEDIATES for token in operands if name in token]
        reads = _FLAGS_READ_BY_OP.get(op, "")
        if cond:
            reads += _COND_FLAG[cond]
        if self.mnemonic == "PUSH AF":
            reads = "ZNHC"
        values = {
            "op": op,
            "operands": operands,
            "imm": imms[0] if imms else None,
            "cond": cond,
            "bit": int(operands[0]) if op in ("BIT", "RES", "SET") else None,
            "vector": int(operands[0][:-1], 16) if op == "RST" else None,
            "length": 1 + (self.opcode > 0xFF) + sum(IMMEDIATES[name] for name in imms),
            "flags_read": _mask(reads),
            "flags_written": _mask(name for ch, name in zip(self.flags, FLAGS) if ch != "-"),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def effect(self, flag: str) -> Effect:
        """The ``Effect`` on ``flag`` (``"Z" "N" "H" "C"``); ``KeyError`` for another name."""
        if flag not in FLAGS:
            raise KeyError(f"no flag {flag!r}: the SM83 flags are Z N H C")
        ch = self.flags[list(FLAGS).index(flag)]
        return Effect(ch) if ch in "-01" else Effect.COMPUTED

    @property
    def prefixed(self) -> bool:
        """True for the CB page."""
        return self.opcode > 0xFF


def _mask(names) -> int:
    mask = 0
    for name in names:
        mask |= FLAGS[name]
    return mask


# --- the table, from the opcode structure ---------------------------------------------------

def _alu_mnemonic(op: str, operand: str) -> str:
    return f"{op} A,{operand}" if op in ("ADD", "ADC", "SBC") else f"{op} {operand}"


_ALU_FLAGS = {"ADD": "Z0HC", "ADC": "Z0HC", "SUB": "Z1HC", "SBC": "Z1HC", "AND": "Z010",
              "XOR": "Z000", "OR": "Z000", "CP": "Z1HC"}


def _build() -> dict:
    rows = {}

    def add(opcode, mnemonic, cls, cycles, flags="----", not_taken=None):
        assert opcode not in rows, f"opcode {opcode:#x} listed twice"
        rows[opcode] = Row(opcode, mnemonic, cls, cycles, not_taken, flags)

    # block 0 (00-3F): 16-bit loads and arithmetic, (rr) loads, INC/DEC/LD of r8, misc
    add(0x00, "NOP", "control", 1)
    add(0x08, "LD (a16),SP", "load16", 5)
    add(0x10, "STOP n8", "control", 1)
    add(0x18, "JR e8", "jump", 3)
    for i, rr in enumerate(R16):
        add(0x01 + 16 * i, f"LD {rr},n16", "load16", 3)
        add(0x03 + 16 * i, f"INC {rr}", "arith16", 2)
        add(0x09 + 16 * i, f"ADD HL,{rr}", "arith16", 2, "-0HC")
        add(0x0B + 16 * i, f"DEC {rr}", "arith16", 2)
    for i, mem in enumerate(R16MEM):
        add(0x02 + 16 * i, f"LD {mem},A", "load", 2)
        add(0x0A + 16 * i, f"LD A,{mem}", "load", 2)
    for i, r in enumerate(R8):
        at_hl = r == "(HL)"
        add(0x04 + 8 * i, f"INC {r}", "incdec", 3 if at_hl else 1, "Z0H-")
        add(0x05 + 8 * i, f"DEC {r}", "incdec", 3 if at_hl else 1, "Z1H-")
        add(0x06 + 8 * i, f"LD {r},n8", "load", 3 if at_hl else 2)
    for opcode, mnemonic, cls, flags in (
            (0x07, "RLCA", "rotate_a", "000C"), (0x0F, "RRCA", "rotate_a", "000C"),
            (0x17, "RLA", "rotate_a", "000C"), (0x1F, "RRA", "rotate_a", "000C"),
            (0x27, "DAA", "accflag", "Z-0C"), (0x2F, "CPL", "accflag", "-11-"),
            (0x37, "SCF", "accflag", "-001"), (0x3F, "CCF", "accflag", "-00C")):
        add(opcode, mnemonic, cls, 1, flags)

    # block 1 (40-7F): LD r,r'; LD (HL),(HL) is HALT
    for d, dst in enumerate(R8):
        for s, src in enumerate(R8):
            if dst == src == "(HL)":
                add(0x76, "HALT", "control", 1)
            else:
                add(0x40 + 8 * d + s, f"LD {dst},{src}", "load",
                    2 if "(HL)" in (dst, src) else 1)

    # block 2 (80-BF): ALU A,r; and the ALU A,n8 column of block 3
    for k, op in enumerate(ALU_OPS):
        for s, src in enumerate(R8):
            add(0x80 + 8 * k + s, _alu_mnemonic(op, src), "alu", 2 if src == "(HL)" else 1,
                _ALU_FLAGS[op])
        add(0xC6 + 8 * k, _alu_mnemonic(op, "n8"), "alu", 2, _ALU_FLAGS[op])

    # block 3 (C0-FF): control flow, stack, high-page and absolute loads, SP arithmetic
    for i, cc in enumerate(COND):
        add(0x20 + 8 * i, f"JR {cc},e8", "jump", 3, not_taken=2)
        add(0xC0 + 8 * i, f"RET {cc}", "ret", 5, not_taken=2)
        add(0xC2 + 8 * i, f"JP {cc},a16", "jump", 4, not_taken=3)
        add(0xC4 + 8 * i, f"CALL {cc},a16", "call", 6, not_taken=3)
    for i, rr in enumerate(R16STK):
        add(0xC1 + 16 * i, f"POP {rr}", "stack", 3, "ZNHC" if rr == "AF" else "----")
        add(0xC5 + 16 * i, f"PUSH {rr}", "stack", 4)
    for t in range(8):
        add(0xC7 + 8 * t, f"RST {8 * t:02X}H", "rst", 4)
    add(0xC3, "JP a16", "jump", 4)
    add(0xC9, "RET", "ret", 4)
    add(0xCD, "CALL a16", "call", 6)
    add(0xD9, "RETI", "ret", 4)
    add(0xE0, "LDH (a8),A", "load", 3)
    add(0xE2, "LD (C),A", "load", 2)
    add(0xE8, "ADD SP,e8", "arith16", 4, "00HC")
    add(0xE9, "JP HL", "jump", 1)
    add(0xEA, "LD (a16),A", "load", 4)
    add(0xF0, "LDH A,(a8)", "load", 3)
    add(0xF2, "LD A,(C)", "load", 2)
    add(0xF3, "DI", "control", 1)
    add(0xF8, "LD HL,SP+e8", "load16", 3, "00HC")
    add(0xF9, "LD SP,HL", "load16", 2)
    add(0xFA, "LD A,(a16)", "load", 4)
    add(0xFB, "EI", "control", 1)
    for opcode in ILLEGAL:
        add(opcode, f"ILLEGAL_{opcode:02X}", "illegal", 1)

    # the CB page: rotates/shifts/SWAP, BIT, RES, SET of r8 (Pan Docs "$CB prefix")
    for s, r in enumerate(R8):
        at_hl = r == "(HL)"
        for k, op in enumerate(CB_SHIFTS):
            add(0xCB00 | 8 * k + s, f"{op} {r}", "cb_shift", 4 if at_hl else 2,
                "Z000" if op == "SWAP" else "Z00C")
        for b in range(8):
            add(0xCB40 | 8 * b + s, f"BIT {b},{r}", "cb_bit", 3 if at_hl else 2, "Z01-")
            add(0xCB80 | 8 * b + s, f"RES {b},{r}", "cb_setres", 4 if at_hl else 2)
            add(0xCBC0 | 8 * b + s, f"SET {b},{r}", "cb_setres", 4 if at_hl else 2)
    return dict(sorted(rows.items()))


TABLE: dict = _build()
assert set(TABLE) == set(range(0x100)) - {CB_PREFIX} | set(range(0xCB00, 0xCC00)), \
    "the decoder table must hold every opcode but the CB prefix exactly once"


# --- decoding -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Insn:
    """A decoded instruction: its ``row``, its address ``pc`` and the value of its immediate
    operand ``imm`` (``None`` without one): ``n8``/``a8`` 0..255, ``n16``/``a16`` 0..65535
    (little-endian in memory), ``e8`` signed -128..127."""

    row: Row
    pc: int
    imm: Optional[int] = None

    @property
    def mnemonic(self) -> str:
        return self.row.mnemonic

    @property
    def length(self) -> int:
        return self.row.length

    @property
    def next_pc(self) -> int:
        """Address of the following instruction (wraps at 64 KiB)."""
        return (self.pc + self.row.length) & 0xFFFF

    @property
    def target(self) -> Optional[int]:
        """The constant destination of JR, JP a16, CALL and RST (taken), else ``None``."""
        row = self.row
        if row.op == "JR":
            return (self.next_pc + self.imm) & 0xFFFF
        if row.op in ("JP", "CALL") and row.imm == "a16":
            return self.imm
        return row.vector


def decode(code: bytes, pc: int = 0) -> Insn:
    """The instruction at the start of ``code`` (bytes-like), which sits at address ``pc``.
    The unused opcodes decode to their ``illegal`` rows (the CPU's behaviour for them is
    defined: it locks). Raises ``ValueError`` for a ``pc`` outside 0..0xFFFF and for input
    shorter than the instruction (naming the address, mnemonic and lengths)."""
    if not 0 <= pc <= 0xFFFF:
        raise ValueError(f"pc {pc!r} is not a 16-bit address")
    if not code:
        raise ValueError(f"no instruction bytes at {pc:#06x}")
    opcode = code[0]
    if opcode == CB_PREFIX:
        if len(code) < 2:
            raise ValueError(f"truncated instruction at {pc:#06x}: the CB prefix needs a "
                             f"second byte, 1 byte given")
        opcode = 0xCB00 | code[1]
    row = TABLE[opcode]
    if len(code) < row.length:
        raise ValueError(f"truncated instruction at {pc:#06x}: {row.mnemonic} is "
                         f"{row.length} bytes, {len(code)} given")
    if row.imm is None:
        return Insn(row, pc)
    raw = code[row.length - IMMEDIATES[row.imm]:row.length]
    value = int.from_bytes(raw, "little")
    if row.imm == "e8" and value & 0x80:
        value -= 0x100
    return Insn(row, pc, value)
