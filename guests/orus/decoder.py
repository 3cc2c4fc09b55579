"""The decoder table: one row per Orus opcode, read from ``opcodes.tsv``.

``opcodes.tsv`` (a copy of ``../shared/orus/opcodes.tsv``: the opcode enum of
jordyorel/orus-lang at commit b99090f, MIT License, with each operand layout as the
computed-goto dispatcher ``src/vm/dispatch/vm_dispatch_goto.c`` reads it) is the single
description of every opcode: its number, name, operand format and length. Everything else --
loader checks, disassembler, interpreter, encoder for tests -- reads ``TABLE``.

Format letters (operands after the opcode byte, in order; the file's header says the same):

====  =====  ==================================================================================
lttr  bytes  operand
====  =====  ==================================================================================
r     1      register R0-R255
g     1      global slot (``vm.globals``, not a register)
n     1      unsigned 8-bit immediate (count, argc, flag, index, slot)
_     1      padding, ignored (the compiler writes 0); not part of ``Insn.operands``
k     2      constant-pool index, u16 big-endian
I     4      signed 32-bit immediate, little-endian
j     2      signed 16-bit big-endian jump offset: target = next + offset
f     2      unsigned 16-bit big-endian forward offset: target = next + offset
b     2      unsigned 16-bit big-endian backward offset: target = next - offset
s     1      unsigned 8-bit forward offset: target = next + offset
S     1      unsigned 8-bit backward offset: target = next - offset
L     2      u16 big-endian loop id (profiling only)
x     2      u16 big-endian spill register id
``*``  2n     variable tail: ``n`` (the preceding ``n`` operand) pairs (is_local u8, index u8)
====  =====  ==================================================================================

``next`` is the offset of the first byte after the whole instruction. A format of ``-`` marks
the 16 opcodes with no handler in the computed-goto dispatcher; ``JUMP_IF_R`` has a layout
but no handler either (its note says so). Executing any of them is an "Unknown opcode"
error, so a chunk holding one is rejected.

``decode(chunk, offset) -> Insn`` decodes and checks one instruction: the opcode exists and
has a handler, the instruction fits in the chunk, every jump target lies in
``[0, len(code))`` (the VM's "Jump out of bounds" rule), every constant index names a
constant, and register windows (``REGISTER_WINDOWS``) end at R255. Any violation raises
``OrusLoadError`` naming the chunk and offset. ``encode`` is the inverse, for tests and
program generators.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from typing import Optional, Sequence

from .errors import OrusLoadError

OPERAND_WIDTHS = {"r": 1, "g": 1, "n": 1, "_": 1, "k": 2, "I": 4, "j": 2, "f": 2, "b": 2,
                  "s": 1, "S": 1, "L": 2, "x": 2}
"""Bytes per format letter (the variable tail ``*`` is handled apart)."""

FORWARD_JUMPS = frozenset("jfs")
BACKWARD_JUMPS = frozenset("bS")
JUMP_LETTERS = FORWARD_JUMPS | BACKWARD_JUMPS

NO_HANDLER = "-"

REGISTER_WINDOWS = {
    "MAKE_ARRAY_R": (1, 2),
    "PRINT_MULTI_R": (0, 1),
    "CALL_R": (1, 2),
    "TAIL_CALL_R": (1, 2),
    "CALL_NATIVE_R": (1, 2),
    "CALL_FOREIGN": (1, 2),
    "ENUM_NEW_R": (3, 2),
}
"""Opcodes that read a run of consecutive registers: mnemonic -> (operand index of the first
register, operand index of the count), from the table's notes. The run must end at R255."""


@dataclass(frozen=True)
class OpcodeRow:
    """One opcode: ``number`` (the byte), ``name`` (the enum name, ``OP_LOAD_CONST``),
    ``format`` (letters above; ``""`` for no operands, ``"-"`` for no handler), ``length``
    (total bytes with the opcode byte; ``None`` when variable or without handler) and the
    table's ``note``. Raises ``ValueError`` for a format with unknown letters or a length that
    disagrees with it."""

    number: int
    name: str
    format: str
    length: Optional[int]
    note: str

    def __post_init__(self):
        if self.format == NO_HANDLER:
            return
        fixed = self.format.rstrip("*")
        if "*" in fixed or not set(fixed) <= set(OPERAND_WIDTHS):
            raise ValueError(f"{self.name}: bad operand format {self.format!r}")
        if self.format.endswith("*") and not fixed.endswith("n"):
            raise ValueError(f"{self.name}: a variable tail must follow an 'n' operand")
        size = 1 + sum(OPERAND_WIDTHS[c] for c in fixed)
        if self.length is not None and self.length != size:
            raise ValueError(f"{self.name}: length {self.length} but format {self.format!r} "
                             f"has {size} bytes")

    @property
    def mnemonic(self) -> str:
        """The name without the enum's ``OP_`` prefix (``LOAD_CONST``): what listings print."""
        return self.name[3:] if self.name.startswith("OP_") else self.name

    @property
    def has_handler(self) -> bool:
        """False for the rows marked ``-`` and for ``JUMP_IF_R``, whose layout the table
        gives (from the compiler's jump patcher) while its note says that no dispatcher
        handles it."""
        return self.format != NO_HANDLER and "no handler" not in self.note

    @property
    def fixed_size(self) -> int:
        """Bytes of the opcode and its fixed operands (the whole instruction unless the format
        has a ``*`` tail)."""
        return 1 + sum(OPERAND_WIDTHS[c] for c in self.format.rstrip("*"))

    @property
    def jump_letter(self) -> Optional[str]:
        """The format letter of the jump offset operand, or ``None``."""
        found = [c for c in self.format if c in JUMP_LETTERS]
        return found[0] if found else None


def _read_table() -> tuple:
    text = importlib.resources.files(__package__).joinpath("opcodes.tsv").read_text("utf-8")
    rows = []
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    if lines[0].split("\t")[:4] != ["num", "name", "format", "length"]:
        raise ValueError("opcodes.tsv: unexpected header")
    for line in lines[1:]:
        num, name, fmt, length, note = (line.split("\t") + [""] * 5)[:5]
        fixed_length = int(length) if length.isdigit() else None
        rows.append(OpcodeRow(int(num), name, fmt, fixed_length, note))
    if [row.number for row in rows] != list(range(len(rows))):
        raise ValueError("opcodes.tsv: opcode numbers must run 0, 1, 2, ... without gaps")
    return tuple(rows)


TABLE: tuple = _read_table()
"""``TABLE[n]`` is the row of opcode byte ``n`` (0 .. 234)."""

BY_MNEMONIC: dict = {row.mnemonic: row for row in TABLE}
assert len(BY_MNEMONIC) == len(TABLE), "duplicate name in opcodes.tsv"


@dataclass(frozen=True)
class Insn:
    """A decoded instruction: its ``row``, ``offset`` and ``length`` in bytes, the
    ``operands`` (one value per format letter except ``_``, as encoded: jump offsets raw, with
    ``j`` and ``I`` signed; a ``*`` tail is one tuple of ``(is_local, index)`` pairs) and, for a
    jump, its absolute ``target`` offset."""

    row: OpcodeRow
    offset: int
    length: int
    operands: tuple
    target: Optional[int] = None

    @property
    def mnemonic(self) -> str:
        return self.row.mnemonic

    @property
    def next(self) -> int:
        """Offset of the next instruction (what jump offsets are relative to)."""
        return self.offset + self.length


def _fail(chunk, offset: int, message: str) -> OrusLoadError:
    return OrusLoadError(f"{chunk.label}, offset {offset:#06x}: {message}")


def _read(letter: str, code: bytes, pos: int) -> int:
    if letter == "j":
        return int.from_bytes(code[pos:pos + 2], "big", signed=True)
    if letter == "I":
        return int.from_bytes(code[pos:pos + 4], "little", signed=True)
    return int.from_bytes(code[pos:pos + OPERAND_WIDTHS[letter]], "big")


def decode(chunk, offset: int) -> Insn:
    """The instruction at byte ``offset`` of ``chunk`` (anything with ``code`` (bytes),
    ``constants`` (a sequence) and ``label`` (names it in messages), e.g. ``loader.Chunk``).
    Raises ``OrusLoadError`` (see the module doc)."""
    code = chunk.code
    if not 0 <= offset < len(code):
        raise _fail(chunk, offset, f"offset outside the chunk (length {len(code)})")
    number = code[offset]
    if number >= len(TABLE):
        raise _fail(chunk, offset, f"unknown opcode {number:#04x} (the table ends at "
                                   f"{len(TABLE) - 1})")
    row = TABLE[number]
    if not row.has_handler:
        raise _fail(chunk, offset, f"{row.name} ({number}) has no handler in the VM "
                                   f"(executing it is an 'Unknown opcode' error)")
    length = row.fixed_size
    if offset + length > len(code):
        raise _fail(chunk, offset, f"truncated {row.name}: needs {length} bytes, "
                                   f"{len(code) - offset} left in the chunk")
    operands = []
    pos = offset + 1
    for letter in row.format.rstrip("*"):
        if letter != "_":
            operands.append(_read(letter, code, pos))
        pos += OPERAND_WIDTHS[letter]
    if row.format.endswith("*"):
        pairs = operands[-1]
        length += 2 * pairs
        if offset + length > len(code):
            raise _fail(chunk, offset, f"truncated {row.name}: {pairs} upvalue pairs need "
                                       f"{length} bytes, {len(code) - offset} left")
        operands.append(tuple((code[p], code[p + 1]) for p in range(pos, pos + 2 * pairs, 2)))
    insn = Insn(row, offset, length, tuple(operands), _target(row, offset + length, operands))
    _check(chunk, insn)
    return insn


def _target(row: OpcodeRow, next_offset: int, operands: list) -> Optional[int]:
    letter = row.jump_letter
    if letter is None:
        return None
    value = operands[[c for c in row.format if c != "_"].index(letter)]
    return next_offset - value if letter in BACKWARD_JUMPS else next_offset + value


def _check(chunk, insn: Insn) -> None:
    """The checks of ``decode`` that need more than the instruction's bytes."""
    code_length = len(chunk.code)
    if insn.target is not None and not 0 <= insn.target < code_length:
        raise _fail(chunk, insn.offset, f"{insn.row.name} jumps to {insn.target:#06x}, "
                                        f"outside the chunk (length {code_length})")
    letters = [c for c in insn.row.format.rstrip("*") if c != "_"]
    for letter, value in zip(letters, insn.operands):
        if letter == "k" and value >= len(chunk.constants):
            raise _fail(chunk, insn.offset, f"{insn.row.name}: constant index {value} out of "
                                            f"range (the pool has {len(chunk.constants)})")
    window = REGISTER_WINDOWS.get(insn.mnemonic)
    if window is not None:
        first, count = insn.operands[window[0]], insn.operands[window[1]]
        if first + count > 256:
            raise _fail(chunk, insn.offset, f"{insn.row.name}: registers R{first}.."
                                            f"R{first + count - 1} run past R255")


def encode(mnemonic: str, *operands) -> bytes:
    """The bytes of ``mnemonic`` (table name without ``OP_``) with ``operands`` given as
    ``Insn.operands`` holds them (no padding; jump offsets raw; a ``*`` tail as a sequence of
    pairs). Raises ``ValueError`` for an unknown or handler-less mnemonic, a wrong operand
    count or a value that does not fit its field."""
    row = BY_MNEMONIC.get(mnemonic)
    if row is None or not row.has_handler:
        raise ValueError(f"no encodable opcode {mnemonic!r}")
    letters = [c for c in row.format if c != "_"]
    if len(operands) != len(letters):
        raise ValueError(f"{mnemonic} takes {len(letters)} operands, got {len(operands)}")
    out = bytearray([row.number])
    values = iter(operands)
    for letter in row.format:
        if letter == "_":
            out.append(0)
        elif letter == "*":
            pairs: Sequence = next(values)
            if len(pairs) != operands[-2]:
                raise ValueError(f"{mnemonic}: {len(pairs)} pairs but a count of "
                                 f"{operands[-2]}")
            for is_local, index in pairs:
                out += bytes([is_local, index])
        else:
            value = next(values)
            signed = letter in "jI"
            try:
                out += int(value).to_bytes(OPERAND_WIDTHS[letter],
                                           "little" if letter == "I" else "big", signed=signed)
            except OverflowError:
                raise ValueError(f"{mnemonic}: operand {value!r} does not fit format "
                                 f"letter {letter!r}") from None
    return bytes(out)
