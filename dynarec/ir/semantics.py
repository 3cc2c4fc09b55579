"""The meaning of every pure IR op: the definition each backend and the constant folder are
tested against.

``evaluate(op, args, arg_types, result_types, attrs, region_attrs) -> list[int]`` computes one
op. Values are raw bit patterns as ``dynarec.ir.types`` describes (integers in
``0 .. 2**bits - 1``, floats as their IEEE 754 bits). ``result_types`` also tells whether the
optional exception-flags result of float arithmetic is wanted (then there is one more result).
``region_attrs`` supplies ``nan32``/``nan64`` (the guest's default NaN) and ``rounding``.

The semantics are those listed in the ``dynarec.ir.opcodes`` module docstring. This module
pins down what that text leaves to the implementation:

Float arithmetic is computed exactly (integer significands; ``isqrt`` for ``fsqrt``) and then
rounded once to the destination format in the rounding mode asked for (``rne`` nearest-even,
``rtz`` toward zero, ``rup`` toward +inf, ``rdn`` toward -inf), keeping subnormals. An exact
zero sum of operands of opposite sign is +0, or -0 under ``rdn`` (IEEE 754-2019 section 6.3).

Exception flags (bit 0 invalid, 1 divide-by-zero, 2 overflow, 3 underflow, 4 inexact) are those
an x86-64 SSE/AVX instruction leaves in MXCSR with every exception masked and FTZ/DAZ off
(sections below are of the Intel 64 and IA-32 SDM, vol. 1; ``tests/ir/test_semantics_x86.py``
checks every rule against the CPU it runs on, in all four rounding modes):

* invalid (IE, sections 4.9.1.1 and 11.5.2.1): a signalling-NaN operand; inf - inf; 0 * inf;
  0 / 0; inf / inf; sqrt of a value below -0; a float -> int conversion of a NaN, an infinity,
  or a value whose rounded integer is outside the result type (x86 then returns "integer
  indefinite"; the IR saturates instead, see the CVTSD2SI/CVTTSD2SI pages of vol. 2). Quiet-NaN
  operands raise nothing. An invalid conversion raises invalid only, never inexact.
* divide-by-zero (ZE, 4.9.1.3 and 11.5.2.3): finite non-zero / +-0.
* overflow (OE, 4.9.1.4 and 11.5.2.4): the result rounded as if the exponent range were
  unbounded exceeds the largest finite value; the result is inf or the largest finite value by
  rounding mode (table 4-10), and inexact is raised with it.
* underflow (UE, 4.9.1.5 and 11.5.2.5): x86 detects tininess AFTER rounding: a result is tiny
  when, rounded to the format's precision with an unbounded exponent, it is non-zero and below
  the smallest normal magnitude. With the exception masked, UE is set only for a result that
  is tiny and also inexact; an exact subnormal result raises nothing.
* inexact (PE, 4.9.1.6 and 11.5.2.6): the delivered result differs from the exact one.

NaN results (of every op except ``fabs``/``fneg``/``bitcast``/``select`` and ``fconst``, which
are bit operations) are the region's default NaN, whatever the operands' payloads. Integer ->
float conversions raise at most inexact; ``fpromote`` raises only invalid, for a signalling
NaN. For i8/i16 conversion results, which x86 lacks, the same rules apply to the narrower
range.

Each op's meaning is one entry of ``SEMANTICS`` (op name -> function), grouped by family below.
"""

from __future__ import annotations

import math
from typing import Callable

from .nodes import DEFAULT_NAN32, DEFAULT_NAN64
from .opcodes import (FP_FLAG_DIVZERO, FP_FLAG_INEXACT, FP_FLAG_INVALID, FP_FLAG_OVERFLOW,
                      FP_FLAG_UNDERFLOW, OPS)
from .types import Type, to_signed

__all__ = ["evaluate", "SEMANTICS", "FloatFormat", "F32_FORMAT", "F64_FORMAT", "round_float"]


# --- float formats ---------------------------------------------------------------------------

class FloatFormat:
    """An IEEE 754 binary interchange format: ``bits`` wide, ``precision`` significand bits
    (hidden bit included), exponents ``emin .. emax`` of normal numbers, ``nan_attr`` the region
    attribute holding its default NaN."""

    def __init__(self, bits: int, precision: int, nan_attr: str, default_nan: int):
        self.bits = bits
        self.precision = precision
        self.frac_bits = precision - 1
        self.exp_bits = bits - precision
        self.bias = (1 << (self.exp_bits - 1)) - 1
        self.emax = self.bias
        self.emin = 1 - self.bias
        self.sign_bit = 1 << (bits - 1)
        self.frac_mask = (1 << self.frac_bits) - 1
        self.exp_all_ones = (1 << self.exp_bits) - 1
        self.inf = self.exp_all_ones << self.frac_bits
        self.max_finite = self.inf - 1
        self.quiet_bit = 1 << (self.frac_bits - 1)
        self.nan_attr = nan_attr
        self.default_nan = default_nan

    def is_nan(self, x: int) -> bool:
        return (x & ~self.sign_bit) > self.inf

    def is_snan(self, x: int) -> bool:
        return self.is_nan(x) and not x & self.quiet_bit

    def is_inf(self, x: int) -> bool:
        return (x & ~self.sign_bit) == self.inf

    def unpack(self, x: int) -> tuple:
        """A finite value's ``(negative, m, e)`` with value ``(-1)**negative * m * 2**e``."""
        exp = (x >> self.frac_bits) & self.exp_all_ones
        frac = x & self.frac_mask
        negative = bool(x & self.sign_bit)
        if exp == 0:
            return negative, frac, self.emin - self.frac_bits
        return negative, frac | (1 << self.frac_bits), exp - self.bias - self.frac_bits


F32_FORMAT = FloatFormat(32, 24, "nan32", DEFAULT_NAN32)
F64_FORMAT = FloatFormat(64, 53, "nan64", DEFAULT_NAN64)
_FORMATS = {Type.F32: F32_FORMAT, Type.F64: F64_FORMAT}

_NAN = -1   # what float cores return for "a NaN": the wrapper substitutes the region default


def _round_shift(m: int, shift: int, negative: bool, mode: str) -> tuple:
    """``m / 2**shift`` (``m >= 0``) rounded to an integer magnitude for a value of the given
    sign: ``(q, inexact)``."""
    if shift <= 0:
        return m << -shift, False
    q = m >> shift
    rem = m - (q << shift)
    if rem == 0:
        return q, False
    if mode == "rne":
        half = 1 << (shift - 1)
        if rem > half or (rem == half and q & 1):
            q += 1
    elif mode == ("rdn" if negative else "rup"):
        q += 1
    return q, True


def round_float(negative: bool, m: int, e: int, fmt: FloatFormat, mode: str) -> tuple:
    """Round the exact value ``(-1)**negative * m * 2**e`` (``m >= 0``) to ``fmt`` in rounding
    ``mode``: ``(bits, flags)``. Subnormals are kept; overflow gives inf or the largest finite
    value by mode; tininess is detected after rounding (see the module docstring)."""
    sign = fmt.sign_bit if negative else 0
    if m == 0:
        return sign, 0
    p = fmt.precision
    top = m.bit_length() - 1 + e                 # exponent of the leading bit
    q = max(top, fmt.emin) - (p - 1)             # exponent of the result's last place
    r, inexact = _round_shift(m, q - e, negative, mode)
    flags = 0
    if inexact:
        flags = FP_FLAG_INEXACT
        if top < fmt.emin:
            # tiny unless rounding to p bits with an unbounded exponent reaches 2**emin
            reaches_normal = (top == fmt.emin - 1 and
                              _round_shift(m, top - (p - 1) - e, negative, mode)[0] >> p)
            if not reaches_normal:
                flags |= FP_FLAG_UNDERFLOW
    if r >> p:                                   # rounding carried into the next binade
        r >>= 1
        q += 1
    if q + p - 1 > fmt.emax:
        to_inf = mode == "rne" or mode == ("rdn" if negative else "rup")
        return sign | (fmt.inf if to_inf else fmt.max_finite), \
            FP_FLAG_OVERFLOW | FP_FLAG_INEXACT
    if r >> (p - 1):                             # normal
        return sign | ((q + p - 1 + fmt.bias) << fmt.frac_bits) | (r & fmt.frac_mask), flags
    return sign | r, flags                       # subnormal (q is emin - p + 1)


def _nan_operands(fmt: FloatFormat, *xs: int):
    """``None`` if no operand is a NaN, else the flags of a NaN result (invalid for sNaN)."""
    if not any(fmt.is_nan(x) for x in xs):
        return None
    return FP_FLAG_INVALID if any(fmt.is_snan(x) for x in xs) else 0


# --- float arithmetic cores: (operands, fmt, mode) -> (bits or _NAN, flags) -------------------

def _fadd(x: int, y: int, fmt: FloatFormat, mode: str) -> tuple:
    nan = _nan_operands(fmt, x, y)
    if nan is not None:
        return _NAN, nan
    x_inf, y_inf = fmt.is_inf(x), fmt.is_inf(y)
    if x_inf or y_inf:
        if x_inf and y_inf and (x ^ y) & fmt.sign_bit:
            return _NAN, FP_FLAG_INVALID
        return (x if x_inf else y), 0
    nx, mx, ex = fmt.unpack(x)
    ny, my, ey = fmt.unpack(y)
    e = min(ex, ey)
    total = (-mx if nx else mx) * (1 << (ex - e)) + (-my if ny else my) * (1 << (ey - e))
    if total == 0:
        if mx == 0 and my == 0 and nx == ny:
            return x, 0                          # (+0) + (+0), (-0) + (-0)
        return (fmt.sign_bit if mode == "rdn" else 0), 0
    return round_float(total < 0, abs(total), e, fmt, mode)


def _fsub(x: int, y: int, fmt: FloatFormat, mode: str) -> tuple:
    return _fadd(x, y ^ fmt.sign_bit, fmt, mode)


def _fmul(x: int, y: int, fmt: FloatFormat, mode: str) -> tuple:
    nan = _nan_operands(fmt, x, y)
    if nan is not None:
        return _NAN, nan
    sign = (x ^ y) & fmt.sign_bit
    nx, mx, ex = fmt.unpack(x)
    ny, my, ey = fmt.unpack(y)
    if fmt.is_inf(x) or fmt.is_inf(y):
        if mx == 0 or my == 0:                   # (an infinity unpacks with m != 0)
            return _NAN, FP_FLAG_INVALID         # 0 * inf
        return sign | fmt.inf, 0
    return round_float(bool(sign), mx * my, ex + ey, fmt, mode)


def _fdiv(x: int, y: int, fmt: FloatFormat, mode: str) -> tuple:
    nan = _nan_operands(fmt, x, y)
    if nan is not None:
        return _NAN, nan
    sign = (x ^ y) & fmt.sign_bit
    x_inf, y_inf = fmt.is_inf(x), fmt.is_inf(y)
    if x_inf and y_inf:
        return _NAN, FP_FLAG_INVALID
    if x_inf:
        return sign | fmt.inf, 0
    if y_inf:
        return sign, 0
    nx, mx, ex = fmt.unpack(x)
    ny, my, ey = fmt.unpack(y)
    if my == 0:
        if mx == 0:
            return _NAN, FP_FLAG_INVALID         # 0 / 0
        return sign | fmt.inf, FP_FLAG_DIVZERO
    if mx == 0:
        return sign, 0
    # quotient with >= precision + 3 bits, plus a sticky bit for the remainder
    k = max(0, fmt.precision + 3 + my.bit_length() - mx.bit_length())
    quot, rem = divmod(mx << k, my)
    return round_float(bool(sign), 2 * quot + (rem != 0), ex - ey - k - 1, fmt, mode)


def _fsqrt(x: int, fmt: FloatFormat, mode: str) -> tuple:
    nan = _nan_operands(fmt, x)
    if nan is not None:
        return _NAN, nan
    negative, m, e = fmt.unpack(x)
    if m == 0:
        return x, 0                              # sqrt(+-0) = +-0
    if negative:
        return _NAN, FP_FLAG_INVALID
    if fmt.is_inf(x):
        return x, 0
    if e & 1:
        m, e = m << 1, e - 1
    k = max(0, fmt.precision + 4 - m.bit_length() // 2)
    m <<= 2 * k
    root = math.isqrt(m)
    sticky = root * root != m
    return round_float(False, 2 * root + sticky, e // 2 - k - 1, fmt, mode)


def _float_binary(core: Callable) -> Callable:
    def run(args, arg_types, result_types, attrs, region_attrs):
        fmt = _FORMATS[result_types[0]]
        bits, flags = core(args[0], args[1], fmt, region_attrs.get("rounding", "rne"))
        return _with_flags(bits, flags, fmt, result_types, region_attrs)
    return run


def _with_flags(bits: int, flags: int, fmt: FloatFormat, result_types, region_attrs) -> list:
    if bits == _NAN:
        bits = region_attrs.get(fmt.nan_attr, fmt.default_nan)
    return [bits, flags] if len(result_types) > 1 else [bits]


def _fsqrt_op(args, arg_types, result_types, attrs, region_attrs):
    fmt = _FORMATS[result_types[0]]
    bits, flags = _fsqrt(args[0], fmt, region_attrs.get("rounding", "rne"))
    return _with_flags(bits, flags, fmt, result_types, region_attrs)


# --- float min/max and compare ---------------------------------------------------------------

def _order_key(x: int, fmt: FloatFormat, zero_signed: bool) -> int:
    """A non-NaN float's numeric order as an int (``zero_signed``: -0 sorts below +0)."""
    mag = x & ~fmt.sign_bit
    if not x & fmt.sign_bit:
        return mag
    return -mag - 1 if zero_signed else -mag


def _fminmax(pick_max: bool) -> Callable:
    def run(args, arg_types, result_types, attrs, region_attrs):
        fmt = _FORMATS[result_types[0]]
        x, y = args
        if fmt.is_nan(x) or fmt.is_nan(y):
            return [region_attrs.get(fmt.nan_attr, fmt.default_nan)]
        x_above = _order_key(x, fmt, True) > _order_key(y, fmt, True)
        return [x if x_above == pick_max else y]
    return run


# fcmp cond -> (result when unordered, relation on the sign of x - y when ordered)
_FCMP: dict[str, tuple] = {
    "oeq": (False, lambda c: c == 0), "ueq": (True, lambda c: c == 0),
    "one": (False, lambda c: c != 0), "une": (True, lambda c: c != 0),
    "olt": (False, lambda c: c < 0), "ult": (True, lambda c: c < 0),
    "ole": (False, lambda c: c <= 0), "ule": (True, lambda c: c <= 0),
    "ogt": (False, lambda c: c > 0), "ugt": (True, lambda c: c > 0),
    "oge": (False, lambda c: c >= 0), "uge": (True, lambda c: c >= 0),
    "ord": (False, lambda c: True), "uno": (True, lambda c: False),
}


def _fcmp(args, arg_types, result_types, attrs, region_attrs):
    fmt = _FORMATS[arg_types[0]]
    x, y = args
    unordered, relation = _FCMP[attrs["cond"]]
    if fmt.is_nan(x) or fmt.is_nan(y):
        return [int(unordered)]
    kx, ky = _order_key(x, fmt, False), _order_key(y, fmt, False)
    return [int(relation((kx > ky) - (kx < ky)))]


# --- conversions -----------------------------------------------------------------------------

def _fcvt_from_int(signed: bool) -> Callable:
    def run(args, arg_types, result_types, attrs, region_attrs):
        fmt = _FORMATS[result_types[0]]
        v = to_signed(args[0], arg_types[0].bits) if signed else args[0]
        bits, flags = round_float(v < 0, abs(v), 0, fmt, region_attrs.get("rounding", "rne"))
        return _with_flags(bits, flags, fmt, result_types, region_attrs)
    return run


def _fcvt_to_int(signed: bool) -> Callable:
    def run(args, arg_types, result_types, attrs, region_attrs):
        fmt = _FORMATS[arg_types[0]]
        n = result_types[0].bits
        lo, hi = (-(1 << (n - 1)), (1 << (n - 1)) - 1) if signed else (0, (1 << n) - 1)
        x = args[0]
        if fmt.is_nan(x):
            value, flags = 0, FP_FLAG_INVALID
        elif fmt.is_inf(x):
            value, flags = (lo if x & fmt.sign_bit else hi), FP_FLAG_INVALID
        else:
            negative, m, e = fmt.unpack(x)
            r, inexact = _round_shift(m, -e, negative, attrs.get("rounding", "rtz"))
            value = -r if negative else r
            if value < lo:
                value, flags = lo, FP_FLAG_INVALID
            elif value > hi:
                value, flags = hi, FP_FLAG_INVALID
            else:
                flags = FP_FLAG_INEXACT if inexact else 0
        value &= (1 << n) - 1
        return [value, flags] if len(result_types) > 1 else [value]
    return run


def _fconvert(args, arg_types, result_types, attrs, region_attrs):
    """fpromote / fdemote: re-round a value into the other format."""
    src, dst = _FORMATS[arg_types[0]], _FORMATS[result_types[0]]
    x = args[0]
    sign = dst.sign_bit if x & src.sign_bit else 0
    if src.is_nan(x):
        bits, flags = _NAN, (FP_FLAG_INVALID if src.is_snan(x) else 0)
    elif src.is_inf(x):
        bits, flags = sign | dst.inf, 0
    else:
        bits, flags = round_float(*src.unpack(x), dst, region_attrs.get("rounding", "rne"))
    return _with_flags(bits, flags, dst, result_types, region_attrs)


# --- integer ops -----------------------------------------------------------------------------

def _int_binary(f: Callable) -> Callable:
    """Lift ``f(x, y, bits) -> int`` (any int; the result is wrapped) to an op."""
    def run(args, arg_types, result_types, attrs, region_attrs):
        n = result_types[0].bits
        return [f(args[0], args[1], n) & ((1 << n) - 1)]
    return run


def _int_unary(f: Callable) -> Callable:
    def run(args, arg_types, result_types, attrs, region_attrs):
        n = result_types[0].bits
        return [f(args[0], n) & ((1 << n) - 1)]
    return run


def _sdiv(x: int, y: int, n: int) -> int:
    a, b = to_signed(x, n), to_signed(y, n)
    if b == 0:
        return -1
    q = abs(a) // abs(b)
    return -q if (a < 0) != (b < 0) else q       # truncates; MIN / -1 wraps to MIN


def _srem(x: int, y: int, n: int) -> int:
    a, b = to_signed(x, n), to_signed(y, n)
    if b == 0:
        return x
    r = abs(a) % abs(b)
    return -r if a < 0 else r                    # sign of the dividend; MIN % -1 = 0


def _rotl(x: int, c: int, n: int) -> int:
    c %= n
    return (x << c) | (x >> (n - c))


def _ctz(x: int, n: int) -> int:
    return (x & -x).bit_length() - 1 if x else n


def _bswap(x: int, n: int) -> int:
    return int.from_bytes(x.to_bytes(n // 8, "little"), "big")


def _mul_ov(signed: bool) -> Callable:
    def run(args, arg_types, result_types, attrs, region_attrs):
        n = result_types[0].bits
        if signed:
            p = to_signed(args[0], n) * to_signed(args[1], n)
            overflow = not -(1 << (n - 1)) <= p < (1 << (n - 1))
        else:
            p = args[0] * args[1]
            overflow = p >> n != 0
        return [p & ((1 << n) - 1), int(overflow)]
    return run


def _addc(args, arg_types, result_types, attrs, region_attrs):
    n = result_types[0].bits
    x, y, c = args
    total = x + y + c
    s = to_signed(x, n) + to_signed(y, n) + c
    return [total & ((1 << n) - 1), total >> n, int(not -(1 << (n - 1)) <= s < (1 << (n - 1)))]


def _subb(args, arg_types, result_types, attrs, region_attrs):
    n = result_types[0].bits
    x, y, b = args
    d = to_signed(x, n) - to_signed(y, n) - b
    return [(x - y - b) & ((1 << n) - 1), int(x < y + b),
            int(not -(1 << (n - 1)) <= d < (1 << (n - 1)))]


_ICMP: dict[str, Callable] = {
    "eq": lambda x, y, n: x == y,
    "ne": lambda x, y, n: x != y,
    "slt": lambda x, y, n: to_signed(x, n) < to_signed(y, n),
    "sle": lambda x, y, n: to_signed(x, n) <= to_signed(y, n),
    "sgt": lambda x, y, n: to_signed(x, n) > to_signed(y, n),
    "sge": lambda x, y, n: to_signed(x, n) >= to_signed(y, n),
    "ult": lambda x, y, n: x < y,
    "ule": lambda x, y, n: x <= y,
    "ugt": lambda x, y, n: x > y,
    "uge": lambda x, y, n: x >= y,
}


def _icmp(args, arg_types, result_types, attrs, region_attrs):
    return [int(_ICMP[attrs["cond"]](args[0], args[1], arg_types[0].bits))]


def _result_mask(result_types) -> int:
    return (1 << result_types[0].bits) - 1


# --- the table -------------------------------------------------------------------------------

SEMANTICS: dict[str, Callable] = {
    # constants
    "iconst": lambda a, at, rt, attrs, ra: [attrs["value"] & _result_mask(rt)],
    "fconst": lambda a, at, rt, attrs, ra: [attrs["bits"] & _result_mask(rt)],
    # integer arithmetic
    "add": _int_binary(lambda x, y, n: x + y),
    "sub": _int_binary(lambda x, y, n: x - y),
    "mul": _int_binary(lambda x, y, n: x * y),
    "smul_ov": _mul_ov(signed=True),
    "umul_ov": _mul_ov(signed=False),
    "smulhi": _int_binary(lambda x, y, n: (to_signed(x, n) * to_signed(y, n)) >> n),
    "umulhi": _int_binary(lambda x, y, n: (x * y) >> n),
    "sdiv": _int_binary(_sdiv),
    "udiv": _int_binary(lambda x, y, n: x // y if y else -1),
    "srem": _int_binary(_srem),
    "urem": _int_binary(lambda x, y, n: x % y if y else x),
    "and": _int_binary(lambda x, y, n: x & y),
    "or": _int_binary(lambda x, y, n: x | y),
    "xor": _int_binary(lambda x, y, n: x ^ y),
    "not": _int_unary(lambda x, n: ~x),
    "neg": _int_unary(lambda x, n: -x),
    # shifts and rotates: the count (any integer type) is read unsigned
    "shl": _int_binary(lambda x, c, n: x << c if c < n else 0),
    "lshr": _int_binary(lambda x, c, n: x >> c if c < n else 0),
    "ashr": _int_binary(lambda x, c, n: to_signed(x, n) >> min(c, n)),
    "rotl": _int_binary(_rotl),
    "rotr": _int_binary(lambda x, c, n: _rotl(x, n - c % n, n)),
    # bit counts
    "clz": _int_unary(lambda x, n: n - x.bit_length()),
    "ctz": _int_unary(_ctz),
    "popcount": _int_unary(lambda x, n: bin(x).count("1")),
    "bswap": _int_unary(_bswap),
    # extension and truncation
    "sext": lambda a, at, rt, attrs, ra: [to_signed(a[0], at[0].bits) & _result_mask(rt)],
    "zext": lambda a, at, rt, attrs, ra: [a[0]],
    "trunc": lambda a, at, rt, attrs, ra: [a[0] & _result_mask(rt)],
    # compare, select, carries
    "icmp": _icmp,
    "select": lambda a, at, rt, attrs, ra: [a[1] if a[0] else a[2]],
    "addc": _addc,
    "subb": _subb,
    # float arithmetic
    "fadd": _float_binary(_fadd),
    "fsub": _float_binary(_fsub),
    "fmul": _float_binary(_fmul),
    "fdiv": _float_binary(_fdiv),
    "fsqrt": _fsqrt_op,
    "fabs": lambda a, at, rt, attrs, ra: [a[0] & ~_FORMATS[rt[0]].sign_bit],
    "fneg": lambda a, at, rt, attrs, ra: [a[0] ^ _FORMATS[rt[0]].sign_bit],
    "fmin": _fminmax(pick_max=False),
    "fmax": _fminmax(pick_max=True),
    "fcmp": _fcmp,
    # conversions
    "fcvt_from_sint": _fcvt_from_int(signed=True),
    "fcvt_from_uint": _fcvt_from_int(signed=False),
    "fcvt_to_sint": _fcvt_to_int(signed=True),
    "fcvt_to_uint": _fcvt_to_int(signed=False),
    "fpromote": _fconvert,
    "fdemote": _fconvert,
    "bitcast": lambda a, at, rt, attrs, ra: [a[0]],
}

assert set(SEMANTICS) == {name for name, row in OPS.items() if row.is_pure}, \
    "every pure op needs exactly one SEMANTICS entry"


def evaluate(op: str, args: list, arg_types: list, result_types: list, attrs: dict,
             region_attrs: dict) -> list:
    """Compute pure op ``op``.

    ``args``: operand bit patterns (ints, each within its type's mask); ``arg_types`` /
    ``result_types``: their ``Type``\\ s (``result_types`` has one more ``i8`` when the float
    flags result is wanted); ``attrs``: the op's attributes with defaults filled in (``cond``,
    ``value``, ``bits``, ``rounding``); ``region_attrs``: the region's ``nan32``, ``nan64``,
    ``rounding`` (missing ones take the ``Region`` defaults). Returns one int per result type.

    Raises ``ValueError`` naming ``op`` if it is not a pure op of the table (``get``, ``load``,
    ``call``, terminators ... have effects and are the interpreter's business).
    """
    fn = SEMANTICS.get(op)
    if fn is None:
        if op in OPS:
            raise ValueError(f"{op} is not a pure op; it has no value semantics to evaluate")
        raise ValueError(f"unknown IR op {op!r}")
    return fn(args, arg_types, result_types, attrs, region_attrs)
