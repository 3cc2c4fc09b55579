"""The AArch64 register file as the backend uses it, and the conventions of generated code.

Register roles (AAPCS64, "Procedure Call Standard for the Arm 64-bit Architecture" section
6.1.1 and 6.1.2: ``x19-x28`` and the low 64 bits of ``v8-v15`` are callee-saved; ``x16``/
``x17`` are the intra-procedure-call scratch registers; ``x18`` is the platform register and
is never touched):

=====================  ==================================================================
``x19``                context base (``dynarec.context``), fixed for the whole run
``x20``                page-table base (``dynarec.host`` memory ABI), fixed
``sp``                 stack; 16-byte aligned inside every region body
``x16``                address formation (state slots, spill slots beyond an encoding)
``x17 x10 x11``        operand scratch of the lowering rules (constants, spilled values)
``x9``                 result scratch (a result without a register of its own)
``x0-x8 x12-x15``      allocatable, caller-saved
``x21-x28``            allocatable, callee-saved (what values live across a call get)
``v29 v30 v31``        float scratch
``v0-v7 v16-v28``      allocatable floats (floats live across a call spill)
``v8-v10``             scratch of the rare underflow fix-up (``CodeGen.with_flags``); not
                       allocated, and the dispatcher saves ``d8-d15`` for its caller
``x29 x30``            frame pointer and link register: not allocated
=====================  ==================================================================

Value representation (the same as on x86-64): an ``iN`` value is held zero-extended in a
whole 64-bit register (``i1`` as 0 or 1); ``f32`` in ``sN``, ``f64`` in ``dN`` (the low bits
of ``vN``). Spill slots are 8 bytes at ``[sp + offset]``.

Frames. A block region with a frame sets ``sp`` to the dispatcher's ``saved_sp`` minus its
frame on entry; a region without one leaves ``sp`` alone. Exits branch to the dispatcher's
exit stub, which restores everything. A function region (``kind="function"``) is entered by
``bl``, saves ``x29``/``x30`` and the callee-saved registers it allocates, and returns with
``ret``. Frame layout, from ``sp`` up: outgoing stack arguments, call temporaries, spill
slots.

Calls out of generated code (helpers, the memory slow path) go to *trampolines* the
executor hands out (``executor.py``): a trampoline takes its arguments as AAPCS64 does
(integers in ``x0-x7``, floats in ``d0-d7``/``s0-s7``) and returns in ``x0``/``x1`` and
``d0``/``d1``; it preserves every other register.
"""

from __future__ import annotations

from dataclasses import dataclass

from dynarec.hosts.common import regs as common
from dynarec.hosts.common.regalloc import RegisterFile
from dynarec.hosts.common.regs import Imm, assign_args

CTX = "x19"
PAGE_TABLE = "x20"
ADDR = "x16"
OPERAND = ("x17", "x10", "x11")
RESULT = "x9"
FSCRATCH = ("v29", "v30", "v31")

ALLOC_CALLER_SAVED = tuple(f"x{i}" for i in (*range(9), 12, 13, 14, 15))
ALLOC_CALLEE_SAVED = tuple(f"x{i}" for i in range(21, 29))
ALLOC_FLOAT = tuple(f"v{i}" for i in (*range(8), *range(16, 29)))

INT_ARG_REGS = tuple(f"x{i}" for i in range(8))
FLOAT_ARG_REGS = tuple(f"v{i}" for i in range(8))
INT_RESULT_REGS = ("x0", "x1")
FLOAT_RESULT_REGS = ("v0", "v1")


class Reg(common.Reg):
    """A value held in register ``name`` (``xN`` general, ``vN`` FP/SIMD: ``is_float``)."""

    __slots__ = ()
    FLOAT_PREFIX = "v"


@dataclass(frozen=True)
class Mem:
    """A value held in the 8-byte stack slot at ``[sp + offset]``."""

    offset: int

    def __str__(self) -> str:
        return f"[sp, #{self.offset}]"


def view(reg: str, bits: int) -> str:
    """The name of register ``reg`` (``xN``/``vN``) at a width: general registers as ``wN``
    for ``bits <= 32``, else ``xN``; FP registers as ``sN`` (32) or ``dN`` (64)."""
    n = reg[1:]
    if reg[0] == "v":
        return f"s{n}" if bits == 32 else f"d{n}"
    return f"w{n}" if bits <= 32 else f"x{n}"


def add_imm(value: int) -> bool:
    """True if ``value`` (non-negative) is an ADD/SUB immediate: 12 bits, optionally shifted
    left by 12 (Arm ARM C6.2.4, "ADD (immediate)")."""
    return 0 <= value < 1 << 12 or (value & 0xFFF == 0 and value < 1 << 24)


def logical_imm(value: int, bits: int) -> bool:
    """True if the ``bits``-wide (32 or 64) pattern ``value`` is an AND/ORR/EOR/TST
    immediate: a rotated run of ones in an element of 2, 4, ..., 64 bits repeated across the
    register, neither all zeros nor all ones (Arm ARM C6.2.14, "AND (immediate)", and the
    DecodeBitMasks pseudocode)."""
    mask = (1 << bits) - 1
    value &= mask
    if value in (0, mask):
        return False
    size = bits
    while size > 2:
        half = size // 2
        low = value & ((1 << half) - 1)
        if low != value >> half & ((1 << half) - 1):
            break
        size = half
    elem_mask = (1 << size) - 1
    elem = value & elem_mask
    for r in range(size):
        rotated = ((elem >> r) | (elem << (size - r))) & elem_mask
        if rotated & (rotated + 1) == 0:
            return True
    return False


def aapcs_classify(types, stack_offset: int = 0) -> tuple:
    """Assign AAPCS64 argument locations to ``types`` (a sequence of ``Type``): returns
    ``(locs, stack_bytes)``, ``locs[i]`` a ``Reg`` or an 8-byte ``Mem`` at ``[sp +
    stack_offset + 8*k]`` (AAPCS64 section 6.8.2: integers in the next free of ``x0-x7``,
    floats in the next free of ``v0-v7``, otherwise the stack in order; 8-byte slots as for
    64-bit values)."""
    return assign_args(types, INT_ARG_REGS, FLOAT_ARG_REGS, Reg, Mem, stack_offset)

#: The allocatable registers and location types (``common.regalloc``). Every AArch64 rule
#: takes any constant (``Rule.wide``): rules encode what fits and materialise the rest.
REGISTER_FILE = RegisterFile(ALLOC_CALLER_SAVED, ALLOC_CALLEE_SAVED, ALLOC_FLOAT, Reg, Mem,
                             Imm, lambda value, bits: True)
