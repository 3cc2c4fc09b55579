"""dynarec.ir.semantics against the x86-64 CPU this runs on: results and MXCSR flags.

Each check assembles one SSE instruction between ``ldmxcsr``/``stmxcsr`` (all exceptions
masked, FTZ/DAZ off, the rounding mode under test), runs it from a W^X ``CodeCache`` and
compares the result bits and the exception flags with ``evaluate``. Where x86 differs from the
IR by design the comparison is narrowed, never the flags: NaN results (x86 keeps payloads or
returns its own default NaN; the IR returns the region's default NaN) and invalid float -> int
conversions (x86 returns "integer indefinite", the IR saturates).

MXCSR layout (Intel SDM vol. 1 section 10.2.3): flags IE=bit 0, DE=1, ZE=2, OE=3, UE=4, PE=5;
masks bits 7..12; rounding control bits 13..14 (00 nearest, 01 down, 10 up, 11 toward zero).
"""

from __future__ import annotations

import ctypes
import platform

import pytest
from hypothesis import example, given, settings, strategies as st

from dynarec.ir.semantics import evaluate
from dynarec.ir.types import F32, F64, I8, I32, I64

keystone = pytest.importorskip("keystone")
if platform.machine() not in ("x86_64", "AMD64"):
    pytest.skip("needs an x86-64 CPU", allow_module_level=True)

from dynarec.codecache import CodeCache  # noqa: E402

from ir_testlib import conversion_values, d2b, float_bits, s2b  # noqa: E402

RC = {"rne": 0b00, "rdn": 0b01, "rup": 0b10, "rtz": 0b11}
ALL_MASKED = 0x1F80
NAN = {F32: 0x7FC00000, F64: 0x7FF8000000000000}


def _avx512f() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return " avx512f" in f.read()
    except OSError:
        return False


def mxcsr_to_ir_flags(mxcsr: int) -> int:
    """MXCSR IE/ZE/OE/UE/PE -> IR flag bits 0..4 (DE, the denormal-operand flag, has no IR
    counterpart)."""
    return (mxcsr & 1) | ((mxcsr >> 1) & 0b11110)


class Cpu:
    """Runs ``insn`` with operands from an I/O block: ``[0]`` a, ``[8]`` b, ``[16]`` result,
    ``[24]`` MXCSR to use, ``[28]`` MXCSR after, ``[32]`` the caller's MXCSR."""

    def __init__(self):
        self.cache = CodeCache(1 << 16)
        self.ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_64)
        self.io = (ctypes.c_uint64 * 5)()
        self.routines = {}

    def routine(self, body: str):
        if body not in self.routines:
            text = ("stmxcsr dword ptr [rdi+32]\nldmxcsr dword ptr [rdi+24]\n" + body +
                    "\nstmxcsr dword ptr [rdi+28]\nldmxcsr dword ptr [rdi+32]\nret")
            code, _ = self.ks.asm(text, self.cache.next_address)
            addr = self.cache.commit(bytes(code))
            self.routines[body] = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(addr)
        return self.routines[body]

    def run(self, body: str, a: int, b: int, mode: str) -> tuple:
        """``(result bits, IR flags)`` of ``body`` on a, b in rounding ``mode``."""
        self.io[0], self.io[1], self.io[2] = a, b, 0
        self.io[3] = ALL_MASKED | (RC[mode] << 13)
        self.routine(body)(ctypes.addressof(self.io))
        return self.io[2], mxcsr_to_ir_flags(self.io[3] >> 32)


@pytest.fixture(scope="module")
def cpu():
    c = Cpu()
    yield c
    c.cache.close()


def sfx(t):
    return "ss" if t is F32 else "sd"


def mov(t):
    return "movd" if t is F32 else "movq"


def ir(op, args, arg_types, result_types, mode, attrs=None):
    return evaluate(op, args, arg_types, result_types, attrs or {},
                    {"rounding": mode, "nan32": NAN[F32], "nan64": NAN[F64]})


def is_nan(t, bits):
    mag = bits & ((1 << (t.bits - 1)) - 1)
    return mag > (0x7F800000 if t is F32 else 0x7FF0000000000000)


modes = st.sampled_from(tuple(RC))


def pair(t):
    return st.tuples(st.just(t), float_bits(t), float_bits(t))


# products just below the smallest normal that round up to it (not tiny after rounding)
NEAR_MIN_NORMAL = [
    ("fmul", (F64, d2b((1 + 2.0 ** -52) * 2.0 ** -1022), d2b(1 - 2.0 ** -52)), mode)
    for mode in RC] + [
    ("fmul", (F32, s2b((1 + 2.0 ** -23) * 2.0 ** -126), s2b(1 - 2.0 ** -23)), mode)
    for mode in RC]


def with_examples(cases):
    def decorate(test):
        for case in cases:
            test = example(*case)(test)
        return test
    return decorate


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(("fadd", "fsub", "fmul", "fdiv")),
       st.sampled_from([F32, F64]).flatmap(pair), modes)
@with_examples(NEAR_MIN_NORMAL)
def test_arithmetic_matches_sse(cpu, op, txy, mode):
    t, x, y = txy
    insn = op[1:] + sfx(t)
    hw, hw_flags = cpu.run(f"{mov(t)} xmm0, [rdi]\n{mov(t)} xmm1, [rdi+8]\n"
                           f"{insn} xmm0, xmm1\n{mov(t)} [rdi+16], xmm0", x, y, mode)
    got, flags = ir(op, [x, y], [t, t], [t, I8], mode)
    assert flags == hw_flags
    assert got == (NAN[t] if is_nan(t, hw) else hw)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from([F32, F64]).flatmap(lambda t: st.tuples(st.just(t), float_bits(t))),
       modes)
def test_sqrt_matches_sse(cpu, tx, mode):
    t, x = tx
    hw, hw_flags = cpu.run(f"{mov(t)} xmm0, [rdi]\nsqrt{sfx(t)} xmm0, xmm0\n"
                           f"{mov(t)} [rdi+16], xmm0", x, 0, mode)
    got, flags = ir("fsqrt", [x], [t], [t, I8], mode)
    assert flags == hw_flags
    assert got == (NAN[t] if is_nan(t, hw) else hw)


@settings(max_examples=600, deadline=None)
@given(float_bits(F64), modes)
@with_examples([(d2b(2.0 ** -126 * (1 - 2.0 ** -30)), mode) for mode in RC])
def test_demote_matches_cvtsd2ss(cpu, x, mode):
    hw, hw_flags = cpu.run("movq xmm0, [rdi]\ncvtsd2ss xmm0, xmm0\nmovd [rdi+16], xmm0",
                           x, 0, mode)
    got, flags = ir("fdemote", [x], [F64], [F32, I8], mode)
    assert flags == hw_flags
    assert got == (NAN[F32] if is_nan(F32, hw) else hw)


@settings(max_examples=300, deadline=None)
@given(float_bits(F32))
def test_promote_matches_cvtss2sd(cpu, x):
    hw, hw_flags = cpu.run("movd xmm0, [rdi]\ncvtss2sd xmm0, xmm0\nmovq [rdi+16], xmm0",
                           x, 0, "rne")
    got, flags = ir("fpromote", [x], [F32], [F64, I8], "rne")
    assert flags == hw_flags
    assert got == (NAN[F64] if is_nan(F64, hw) else hw)


@settings(max_examples=800, deadline=None)
@given(st.sampled_from([F32, F64]).flatmap(
           lambda t: st.tuples(st.just(t), conversion_values(t))),
       st.sampled_from([I32, I64]), st.sampled_from(("rtz", "rne", "rup", "rdn")),
       st.booleans())
def test_float_to_int_matches_cvt(cpu, tx, it, mode, is_signed):
    t, x = tx
    if not is_signed and not _avx512f():
        pytest.skip("unsigned conversions need AVX-512F (vcvtsd2usi)")
    reg = "eax" if it is I32 else "rax"
    trunc = "t" if mode == "rtz" else ""
    insn = (f"cvt{trunc}{sfx(t)}2si" if is_signed else f"vcvt{trunc}{sfx(t)}2usi")
    hw, hw_flags = cpu.run(f"{mov(t)} xmm0, [rdi]\n{insn} {reg}, xmm0\nmov [rdi+16], {reg}",
                           x, 0, mode)
    op = "fcvt_to_sint" if is_signed else "fcvt_to_uint"
    got, flags = ir(op, [x], [t], [it, I8], "rne", {"rounding": mode})
    assert flags == hw_flags
    if not flags & 1:                            # invalid: x86 gives "integer indefinite"
        assert got == hw & it.mask


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([I32, I64]).flatmap(
           lambda it: st.tuples(st.just(it), st.integers(0, it.mask))),
       st.sampled_from([F32, F64]), modes, st.booleans())
def test_int_to_float_matches_cvt(cpu, ix, t, mode, is_signed):
    it, x = ix
    if not is_signed and not _avx512f():
        pytest.skip("unsigned conversions need AVX-512F (vcvtusi2sd)")
    reg = "eax" if it is I32 else "rax"
    insn = f"cvtsi2{sfx(t)} xmm0, {reg}" if is_signed else \
        f"vcvtusi2{sfx(t)} xmm0, xmm0, {reg}"
    hw, hw_flags = cpu.run(f"mov {reg}, [rdi]\n{insn}\n{mov(t)} [rdi+16], xmm0", x, 0, mode)
    op = "fcvt_from_sint" if is_signed else "fcvt_from_uint"
    got, flags = ir(op, [x], [it], [t, I8], mode)
    assert (got, flags) == (hw, hw_flags)
