"""dynarec.ir.semantics against the AArch64 floating point the AArch64 host lowers to, run on
Unicorn's ARM64 CPU: results and FPSR flags of single instructions in all four FPCR rounding
modes (FPCR.RMode, bits 23:22: 0 nearest, 1 towards +inf, 2 towards -inf, 3 towards zero;
AHP, DN and FZ clear; Arm ARM D17.2.48).

FPSR's cumulative flags IOC, DZC, OFC, UFC, IXC (bits 0-4; Arm ARM D17.2.51) are the IR's
flag bits 0-4, so they are compared directly. Where A64 differs from the IR by design the
comparison is narrowed, never the other flags, and the test says how:

* NaN results: A64 (with FPCR.DN clear) propagates an operand's payload, the IR returns the
  region's default NaN;
* underflow: Arm detects tininess before rounding (FPRound pseudocode), the IR after it; they
  can disagree only for a result of exactly the smallest normal magnitude (the backend's
  ``CodeGen.with_flags`` decides those cases again);
* float -> int: FCVT{N,P,M,Z}{S,U} saturate and give 0 for NaN, raising invalid only -- the
  IR's rule exactly, so results and flags must be equal (unlike x86's "integer indefinite").
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings, strategies as st

from dynarec.ir.semantics import evaluate
from dynarec.ir.types import F32, F64, I8, I32, I64

unicorn = pytest.importorskip("unicorn")
keystone = pytest.importorskip("keystone")
from unicorn import arm64_const as A  # noqa: E402

from ir_testlib import conversion_values, d2b, float_bits, s2b  # noqa: E402

RMODE = {"rne": 0, "rup": 1, "rdn": 2, "rtz": 3}
NAN = {F32: 0x7FC00000, F64: 0x7FF8000000000000}
CODE, DATA = 0x10000, 0x20000
UNDERFLOW = 8


class Cpu:
    """Runs one A64 instruction between loading ``d0``/``d1`` (or ``x3``) from the data page
    and storing ``d0`` (or ``x3``) and FPSR back; FPCR set from the rounding mode."""

    def __init__(self):
        self.uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
        self.uc.mem_map(CODE, 0x10000)
        self.uc.mem_map(DATA, 0x1000)
        self.ks = keystone.Ks(keystone.KS_ARCH_ARM64, keystone.KS_MODE_LITTLE_ENDIAN)
        self.routines: dict = {}

    def routine(self, insn: str) -> tuple:
        if insn not in self.routines:
            text = ("ldr d0, [x0]\nldr d1, [x0, #8]\nldr x3, [x0]\nmsr fpcr, x1\n"
                    f"msr fpsr, xzr\n{insn}\nstr d0, [x0, #16]\nstr x3, [x0, #24]\n"
                    "mrs x2, fpsr\nstr x2, [x0, #32]")
            code, _ = self.ks.asm(text, 0)
            start = CODE + 0x100 * len(self.routines)
            self.uc.mem_write(start, bytes(code))
            self.routines[insn] = (start, start + len(code))
        return self.routines[insn]

    def run(self, insn: str, a: int, b: int, mode: str, out: str = "d0") -> tuple:
        """``(result bits, IR flags)`` of ``insn`` on a, b in rounding ``mode``; the result
        is read from ``d0`` or ``x3`` (``out``)."""
        start, end = self.routine(insn)
        self.uc.mem_write(DATA, struct.pack("<QQ", a, b))
        self.uc.reg_write(A.UC_ARM64_REG_X0, DATA)
        self.uc.reg_write(A.UC_ARM64_REG_X1, RMODE[mode] << 22)
        self.uc.emu_start(start, end)
        d0, x3, fpsr = struct.unpack("<QQQ", self.uc.mem_read(DATA + 16, 24))
        return (d0 if out == "d0" else x3), fpsr & 0x1F


@pytest.fixture(scope="module")
def cpu():
    return Cpu()


def reg(t) -> str:
    return "s" if t is F32 else "d"


def ir(op, args, arg_types, result_types, mode, attrs=None):
    return evaluate(op, args, arg_types, result_types, attrs or {},
                    {"rounding": mode, "nan32": NAN[F32], "nan64": NAN[F64]})


def is_nan(t, bits):
    return bits & ((1 << (t.bits - 1)) - 1) > (0x7F800000 if t is F32 else 0x7FF0000000000000)


def smallest_normal(t, bits) -> bool:
    return bits & ((1 << (t.bits - 1)) - 1) == (0x00800000 if t is F32 else 1 << 52)


def same_flags(t, hw, hw_flags, flags) -> bool:
    """The flags agree, but for the underflow bit of a result of the smallest normal
    magnitude (tininess before vs after rounding)."""
    if smallest_normal(t, hw):
        return hw_flags & ~UNDERFLOW == flags & ~UNDERFLOW
    return hw_flags == flags


modes = st.sampled_from(tuple(RMODE))
#: results of exactly the smallest normal magnitude, where the two tininess rules meet
MIN_NORMAL = [("fmul", F64, d2b(1 - 2.0 ** -53), d2b(2.0 ** -1022)),
              ("fdiv", F32, s2b(2.0 ** -126), s2b(1 + 2.0 ** -23)),
              ("fmul", F32, s2b(1 - 2.0 ** -24), s2b(2.0 ** -126))]


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(("fadd", "fsub", "fmul", "fdiv")),
       st.sampled_from([F32, F64]).flatmap(
           lambda t: st.tuples(st.just(t), float_bits(t), float_bits(t))), modes)
def test_arithmetic_matches_a64(cpu, op, txy, mode):
    t, x, y = txy
    r = reg(t)
    hw, hw_flags = cpu.run(f"{op} {r}0, {r}0, {r}1", x, y, mode)
    got, flags = ir(op, [x, y], [t, t], [t, I8], mode)
    assert same_flags(t, hw, hw_flags, flags)
    assert got == (NAN[t] if is_nan(t, hw) else hw)


@pytest.mark.parametrize("op, t, x, y", MIN_NORMAL)
@pytest.mark.parametrize("mode", tuple(RMODE))
def test_the_tininess_rules_differ_only_at_the_smallest_normal(cpu, op, t, x, y, mode):
    r = reg(t)
    hw, hw_flags = cpu.run(f"{op} {r}0, {r}0, {r}1", x, y, mode)
    got, flags = ir(op, [x, y], [t, t], [t, I8], mode)
    assert got == hw
    assert same_flags(t, hw, hw_flags, flags)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([F32, F64]).flatmap(lambda t: st.tuples(st.just(t), float_bits(t))),
       modes)
def test_sqrt_matches_fsqrt(cpu, tx, mode):
    t, x = tx
    r = reg(t)
    hw, hw_flags = cpu.run(f"fsqrt {r}0, {r}0", x, 0, mode)
    got, flags = ir("fsqrt", [x], [t], [t, I8], mode)
    assert flags == hw_flags
    assert got == (NAN[t] if is_nan(t, hw) else hw)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(("fmin", "fmax")), st.sampled_from([F32, F64]).flatmap(
           lambda t: st.tuples(st.just(t), float_bits(t), float_bits(t))))
def test_min_max_are_ieee_minimum_maximum(cpu, op, txy):
    t, x, y = txy
    r = reg(t)
    hw, _ = cpu.run(f"{op} {r}0, {r}0, {r}1", x, y, "rne")
    (got,) = ir(op, [x, y], [t, t], [t], "rne")
    assert got == (NAN[t] if is_nan(t, hw) else hw)


@settings(max_examples=300, deadline=None)
@given(float_bits(F64), modes)
def test_demote_matches_fcvt(cpu, x, mode):
    hw, hw_flags = cpu.run("fcvt s0, d0", x, 0, mode)
    got, flags = ir("fdemote", [x], [F64], [F32, I8], mode)
    assert same_flags(F32, hw, hw_flags, flags)
    assert got == (NAN[F32] if is_nan(F32, hw) else hw)


@settings(max_examples=200, deadline=None)
@given(float_bits(F32))
def test_promote_matches_fcvt(cpu, x):
    hw, hw_flags = cpu.run("fcvt d0, s0", x, 0, "rne")
    got, flags = ir("fpromote", [x], [F32], [F64, I8], "rne")
    assert flags == hw_flags
    assert got == (NAN[F64] if is_nan(F64, hw) else hw)


_FCVT = {"rne": "n", "rup": "p", "rdn": "m", "rtz": "z"}


@settings(max_examples=600, deadline=None)
@given(st.sampled_from([F32, F64]).flatmap(
           lambda t: st.tuples(st.just(t), conversion_values(t))),
       st.sampled_from([I32, I64]), st.sampled_from(tuple(RMODE)), st.booleans())
def test_float_to_int_is_exactly_fcvt(cpu, tx, it, mode, is_signed):
    t, x = tx
    dst = "w3" if it is I32 else "x3"
    insn = f"fcvt{_FCVT[mode]}{'s' if is_signed else 'u'} {dst}, {reg(t)}0"
    hw, hw_flags = cpu.run(insn, x, 0, "rne", out="x3")
    op = "fcvt_to_sint" if is_signed else "fcvt_to_uint"
    got, flags = ir(op, [x], [t], [it, I8], "rne", {"rounding": mode})
    assert (got, flags) == (hw & it.mask, hw_flags)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([I32, I64]).flatmap(
           lambda it: st.tuples(st.just(it), st.integers(0, it.mask))),
       st.sampled_from([F32, F64]), modes, st.booleans())
def test_int_to_float_is_exactly_scvtf_ucvtf(cpu, ix, t, mode, is_signed):
    it, x = ix
    src = "w3" if it is I32 else "x3"
    hw, hw_flags = cpu.run(f"{'scvtf' if is_signed else 'ucvtf'} {reg(t)}0, {src}", x, 0,
                           mode)
    op = "fcvt_from_sint" if is_signed else "fcvt_from_uint"
    got, flags = ir(op, [x], [it], [t, I8], mode)
    assert (got, flags) == (hw & t.mask if t is F32 else hw, hw_flags)
