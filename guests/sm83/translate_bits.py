"""Translators of the ``rotate_a``, ``cb_shift``, ``cb_bit`` and ``cb_setres`` classes of the
decoder table: RLCA RRCA RLA RRA, the CB rotates, shifts and SWAP, BIT, RES and SET.

Pan Docs "CPU Instruction Set" / rgbds gbz80(7): C is the bit shifted out (SWAP clears it);
RL/RR shift the old C in; SRA keeps bit 7. The A forms clear Z, N and H; the CB forms compute
Z and clear N and H. BIT sets Z when the bit is 0, clears N, sets H and keeps C.
"""

from __future__ import annotations

from dynarec.ir.types import I8


def _shift(e, op: str, v):
    """``(result, carry out)`` of rotate/shift ``op`` of the i8 ``v`` (carry: i1 or 0)."""
    b = e.b
    one = e.const(1)
    if op == "SWAP":
        return b.rotl(v, e.const(4)), 0
    if op in ("RLC", "RL", "SLA"):
        carry = e.bit(v, 0x80)
        if op == "RLC":
            return b.rotl(v, one), carry
        shifted = b.shl(v, one)
        return (e.or_(shifted, b.zext(I8, e.flag("C"))) if op == "RL" else shifted), carry
    carry = e.bit(v, 0x01)
    if op == "RRC":
        return b.rotr(v, one), carry
    if op == "RR":
        return e.or_(b.lshr(v, one), b.shl(b.zext(I8, e.flag("C")), e.const(7))), carry
    return (b.ashr if op == "SRA" else b.lshr)(v, one), carry


def _rotate_a(e, i):
    result, carry = _shift(e, i.row.op[:-1], e.reg("A"))
    e.set_reg("A", result)
    e.set_flags(z=0, n=0, h=0, c=carry)


RLCA = RRCA = RLA = RRA = _rotate_a


def _cb_shift(e, i):
    operand = e.operand(i.row.operands[0])
    result, carry = _shift(e, i.row.op, operand.read())
    operand.write(result)
    e.set_flags(z=e.is_zero(result), n=0, h=0, c=carry)


RLC = RRC = RL = RR = SLA = SRA = SWAP = SRL = _cb_shift


def BIT(e, i):
    value = e.operand(i.row.operands[1]).read()
    e.set_flags(z=e.is_zero(e.and_(value, e.const(1 << i.row.bit))), n=0, h=1)


def RES(e, i):
    operand = e.operand(i.row.operands[1])
    operand.write(e.and_(operand.read(), e.const(~(1 << i.row.bit))))


def SET(e, i):
    operand = e.operand(i.row.operands[1])
    operand.write(e.or_(operand.read(), e.const(1 << i.row.bit)))


TRANSLATE = {name: fn for name, fn in globals().items() if name.isupper() and callable(fn)}
