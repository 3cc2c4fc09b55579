"""The runtime value model of the Orus guest: registers, typed values, strings, arrays, and
the VM's text formatting (``print``, ``as string``, string concatenation).

Facts are from ``../shared/orus/README.md`` (section 3) and, for formatting details and error
texts, the VM sources at jordyorel/orus-lang b99090f (``printValue``/``print_raw_f64`` in
``src/vm/runtime/vm.c``, ``builtin_print`` in ``src/vm/runtime/builtin_print.c``).

Registers
    256 per frame, ``REGISTER_COUNT``. R0-R63 (globals) and R240-R255 (module registers) are
    one bank shared by every frame (``SHARED_REGISTERS``); R64-R191 (frame registers) and
    R192-R239 (temporaries) belong to one call frame. A callee's parameters sit at
    ``parameter_base(arity)`` .. R191. At most ``FRAME_LIMIT`` calls may be active.

Values (the strict boxed model: every register holds one tagged value; README section 3
shows it reproduces every fixture)
    ======  ==========================================================================
    Orus    Python representation
    ======  ==========================================================================
    i32     ``int`` in [-2**31, 2**31)      (exactly ``int``: ``type(v) is int``)
    i64     ``I64`` (an ``int`` subclass) in [-2**63, 2**63)
    u32     ``U32`` (an ``int`` subclass) in [0, 2**32)
    u64     ``U64`` (an ``int`` subclass) in [0, 2**64)
    f64     ``float`` (IEEE binary64, as the VM's ``double``)
    bool    ``bool``; a register never written reads as ``False`` (the VM's answer for a
            register without storage, ``vm_get_register_safe``)
    string  ``bytes`` (Orus strings are immutable byte strings)
    array   ``Array`` (a ``list``; shared by reference, equal only to itself)
    iter    ``ArrayIterator``, ``RangeIterator``
    ======  ==========================================================================

``INT_KINDS`` describes the four integer types (range, wrap-around, the Python class).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Callable, Sequence

# --- registers ---------------------------------------------------------------------------

REGISTER_COUNT = 256
FRAME_REG_START = 64
TEMP_REG_START = 192
MODULE_REG_START = 240
SHARED_REGISTERS = (slice(0, FRAME_REG_START), slice(MODULE_REG_START, REGISTER_COUNT))
"""The register ranges every frame shares (globals, module registers)."""

FRAME_LIMIT = 256
"""Call frames in the VM's pool: a call made with all of them in use fails (README
section 3, "Functions and calls")."""


def parameter_base(arity: int) -> int:
    """First parameter register of a callee with ``arity`` parameters: the last one is
    always R191 (README section 3)."""
    return TEMP_REG_START - arity


# --- the typed values --------------------------------------------------------------------

class I64(int):
    """An Orus ``i64`` (value in [-2**63, 2**63))."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"I64({int(self)})"


class U32(int):
    """An Orus ``u32`` (value in [0, 2**32))."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"U32({int(self)})"


class U64(int):
    """An Orus ``u64`` (value in [0, 2**64))."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"U64({int(self)})"


class Array(list):
    """An Orus array: a mutable list shared by reference. ``==`` is identity, as ``EQ_R``
    compares arrays (``valuesEqual``)."""

    __slots__ = ()

    def __eq__(self, other) -> bool:
        return self is other

    def __ne__(self, other) -> bool:
        return self is not other

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"Array({list.__repr__(self)})"


class ArrayIterator:
    """``GET_ITER_R`` over an array: yields ``array[index]`` while ``index`` is below the
    array's *current* length."""

    __slots__ = ("array", "index")

    def __init__(self, array: Array):
        self.array = array
        self.index = 0


class RangeIterator:
    """``GET_ITER_R`` over a non-negative integer ``n``: yields the i64 values 0 .. n-1
    (``current`` up to ``end`` by ``step``)."""

    __slots__ = ("current", "end", "step")

    def __init__(self, end: int, current: int = 0, step: int = 1):
        self.current, self.end, self.step = current, end, step


@dataclass(frozen=True)
class IntKind:
    """One integer type: ``name`` (``"i32"``), ``cls`` (its Python class), ``bits`` and
    ``signed``; derived ``lo``/``hi`` (inclusive range)."""

    name: str
    cls: type
    bits: int
    signed: bool
    lo: int = field(init=False)
    hi: int = field(init=False)
    wrap: Callable[[int], int] = field(init=False, repr=False, compare=False)
    """``wrap(value)``: ``value`` reduced modulo 2**bits into the type's range (C's
    wrap-around), as a ``cls``."""

    def __post_init__(self):
        lo = -(1 << (self.bits - 1)) if self.signed else 0
        mask = (1 << self.bits) - 1
        cls = self.cls
        if cls is int:
            def wrap(value): return ((value - lo) & mask) + lo
        else:
            def wrap(value): return cls(((value - lo) & mask) + lo)
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", lo + mask)
        object.__setattr__(self, "wrap", wrap)


I32_KIND = IntKind("i32", int, 32, True)
I64_KIND = IntKind("i64", I64, 64, True)
U32_KIND = IntKind("u32", U32, 32, False)
U64_KIND = IntKind("u64", U64, 64, False)
INT_KINDS = {k.name: k for k in (I32_KIND, I64_KIND, U32_KIND, U64_KIND)}
KIND_OF_CLASS = {k.cls: k for k in INT_KINDS.values()}

NUMERIC_TYPES = (int, I64, U32, U64, float)
"""The Python classes of Orus numbers (exact classes: ``bool`` is not a number)."""

X86_DEFAULT_NAN: float = struct.unpack("<d", (0xFFF8_0000_0000_0000).to_bytes(8, "little"))[0]
"""The NaN x86 SSE arithmetic produces for invalid operations (sign bit set: glibc prints
it as ``-nan``)."""

MASK64 = (1 << 64) - 1


def box(tag: str, value):
    """The runtime value of a constant (``loader.Constant`` ``tag``/``value``). Raises
    ``ValueError`` for a tag the runtime has no value for (``number``, ``otherN``)."""
    if tag in INT_KINDS:
        return INT_KINDS[tag].cls(value)
    if tag == "f64":
        return float(value)
    if tag in ("string", "bool"):
        return value
    raise ValueError(f"no runtime value for a {tag!r} constant")


def truthy(value) -> bool:
    """The VM's truthiness (``vm_value_is_truthy``): a bool is itself, a number is true
    unless zero, anything else is true."""
    if type(value) is bool:
        return value
    if type(value) in NUMERIC_TYPES:
        return value != 0
    return True


def as_index(value) -> int:
    """``value`` as an array/string index, or -1 if it is not one (the VM's
    ``value_to_index``: any integer type, non-negative and at most 2**31-1)."""
    kind = type(value)
    if kind is int:
        return value if value >= 0 else -1
    if kind in KIND_OF_CLASS:
        return value if 0 <= value <= 0x7FFF_FFFF else -1
    return -1


# --- C arithmetic ------------------------------------------------------------------------

def c_div(a: int, b: int) -> int:
    """C integer division: truncates toward zero (``-17 / 5 == -3``). ``b`` must not be 0."""
    if a >= 0 and b > 0:
        return a // b
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def c_rem(a: int, b: int) -> int:
    """C remainder: the sign of the dividend (``-17 % 5 == -2``). ``b`` must not be 0."""
    if a >= 0 and b > 0:
        return a % b
    return a - b * c_div(a, b)


def c_fmod(a: float, b: float) -> float:
    """C ``fmod``: NaN (x86's default NaN) where Python's ``math.fmod`` raises (``b == 0``
    or ``a`` infinite)."""
    try:
        return math.fmod(a, b)
    except ValueError:
        return X86_DEFAULT_NAN


def ieee_div(a: float, b: float) -> float:
    """IEEE 754 division, also by zero (Python raises there): ±inf, or NaN for 0/0."""
    if b != 0.0:
        return a / b
    if a != a:
        return a
    if a == 0.0:
        return X86_DEFAULT_NAN
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def f64_to_int(value: float, kind: IntKind) -> int:
    """C's ``(int32_t)``/``(int64_t)`` cast of a double as x86-64 executes it
    (``cvttsd2si``): truncation toward zero; NaN and values out of range give the
    "integer indefinite" ``kind.lo`` (Intel SDM vol. 2, CVTTSD2SI)."""
    if math.isfinite(value):
        truncated = int(value)
        if kind.lo <= truncated <= kind.hi:
            return truncated
    return kind.lo


# --- text ----------------------------------------------------------------------------------

def c_double(conversion: str, value: float) -> str:
    """``printf(conversion, value)`` as glibc prints it (``"%g"``, ``"%.6g"``, ``"%.2f"``):
    Python's ``%`` formatting agrees except that glibc writes a NaN's sign (``-nan``)."""
    if value != value:
        return "-nan" if math.copysign(1.0, value) < 0 else "nan"
    return conversion % value


def format_f64(value: float) -> bytes:
    """How ``print`` writes an f64 (``print_raw_f64``): ``nan``, ``inf``/``-inf``, ``0`` for
    ±0.0; otherwise ``%.17f`` (``%.17g`` below 1e-4 in magnitude) with trailing zeros and a
    trailing ``.`` stripped from the mantissa (``0.1`` -> ``0.10000000000000001``)."""
    if value != value:
        return b"nan"
    if math.isinf(value):
        return b"-inf" if value < 0 else b"inf"
    if value == 0.0:
        return b"0"
    text = ("%.17g" if abs(value) < 1e-4 else "%.17f") % value
    mantissa, e, exponent = text.partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").removesuffix(".")
    return (mantissa + e + exponent).encode("ascii")


def _decimal(value: int) -> bytes:
    return b"%d" % value


def _array(value: Array) -> bytes:
    return b", ".join(format_value(element) for element in value)


def _array_iterator(value: ArrayIterator) -> bytes:
    remaining = max(len(value.array) - value.index, 0)
    return b"array_iter(index=%d, remaining=%d)" % (value.index, remaining)


def _range_iterator(value: RangeIterator) -> bytes:
    if value.step == 1:
        return b"range(%d..%d)" % (value.current, value.end)
    return b"range(%d..%d step=%d)" % (value.current, value.end, value.step)


_FORMATTERS = {
    bool: lambda v: b"true" if v else b"false",
    int: _decimal, I64: _decimal, U32: _decimal, U64: _decimal,
    float: format_f64,
    bytes: lambda v: v,
    Array: _array,
    ArrayIterator: _array_iterator,
    RangeIterator: _range_iterator,
}


def format_value(value) -> bytes:
    """How ``print`` writes one value (``printValue``): integers in decimal (u32/u64
    unsigned), bools as ``true``/``false``, f64 by ``format_f64``, strings raw, arrays as
    their elements joined by ``", "`` (no brackets)."""
    return _FORMATTERS[type(value)](value)


def _text_of(value, f64_conversion: str) -> bytes:
    kind = type(value)
    if kind is bytes:
        return value
    if kind is float:
        return c_double(f64_conversion, value).encode("ascii")
    if kind is bool or kind in KIND_OF_CLASS:
        return format_value(value)
    return b"nil"


def concat_text(value) -> bytes:
    """A value as ``ADD_I32_R`` converts it for string concatenation: integers in decimal,
    f64 with C ``%.6g``, bools as ``true``/``false``, anything else ``nil``."""
    return _text_of(value, "%.6g")


def to_string(value) -> bytes:
    """``TO_STRING_R`` (``x as string``): like ``concat_text`` but f64 with C ``%g``
    (``1234567.875`` -> ``1.23457e+06``)."""
    return _text_of(value, "%g")


_ESCAPES = {ord("n"): ord("\n"), ord("t"): ord("\t")}
_SPEC_LIMIT = 15        # builtin_print keeps at most 15 characters of an @-spec
_PRECISION_LIMIT = 1100  # digits past this are zeros for every double


def _format_spec(value, spec: bytes) -> bytes:
    """One ``@spec`` applied to ``value`` (``print_formatted_value``)."""
    if not spec:
        return format_value(value)
    kind = type(value)
    if kind in KIND_OF_CLASS:
        bits = value & MASK64            # i32/i64 are sign-extended to 64 bits first
        if spec == b"b":
            return format(bits, "b").encode("ascii")
        if spec in (b"x", b"X", b"o"):
            return (b"%" + spec) % bits
        return b"%d" % value
    if kind is float:
        if spec[:1] == b"." and spec[1:2].isdigit():
            digits = spec[1:].rstrip(b"f")
            precision = min(int(digits), _PRECISION_LIMIT)
            return c_double(f"%.{precision}f", value).encode("ascii")
        return c_double("%g", value).encode("ascii")
    return format_value(value)


def _interpolate(text: bytes, args: Sequence, out: bytearray) -> int:
    """Write the leading string of a print with its escapes processed and each ``@spec``
    replaced by the next of ``args``; returns how many ``args`` it consumed."""
    used = i = 0
    while i < len(text):
        c = text[i]
        if c == 0x5C:                                  # backslash: \n \t, else the char
            if i + 1 < len(text):
                out.append(_ESCAPES.get(text[i + 1], text[i + 1]))
            i += 2
        elif c == 0x40:                                # @
            j = i + 1
            spec = bytearray()
            if text[j:j + 1] == b".":
                spec.append(0x2E)
                j += 1
                while j < len(text) and 0x30 <= text[j] <= 0x39:
                    if len(spec) < _SPEC_LIMIT:
                        spec.append(text[j])
                    j += 1
                if text[j:j + 1] == b"f":
                    if len(spec) < _SPEC_LIMIT:
                        spec.append(0x66)
                    j += 1
            elif text[j:j + 1] in (b"x", b"X", b"b", b"o"):
                spec.append(text[j])
                j += 1
            if used < len(args):
                out += _format_spec(args[used], bytes(spec))
                used += 1
            else:
                out += b"@" + spec
            i = j
        else:
            out.append(c)
            i += 1
    return used


def format_print(values: Sequence, newline: bool = True) -> bytes:
    """The bytes ``print(values...)`` writes (``builtin_print``). If the first value is a
    string it is a format string: its backslash escapes are processed (again) and each ``@``,
    ``@.Nf``, ``@x``, ``@X``, ``@b``, ``@o`` takes the next value; values left over follow,
    each after one space. A newline ends the line when ``newline``."""
    out = bytearray()
    rest = values
    if values and type(values[0]) is bytes:
        used = _interpolate(values[0], values[1:], out)
        rest = values[1 + used:]
        for value in rest:
            out += b" " + format_value(value)
    else:
        out += b" ".join(format_value(value) for value in rest)
    if newline:
        out += b"\n"
    return bytes(out)
