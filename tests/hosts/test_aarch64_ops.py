"""What only the AArch64 host (under Unicorn's ARM64 CPU) needs checking beyond
``test_host_ops`` (which runs every op on both hosts): constants at the edges of the A64
immediate encodings, and tininess.

``test_underflow_is_detected_after_rounding`` pins the cases where Arm's tininess detection
(before rounding) and the IR's (after rounding) disagree.
"""

from __future__ import annotations

import struct

import pytest

from dynarec.context import ExitReason
from dynarec.ir import F32, F64, I1, I8, INT_TYPES, Builder, Module, Region, Slot
from dynarec.ir.semantics import evaluate

from test_host_ops import OpRunner, harness

CONFIGS = ("aarch64", "aarch64-spilled")


def _f64(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


#: (op, operand type, rounding, operand bits): results of exactly the smallest normal
#: magnitude, delivered inexactly -- where Arm (tininess before rounding) and the IR
#: (after rounding, unbounded exponent) can disagree on underflow.
MIN_NORMAL_CASES = [
    ("fdiv", F32, "rup", (0x00800000, 0x3F800001)),       # tiny after rounding too
    ("fmul", F32, "rup", (0x3F7FFFFF, 0x00800000)),       # 2**-126 - 2**-150: tiny
    ("fmul", F64, "rne", (0x3FEFFFFFFFFFFFFF, 0x0010000000000000)),   # a tie: tiny
    ("fmul", F64, "rne", (0x8010000000000000, 0x3FEFFFFFFFFFFFFF)),   # negative
    ("fdemote", F64, "rne", (_f64(2.0 ** -126 - 2.0 ** -152),)),      # NOT tiny after
    ("fdemote", F64, "rdn", (_f64(-(2.0 ** -126 - 2.0 ** -160)),)),   # NOT tiny after
    ("fdemote", F64, "rne", (_f64(2.0 ** -126 - 2.0 ** -150),)),      # tiny
]


@pytest.mark.parametrize("config", CONFIGS)
def test_underflow_is_detected_after_rounding(config):
    """The cases above give the IR's flags (``evaluate``), the UFC fix-up of
    ``CodeGen.with_flags`` at work; among them both answers occur."""
    underflows = set()
    for name, t, mode, values in MIN_NORMAL_CASES:
        result = F32 if name == "fdemote" else t
        runner = OpRunner(harness(config), name, (t,) * len(values), (result, I8), {}, mode)
        runner.check(values)
        bits = runner.h.state["r0"]
        assert bits & ~(1 << (result.bits - 1)) == (0x00800000 if result is F32 else
                                                    0x0010000000000000)
        assert runner.h.state["r1"] & 16, "the case must be inexact"
        underflows.add(bool(runner.h.state["r1"] & 8))
    assert underflows == {True, False}


#: constants at the edges of the A64 immediate encodings: ADD/SUB imm12 (plain and shifted by
#: 12), logical bitmasks (repeating rotated runs of ones) and patterns neither encodes
A64_IMMEDIATES = [0, 1, 4095, 4096, 4097, 0xFFF000, 0xFFF001, 0x1000000, 0x5555555555555555,
                  0x00FF00FF00FF00FF, 0x0F0F0F0F0F0F0F0F, 0xFFFFFFFF00000000, 0x7FFFFFFFFFFFFFFF,
                  0x8000000000000001, 0x12345, 0xFFFFFFFFFFFFF000, 0xFFFFFFFFFFFFFFFF,
                  0xFFFFFFFFFFFFF001, 0x00000000FFFFFFFE]
A64_IMM_OPS = ("add", "sub", "and", "or", "xor", "mul", "shl", "lshr", "ashr", "rotr",
               "udiv", "srem")


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("t", [t for t in INT_TYPES if t.bits >= 8], ids=str)
def test_encodable_and_unencodable_immediates(config, t):
    """``x op k`` and ``k op x`` for every op above and every constant (modulo the type),
    and ``icmp`` against them, on a few ``x``: the immediate forms and the materialised
    constants give ``evaluate``'s results."""
    h = harness(config)
    consts = sorted({k & t.mask for k in A64_IMMEDIATES})
    exprs = [(op, k, right) for op in A64_IMM_OPS for k in consts for right in (True, False)]
    exprs += [("icmp", k, cond) for k in consts for cond in ("eq", "ult", "sgt")]
    h.set_layout([Slot("x", t), Slot("r", t, len(exprs))])
    region = Region(f"imm_{t}", pc=0x10)
    b = Builder(region, Module(state=h.layout))
    x = b.get("x")
    for i, (op, k, how) in enumerate(exprs):
        c = b.iconst(t, k)
        if op == "icmp":
            v = b.zext(t, b.icmp(x, c, cond=how))
        else:
            v = b.emit(op, [x, c] if how else [c, x], {}, [t])
        b.put(f"r[{i}]", v)
    b.exit(pc=0x14)
    compiled = h.compile(region)
    for xv in (0, 1, 7, t.mask, 1 << (t.bits - 1), 0x1234 & t.mask):
        h.set_layout([Slot("x", t), Slot("r", t, len(exprs))])
        h.state["x"] = xv
        assert h.run(compiled) == ExitReason.NEXT
        for i, (op, k, how) in enumerate(exprs):
            if op == "icmp":
                want = evaluate("icmp", [xv, k], [t, t], [I1], {"cond": how}, {})[0]
            else:
                args = [xv, k] if how else [k, xv]
                want = evaluate(op, args, [t, t], [t], {}, {})[0]
            assert h.state[f"r[{i}]"] == want, (op, hex(k), how, hex(xv))
