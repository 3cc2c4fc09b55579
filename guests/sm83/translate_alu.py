"""Translators of the ``alu``, ``incdec``, ``arith16`` and ``accflag`` classes of the decoder
table: 8-bit arithmetic and logic on A, INC/DEC of 8-bit operands and register pairs, ADD
HL,rr, ADD SP,e8 (and the SP+e8 sum LD HL,SP+e8 shares), DAA, CPL, SCF, CCF.

Flag facts (Pan Docs "CPU Instruction Set"; rgbds gbz80(7)): H is the carry out of bit 3 (of
bit 11 for ADD HL,rr) or the borrow into bit 4, which is bit 4 (bit 12) of ``a ^ x ^
result`` for additions and subtractions alike, carry-in included; C is the carry out of bit 7
(bit 15) or the borrow, the IR's ``addc``/``subb`` carry. INC/DEC keep C. ADD SP,e8 and
LD HL,SP+e8 take H and C from the UNSIGNED addition of the offset byte to SP's low byte and
clear Z and N. DAA adjusts by 0x06/0x60 from N, H, C (module ``interpreter``, DAA).
"""

from __future__ import annotations

from dynarec.ir.types import I1, I16


def _arith(e, i, subtract: bool, carry: bool, keep: bool = True) -> None:
    """ADD ADC SUB SBC CP: A op operand (op carry), flags Z N H C; ``keep``: write A."""
    b = e.b
    a = e.reg("A")
    x = e.operand(i.row.operands[-1]).read()
    carry_in = e.flag("C") if carry else e.const(0, I1)
    result, carry_out, _ = (b.subb if subtract else b.addc)(a, x, carry_in)
    if keep:
        e.set_reg("A", result)
    e.set_flags(z=e.is_zero(result), n=int(subtract),
                h=e.bit(e.xor(e.xor(a, x), result), 0x10), c=carry_out)


def _logic(e, i, op: str, half: int) -> None:
    """AND XOR OR: A op operand; Z, N = 0, H = ``half``, C = 0."""
    result = e.b.emit(op, [e.reg("A"), e.operand(i.row.operands[-1]).read()])
    e.set_reg("A", result)
    e.set_flags(z=e.is_zero(result), n=0, h=half, c=0)


def sp_plus_e8(e):
    """SP + e8 (i16) for ADD SP,e8 and LD HL,SP+e8, writing their flags (module doc)."""
    b = e.b
    sp, offset = e.get("sp"), e.insn.imm
    low, byte = e.low(sp), e.const(offset)
    total, carry, _ = b.addc(low, byte, e.const(0, I1))
    e.set_flags(z=0, n=0, h=e.bit(e.xor(e.xor(low, byte), total), 0x10), c=carry)
    return b.add(sp, e.const(offset, I16))


def ADD(e, i):
    row = i.row
    if row.cls == "alu":
        _arith(e, i, subtract=False, carry=False)
    elif row.operands[0] == "HL":                           # ADD HL,rr: Z kept
        b = e.b
        hl, x = e.pair("HL"), e.pair(row.operands[1])
        total, carry, _ = b.addc(hl, x, e.const(0, I1))
        e.set_pair("HL", total)
        e.set_flags(n=0, h=e.bit(e.xor(e.xor(hl, x), total), 0x1000), c=carry)
    else:                                                   # ADD SP,e8
        e.put("sp", sp_plus_e8(e))


def ADC(e, i): _arith(e, i, subtract=False, carry=True)
def SUB(e, i): _arith(e, i, subtract=True, carry=False)
def SBC(e, i): _arith(e, i, subtract=True, carry=True)
def CP(e, i): _arith(e, i, subtract=True, carry=False, keep=False)
def AND(e, i): _logic(e, i, "and", 1)
def XOR(e, i): _logic(e, i, "xor", 0)
def OR(e, i): _logic(e, i, "or", 0)


def _step(e, i, op: str) -> None:
    """INC/DEC: of a pair (no flags), or of an 8-bit operand (Z, N, H; C kept)."""
    b = e.b
    target = i.row.operands[0]
    step = b.add if op == "INC" else b.sub
    if i.row.cls == "arith16":
        e.set_pair(target, step(e.pair(target), e.const(1, I16)))
        return
    operand = e.operand(target)
    result = step(operand.read(), e.const(1))
    operand.write(result)
    low = e.and_(result, e.const(0x0F))
    half = e.is_zero(low) if op == "INC" else b.icmp(low, e.const(0x0F), cond="eq")
    e.set_flags(z=e.is_zero(result), n=int(op == "DEC"), h=half)


def INC(e, i): _step(e, i, "INC")
def DEC(e, i): _step(e, i, "DEC")


def DAA(e, i):
    b = e.b
    a = e.reg("A")
    subtract, half, carry = e.flag("N"), e.flag("H"), e.flag("C")
    adding = e.xor(subtract, e.const(1, I1))
    adjust_low = e.or_(half, e.and_(adding, b.icmp(e.and_(a, e.const(0x0F)), e.const(9),
                                                   cond="ugt")))
    adjust_high = e.or_(carry, e.and_(adding, b.icmp(a, e.const(0x99), cond="ugt")))
    adjust = e.or_(b.select(adjust_low, e.const(0x06), e.const(0)),
                   b.select(adjust_high, e.const(0x60), e.const(0)))
    result = b.select(subtract, b.sub(a, adjust), b.add(a, adjust))
    e.set_reg("A", result)
    e.set_flags(z=e.is_zero(result), h=0, c=adjust_high)


def CPL(e, i):
    e.set_reg("A", e.xor(e.reg("A"), e.const(0xFF)))
    e.set_flags(n=1, h=1)


def SCF(e, i): e.set_flags(n=0, h=0, c=1)
def CCF(e, i): e.set_flags(n=0, h=0, c=e.xor(e.flag("C"), e.const(1, I1)))


TRANSLATE = {name: fn for name, fn in globals().items() if name.isupper() and callable(fn)}
