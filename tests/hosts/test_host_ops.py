"""Every pure IR op on each host against ``dynarec.ir.semantics.evaluate``.

For each op, each type combination the table allows and each attribute / region-rounding
variant, one region ``get`` operands -> op -> ``put`` results is compiled once, then many
operand tuples run through it: a fixed set of edge values and hypothesis-drawn ones biased to
edges (0, -1, MIN, MAX, shift counts at and past the width, +-0, +-inf, NaNs, subnormals,
float->int bounds). Narrower integer results are also read through ``zext`` to i64, which
is free for a normalised register, so bits a rule failed to clear show. Host configurations:
x86-64 with baseline features and registers, detected features and registers, detected
features with every value spilled (the memory-operand forms of the rules); AArch64 (under
Unicorn's ARM64 CPU) with registers and spilled, fewer hypothesis examples (emulated).
"""

from __future__ import annotations

import itertools
import math
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dynarec.context import ExitReason
from dynarec.hosts.aarch64 import AArch64Host
from dynarec.hosts.aarch64.lower import RULES as AARCH64_RULES
from dynarec.hosts.x86_64 import X86_64Host
from dynarec.hosts.x86_64.lower import RULES as X86_64_RULES
from dynarec.ir import (F32, F64, FLOAT_TYPES, I8, I64, INT_TYPES, OPS, Builder, Module,
                        Region, Slot, Type)
from dynarec.ir.opcodes import FCMP_CONDS, ICMP_CONDS, ROUNDING_MODES, TYPE_CLASSES
from dynarec.ir.semantics import SEMANTICS, evaluate

from harness import Harness

NAN32, NAN64 = 0x7FFFFFFF, 0xFFF8000000000000      # unlike x86's default NaN: observable
REGION_ROUNDED = {"fadd", "fsub", "fmul", "fdiv", "fsqrt", "fcvt_from_sint", "fcvt_from_uint",
                  "fdemote"}


@pytest.mark.parametrize("rules", [X86_64_RULES, AARCH64_RULES], ids=["x86_64", "aarch64"])
def test_rules_cover_the_opcode_table(rules):
    assert set(rules) == set(OPS)


# --- cases -----------------------------------------------------------------------------------

def _choices(letter: str, t: Type):
    return {"T": [t], "I": list(INT_TYPES), "F": list(FLOAT_TYPES),
            "X": list(INT_TYPES + FLOAT_TYPES)}.get(letter) or [Type.parse(letter)]


def signatures(name: str) -> list:
    """(arg types, result types without the optional flags) the table allows for ``name``."""
    row, out = OPS[name], []
    for t in TYPE_CLASSES[row.types]:
        args = [_choices(a, t) for a in row.args]
        if name in ("shl", "lshr", "ashr", "rotl", "rotr"):
            args[1] = sorted({t, I8, I64}, key=lambda x: x.bits)
        results = [_choices(r, t)[0] for r in row.results if not r.startswith("?")]
        for combo in itertools.product(*args):
            if row.extra is None or row.extra(list(combo), results) is None:
                out.append((tuple(combo), tuple(results)))
    return sorted(set(out), key=str)


def cases() -> list:
    out = []
    for name, row in OPS.items():
        if name not in SEMANTICS or name in ("iconst", "fconst"):
            continue
        attr_sets = [{}]
        if name == "icmp":
            attr_sets = [{"cond": c} for c in ICMP_CONDS]
        elif name == "fcmp":
            attr_sets = [{"cond": c} for c in FCMP_CONDS]
        elif name.startswith("fcvt_to"):
            attr_sets = [{"rounding": r} for r in ROUNDING_MODES]
        has_flags = any(r.startswith("?") for r in row.results)
        modes = ROUNDING_MODES if name in REGION_ROUNDED else ("rne",)
        for args, results in signatures(name):
            for attrs in attr_sets:
                for mode in modes:
                    for flags in ((True, False) if has_flags and mode == "rne" else
                                  (has_flags,)):
                        out.append((name, args, results + ((I8,) if flags else ()),
                                    attrs, mode))
    return out


def case_id(case) -> str:
    name, args, results, attrs, mode = case
    text = f"{name}-{'.'.join(map(str, args))}-{'.'.join(map(str, results))}"
    for v in attrs.values():
        text += f"-{v}"
    return text + ("" if mode == "rne" else f"-{mode}")


CASES = cases()

# --- operand values --------------------------------------------------------------------------


def f32(x: float) -> int:
    """``x`` as f32 bits (values beyond f32's range become infinities)."""
    if abs(x) > 3.4e38 and not math.isinf(x):
        x = math.copysign(math.inf, x)
    return struct.unpack("<I", struct.pack("<f", x))[0]


def f64(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def int_edges(bits: int) -> list:
    m = (1 << bits) - 1
    top = 1 << (bits - 1)
    vals = {0, 1, 2, 3, m, m - 1, top, top - 1, top + 1, bits - 1, bits, bits + 1, 31, 32,
            33, 63, 64, 65, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x80000000, 0x12345678}
    return sorted(v & m for v in vals)


_FLOAT_VALUES = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 3.0, 0.1, 1 / 3,
                 math.inf, -math.inf, 127.5, 128.0, -128.5, -129.0, 255.5, 256.0, 32767.5,
                 65535.5, 65536.0, 2.0 ** 31, -2.0 ** 31, 2.0 ** 31 - 0.5, 2.0 ** 32,
                 4294967295.5, 2.0 ** 52 + 1, 2.0 ** 53 + 2, 2.0 ** 63, -2.0 ** 63,
                 9223372036854774784.0, -9223372036854777856.0, 2.0 ** 64,
                 18446744073709549568.0, 1e300, -1e-300]
F32_EDGES = sorted({f32(x) for x in _FLOAT_VALUES} | {
    0x7FC00000, 0xFFC00001, 0x7F800001, 0xFFBFFFFF,          # qNaN, -qNaN payload, sNaNs
    0x00000001, 0x807FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x3F800001, 0x4B000001})
F64_EDGES = sorted({f64(x) for x in _FLOAT_VALUES} | {
    0x7FF8000000000000, 0xFFF8000000000123, 0x7FF0000000000001, 0xFFF7FFFFFFFFFFFF,
    0x0000000000000001, 0x800FFFFFFFFFFFFF, 0x0010000000000000, 0x7FEFFFFFFFFFFFFF,
    0xFFEFFFFFFFFFFFFF, 0x3FF0000000000001, 0x4330000000000001})


def edges(t: Type) -> list:
    if t is F32:
        return F32_EDGES
    if t is F64:
        return F64_EDGES
    return int_edges(t.bits)


def value_strategy(t: Type):
    """Raw bit patterns of ``t``, biased to edge values."""
    raw = st.integers(0, t.mask)
    if t is F32:
        nice = st.floats(width=32).map(f32)
    elif t is F64:
        nice = st.floats().map(f64)
    else:
        nice = st.integers(0, 70).map(lambda v: v & t.mask)
    return st.one_of(st.sampled_from(edges(t)), raw, nice)


def fixed_operands(args) -> list:
    """Pairs of edge values (all of them for small lists, a deterministic sample otherwise)."""
    if len(args) == 1:
        return [(v,) for v in edges(args[0])]
    lists = [edges(t) for t in args]
    if len(args) == 3 and args[0].bits == 1:                  # select / addc / subb carry
        lists = [lists[0], lists[1][::3], lists[2][::3]]
    combos = list(itertools.product(*lists))
    return combos[::max(1, len(combos) // 600)]


# --- the runner ------------------------------------------------------------------------------

CONFIGS = {
    "baseline": lambda: X86_64Host(features=set()),
    "detected": lambda: X86_64Host(),
    "detected-spilled": lambda: X86_64Host(spill_all=True),
    "aarch64": AArch64Host,
    "aarch64-spilled": lambda: AArch64Host(spill_all=True),
}
_HARNESSES: dict = {}


def harness(config: str) -> Harness:
    if config not in _HARNESSES:
        _HARNESSES[config] = Harness(CONFIGS[config](), cache_size=16 << 20,
                                     state_bytes=8192)
    return _HARNESSES[config]


def examples(config: str) -> int:
    """Hypothesis examples per case: fewer on the emulated host."""
    return 5 if config.startswith("aarch64") else 10


class OpRunner:
    """A compiled one-op region: ``run(values) -> results`` (raw bit patterns)."""

    def __init__(self, h: Harness, name, args, results, attrs, mode):
        self.h, self.name, self.args, self.results = h, name, args, results
        self.slots = ([Slot(f"a{i}", t) for i, t in enumerate(args)] +
                      [Slot(f"r{i}", t) for i, t in enumerate(results)] +
                      [Slot(f"w{i}", I64) for i, t in enumerate(results)])
        h.set_layout(self.slots)
        self.region_attrs = {"nan32": NAN32, "nan64": NAN64, "rounding": mode}
        region = Region(f"op_{name}", pc=0x4000, attrs=dict(self.region_attrs))
        b = Builder(region, Module(state=h.layout))
        b.insn_start(pc=0x4000)
        vals = [b.get(f"a{i}") for i in range(len(args))]
        self.attrs = dict(attrs)
        for a in OPS[name].attrs:
            self.attrs.setdefault(a.name, a.default)
        out = b.emit(name, vals, self.attrs, list(results))
        out = out if isinstance(out, tuple) else (out,)
        for i, v in enumerate(out):
            b.put(f"r{i}", v)
            if v.type.is_int and v.type.bits < 64:    # free if v is normalised, as it must be
                b.put(f"w{i}", b.zext(I64, v))
        b.exit(pc=0x4004)
        self.compiled = h.compile(region)

    def check(self, values) -> None:
        h = self.h
        h.set_layout(self.slots)
        for i, v in enumerate(values):
            h.state[f"a{i}"] = v
        for i in range(len(self.results)):
            h.state[f"r{i}"] = 0x5A5A5A5A5A5A5A5A & self.results[i].mask
        assert h.run(self.compiled) == ExitReason.NEXT and h.header.next_pc == 0x4004
        got = [h.state[f"r{i}"] for i in range(len(self.results))]
        want = evaluate(self.name, list(values), list(self.args), list(self.results),
                        self.attrs, self.region_attrs)
        got += [h.state[f"w{i}"] for i, t in enumerate(self.results)
                if t.is_int and t.bits < 64]
        want += [w for w, t in zip(want, self.results) if t.is_int and t.bits < 64]
        assert got == want, (
            f"{self.name} {self.attrs} {self.region_attrs['rounding']} "
            f"operands {[hex(v) for v in values]}: got {[hex(v) for v in got]}, "
            f"want {[hex(v) for v in want]}\n{self.compiled.asm}")


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_op(config, case):
    name, args, results, attrs, mode = case
    runner = OpRunner(harness(config), name, args, results, attrs, mode)
    for values in fixed_operands(args):
        runner.check(values)

    @settings(max_examples=examples(config), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(*(value_strategy(t) for t in args)), min_size=1, max_size=10))
    def random_operands(tuples):
        for values in tuples:
            runner.check(values)

    random_operands()


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("t", INT_TYPES + FLOAT_TYPES, ids=str)
def test_constants(config, t):
    h = harness(config)
    values = edges(t)
    h.set_layout([Slot(f"r{i}", t) for i in range(len(values))])
    region = Region(f"const_{t}", pc=0x10)
    b = Builder(region, Module(state=h.layout))
    for i, v in enumerate(values):
        c = b.fconst(t, v) if t.is_float else b.iconst(t, v - (1 << t.bits) * (i % 2))
        b.put(f"r{i}", c)
    b.exit(pc=0x14)
    compiled = h.compile(region)
    assert h.run(compiled) == ExitReason.NEXT
    assert [h.state[f"r{i}"] for i in range(len(values))] == values
