"""IR value types: ``i1 i8 i16 i32 i64 f32 f64``.

Integers carry no signedness; operations say how they read their operands (``sdiv`` vs
``udiv``, ``icmp slt`` vs ``icmp ult``). A value of an integer type is held, everywhere in
the core (interpreter, constant folder, runtime), as a Python ``int`` in ``0 .. 2**bits - 1``.
A float value is held as its raw IEEE 754 bit pattern (an ``int``), never as a Python
``float``, so NaN payloads and the sign of zero survive every copy.
"""

from __future__ import annotations

import enum


class Type(enum.Enum):
    """One IR type. ``Type.I32.bits == 32``; ``Type.parse("f64") is Type.F64``."""

    I1 = ("i1", 1, False)
    I8 = ("i8", 8, False)
    I16 = ("i16", 16, False)
    I32 = ("i32", 32, False)
    I64 = ("i64", 64, False)
    F32 = ("f32", 32, True)
    F64 = ("f64", 64, True)

    def __init__(self, text: str, bits: int, is_float: bool):
        self.text = text
        self.bits = bits
        self.is_float = is_float

    @property
    def is_int(self) -> bool:
        """True for ``i1 .. i64``."""
        return not self.is_float

    @property
    def mask(self) -> int:
        """All-ones bit pattern of the type's width (also for floats: the raw-bits mask)."""
        return (1 << self.bits) - 1

    @property
    def bytes(self) -> int:
        """Storage size in bytes (``i1`` occupies one byte in guest state)."""
        return max(1, self.bits // 8)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Type.{self.name}"

    @staticmethod
    def parse(text: str) -> "Type":
        """Return the type named ``text``; raises ``ValueError`` for an unknown name."""
        try:
            return _BY_TEXT[text]
        except KeyError:
            raise ValueError(f"unknown IR type {text!r} (expected one of "
                             f"{', '.join(_BY_TEXT)})") from None


_BY_TEXT = {t.text: t for t in Type}

I1, I8, I16, I32, I64 = Type.I1, Type.I8, Type.I16, Type.I32, Type.I64
F32, F64 = Type.F32, Type.F64
INT_TYPES = (I1, I8, I16, I32, I64)
FLOAT_TYPES = (F32, F64)
ALL_TYPES = INT_TYPES + FLOAT_TYPES


def int_type(bits: int) -> Type:
    """The integer type of ``bits`` width (1, 8, 16, 32 or 64); ``ValueError`` otherwise."""
    for t in INT_TYPES:
        if t.bits == bits:
            return t
    raise ValueError(f"no integer type of {bits} bits")


def to_signed(value: int, bits: int) -> int:
    """Read the ``bits``-wide pattern ``value`` as two's complement."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value
