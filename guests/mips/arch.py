"""The VR4300 as software sees it: guest state layout, exception codes, COP0 registers and the
address map. Every other module of the MIPS guest takes these facts from here.

Sources: NEC *VR4300, VR4305, VR4310 64-Bit Microprocessor User's Manual* (U10504EJ7V0UM00),
chapter 5 (memory management: segments), chapter 6 (exception processing: ExcCode, COP0
registers, reset values); the write masks of the COP0 registers follow the register figures
of chapter 6 as the ares N64 emulator implements them (``ares/n64/cpu/interpreter-scc.cpp``,
``setControlRegister``), which lemmy-64/n64-systemtest checks against hardware.

State layout (``STATE``; every slot holds the raw bit pattern, integers only):

=========  ==========  =======================================================================
slot       type        meaning
=========  ==========  =======================================================================
``pc``     i64         program counter, a sign-extended 32-bit address (0xFFFFFFFF80000400)
``gpr``    i64[32]     general purpose registers; ``gpr[0]`` always reads 0 (writes dropped)
``hi``     i64         multiply/divide result registers
``lo``     i64
``cop0``   i64[32]     System Control Coprocessor registers by number (``COP0`` table)
``llbit``  i8          the LL bit: 1 after LL/LLD, cleared only by ERET
=========  ==========  =======================================================================

The processor is modelled in kernel mode with 32-bit addressing (Status.KX = 0): virtual
addresses are 64-bit values that must be sign-extended 32-bit ones. KSEG0 and KSEG1 map to
physical ``vaddr & 0x1FFFFFFF`` without the TLB; KUSEG, KSSEG/KSEG3 and every other address
go through the embedder's TLB hook (``MipsGuest(tlb=...)``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Optional

from dynarec.ir.nodes import Slot, StateLayout
from dynarec.ir.types import I8, I64

MASK32 = 0xFFFF_FFFF
MASK64 = 0xFFFF_FFFF_FFFF_FFFF

STATE = StateLayout([
    Slot("pc", I64),
    Slot("gpr", I64, 32),
    Slot("hi", I64),
    Slot("lo", I64),
    Slot("cop0", I64, 32),
    Slot("llbit", I8),
])

#: o32 ABI names of the general purpose registers, for reports (``$4`` is ``a0``).
GPR_NAMES = ("zero", "at", "v0", "v1", "a0", "a1", "a2", "a3",
             "t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7",
             "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7",
             "t8", "t9", "k0", "k1", "gp", "sp", "fp", "ra")

RA = 31                      # the link register of JAL, BxxAL and (by default) JALR


class Exc(enum.IntEnum):
    """Exception codes (Cause.ExcCode), VR4300 User's Manual table 6-3. The guest's ``trap``
    ops carry these as their ``cause``."""

    Int = 0       # interrupt
    Mod = 1       # TLB modification
    TLBL = 2      # TLB miss/invalid, load or fetch
    TLBS = 3      # TLB miss/invalid, store
    AdEL = 4      # address error, load or instruction fetch
    AdES = 5      # address error, store
    IBE = 6       # bus error, instruction fetch
    DBE = 7       # bus error, data
    Sys = 8       # SYSCALL
    Bp = 9        # BREAK
    RI = 10       # reserved instruction
    CpU = 11      # coprocessor unusable
    Ov = 12       # integer overflow
    Tr = 13       # trap instruction
    FPE = 15      # floating-point exception
    WATCH = 23    # watch


# --- COP0 -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cop0Reg:
    """One System Control Coprocessor register: its ``number``, manual ``name`` and the
    ``write_mask`` of bits MTC0/DMTC0 change (0: read-only)."""

    number: int
    name: str
    write_mask: int


COP0 = (
    Cop0Reg(0, "Index", 0x8000_003F),
    Cop0Reg(1, "Random", 0),
    Cop0Reg(2, "EntryLo0", 0x3FFF_FFFF),
    Cop0Reg(3, "EntryLo1", 0x3FFF_FFFF),
    Cop0Reg(4, "Context", 0xFFFF_FFFF_FF80_0000),
    Cop0Reg(5, "PageMask", 0x01FF_E000),
    Cop0Reg(6, "Wired", 0x3F),
    Cop0Reg(7, "Reserved7", 0),
    Cop0Reg(8, "BadVAddr", 0),
    Cop0Reg(9, "Count", MASK32),
    Cop0Reg(10, "EntryHi", 0xC000_00FF_FFFF_E0FF),
    Cop0Reg(11, "Compare", MASK32),
    Cop0Reg(12, "Status", 0xFF57_FFFF),
    Cop0Reg(13, "Cause", 0x0000_0300),
    Cop0Reg(14, "EPC", MASK64),
    Cop0Reg(15, "PRId", 0),
    Cop0Reg(16, "Config", 0x0F00_800F),
    Cop0Reg(17, "LLAddr", MASK32),
    Cop0Reg(18, "WatchLo", 0xFFFF_FFFB),
    Cop0Reg(19, "WatchHi", 0xF),
    Cop0Reg(20, "XContext", 0xFFFF_FFFE_0000_0000),
    Cop0Reg(21, "Reserved21", 0),
    Cop0Reg(22, "Reserved22", 0),
    Cop0Reg(23, "Reserved23", 0),
    Cop0Reg(24, "Reserved24", 0),
    Cop0Reg(25, "Reserved25", 0),
    Cop0Reg(26, "PErr", 0xFF),
    Cop0Reg(27, "CacheErr", 0),
    Cop0Reg(28, "TagLo", 0x0FFF_FFC0),
    Cop0Reg(29, "TagHi", 0),
    Cop0Reg(30, "ErrorEPC", MASK64),
    Cop0Reg(31, "Reserved31", 0),
)
assert [r.number for r in COP0] == list(range(32))

C0_BADVADDR = 8
C0_COUNT = 9
C0_COMPARE = 11
C0_STATUS = 12
C0_CAUSE = 13
C0_EPC = 14
C0_LLADDR = 17
C0_ERROREPC = 30

STATUS_EXL = 1 << 1          # exception level: ERET returns to EPC and clears it
STATUS_ERL = 1 << 2          # error level: ERET returns to ErrorEPC and clears it
STATUS_BEV = 1 << 22         # bootstrap exception vectors
CAUSE_IP7 = 1 << 15          # timer interrupt pending; a write to Compare clears it

#: Cold-reset values (manual chapter 9, "Initialization Interface": execution starts at the
#: reset vector with Status.ERL = Status.BEV = 1; Random starts at its upper bound, 31).
RESET_PC = 0xFFFF_FFFF_BFC0_0000
RESET_COP0 = {1: 31, C0_STATUS: STATUS_BEV | STATUS_ERL}


def cop0_write(number: int, old: int, value: int) -> int:
    """The new contents of COP0 register ``number`` after DMTC0 of ``value`` (MTC0 passes the
    sign-extended low word): bits outside the register's ``write_mask`` keep ``old``."""
    mask = COP0[number].write_mask
    return (old & ~mask | value & mask) & MASK64


# --- addresses --------------------------------------------------------------------------------

KSEG0 = 0xFFFF_FFFF_8000_0000
KSEG1 = 0xFFFF_FFFF_A000_0000
KSEG2 = 0xFFFF_FFFF_C000_0000
PHYS_MASK = 0x1FFF_FFFF

LOAD, STORE, FETCH = 0, 1, 2          # the ``access`` argument of the TLB hook


def unmapped_physical(vaddr: int) -> Optional[int]:
    """Physical address of a KSEG0/KSEG1 virtual address (``vaddr & 0x1FFFFFFF``), or
    ``None`` for every other address (those go through the TLB hook)."""
    if KSEG0 <= vaddr < KSEG2:
        return vaddr & PHYS_MASK
    return None


def physical_address(vaddr: int, access: int, tlb) -> Optional[int]:
    """Physical address of ``vaddr``: KSEG0/KSEG1 directly, any other address through
    ``tlb(vaddr, access)`` (the embedder's hook); ``None`` when nothing maps it."""
    paddr = unmapped_physical(vaddr)
    return tlb(vaddr, access) if paddr is None else paddr


def sext(value: int, bits: int) -> int:
    """``value``'s low ``bits`` sign-extended to a 64-bit pattern (``0 .. 2**64-1``)."""
    value &= (1 << bits) - 1
    if value >> (bits - 1):
        value -= 1 << bits
    return value & MASK64


def signed64(value: int) -> int:
    """A 64-bit pattern read as two's complement."""
    value &= MASK64
    return value - (1 << 64) if value >> 63 else value


def is_sext32(value: int) -> bool:
    """True if the 64-bit pattern ``value`` is a sign-extended 32-bit value."""
    return sext(value, 32) == value & MASK64


def aligned_chunks(lo: int, hi: int) -> list:
    """The byte range ``[lo, hi)`` of an aligned unit as naturally aligned ``(offset, size)``
    pieces, largest first: the accesses a partial store (SWL/SWR/SDL/SDR) makes, as the ares
    N64 emulator issues them (``ares/n64/cpu/interpreter-ipu.cpp``)."""
    out = []
    while lo < hi:
        size = next(s for s in (8, 4, 2, 1) if lo % s == 0 and lo + s <= hi)
        out.append((lo, size))
        lo += size
    return out
