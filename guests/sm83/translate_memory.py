"""Translators of the ``load``, ``load16`` and ``stack`` classes of the decoder table: LD and
LDH of bytes, LD of register pairs and SP, PUSH, POP.

The 16-bit accesses are two byte accesses in the CPU's order (gbctr; the SingleStepTests
bus traces agree): LD (a16),SP writes the low byte first; PUSH writes the high byte to SP-1,
then the low byte to SP-2; POP reads the low byte at SP, then the high byte. POP AF keeps
bits 7..4 of F.
"""

from __future__ import annotations

from dynarec.ir.types import I16

from .arch import PAIRS
from .translate_alu import sp_plus_e8


def LD(e, i):
    row = i.row
    dst, src = row.operands
    if row.cls == "load":
        value = e.operand(src).read()
        e.operand(dst).write(value)
    elif src == "n16":
        e.set_pair(dst, e.const(i.imm, I16))
    elif dst == "(a16)":                                    # LD (a16),SP
        sp = e.get("sp")
        e.store(e.const(i.imm, I16), e.low(sp))
        e.store(e.const(i.imm + 1, I16), e.high(sp))
    elif src == "HL":                                       # LD SP,HL
        e.put("sp", e.pair("HL"))
    else:                                                   # LD HL,SP+e8
        e.set_pair("HL", sp_plus_e8(e))


LDH = LD


def PUSH(e, i):
    high, low = PAIRS[i.row.operands[0]]
    e.push(e.get(high), e.get(low))


def POP(e, i):
    high, low = e.pop()
    e.set_bytes(i.row.operands[0], high, low)


TRANSLATE = {name: fn for name, fn in globals().items() if name.isupper() and callable(fn)}
