"""Translators of the ``load`` and ``store`` classes of the decoder table.

Addresses are ``GPR[base] + sign-extended offset``; ``Emitter.physical`` checks alignment
(AdEL/AdES) and maps them to physical addresses. Memory is big-endian; the IR's ``load``/
``store`` take care of the byte order.

LWL/LWR/LDL/LDR read the aligned unit holding the address and merge the addressed bytes into
the register (big-endian: LWL/LDL fill the register from its high end, LWR/LDR from its low
end; VR4300 manual chapter 16). SWL/SWR/SDL/SDR write only the addressed bytes, as the
naturally aligned pieces ``arch.aligned_chunks`` lists (a ``br_table`` on the byte
offset picks the case). LL/LLD set the LL bit and LLAddr (physical address >> 4); SC/SCD store
and set rt = 1 when the LL bit is set, else set rt = 0 (only ERET clears the bit).
"""

from __future__ import annotations

from dynarec.ir.types import I8, I32, I64, int_type

from .arch import C0_LLADDR, LOAD, STORE, aligned_chunks


# --- load -----------------------------------------------------------------------------------

def _load(e, i, size, signed):
    value = e.b.load(int_type(8 * size), e.physical(e.address(i), size, LOAD))
    if size < 8:
        value = e.b.sext(I64, value) if signed else e.b.zext(I64, value)
    e.set_gpr(i.rt, value)


def LB(e, i): _load(e, i, 1, True)
def LBU(e, i): _load(e, i, 1, False)
def LH(e, i): _load(e, i, 2, True)
def LHU(e, i): _load(e, i, 2, False)
def LW(e, i): _load(e, i, 4, True)
def LWU(e, i): _load(e, i, 4, False)
def LD(e, i): _load(e, i, 8, True)


def _load_linked(e, i, size):
    paddr = e.physical(e.address(i), size, LOAD)
    value = e.b.load(int_type(8 * size), paddr)
    e.put("llbit", e.const(1, I8))
    e.put(f"cop0[{C0_LLADDR}]", e.b.zext(I64, e.b.lshr(paddr, e.const(4, I32))))
    e.set_gpr(i.rt, e.b.sext(I64, value) if size < 8 else value)


def LL(e, i): _load_linked(e, i, 4)
def LLD(e, i): _load_linked(e, i, 8)


def _load_unit(e, i, size):
    """``(unit, k, rt)``: the aligned ``size``-byte unit holding the address, the address's
    byte offset ``k`` in it (i32) and rt's old value of the same width."""
    vaddr = e.address(i)
    paddr = e.physical(vaddr, 1, LOAD)
    unit = e.b.load(int_type(8 * size), e.and_(paddr, e.const(~(size - 1), I32)))
    k = e.and_(e.low32(vaddr), e.const(size - 1, I32))
    old = e.gpr32(i.rt) if size == 4 else e.gpr(i.rt)
    return unit, k, old


def _load_left(e, i, size):
    """``unit << 8k`` merged over rt's low ``k`` bytes."""
    unit, k, old = _load_unit(e, i, size)
    t = unit.type
    shift = e.b.shl(k, e.const(3, I32))
    keep = e.b.sub(e.b.shl(e.const(1, t), shift), e.const(1, t))
    return e.or_(e.b.shl(unit, shift), e.and_(old, keep))


def _load_right(e, i, size):
    """``unit >> 8(size-1-k)`` merged under rt's high ``k+1..size`` bytes."""
    unit, k, old = _load_unit(e, i, size)
    t = unit.type
    shift = e.b.shl(e.b.xor(k, e.const(size - 1, I32)), e.const(3, I32))
    keep = e.not_(e.b.lshr(e.const(-1, t), shift))
    return e.or_(e.b.lshr(unit, shift), e.and_(old, keep))


def LWL(e, i): e.set_gpr32(i.rt, _load_left(e, i, 4))
def LWR(e, i): e.set_gpr32(i.rt, _load_right(e, i, 4))
def LDL(e, i): e.set_gpr(i.rt, _load_left(e, i, 8))
def LDR(e, i): e.set_gpr(i.rt, _load_right(e, i, 8))


# --- store ------------------------------------------------------------------------------------

def _value(e, i, size):
    """rt's low ``size`` bytes."""
    return e.gpr(i.rt) if size == 8 else e.b.trunc(int_type(8 * size), e.gpr(i.rt))


def _store(e, i, size):
    e.b.store(e.physical(e.address(i), size, STORE), _value(e, i, size))


def SB(e, i): _store(e, i, 1)
def SH(e, i): _store(e, i, 2)
def SW(e, i): _store(e, i, 4)
def SD(e, i): _store(e, i, 8)


def _store_partial(e, i, size, left):
    """SWL/SDL (``left``): rt's high bytes from the address to the end of its aligned unit;
    SWR/SDR: rt's low bytes from the unit's start up to the address. One case per offset."""
    b = e.b
    vaddr = e.address(i)
    value = _value(e, i, size)
    base = e.and_(e.physical(vaddr, 1, STORE), e.const(~(size - 1), I32))
    cases = [b.new_block() for _ in range(size)]
    join = b.new_block()
    b.br_table(e.and_(e.low32(vaddr), e.const(size - 1, I32)), cases[-1], cases)
    for k, block in enumerate(cases):
        b.switch_to(block)
        lo, hi = (k, size) if left else (0, k + 1)
        for off, n in aligned_chunks(lo, hi):
            # the piece's bytes of rt: rt >> 8 * (bytes of rt right of the piece)
            right = (k + size - off - n) if left else (k + 1 - off - n)
            piece = b.lshr(value, e.const(8 * right, value.type)) if right else value
            if n < size:
                piece = b.trunc(int_type(8 * n), piece)
            addr = b.add(base, e.const(off, I32)) if off else base
            b.store(addr, piece)
        b.br(join)
    b.switch_to(join)


def SWL(e, i): _store_partial(e, i, 4, True)
def SWR(e, i): _store_partial(e, i, 4, False)
def SDL(e, i): _store_partial(e, i, 8, True)
def SDR(e, i): _store_partial(e, i, 8, False)


def _store_conditional(e, i, size):
    b = e.b
    value = _value(e, i, size)
    paddr = e.physical(e.address(i), size, STORE)
    linked = b.icmp(e.get("llbit"), e.const(0, I8), cond="ne")
    store, skip, join = b.new_block(), b.new_block(), b.new_block([I64])
    b.brif(linked, store, skip)
    b.switch_to(store)
    b.store(paddr, value)
    b.br((join, [e.const(1)]))
    b.switch_to(skip)
    b.br((join, [e.const(0)]))
    b.switch_to(join)
    e.set_gpr(i.rt, join.params[0])


def SC(e, i): _store_conditional(e, i, 4)
def SCD(e, i): _store_conditional(e, i, 8)


TRANSLATE = {name: fn for name, fn in globals().items() if name.isupper() and callable(fn)}
