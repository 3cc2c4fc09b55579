"""Listings of Orus bytecode with the opcode table's mnemonics.

``disassemble(program) -> list[str]``: every chunk, main first, under a header line;
``disassemble_chunk(chunk) -> list[str]``: one line per instruction::

    0x0000  cf000002    LOAD_I32_CONST R0, k2 (i32 0)         ; line -1
    0x000b  7d00c001c1  CALL_R R0, R192, 1, R193              ; line 7

Operands print by format letter (``decoder`` module doc): registers ``R12``, global slots
``G3``, immediates in decimal, constants ``k7 (f64 2.5)``, jumps as their absolute target
``-> 0x0040``, loop ids ``L3``, spill ids ``X300``, upvalue pairs ``[local R3, upvalue 2]``.
"""

from __future__ import annotations

import json

from .decoder import Insn
from .loader import Chunk, Constant, Program

_REGISTER_LIKE = {"r": "R", "g": "G", "L": "L", "x": "X"}
_TEXT_WIDTH = 36
_HEX_WIDTH = 14


def describe_constant(constant: Constant) -> str:
    """``i32 7``, ``f64 2.5``, ``string "text"`` ..."""
    value = constant.value
    if isinstance(value, bytes):
        value = json.dumps(value.decode("utf-8", "replace"))
    elif isinstance(value, bool):
        value = "true" if value else "false"
    return f"{constant.tag} {value}"


def format_operands(insn: Insn, chunk: Chunk) -> str:
    """The operands of ``insn`` (an instruction of ``chunk``) as a listing shows them."""
    parts = []
    letters = [c for c in insn.row.format if c != "_"]
    for letter, value in zip(letters, insn.operands):
        if letter in _REGISTER_LIKE:
            parts.append(f"{_REGISTER_LIKE[letter]}{value}")
        elif letter == "k":
            parts.append(f"k{value} ({describe_constant(chunk.constants[value])})")
        elif letter in "jfbsS":
            parts.append(f"-> {insn.target:#06x}")
        elif letter == "*":
            parts.append("[" + ", ".join(f"local R{index}" if is_local else f"upvalue {index}"
                                         for is_local, index in value) + "]")
        else:
            parts.append(str(value))
    return ", ".join(parts)


def format_insn(insn: Insn, chunk: Chunk) -> str:
    """``MNEMONIC operands`` of one instruction of ``chunk``."""
    operands = format_operands(insn, chunk)
    return f"{insn.mnemonic} {operands}" if operands else insn.mnemonic


def disassemble_chunk(chunk: Chunk) -> list:
    """One line per instruction of ``chunk``: offset, bytes, instruction, source line."""
    lines = []
    for insn in chunk.insns:
        raw = chunk.code[insn.offset:insn.next].hex()
        text = format_insn(insn, chunk)
        lines.append(f"{insn.offset:#06x}  {raw:<{_HEX_WIDTH}}  "
                     f"{text:<{_TEXT_WIDTH}}  ; line {chunk.lines[insn.offset]}")
    return lines


def disassemble(program: Program) -> list:
    """Listing of every chunk of ``program``, each under a ``== name ==`` header."""
    lines = []
    for function, chunk in program.chunks():
        if function is None:
            header = f"== main ({program.source}) =="
        else:
            kind = "" if chunk is function.chunk else (
                " specialized" if chunk is function.specialized_chunk else " deopt stub")
            header = (f"== function {function.index} {function.name}{kind} "
                      f"(arity {function.arity}) ==")
        lines.append(header)
        lines.extend(disassemble_chunk(chunk))
        lines.append("")
    return lines
