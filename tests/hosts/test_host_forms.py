"""The operand forms the x86-64 selection folds into their users (``hosts/common/fold.py``),
each checked against ``dynarec.ir.semantics.evaluate``:

* constants as immediates, at the edges of the imm8 and imm32 ranges and past them
  (negative ones for 64-bit ops, ones only a 64-bit register can hold), in every position
  that takes one, and ops with two constant operands;
* views: ``trunc`` results read in their low bits only, from sources with dirty high bits;
* compare-and-branch and compare-and-select fusion for every condition and integer type,
  with the flags clobbered between the ``icmp`` and its user.

Host configurations: baseline features with registers, detected features with registers
(the BMI2 forms) and detected features with every value spilled (memory operands); and the
AArch64 host (under Unicorn) with registers and spilled, where the same constants are ADD/SUB
12-bit immediates, logical bitmasks or materialised (``test_aarch64_ops`` adds its own edges).
"""

from __future__ import annotations

import itertools
import re

import pytest

from dynarec.context import GUEST_STATE_OFFSET, ExitReason
from dynarec.hosts.aarch64 import AArch64Host
from dynarec.hosts.x86_64 import X86_64Host
from dynarec.ir import F64, I1, I8, I16, I32, I64, INT_TYPES, Builder, Module, Region, Slot
from dynarec.ir.opcodes import ICMP_CONDS
from dynarec.ir.semantics import evaluate

from harness import Harness
from test_host_ops import f64, int_edges

CONFIGS = {
    "baseline": lambda: X86_64Host(features=set()),
    "detected": lambda: X86_64Host(),
    "detected-spilled": lambda: X86_64Host(spill_all=True),
    "aarch64": lambda: AArch64Host(),
    "aarch64-spilled": lambda: AArch64Host(spill_all=True),
}
_HARNESSES: dict = {}

BINARY = ("add", "sub", "mul", "and", "or", "xor")
SHIFTS = ("shl", "lshr", "ashr", "rotl", "rotr")
DIRT = 0xA5C3_96E1_F00D_5AB7            # high bits a view must never let through


def harness(config: str) -> Harness:
    if config not in _HARNESSES:
        _HARNESSES[config] = Harness(CONFIGS[config](), cache_size=16 << 20)
    return _HARNESSES[config]


def imm_edges(bits: int) -> list:
    """Constants around every boundary an x86 immediate has (imm8, imm32 signed and
    unsigned, 64-bit only), as ``bits``-wide patterns."""
    values = {0, 1, 2, 0x7F, 0x80, -0x80, -0x81, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF,
              0x8000_0000, -0x8000_0000, -0x8000_0001, 0xFFFF_FFFF, 1 << 32,
              0x1_2345_6789, 1 << 63, -1, -2, bits - 1, bits, bits + 1, 63, 64, 65}
    return sorted({v & ((1 << bits) - 1) for v in values})


def compile_region(h: Harness, slots: list, build, pc: int = 0x40):
    """Compile the block region ``build(b)`` fills (after an ``insn_start``) with state
    ``slots``."""
    h.set_layout(slots)
    region = Region("forms", pc=pc)
    b = Builder(region, Module(state=h.layout))
    b.insn_start(pc=pc)
    build(b)
    return h.compile(region)


def execute(h: Harness, compiled, values: dict) -> None:
    """Set the slots in ``values``, run ``compiled`` and check it left for pc 0x44."""
    for ref, v in values.items():
        h.state[ref] = v
    assert h.run(compiled) == ExitReason.NEXT and h.header.next_pc == 0x44


def results(h: Harness, count: int, name: str = "r") -> list:
    return [h.state[f"{name}[{i}]"] for i in range(count)]


def wide(b, v):
    """``v`` zero-extended to i64: free for a normalised value, so putting it shows bits a
    rule failed to clear above ``v``'s type."""
    return v if v.type is I64 else b.zext(I64, v)


# --- immediates --------------------------------------------------------------------------------

def immediate_cases() -> list:
    out = []
    for t in INT_TYPES:
        for op in BINARY:
            out += [(op, t, t, pos, {}) for pos in (0, 1)]
        for pos in (0, 1):
            out += [("icmp", t, t, pos, {"cond": c}) for c in ICMP_CONDS]
        for op in SHIFTS:
            out += [(op, t, ct, 1, {}) for ct in sorted({t, I8, I64}, key=lambda x: x.bits)]
    return out


def _case_id(case) -> str:
    op, t, ct, pos, attrs = case
    return f"{op}-{t}-{ct}-imm{pos}" + "".join(f"-{v}" for v in attrs.values())


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("case", immediate_cases(), ids=_case_id)
def test_immediate_operands(config, case):
    """``op x, c`` (or ``op c, x``) for every constant ``c`` of ``imm_edges`` (of the
    constant's type ``ct``: a shift count may be wider or narrower than ``x``), plus one op
    with two constant operands, against ``evaluate`` for edge values of ``x``."""
    op, t, ct, pos, attrs = case
    h = harness(config)
    rt = I1 if op == "icmp" else t
    consts = imm_edges(ct.bits)
    types = [t, ct]
    both = (consts[-1] & t.mask, consts[len(consts) // 2])

    def build(b):
        x = b.get("x")
        for i, c in enumerate(consts):
            k = b.iconst(ct, c)
            b.put(f"r[{i}]", wide(b, b.emit(op, [x, k] if pos == 1 else [k, x], attrs, [rt])))
        pair = [b.iconst(t, both[0]), b.iconst(ct, both[1])]
        b.put(f"r[{len(consts)}]", wide(b, b.emit(op, pair, attrs, [rt])))
        b.exit(pc=0x44)

    compiled = compile_region(h, [Slot("x", t), Slot("r", I64, len(consts) + 1)], build)
    want_both = evaluate(op, list(both), types, [rt], attrs, {})
    for x in int_edges(t.bits):
        execute(h, compiled, {"x": x})
        want = [evaluate(op, [x, c] if pos == 1 else [c, x], types, [rt], attrs, {})[0]
                for c in consts]
        assert results(h, len(consts) + 1) == want + want_both, (x, compiled.asm)


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("t", INT_TYPES + (F64,), ids=str)
def test_immediate_puts_and_edge_arguments(config, t):
    """Constants stored straight into state, passed along a branch edge (a parallel move
    with constant sources), and selected (a constant second choice; floats are never
    immediates but go through the same paths)."""
    h = harness(config)
    consts = [f64(1.5), f64(-0.0), 0] if t is F64 else imm_edges(t.bits)
    const = (lambda b, c: b.fconst(t, c)) if t is F64 else (lambda b, c: b.iconst(t, c))
    n = len(consts)

    def build(b):
        join = b.new_block([t] * n)
        for i, c in enumerate(consts):
            b.put(f"r[{i}]", const(b, c))
        b.br((join, [const(b, c) for c in consts]))
        b.switch_to(join)
        for i, p in enumerate(join.params):
            b.put(f"r[{n + i}]", p)
        pick = b.icmp(b.get("c"), b.iconst(I8, 0), cond="ne")
        b.put(f"r[{2 * n}]", b.select(pick, b.get("x"), const(b, consts[-1])))
        b.exit(pc=0x44)

    compiled = compile_region(h, [Slot("x", t), Slot("c", I8), Slot("r", t, 2 * n + 1)], build)
    for c in (0, 1):
        execute(h, compiled, {"x": consts[1], "c": c})
        assert results(h, 2 * n + 1) == consts + consts + [consts[1] if c else consts[-1]]


# --- views -------------------------------------------------------------------------------------

def view_cases() -> list:
    out = []
    for t in (I8, I16, I32):
        out += [(op, t, {}) for op in BINARY + SHIFTS + ("not", "neg")]
        out += [("icmp", t, {"cond": c}) for c in ICMP_CONDS]
        out += [(conv, t, {"to": to}) for conv in ("sext", "zext")
                for to in INT_TYPES if to.bits > t.bits]
        out += [("trunc", t, {"to": to}) for to in INT_TYPES if to.bits < t.bits]
    return out


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("case", view_cases(),
                         ids=lambda c: f"{c[0]}-{c[1]}" + "".join(f"-{v}" for v in c[2].values()))
def test_views(config, case):
    """Operands that are ``trunc``\\ s of i64 values with dirty high bits: as views, as
    normal values (``y``), mixed; results put directly and through ``put`` of the view."""
    op, t, attrs = case
    h = harness(config)
    attrs = dict(attrs)
    to = attrs.pop("to", None)
    unary = op in ("not", "neg", "sext", "zext", "trunc")
    rt = to or (I1 if op == "icmp" else t)

    def build(b):
        v0, v1 = b.trunc(t, b.get("w0")), b.trunc(t, b.get("w1"))
        y = b.get("y")
        pairs = [(v0,), (y,)] if unary else [(v0, v1), (v0, y), (y, v1)]
        for i, args in enumerate(pairs):
            b.put(f"r[{i}]", wide(b, b.emit(op, list(args), attrs, [rt])))
        b.put("v", b.trunc(t, b.get("w0")))
        b.exit(pc=0x44)

    slots = [Slot("w0", I64), Slot("w1", I64), Slot("y", t), Slot("v", t), Slot("r", I64, 3)]
    compiled = compile_region(h, slots, build)
    edges = int_edges(t.bits)
    for a, c in itertools.islice(itertools.product(edges, edges[::3]), 0, None, 7):
        execute(h, compiled, {"w0": DIRT << t.bits & (2 ** 64 - 1) | a,
                              "w1": ~DIRT << t.bits & (2 ** 64 - 1) | c, "y": c})
        pairs = [(a,), (c,)] if unary else [(a, c), (a, c), (c, c)]
        want = [evaluate(op, list(p), [t] * len(p), [rt], attrs, {})[0] for p in pairs]
        assert results(h, len(pairs)) == want, (a, c, compiled.asm)
        assert h.state["v"] == a


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("op", SHIFTS)
@pytest.mark.parametrize("t", INT_TYPES, ids=str)
def test_masked_shift_counts(config, op, t):
    """Counts ``and``-ed with a mask: one that keeps them below the width (no clamp needed)
    and wider ones (clamped), also through a ``trunc``; the count's register may be reused
    for the result."""
    h = harness(config)
    masks = sorted({max(t.bits - 1, 1), t.bits, 2 * t.bits - 1, 63, 0xFF})
    n = 2 * len(masks)

    def build(b):
        x, c = b.get("x"), b.get("c")
        for i, mask in enumerate(masks):
            counted = b.emit("and", [c, b.iconst(I64, mask)])
            b.put(f"r[{2 * i}]", wide(b, b.emit(op, [x, b.trunc(I8, counted)], {}, [t])))
            b.put(f"r[{2 * i + 1}]", wide(b, b.emit(op, [x, counted], {}, [t])))
        b.exit(pc=0x44)

    compiled = compile_region(h, [Slot("x", t), Slot("c", I64), Slot("r", I64, n)], build)
    for x, c in itertools.product(int_edges(t.bits)[::2], [0, 1, 7, 31, 32, 63, 64, 0xFF,
                                                          0x1_0000_0001, 2 ** 64 - 1]):
        execute(h, compiled, {"x": x, "c": c})
        want = []
        for mask in masks:
            count = c & mask
            want += [evaluate(op, [x, count & 0xFF], [t, I8], [t], {}, {})[0],
                     evaluate(op, [x, count], [t, I64], [t], {}, {})[0]]
        assert results(h, n) == want, (x, c, compiled.asm)


# --- fused compares ----------------------------------------------------------------------------

FORMS = ("registers", "constant-right", "constant-left", "views")


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("t", INT_TYPES, ids=str)
def test_compare_and_branch(config, t, form):
    """A chain of blocks, one per condition: ``icmp``, a ``charge`` (which clobbers the
    flags), ``brif`` to blocks that record the outcome; the last one exits."""
    if form == "views" and t.bits < 8:
        pytest.skip("no view of an i1")
    h = harness(config)
    k = int_edges(t.bits)[len(int_edges(t.bits)) // 2]

    def build(b):
        if form == "views":
            x, y = b.trunc(t, b.get("w0")), b.trunc(t, b.get("w1"))
        else:
            x, y = b.get("x"), b.get("y")
        for i, cond in enumerate(ICMP_CONDS):
            lhs, rhs = {"registers": (x, y), "views": (x, y),
                        "constant-right": (x, b.iconst(t, k)),
                        "constant-left": (b.iconst(t, k), x)}[form]
            c = b.icmp(lhs, rhs, cond=cond)
            b.charge(cycles=1)
            yes, no, join = b.new_block(), b.new_block(), b.new_block()
            b.brif(c, yes, no)
            for blk, outcome in ((yes, 1), (no, 0)):
                b.switch_to(blk)
                b.put(f"r[{i}]", b.iconst(I8, outcome))
                b.br(join)
            b.switch_to(join)
        b.exit(pc=0x44)

    slots = [Slot("x", t), Slot("y", t), Slot("w0", I64), Slot("w1", I64),
             Slot("r", I8, len(ICMP_CONDS))]
    compiled = compile_region(h, slots, build)
    assert "set" not in compiled.asm           # the compares feed the jumps directly
    edges = int_edges(t.bits)
    for a, c in itertools.product(edges, edges[::2]):
        execute(h, compiled, {"x": a, "y": c, "w0": DIRT << t.bits & (2 ** 64 - 1) | a,
                              "w1": DIRT << t.bits & (2 ** 64 - 1) | c})
        lhs, rhs = {"constant-right": (a, k), "constant-left": (k, a)}.get(form, (a, c))
        want = [evaluate("icmp", [lhs, rhs], [t, t], [I1], {"cond": cond}, {})[0]
                for cond in ICMP_CONDS]
        assert results(h, len(ICMP_CONDS)) == want, (a, c, compiled.asm)


@pytest.mark.parametrize("config", CONFIGS)
def test_compares_that_cannot_fuse(config):
    """An ``icmp`` whose only use is a branch argument, one used twice, one whose ``brif``
    is in another block: each is materialised as 0/1."""
    h = harness(config)

    def build(b):
        x, y = b.get("x"), b.get("y")
        passed, twice, later = (b.icmp(x, y, cond=c) for c in ("ult", "eq", "sgt"))
        join = b.new_block([I1])
        b.br((join, [passed]))
        b.switch_to(join)
        b.put("r[0]", b.zext(I8, join.params[0]))
        b.put("r[1]", b.zext(I8, twice))
        yes, no = b.new_block(), b.new_block()
        b.brif(twice, yes, no)
        for blk, outcome in ((yes, 1), (no, 0)):
            b.switch_to(blk)
            b.put("r[2]", b.iconst(I8, outcome))
            after, other = b.new_block(), b.new_block()
            b.brif(later, after, other)
            for end, bit in ((after, 1), (other, 0)):
                b.switch_to(end)
                b.put("r[3]", b.iconst(I8, bit))
                b.exit(pc=0x44)

    compiled = compile_region(h, [Slot("x", I32), Slot("y", I32), Slot("r", I8, 4)], build)
    for a, c in itertools.product((0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF), repeat=2):
        execute(h, compiled, {"x": a, "y": c})
        want = [evaluate("icmp", [a, c], [I32, I32], [I1], {"cond": cond}, {})[0]
                for cond in ("ult", "eq", "eq", "sgt")]
        assert results(h, 4) == want, (a, c)


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("t", INT_TYPES, ids=str)
def test_compare_and_select(config, t):
    """``select (icmp x, y), p, q`` for every condition, integer and float ``p``/``q``."""
    h = harness(config)
    n = len(ICMP_CONDS)

    def build(b):
        x, y, p, q, fp, fq = (b.get(s) for s in ("x", "y", "p", "q", "fp", "fq"))
        for i, cond in enumerate(ICMP_CONDS):
            b.put(f"r[{i}]", b.select(b.icmp(x, y, cond=cond), p, q))
            b.put(f"f[{i}]", b.select(b.icmp(x, y, cond=cond), fp, fq))
        b.exit(pc=0x44)

    slots = [Slot("x", t), Slot("y", t), Slot("p", I64), Slot("q", I64), Slot("fp", F64),
             Slot("fq", F64), Slot("r", I64, n), Slot("f", F64, n)]
    compiled = compile_region(h, slots, build)
    edges = int_edges(t.bits)
    p, q, fp, fq = 0x1111_2222_3333_4444, 0xFFFF_0000_FFFF_0000, f64(2.5), f64(-0.0)
    for a, c in itertools.product(edges, edges[::3]):
        execute(h, compiled, {"x": a, "y": c, "p": p, "q": q, "fp": fp, "fq": fq})
        want = [evaluate("icmp", [a, c], [t, t], [I1], {"cond": cond}, {})[0]
                for cond in ICMP_CONDS]
        assert results(h, n) == [p if w else q for w in want], (a, c)
        assert [h.state[f"f[{i}]"] for i in range(n)] == [fp if w else fq for w in want]


# --- what the code looks like ------------------------------------------------------------------

def _body(compiled) -> list:
    """The listing's instructions, labels dropped."""
    return [ln.strip() for ln in compiled.asm.splitlines() if not ln.endswith(":")]


def test_add_of_a_constant_is_one_instruction_in_place():
    h = Harness(X86_64Host(), [Slot("x", I64)])
    region = Region("inc", pc=0x10)
    b = Builder(region, Module(state=h.layout))
    b.put("x", b.add(b.get("x"), b.iconst(I64, -5)))
    b.exit(pc=0x14)
    body = _body(h.compile(region))
    load, add, store = body[:3]
    reg = load.split()[1].rstrip(",")
    x = f"qword ptr [rbx + {GUEST_STATE_OFFSET}]"
    assert (load, add, store) == (f"mov {reg}, {x}", f"add {reg}, -5", f"mov {x}, {reg}")
    h.state["x"] = 3
    h.run(h.compile(region))
    assert h.state["x"] == 2 ** 64 - 2


def test_wide_constants_are_materialised():
    """A constant imm32 cannot encode gets a register (``mov r64, imm64``) and still works."""
    h = Harness(X86_64Host(), [Slot("x", I64)])
    region = Region("wide", pc=0x10)
    b = Builder(region, Module(state=h.layout))
    b.put("x", b.emit("and", [b.get("x"), b.iconst(I64, 0xFFFF_0000_FFFF_0000)]))
    b.exit(pc=0x14)
    compiled = h.compile(region)
    assert any(re.fullmatch(r"mov r\w+, 0xffff0000ffff0000", ln) for ln in _body(compiled))
    h.state["x"] = 0x1234_5678_9ABC_DEF0
    h.run(compiled)
    assert h.state["x"] == 0x1234_0000_9ABC_0000
