"""Location types and argument assignment shared by the hosts' ``regs.py``.

A host subclasses ``Reg`` (naming its float registers with ``FLOAT_PREFIX``) and ``Imm`` if
it needs more than the bit pattern, and assigns call arguments with ``assign_args`` under the
register lists of its calling convention.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

M64 = (1 << 64) - 1


class Reg:
    """A value held in register ``name``; ``is_float`` for the host's float/vector registers
    (names starting with the subclass's ``FLOAT_PREFIX``). There is one object per name and
    subclass, so ``==`` is identity."""

    __slots__ = ("name", "is_float")
    FLOAT_PREFIX = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._interned = {}

    def __new__(cls, name: str) -> "Reg":
        reg = cls._interned.get(name)
        if reg is None:
            reg = cls._interned[name] = object.__new__(cls)
            reg.name = name
            reg.is_float = name.startswith(cls.FLOAT_PREFIX)
        return reg

    def __repr__(self) -> str:
        return f"Reg({self.name!r})"

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Imm:
    """A constant operand folded into its users: ``value`` is its bit pattern (unsigned)."""

    value: int


def op_bits(t) -> int:
    """The width an integer op on ``Type`` ``t`` computes at on a 64-bit host: 64 for
    ``i64``, else 32 (narrower results are re-zero-extended afterwards)."""
    return 64 if t.bits == 64 else 32


def assign_args(types, int_regs: tuple, float_regs: tuple, reg: Callable[[str], Reg],
                slot: Callable[[int], object], stack_offset: int = 0) -> tuple:
    """Assign argument locations to ``types`` (a sequence of ``Type``) the way both System V
    AMD64 (psABI section 3.2.3) and AAPCS64 (section 6.8.2) do for scalars: an integer in the
    next free of ``int_regs``, a float in the next free of ``float_regs``, otherwise the next
    8-byte stack slot in order. Returns ``(locs, stack_bytes)``: ``locs[i]`` is ``reg(name)``
    or ``slot(stack_offset + 8 * k)``."""
    locs = []
    ints, floats, stack = 0, 0, 0
    for t in types:
        if t.is_float and floats < len(float_regs):
            locs.append(reg(float_regs[floats]))
            floats += 1
        elif not t.is_float and ints < len(int_regs):
            locs.append(reg(int_regs[ints]))
            ints += 1
        else:
            locs.append(slot(stack_offset + 8 * stack))
            stack += 1
    return locs, 8 * stack
