"""The x86-64 register file as the backend uses it, and the conventions of generated code.

Register roles (System V AMD64 ABI, "AMD64 Architecture Processor Supplement" v1.0 section
3.2: ``rbx rbp rsp r12-r15`` are callee-saved, everything else including all of ``xmm0-15``
is caller-saved):

=====================  ==================================================================
``rbx``                context base (``dynarec.context``), fixed for the whole run
``r15``                page-table base (``dynarec.host`` memory ABI), fixed
``rsp``                stack; 16-byte aligned inside every region body
``rax rcx rdx r11``    scratch of the lowering rules (implicit operands of ``mul``/``div``/
                       shifts, address arithmetic, parallel-move temporaries); never allocated
``xmm13-15``           float scratch of the lowering rules
``rsi rdi r8 r9 r10``  allocatable, caller-saved
``rbp r12 r13 r14``    allocatable, callee-saved (what values live across a call get)
``xmm0-12``            allocatable floats (all caller-saved: floats live across a call spill)
=====================  ==================================================================

Frames. A block region with a frame resets ``rsp`` to the dispatcher's ``saved_sp`` and
subtracts its frame on entry (so a region reached by a direct jump from another region needs
no epilogue there); a region without one leaves ``rsp`` alone (it is ``saved_sp`` minus some
region's frame: valid and 16-byte aligned). Exits jump to the exit stub, which restores
everything. A function region (``kind="function"``) is entered by ``call`` and pushes the
callee-saved registers it allocates, then subtracts its frame. Frame layout, from ``rsp`` up:
outgoing stack arguments, call temporaries (a Python call's result object and converted
results), spill slots (8 bytes each, whatever the type).
The memory slow path calls a stub shared by every region of the code cache (``stubs.py``) that
saves, on its own stack space, every allocatable caller-saved register, so loads and stores
clobber scratch registers only.

Exits (with ``CompileEnv.link``; protocol in ``dynarec.host``, layouts in
``dynarec.context``). A block region is entered by ``jmp`` -- from ``enter``, a patched exit
site, a jump-cache hit or a return-stack-buffer hit -- and needs nothing from whoever jumped
there but ``rbx``, ``r15`` and a ``rsp`` as above. An exit to a constant pc is a 5-byte
``jmp rel32`` site (``emit.Asm.jump_site``) that initially jumps to far code loading ``rax``
= the site, ``rdx`` = its route, ``rcx`` = the pc and jumping to the shared LINK tail
(``stubs.py``); the route loads ``rcx`` = the pc and jumps to the shared jump-cache lookup.
A computed exit loads the target into ``rcx`` and looks it up inline
(``codegen.jump_cache_lookup``), after popping the return-stack buffer for ``kind=return``;
misses go to the shared MISS tail with the pc still in ``rcx``. A call's return site (what
the RSB entry points to) is an exit site in the caller's far code. Exits use only ``rax rcx
rdx r11``. Function regions leave through the exit stub, as their caller's frames are on the
stack.

MXCSR: a region with rounding-sensitive float ops loads its mode (rounding control from the
region's ``rounding``, all exceptions masked, no FTZ/DAZ) at entry and after every call; before
calling C or Python, generated code reloads the MXCSR ``enter`` saved; the exit stub restores
it too.

Internal convention of ``call_fn`` (the one function regions follow): the System V convention
for a non-variadic C function -- integer arguments in ``rdi rsi rdx rcx r8 r9``, floats in
``xmm0-7`` (``f32`` in the low 32 bits), further arguments in 8-byte stack slots in order;
integer results in ``rax`` then ``rdx``, float results in ``xmm0`` then ``xmm1`` (at most two
of each). Integers narrower than 64 bits are passed and returned zero-extended. Native helpers
are called the same way (so a native helper with two results returns a 16-byte struct).

Value representation: an integer value of ``iN`` is held zero-extended in a full 64-bit
register (``i1`` as 0 or 1); ``f32`` in the low 32 bits of an xmm register, ``f64`` in the low
64 bits. Two kinds of value have no location of their own (``fold.py`` decides which): a
constant whose every user takes it as an immediate (``Imm``), and a *view* -- a ``trunc`` whose
every user reads only the low bits of its operand -- which lives in the location of the value
it truncates, so only its low ``type.bits`` bits are meaningful there.
"""

from __future__ import annotations

from dataclasses import dataclass

from dynarec.hosts.common import regs as common
from dynarec.hosts.common.regalloc import RegisterFile
from dynarec.ir.types import to_signed

CTX = "rbx"
PAGE_TABLE = "r15"

SCRATCH = ("rax", "rcx", "rdx", "r11")
XSCRATCH = ("xmm13", "xmm14", "xmm15")

ALLOC_CALLER_SAVED = ("rsi", "rdi", "r8", "r9", "r10")
ALLOC_CALLEE_SAVED = ("rbp", "r12", "r13", "r14")
ALLOC_XMM = tuple(f"xmm{i}" for i in range(13))

INT_ARG_REGS = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")
FLOAT_ARG_REGS = tuple(f"xmm{i}" for i in range(8))
INT_RESULT_REGS = ("rax", "rdx")
FLOAT_RESULT_REGS = ("xmm0", "xmm1")

# name of each general register at 64 / 32 / 16 / 8 bits (Intel SDM vol. 1 section 3.4.1.1)
_LEGACY = {"rax": "a", "rbx": "b", "rcx": "c", "rdx": "d"}
_INDEX = {"rsi": "si", "rdi": "di", "rbp": "bp", "rsp": "sp"}


def _sub_names(r: str) -> dict:
    if r in _LEGACY:
        x = _LEGACY[r]
        return {64: r, 32: f"e{x}x", 16: f"{x}x", 8: f"{x}l"}
    if r in _INDEX:
        x = _INDEX[r]
        return {64: r, 32: f"e{x}", 16: x, 8: f"{x}l"}
    return {64: r, 32: f"{r}d", 16: f"{r}w", 8: f"{r}b"}


GPRS = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")
_NAMES = {r: {**_sub_names(r), 1: _sub_names(r)[8]} for r in GPRS}


def sub(reg: str, bits: int) -> str:
    """The name of general register ``reg`` (64-bit name) at ``bits`` = 8/16/32/64
    (``bits == 1`` reads as 8)."""
    return _NAMES[reg][bits]


class Reg(common.Reg):
    """A value held in register ``name`` (64-bit GPR name, or ``xmmN``: ``is_float``)."""

    __slots__ = ()
    FLOAT_PREFIX = "xmm"


@dataclass(frozen=True)
class Mem:
    """A value held in memory at ``[base + offset]`` (8 bytes; spill slots are ``rsp``-based)."""

    offset: int
    base: str = "rsp"

    def ref(self, bits: int = 64) -> str:
        """Intel-syntax memory operand of ``bits`` width."""
        return ptr(bits, f"{self.base} + {self.offset}")

    def __str__(self) -> str:
        return self.ref()


@dataclass(frozen=True)
class Imm(common.Imm):
    """A constant operand folded into its users: ``value`` is its bit pattern (unsigned)."""

    def text(self, bits: int) -> str:
        """The immediate as an operand of a ``bits``-wide instruction: signed at 64 bits
        (x86 sign-extends imm32 there; ``fold.fits`` checks it fits), unsigned below."""
        if bits == 64:
            return str(to_signed(self.value, 64))
        return str(self.value & ((1 << max(8, bits)) - 1))


def fits_imm32(value: int, bits: int) -> bool:
    """True if the ``bits``-wide pattern ``value`` can be the immediate of a ``bits``-wide ALU
    instruction: any value below 64 bits; at 64 bits, one that imm32 sign-extends to (Intel
    SDM vol. 2 section 2.2.1.5: 64-bit operand size keeps 32-bit immediates)."""
    return bits < 64 or -(1 << 31) <= to_signed(value, 64) < 1 << 31


Loc = Reg | Mem | Imm

#: The allocatable registers and location types (``common.regalloc``).
REGISTER_FILE = RegisterFile(ALLOC_CALLER_SAVED, ALLOC_CALLEE_SAVED, ALLOC_XMM, Reg, Mem, Imm,
                             fits_imm32)

_PTR = {8: "byte", 16: "word", 32: "dword", 64: "qword"}


def ptr(bits: int, address: str) -> str:
    """Intel-syntax memory operand ``<size> ptr [address]`` for a ``bits``-wide access
    (``bits == 1`` reads as a byte)."""
    return f"{_PTR[max(8, bits)]} ptr [{address}]"


def sysv_classify(types, int_regs=INT_ARG_REGS, float_regs=FLOAT_ARG_REGS,
                  stack_base: str = "rsp", stack_offset: int = 0) -> tuple:
    """Assign System V argument locations to ``types`` (a sequence of ``Type``): returns
    ``(locs, stack_bytes)`` where ``locs[i]`` is a ``Reg`` or an 8-byte ``Mem`` at
    ``[stack_base + stack_offset + 8*k]`` (AMD64 psABI section 3.2.3: INTEGER class in the next
    free integer register, SSE class in the next free xmm register, otherwise memory in order)."""
    return common.assign_args(types, int_regs, float_regs, Reg,
                              lambda offset: Mem(offset, stack_base), stack_offset)
