"""The reference interpreter: the VR4300 instruction set written from the manual, one plain
Python function per instruction, grouped by class as in the decoder table.

It is an oracle of its own (the JIT is tested against it) and the fallback for single steps.
It shares only the decoder and ``arch`` with the translator, never semantics.

``step(machine_or_state, memory=None, tlb=None) -> StepResult`` executes ONE instruction at
the state's ``pc`` -- or, for a branch or jump, the branch AND its delay slot together (a
branch-likely that is not taken nullifies its slot, which still counts as retired: it takes
its pipeline slot, and Unicorn counts it too). The state is either a ``Machine`` (its
``regs``, ``memory`` and guest's TLB hook are used) or any mutable mapping from state
references (``"pc"``, ``"gpr[3]"``, ``"cop0[12]"``, ``"llbit"`` ...; see ``arch.STATE``) to
raw integers, e.g. ``new_state()`` or ``Machine.regs``; ``memory`` is then the
``AddressSpace`` (indexed by physical address).

Exceptions are not delivered (no jump to a vector, EPC/Cause untouched; the embedder does
that, as with the JIT's ``trap`` exits): the step stops with ``StepResult.exception`` set, the
state as it was at the start of the faulting instruction (for an address error, BadVAddr is
written) and ``pc`` at the faulting instruction -- or at the branch, with ``delay=1``, when the
faulting instruction is a delay slot (the branch's own effects, e.g. the link register, have
happened, as on hardware). A ``GuestFault`` from the address space (nothing mapped at a
physical address) stops the step the same way with cause ``dynarec.FAULT``.

Hardware facts beyond the generic MIPS III description (sources in each function):
32-bit operations sign-extend their results; SRA/SRAV shift the 64-bit register and
sign-extend the low word of the result; division by zero leaves LO = -1 (or +1 for a negative
signed dividend) and HI = the dividend; SC/SCD succeed whenever the LL bit is set, and only
ERET clears it. Reserved choices for what the manual leaves undefined: a branch, jump or ERET
in a delay slot raises RI; CACHE and SYNC do nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, MutableMapping, Optional

from dynarec.errors import GuestFault
from dynarec.runtime import FAULT

from .arch import (C0_BADVADDR, C0_CAUSE, C0_COMPARE, C0_EPC, C0_ERROREPC, C0_LLADDR,
                   C0_STATUS, CAUSE_IP7, FETCH, LOAD, MASK32, MASK64, RA, STATE, STATUS_ERL,
                   STATUS_EXL, STORE, Exc, aligned_chunks, cop0_write, physical_address, sext,
                   signed64)
from .decoder import Insn, decode

TlbHook = Callable[[int, int], Optional[int]]


@dataclass
class MipsException:
    """Why a step stopped: ``cause`` (an ``arch.Exc`` code, or ``dynarec.FAULT`` for a memory
    fault, with ``fault`` the ``GuestFault``), ``pc`` and ``delay`` (see the module doc) and,
    for address errors, ``badvaddr``."""

    cause: int
    pc: int
    delay: int = 0
    badvaddr: Optional[int] = None
    fault: Optional[GuestFault] = None


@dataclass
class StepResult:
    """``retired``: guest instructions completed (a branch and its slot: 2). ``exception``:
    set when the step stopped on one. ``stores``: ``(physical address, size in bytes, value)``
    of every store made, in order."""

    retired: int
    exception: Optional[MipsException] = None
    stores: list = field(default_factory=list)


def new_state() -> dict:
    """A state mapping with every reference of ``arch.STATE`` set to 0."""
    return {ref: 0 for ref in STATE.refs()}


def no_tlb(vaddr: int, access: int) -> Optional[int]:
    """The default TLB hook: no mapping anywhere (every TLB-mapped address is an address
    error)."""
    return None


class _GuestException(Exception):
    def __init__(self, cause: int, badvaddr: Optional[int] = None):
        super().__init__(cause)
        self.cause = cause
        self.badvaddr = badvaddr


@dataclass
class _Branch:
    """What a branch or jump decided: go to ``target`` if ``taken``; ``kill_slot`` for a
    not-taken branch-likely."""

    taken: bool
    target: int
    kill_slot: bool = False


class _Cpu:
    """The machine one step sees: register access by number, memory through translation."""

    def __init__(self, regs: MutableMapping, memory, tlb: TlbHook):
        self.regs = regs
        self.memory = memory
        self.tlb = tlb
        self.pc = regs["pc"]
        self.stores: list = []

    # registers
    def r(self, n: int) -> int:
        return self.regs[f"gpr[{n}]"] & MASK64 if n else 0

    def w(self, n: int, value: int) -> None:
        if n:
            self.regs[f"gpr[{n}]"] = value & MASK64

    def r32(self, n: int) -> int:
        """Low word of a register, as a signed Python int."""
        return signed64(sext(self.r(n), 32))

    def c0(self, n: int) -> int:
        return self.regs[f"cop0[{n}]"] & MASK64

    def set_c0(self, n: int, value: int) -> None:
        self.regs[f"cop0[{n}]"] = value & MASK64

    # memory
    def translate(self, vaddr: int, size: int, access: int) -> int:
        if vaddr & (size - 1):
            self.set_c0(C0_BADVADDR, vaddr)
            raise _GuestException(Exc.AdES if access == STORE else Exc.AdEL, vaddr)
        paddr = physical_address(vaddr, access, self.tlb)
        if paddr is None:
            self.set_c0(C0_BADVADDR, vaddr)
            raise _GuestException(Exc.AdES if access == STORE else Exc.AdEL, vaddr)
        return paddr

    def load(self, vaddr: int, size: int) -> int:
        return self.memory.read(self.translate(vaddr, size, LOAD), size)

    def load_unit(self, vaddr: int, size: int) -> int:
        """The aligned ``size``-byte unit holding the unaligned ``vaddr`` (LWL/LWR/LDL/LDR)."""
        return self.memory.read(self.translate(vaddr, 1, LOAD) & ~(size - 1), size)

    def store(self, paddr: int, size: int, value: int) -> None:
        value &= (1 << (8 * size)) - 1
        self.memory.write(paddr, size, value)
        self.stores.append((paddr, size, value))

    def fetch(self, pc: int) -> int:
        return self.memory.read(self.translate(pc, 4, FETCH), 4)


def _address(cpu: _Cpu, i: Insn) -> int:
    return (cpu.r(i.base) + i.simm) & MASK64


# --- alu: arithmetic, logic, immediates (manual chapter 16; overflow checks on the 32-bit
# --- or 64-bit signed result; 32-bit results are sign-extended) ------------------------------

def _add32(cpu, a, b, dest, trap):
    total = a + b
    if trap and not -(1 << 31) <= total < (1 << 31):
        raise _GuestException(Exc.Ov)
    cpu.w(dest, sext(total, 32))


def _add64(cpu, a, b, dest, trap):
    total = signed64(a) + signed64(b)
    if trap and not -(1 << 63) <= total < (1 << 63):
        raise _GuestException(Exc.Ov)
    cpu.w(dest, total)


def ADD(cpu, i): _add32(cpu, cpu.r32(i.rs), cpu.r32(i.rt), i.rd, True)
def ADDU(cpu, i): _add32(cpu, cpu.r32(i.rs), cpu.r32(i.rt), i.rd, False)
def SUB(cpu, i): _add32(cpu, cpu.r32(i.rs), -cpu.r32(i.rt), i.rd, True)
def SUBU(cpu, i): _add32(cpu, cpu.r32(i.rs), -cpu.r32(i.rt), i.rd, False)
def ADDI(cpu, i): _add32(cpu, cpu.r32(i.rs), i.simm, i.rt, True)
def ADDIU(cpu, i): _add32(cpu, cpu.r32(i.rs), i.simm, i.rt, False)
def DADD(cpu, i): _add64(cpu, cpu.r(i.rs), cpu.r(i.rt), i.rd, True)
def DADDU(cpu, i): _add64(cpu, cpu.r(i.rs), cpu.r(i.rt), i.rd, False)
def DADDI(cpu, i): _add64(cpu, cpu.r(i.rs), i.simm, i.rt, True)
def DADDIU(cpu, i): _add64(cpu, cpu.r(i.rs), i.simm, i.rt, False)


def DSUB(cpu, i):
    total = signed64(cpu.r(i.rs)) - signed64(cpu.r(i.rt))
    if not -(1 << 63) <= total < (1 << 63):
        raise _GuestException(Exc.Ov)
    cpu.w(i.rd, total)


def DSUBU(cpu, i): cpu.w(i.rd, cpu.r(i.rs) - cpu.r(i.rt))
def AND(cpu, i): cpu.w(i.rd, cpu.r(i.rs) & cpu.r(i.rt))
def OR(cpu, i): cpu.w(i.rd, cpu.r(i.rs) | cpu.r(i.rt))
def XOR(cpu, i): cpu.w(i.rd, cpu.r(i.rs) ^ cpu.r(i.rt))
def NOR(cpu, i): cpu.w(i.rd, ~(cpu.r(i.rs) | cpu.r(i.rt)))
def SLT(cpu, i): cpu.w(i.rd, int(signed64(cpu.r(i.rs)) < signed64(cpu.r(i.rt))))
def SLTU(cpu, i): cpu.w(i.rd, int(cpu.r(i.rs) < cpu.r(i.rt)))
def SLTI(cpu, i): cpu.w(i.rt, int(signed64(cpu.r(i.rs)) < i.simm))
def SLTIU(cpu, i): cpu.w(i.rt, int(cpu.r(i.rs) < i.simm & MASK64))   # sign-extended, then unsigned
def ANDI(cpu, i): cpu.w(i.rt, cpu.r(i.rs) & i.immediate)              # zero-extended
def ORI(cpu, i): cpu.w(i.rt, cpu.r(i.rs) | i.immediate)
def XORI(cpu, i): cpu.w(i.rt, cpu.r(i.rs) ^ i.immediate)
def LUI(cpu, i): cpu.w(i.rt, sext(i.immediate << 16, 32))


# --- shift: 32-bit shifts read the low word (SRA/SRAV: the whole register, see below) ---------

def SLL(cpu, i): cpu.w(i.rd, sext(cpu.r(i.rt) << i.sa, 32))
def SRL(cpu, i): cpu.w(i.rd, sext((cpu.r(i.rt) & MASK32) >> i.sa, 32))
def SLLV(cpu, i): cpu.w(i.rd, sext(cpu.r(i.rt) << (cpu.r(i.rs) & 31), 32))
def SRLV(cpu, i): cpu.w(i.rd, sext((cpu.r(i.rt) & MASK32) >> (cpu.r(i.rs) & 31), 32))


def SRA(cpu, i):
    """VR4300: the 64-bit register is shifted arithmetically and the low word of the result
    sign-extended, so upper bits shift in when rt is not a sign-extended word (hardware
    results in lemmy-64/n64-systemtest src/tests/arithmetic/shifts.rs)."""
    cpu.w(i.rd, sext(signed64(cpu.r(i.rt)) >> i.sa, 32))


def SRAV(cpu, i): cpu.w(i.rd, sext(signed64(cpu.r(i.rt)) >> (cpu.r(i.rs) & 31), 32))
def DSLL(cpu, i): cpu.w(i.rd, cpu.r(i.rt) << i.sa)
def DSRL(cpu, i): cpu.w(i.rd, cpu.r(i.rt) >> i.sa)
def DSRA(cpu, i): cpu.w(i.rd, signed64(cpu.r(i.rt)) >> i.sa)
def DSLL32(cpu, i): cpu.w(i.rd, cpu.r(i.rt) << (i.sa + 32))
def DSRL32(cpu, i): cpu.w(i.rd, cpu.r(i.rt) >> (i.sa + 32))
def DSRA32(cpu, i): cpu.w(i.rd, signed64(cpu.r(i.rt)) >> (i.sa + 32))
def DSLLV(cpu, i): cpu.w(i.rd, cpu.r(i.rt) << (cpu.r(i.rs) & 63))
def DSRLV(cpu, i): cpu.w(i.rd, cpu.r(i.rt) >> (cpu.r(i.rs) & 63))
def DSRAV(cpu, i): cpu.w(i.rd, signed64(cpu.r(i.rt)) >> (cpu.r(i.rs) & 63))


# --- muldiv: HI/LO ------------------------------------------------------------------------------

def _set_hilo(cpu, hi, lo):
    cpu.regs["hi"] = hi & MASK64
    cpu.regs["lo"] = lo & MASK64


def _truncating_divide(a: int, b: int) -> tuple:
    """Quotient rounded toward zero and the remainder with the dividend's sign."""
    q = abs(a) // abs(b)
    q = q if (a < 0) == (b < 0) else -q
    return q, a - q * b


def MFHI(cpu, i): cpu.w(i.rd, cpu.regs["hi"])
def MFLO(cpu, i): cpu.w(i.rd, cpu.regs["lo"])
def MTHI(cpu, i): cpu.regs["hi"] = cpu.r(i.rs)
def MTLO(cpu, i): cpu.regs["lo"] = cpu.r(i.rs)


def MULT(cpu, i):
    p = cpu.r32(i.rs) * cpu.r32(i.rt)
    _set_hilo(cpu, sext(p >> 32, 32), sext(p, 32))


def MULTU(cpu, i):
    p = (cpu.r(i.rs) & MASK32) * (cpu.r(i.rt) & MASK32)
    _set_hilo(cpu, sext(p >> 32, 32), sext(p, 32))


def DMULT(cpu, i):
    p = signed64(cpu.r(i.rs)) * signed64(cpu.r(i.rt))
    _set_hilo(cpu, p >> 64, p)


def DMULTU(cpu, i):
    p = cpu.r(i.rs) * cpu.r(i.rt)
    _set_hilo(cpu, p >> 64, p)


def DIV(cpu, i):
    """By zero: LO = -1 (+1 if the dividend is negative), HI = the dividend (DESIGN.md
    section 10, measured; ares CPU::DIV). MIN / -1 gives LO = MIN, HI = 0."""
    a, b = cpu.r32(i.rs), cpu.r32(i.rt)
    if b == 0:
        _set_hilo(cpu, sext(a, 32), 1 if a < 0 else MASK64)
        return
    q, r = _truncating_divide(a, b)
    _set_hilo(cpu, sext(r, 32), sext(q, 32))


def DIVU(cpu, i):
    """By zero: LO = -1, HI = the dividend (sign-extended low word)."""
    a, b = cpu.r(i.rs) & MASK32, cpu.r(i.rt) & MASK32
    if b == 0:
        _set_hilo(cpu, sext(a, 32), MASK64)
        return
    _set_hilo(cpu, sext(a % b, 32), sext(a // b, 32))


def DDIV(cpu, i):
    a, b = signed64(cpu.r(i.rs)), signed64(cpu.r(i.rt))
    if b == 0:
        _set_hilo(cpu, a, 1 if a < 0 else MASK64)
        return
    q, r = _truncating_divide(a, b)
    _set_hilo(cpu, r, q)


def DDIVU(cpu, i):
    a, b = cpu.r(i.rs), cpu.r(i.rt)
    if b == 0:
        _set_hilo(cpu, a, MASK64)
        return
    _set_hilo(cpu, a % b, a // b)


# --- jump and branch: return the decision; ``step`` runs the delay slot ------------------------

def _target(cpu, i) -> int:
    return (cpu.pc + 4 + (i.simm << 2)) & MASK64


def _link(cpu, n=RA) -> None:
    cpu.w(n, cpu.pc + 8)


def J(cpu, i): return _Branch(True, ((cpu.pc + 4) & ~0x0FFF_FFFF | i.target << 2) & MASK64)


def JAL(cpu, i):
    _link(cpu)
    return J(cpu, i)


def JR(cpu, i): return _Branch(True, cpu.r(i.rs))


def JALR(cpu, i):
    target = cpu.r(i.rs)          # read before the link write (rd may equal rs)
    _link(cpu, i.rd)
    return _Branch(True, target)


def _branch(cpu, i, cond: bool) -> _Branch:
    return _Branch(cond, _target(cpu, i), kill_slot=i.row.likely and not cond)


def BEQ(cpu, i): return _branch(cpu, i, cpu.r(i.rs) == cpu.r(i.rt))
def BNE(cpu, i): return _branch(cpu, i, cpu.r(i.rs) != cpu.r(i.rt))
def BLEZ(cpu, i): return _branch(cpu, i, signed64(cpu.r(i.rs)) <= 0)
def BGTZ(cpu, i): return _branch(cpu, i, signed64(cpu.r(i.rs)) > 0)
def BLTZ(cpu, i): return _branch(cpu, i, signed64(cpu.r(i.rs)) < 0)
def BGEZ(cpu, i): return _branch(cpu, i, signed64(cpu.r(i.rs)) >= 0)


BEQL, BNEL, BLEZL, BGTZL, BLTZL, BGEZL = BEQ, BNE, BLEZ, BGTZ, BLTZ, BGEZ


def BLTZAL(cpu, i):
    cond = signed64(cpu.r(i.rs)) < 0       # read before the link write (rs may be $31)
    _link(cpu)
    return _branch(cpu, i, cond)


def BGEZAL(cpu, i):
    cond = signed64(cpu.r(i.rs)) >= 0
    _link(cpu)
    return _branch(cpu, i, cond)


BLTZALL, BGEZALL = BLTZAL, BGEZAL


# --- trap: conditional traps, SYSCALL, BREAK ----------------------------------------------------

def _trap_if(cond: bool) -> None:
    if cond:
        raise _GuestException(Exc.Tr)


def TGE(cpu, i): _trap_if(signed64(cpu.r(i.rs)) >= signed64(cpu.r(i.rt)))
def TGEU(cpu, i): _trap_if(cpu.r(i.rs) >= cpu.r(i.rt))
def TLT(cpu, i): _trap_if(signed64(cpu.r(i.rs)) < signed64(cpu.r(i.rt)))
def TLTU(cpu, i): _trap_if(cpu.r(i.rs) < cpu.r(i.rt))
def TEQ(cpu, i): _trap_if(cpu.r(i.rs) == cpu.r(i.rt))
def TNE(cpu, i): _trap_if(cpu.r(i.rs) != cpu.r(i.rt))
def TGEI(cpu, i): _trap_if(signed64(cpu.r(i.rs)) >= i.simm)
def TGEIU(cpu, i): _trap_if(cpu.r(i.rs) >= i.simm & MASK64)
def TLTI(cpu, i): _trap_if(signed64(cpu.r(i.rs)) < i.simm)
def TLTIU(cpu, i): _trap_if(cpu.r(i.rs) < i.simm & MASK64)
def TEQI(cpu, i): _trap_if(signed64(cpu.r(i.rs)) == i.simm)
def TNEI(cpu, i): _trap_if(signed64(cpu.r(i.rs)) != i.simm)
def SYSCALL(cpu, i): raise _GuestException(Exc.Sys)
def BREAK(cpu, i): raise _GuestException(Exc.Bp)


# --- load: big-endian; LWL/LWR/LDL/LDR merge the addressed bytes into the register ------------

def LB(cpu, i): cpu.w(i.rt, sext(cpu.load(_address(cpu, i), 1), 8))
def LBU(cpu, i): cpu.w(i.rt, cpu.load(_address(cpu, i), 1))
def LH(cpu, i): cpu.w(i.rt, sext(cpu.load(_address(cpu, i), 2), 16))
def LHU(cpu, i): cpu.w(i.rt, cpu.load(_address(cpu, i), 2))
def LW(cpu, i): cpu.w(i.rt, sext(cpu.load(_address(cpu, i), 4), 32))
def LWU(cpu, i): cpu.w(i.rt, cpu.load(_address(cpu, i), 4))
def LD(cpu, i): cpu.w(i.rt, cpu.load(_address(cpu, i), 8))


def _load_left(cpu, i, size: int) -> int:
    """LWL/LDL (big-endian): the bytes from the address to the end of its aligned unit go to
    the register's high end; the register's low bytes stay."""
    vaddr = _address(cpu, i)
    k = vaddr & (size - 1)
    mem = cpu.load_unit(vaddr, size)
    keep = (1 << (8 * k)) - 1
    return (mem << (8 * k) | cpu.r(i.rt) & keep) & ((1 << (8 * size)) - 1)


def _load_right(cpu, i, size: int) -> int:
    """LWR/LDR (big-endian): the bytes from the start of the aligned unit up to the address
    go to the register's low end; the register's high bytes stay."""
    vaddr = _address(cpu, i)
    shift = 8 * (size - 1 - (vaddr & (size - 1)))
    mem = cpu.load_unit(vaddr, size)
    all_ones = (1 << (8 * size)) - 1
    return mem >> shift | cpu.r(i.rt) & (all_ones ^ (all_ones >> shift))


def LWL(cpu, i): cpu.w(i.rt, sext(_load_left(cpu, i, 4), 32))
def LWR(cpu, i): cpu.w(i.rt, sext(_load_right(cpu, i, 4), 32))
def LDL(cpu, i): cpu.w(i.rt, _load_left(cpu, i, 8))
def LDR(cpu, i): cpu.w(i.rt, _load_right(cpu, i, 8))


def _load_linked(cpu, i, size: int) -> int:
    """LL/LLD: also set the LL bit and LLAddr = physical address >> 4 (lemmy-64/n64-systemtest
    src/tests/arithmetic/ll_sc.rs)."""
    vaddr = _address(cpu, i)
    paddr = cpu.translate(vaddr, size, LOAD)
    value = cpu.memory.read(paddr, size)
    cpu.regs["llbit"] = 1
    cpu.set_c0(C0_LLADDR, paddr >> 4)
    return value


def LL(cpu, i): cpu.w(i.rt, sext(_load_linked(cpu, i, 4), 32))
def LLD(cpu, i): cpu.w(i.rt, _load_linked(cpu, i, 8))


# --- store ----------------------------------------------------------------------------------

def _store(cpu, i, size: int) -> None:
    paddr = cpu.translate(_address(cpu, i), size, STORE)
    cpu.store(paddr, size, cpu.r(i.rt))


def SB(cpu, i): _store(cpu, i, 1)
def SH(cpu, i): _store(cpu, i, 2)
def SW(cpu, i): _store(cpu, i, 4)
def SD(cpu, i): _store(cpu, i, 8)


def _store_partial(cpu, i, size: int, left: bool) -> None:
    """SWL/SDL (``left``): the register's high bytes go from the address to the end of its
    aligned unit. SWR/SDR: its low bytes go from the start of the unit up to the address."""
    vaddr = _address(cpu, i)
    k = vaddr & (size - 1)
    base = cpu.translate(vaddr, 1, STORE) & ~(size - 1)
    value = cpu.r(i.rt) & ((1 << (8 * size)) - 1)
    if left:
        unit, lo, hi = value >> (8 * k), k, size
    else:
        unit, lo, hi = value << (8 * (size - 1 - k)), 0, k + 1
    for off, n in aligned_chunks(lo, hi):
        cpu.store(base + off, n, unit >> (8 * (size - off - n)))


def SWL(cpu, i): _store_partial(cpu, i, 4, True)
def SWR(cpu, i): _store_partial(cpu, i, 4, False)
def SDL(cpu, i): _store_partial(cpu, i, 8, True)
def SDR(cpu, i): _store_partial(cpu, i, 8, False)


def _store_conditional(cpu, i, size: int) -> None:
    """SC/SCD: store and set rt = 1 if the LL bit is set, else rt = 0 and no store. Address
    errors are checked first (MIPS R4000 manual pseudo-code). The LL bit stays set: the
    VR4300 clears it only on ERET (VR4300 manual, LL; DESIGN.md section 10)."""
    paddr = cpu.translate(_address(cpu, i), size, STORE)
    if cpu.regs["llbit"]:
        cpu.store(paddr, size, cpu.r(i.rt))
        cpu.w(i.rt, 1)
    else:
        cpu.w(i.rt, 0)


def SC(cpu, i): _store_conditional(cpu, i, 4)
def SCD(cpu, i): _store_conditional(cpu, i, 8)


# --- system: SYNC, CACHE, COP0 ---------------------------------------------------------------

def SYNC(cpu, i): pass
def CACHE(cpu, i): pass
def MFC0(cpu, i): cpu.w(i.rt, sext(cpu.c0(i.rd), 32))
def DMFC0(cpu, i): cpu.w(i.rt, cpu.c0(i.rd))


def _write_c0(cpu, number: int, value: int) -> None:
    cpu.set_c0(number, cop0_write(number, cpu.c0(number), value))
    if number == C0_COMPARE:                 # manual ch. 6, Compare: a write clears IP7
        cpu.set_c0(C0_CAUSE, cpu.c0(C0_CAUSE) & ~CAUSE_IP7)


def MTC0(cpu, i): _write_c0(cpu, i.rd, sext(cpu.r(i.rt), 32))
def DMTC0(cpu, i): _write_c0(cpu, i.rd, cpu.r(i.rt))


def ERET(cpu, i):
    """Return from exception: to ErrorEPC clearing Status.ERL if ERL is set, else to EPC
    clearing Status.EXL; clears the LL bit; no delay slot."""
    status = cpu.c0(C0_STATUS)
    if status & STATUS_ERL:
        target, status = cpu.c0(C0_ERROREPC), status & ~STATUS_ERL
    else:
        target, status = cpu.c0(C0_EPC), status & ~STATUS_EXL
    cpu.set_c0(C0_STATUS, status)
    cpu.regs["llbit"] = 0
    return _Branch(True, target)


# --- the step ---------------------------------------------------------------------------------

SEMANTICS: dict = {name: fn for name, fn in globals().items()
                   if name.isupper() and callable(fn)}


def _execute(cpu: _Cpu, pc: int, in_slot: bool):
    """Fetch and run the instruction at ``pc``; return ``(insn, _Branch or None)``."""
    insn = decode(cpu.fetch(pc))
    if insn is None or (in_slot and (insn.row.has_delay_slot or insn.mnemonic == "ERET")):
        raise _GuestException(Exc.RI)
    return insn, SEMANTICS[insn.mnemonic](cpu, insn)


def step(machine_or_state, memory=None, tlb: Optional[TlbHook] = None) -> StepResult:
    """Execute one instruction (a branch with its delay slot) at the state's ``pc``; see the
    module docstring. ``tlb(vaddr, access) -> physical address or None`` maps addresses
    outside KSEG0/KSEG1 (``access``: ``arch.LOAD``/``STORE``/``FETCH``); default: the
    machine guest's hook, or no mapping. Raises ``TypeError`` without a memory."""
    if memory is None:
        if not hasattr(machine_or_state, "memory"):
            raise TypeError("step needs an address space: pass memory= or a Machine")
        regs, memory = machine_or_state.regs, machine_or_state.memory
        tlb = tlb or machine_or_state.guest.tlb
    else:
        regs = machine_or_state
    cpu = _Cpu(regs, memory, tlb or no_tlb)
    pc = cpu.pc
    retired = delay = 0
    try:
        insn, decision = _execute(cpu, pc, False)
        retired = 1
        if decision is None:
            next_pc = pc + 4
        elif insn.row.has_delay_slot:
            delay = 1
            if not decision.kill_slot:
                _execute(cpu, (pc + 4) & MASK64, True)
            retired = 2
            next_pc = decision.target if decision.taken else pc + 8
        else:                                    # ERET
            next_pc = decision.target
    except _GuestException as exc:
        return StepResult(retired, MipsException(exc.cause, pc, delay, exc.badvaddr),
                          cpu.stores)
    except GuestFault as fault:
        return StepResult(retired, MipsException(FAULT, pc, delay, fault=fault), cpu.stores)
    regs["pc"] = next_pc & MASK64
    return StepResult(retired, None, cpu.stores)
