"""Translators of the ``trap`` and ``system`` classes of the decoder table: conditional traps,
SYSCALL, BREAK, SYNC, CACHE, the COP0 moves and ERET.

VR4300 manual chapter 16: the trap group compares 64-bit registers (immediates sign-extended,
``U`` forms unsigned) and raises Tr; SYSCALL raises Sys and BREAK Bp; SYNC has no effect on
the VR4300 and CACHE none in this model (no cache is emulated). MFC0 sign-extends the low word
of a COP0 register, DMFC0 reads all 64 bits; MTC0 writes the sign-extended low word of rt,
DMTC0 all of it, each through the register's write mask (``arch.COP0``); a write to Compare
clears Cause.IP7 (manual chapter 6, Compare register). ERET returns to ErrorEPC clearing
Status.ERL when ERL is set, else to EPC clearing Status.EXL, clears the LL bit, and has no
delay slot.
"""

from __future__ import annotations

from dynarec.ir.types import I8

from .arch import (C0_CAUSE, C0_COMPARE, C0_EPC, C0_ERROREPC, C0_STATUS, CAUSE_IP7, COP0,
                   MASK64, STATUS_ERL, STATUS_EXL, Exc)


# --- trap -------------------------------------------------------------------------------------

def _trap_when(e, i, cond):
    other = e.gpr(i.rt) if i.immediate is None else e.const(i.simm)
    e.trap_if(e.b.icmp(e.gpr(i.rs), other, cond=cond), Exc.Tr)


def TGE(e, i): _trap_when(e, i, "sge")
def TGEU(e, i): _trap_when(e, i, "uge")
def TLT(e, i): _trap_when(e, i, "slt")
def TLTU(e, i): _trap_when(e, i, "ult")
def TEQ(e, i): _trap_when(e, i, "eq")
def TNE(e, i): _trap_when(e, i, "ne")


TGEI, TGEIU, TLTI, TLTIU, TEQI, TNEI = TGE, TGEU, TLT, TLTU, TEQ, TNE


def SYSCALL(e, i): e.trap(Exc.Sys)
def BREAK(e, i): e.trap(Exc.Bp)


# --- system -----------------------------------------------------------------------------------

def SYNC(e, i): pass
def CACHE(e, i): pass


def _c0(n: int) -> str:
    return f"cop0[{n}]"


def MFC0(e, i): e.set_gpr(i.rt, e.sext64(e.low32(e.get(_c0(i.rd)))))
def DMFC0(e, i): e.set_gpr(i.rt, e.get(_c0(i.rd)))


def _write_c0(e, number, value):
    mask = COP0[number].write_mask
    if mask == MASK64:
        e.put(_c0(number), value)
    elif mask:
        kept = e.and_(e.get(_c0(number)), e.const(~mask))
        e.put(_c0(number), e.or_(kept, e.and_(value, e.const(mask))))
    if number == C0_COMPARE:
        e.put(_c0(C0_CAUSE), e.and_(e.get(_c0(C0_CAUSE)), e.const(~CAUSE_IP7)))


def MTC0(e, i): _write_c0(e, i.rd, e.sext64(e.gpr32(i.rt)))
def DMTC0(e, i): _write_c0(e, i.rd, e.gpr(i.rt))


def ERET(e, i):
    b = e.b
    status = e.get(_c0(C0_STATUS))
    error_level = b.icmp(e.and_(status, e.const(STATUS_ERL)), e.const(0), cond="ne")
    target = b.select(error_level, e.get(_c0(C0_ERROREPC)), e.get(_c0(C0_EPC)))
    e.put(_c0(C0_STATUS), b.select(error_level, e.and_(status, e.const(~STATUS_ERL)),
                                   e.and_(status, e.const(~STATUS_EXL))))
    e.put("llbit", e.const(0, I8))
    e.exit(target, "indirect")


TRANSLATE = {name: fn for name, fn in globals().items() if name.isupper() and callable(fn)}
