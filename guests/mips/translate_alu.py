"""Translators of the computational classes of the decoder table: ``alu`` (arithmetic, logic,
set-on-less-than, immediates), ``shift`` and ``muldiv`` (HI/LO, multiply, divide).

VR4300 facts (manual chapter 16 unless noted): 32-bit operations read the low words and
sign-extend their 32-bit results; ADD/ADDI/SUB/DADD/DADDI/DSUB trap Ov on signed overflow and
then leave rd unchanged; immediates are sign-extended except ANDI/ORI/XORI (zero-extended);
SRA/SRAV shift the whole 64-bit register and sign-extend the low word of the result
(lemmy-64/n64-systemtest, arithmetic/shifts.rs); DIV/DDIV by zero leave LO = -1 (+1 for a
negative dividend) and HI = the dividend, DIVU/DDIVU by zero LO = -1 and HI = the dividend
(DESIGN.md section 10; the IR's ``udiv``/``urem``/``srem`` by zero already give -1/x/x).
"""

from __future__ import annotations

from dynarec.ir.types import I1, I32, I64

from .arch import Exc


# --- alu ------------------------------------------------------------------------------------------

def _add_checked(e, a, b, subtract=False):
    """``a + b`` (or ``a - b``), trapping Ov on signed overflow; the result has their width."""
    op = e.b.subb if subtract else e.b.addc
    result, _carry, overflow = op(a, b, e.const(0, I1))
    e.trap_if(overflow, Exc.Ov)
    return result


def ADD(e, i): e.set_gpr32(i.rd, _add_checked(e, e.gpr32(i.rs), e.gpr32(i.rt)))
def ADDU(e, i): e.set_gpr32(i.rd, e.b.add(e.gpr32(i.rs), e.gpr32(i.rt)))
def SUB(e, i): e.set_gpr32(i.rd, _add_checked(e, e.gpr32(i.rs), e.gpr32(i.rt), True))
def SUBU(e, i): e.set_gpr32(i.rd, e.b.sub(e.gpr32(i.rs), e.gpr32(i.rt)))
def ADDI(e, i): e.set_gpr32(i.rt, _add_checked(e, e.gpr32(i.rs), e.const(i.simm, I32)))
def ADDIU(e, i): e.set_gpr32(i.rt, e.b.add(e.gpr32(i.rs), e.const(i.simm, I32)))
def DADD(e, i): e.set_gpr(i.rd, _add_checked(e, e.gpr(i.rs), e.gpr(i.rt)))
def DADDU(e, i): e.set_gpr(i.rd, e.b.add(e.gpr(i.rs), e.gpr(i.rt)))
def DSUB(e, i): e.set_gpr(i.rd, _add_checked(e, e.gpr(i.rs), e.gpr(i.rt), True))
def DSUBU(e, i): e.set_gpr(i.rd, e.b.sub(e.gpr(i.rs), e.gpr(i.rt)))
def DADDI(e, i): e.set_gpr(i.rt, _add_checked(e, e.gpr(i.rs), e.const(i.simm)))
def DADDIU(e, i): e.set_gpr(i.rt, e.b.add(e.gpr(i.rs), e.const(i.simm)))
def AND(e, i): e.set_gpr(i.rd, e.and_(e.gpr(i.rs), e.gpr(i.rt)))
def OR(e, i): e.set_gpr(i.rd, e.or_(e.gpr(i.rs), e.gpr(i.rt)))
def XOR(e, i): e.set_gpr(i.rd, e.b.xor(e.gpr(i.rs), e.gpr(i.rt)))
def NOR(e, i): e.set_gpr(i.rd, e.not_(e.or_(e.gpr(i.rs), e.gpr(i.rt))))
def ANDI(e, i): e.set_gpr(i.rt, e.and_(e.gpr(i.rs), e.const(i.immediate)))
def ORI(e, i): e.set_gpr(i.rt, e.or_(e.gpr(i.rs), e.const(i.immediate)))
def XORI(e, i): e.set_gpr(i.rt, e.b.xor(e.gpr(i.rs), e.const(i.immediate)))
def LUI(e, i): e.set_gpr(i.rt, e.const(i.simm << 16))


def _set_less(e, dest, a, b, cond):
    e.set_gpr(dest, e.bool64(e.b.icmp(a, b, cond=cond)))


def SLT(e, i): _set_less(e, i.rd, e.gpr(i.rs), e.gpr(i.rt), "slt")
def SLTU(e, i): _set_less(e, i.rd, e.gpr(i.rs), e.gpr(i.rt), "ult")
def SLTI(e, i): _set_less(e, i.rt, e.gpr(i.rs), e.const(i.simm), "slt")
def SLTIU(e, i): _set_less(e, i.rt, e.gpr(i.rs), e.const(i.simm), "ult")


# --- shift ------------------------------------------------------------------------------------

def _shift32(e, i, op, count):
    e.set_gpr32(i.rd, getattr(e.b, op)(e.gpr32(i.rt), count))


def _count32(e, i):
    return e.and_(e.gpr32(i.rs), e.const(31, I32))


def _sra(e, i, count):
    e.set_gpr32(i.rd, e.low32(e.b.ashr(e.gpr(i.rt), count)))


def SLL(e, i): _shift32(e, i, "shl", e.const(i.sa, I32))
def SRL(e, i): _shift32(e, i, "lshr", e.const(i.sa, I32))
def SRA(e, i): _sra(e, i, e.const(i.sa))
def SLLV(e, i): _shift32(e, i, "shl", _count32(e, i))
def SRLV(e, i): _shift32(e, i, "lshr", _count32(e, i))
def SRAV(e, i): _sra(e, i, _count32(e, i))


def _shift64(e, i, op, count):
    e.set_gpr(i.rd, getattr(e.b, op)(e.gpr(i.rt), count))


def _count64(e, i):
    return e.and_(e.gpr(i.rs), e.const(63))


def DSLL(e, i): _shift64(e, i, "shl", e.const(i.sa))
def DSRL(e, i): _shift64(e, i, "lshr", e.const(i.sa))
def DSRA(e, i): _shift64(e, i, "ashr", e.const(i.sa))
def DSLL32(e, i): _shift64(e, i, "shl", e.const(i.sa + 32))
def DSRL32(e, i): _shift64(e, i, "lshr", e.const(i.sa + 32))
def DSRA32(e, i): _shift64(e, i, "ashr", e.const(i.sa + 32))
def DSLLV(e, i): _shift64(e, i, "shl", _count64(e, i))
def DSRLV(e, i): _shift64(e, i, "lshr", _count64(e, i))
def DSRAV(e, i): _shift64(e, i, "ashr", _count64(e, i))


# --- muldiv -----------------------------------------------------------------------------------

def _set_hilo(e, hi, lo):
    e.put("hi", hi)
    e.put("lo", lo)


def MFHI(e, i): e.set_gpr(i.rd, e.get("hi"))
def MFLO(e, i): e.set_gpr(i.rd, e.get("lo"))
def MTHI(e, i): e.put("hi", e.gpr(i.rs))
def MTLO(e, i): e.put("lo", e.gpr(i.rs))


def _mult32(e, i, extend, shift):
    """The 64-bit product of the low words; LO/HI get its sign-extended halves."""
    product = e.b.mul(extend(I64, e.gpr32(i.rs)), extend(I64, e.gpr32(i.rt)))
    high = e.low32(getattr(e.b, shift)(product, e.const(32)))
    _set_hilo(e, e.sext64(high), e.sext64(e.low32(product)))


def MULT(e, i): _mult32(e, i, e.b.sext, "ashr")
def MULTU(e, i): _mult32(e, i, e.b.zext, "lshr")


def DMULT(e, i):
    a, b = e.gpr(i.rs), e.gpr(i.rt)
    _set_hilo(e, e.b.smulhi(a, b), e.b.mul(a, b))


def DMULTU(e, i):
    a, b = e.gpr(i.rs), e.gpr(i.rt)
    _set_hilo(e, e.b.umulhi(a, b), e.b.mul(a, b))


def _signed_quotient(e, a, b, q):
    """``sdiv`` by zero gives -1; the VR4300 gives +1 for a negative dividend."""
    zero = e.const(0, a.type)
    negative_by_zero = e.and_(e.b.icmp(b, zero, cond="eq"), e.b.icmp(a, zero, cond="slt"))
    return e.b.select(negative_by_zero, e.const(1, a.type), q)


def DIV(e, i):
    a, b = e.gpr32(i.rs), e.gpr32(i.rt)
    q = _signed_quotient(e, a, b, e.b.sdiv(a, b))
    _set_hilo(e, e.sext64(e.b.srem(a, b)), e.sext64(q))


def DIVU(e, i):
    a, b = e.gpr32(i.rs), e.gpr32(i.rt)
    _set_hilo(e, e.sext64(e.b.urem(a, b)), e.sext64(e.b.udiv(a, b)))


def DDIV(e, i):
    a, b = e.gpr(i.rs), e.gpr(i.rt)
    _set_hilo(e, e.b.srem(a, b), _signed_quotient(e, a, b, e.b.sdiv(a, b)))


def DDIVU(e, i):
    a, b = e.gpr(i.rs), e.gpr(i.rt)
    _set_hilo(e, e.b.urem(a, b), e.b.udiv(a, b))


TRANSLATE = {name: fn for name, fn in globals().items() if name.isupper() and callable(fn)}
