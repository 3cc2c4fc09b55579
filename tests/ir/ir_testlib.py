"""Shared helpers of the IR tests: float bit conversions through ``struct`` (independent of
dynarec), hypothesis strategies for raw float bits, a corpus module using every op, and a
hypothesis strategy for random well-typed modules built with the Builder. Imported by name:
pytest puts this directory on ``sys.path`` (rootdir-relative "prepend" import mode)."""

from __future__ import annotations

import itertools
import math
import struct

from hypothesis import strategies as st

from dynarec.ir import (Builder, HelperSig, I1, I8, I16, I32, I64, Module, Region, Slot,
                        StateLayout)
from dynarec.ir.opcodes import (EXIT_KINDS, FCMP_CONDS, ICMP_CONDS, OPS, ROUNDING_MODES,
                                TYPE_CLASSES)
from dynarec.ir.types import ALL_TYPES, F32, F64, FLOAT_TYPES, INT_TYPES, Type


def d2b(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def b2d(b: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", b))[0]


def s2b(x: float) -> int:
    """Round a double to f32 bits (RNE); a finite double past the f32 range gives inf."""
    try:
        return struct.unpack("<I", struct.pack("<f", x))[0]
    except OverflowError:
        return 0x7F800000 | (0x80000000 if x < 0 else 0)


def b2s(b: int) -> float:
    return struct.unpack("<f", struct.pack("<I", b))[0]


FMT = {F32: (b2s, s2b, 32), F64: (b2d, d2b, 64)}


def to_py(t, bits):
    return FMT[t][0](bits)


def from_py(t, x):
    return FMT[t][1](x)


def edge_floats(t):
    if t is F64:
        vals = [0.0, 1.0, 1.5, 0.1, 2.0 ** -1022, 5e-324, 2.0 ** -1022 - 5e-324,
                1.7976931348623157e308, math.inf, 3.0, 2.0 ** 53, 2.0 ** 63, 2.0 ** 64, 0.5]
        nans = [0x7FF8000000000000, 0x7FF0000000000001, 0x7FF4000000000000,
                0xFFF8000000000123]
    else:
        vals = [0.0, 1.0, 1.5, 0.1, 2.0 ** -126, 2.0 ** -149, 2.0 ** -126 - 2.0 ** -149,
                3.4028234663852886e38, math.inf, 3.0, 2.0 ** 24, 2.0 ** 31, 2.0 ** 32, 0.5]
        nans = [0x7FC00000, 0x7F800001, 0x7FA00000, 0xFFC00123]
    bits = [from_py(t, v) for v in vals]
    sign = 1 << (t.bits - 1)
    return bits + [b | sign for b in bits] + nans


def float_bits(t, finite=False):
    """Raw bits of ``t``: edge values, uniformly random patterns, and 'ordinary' floats."""
    mask = (1 << t.bits) - 1
    edges = edge_floats(t)
    strategies = [st.sampled_from(edges), st.integers(0, mask),
                  st.floats(width=t.bits, allow_nan=False).map(lambda x: from_py(t, x))]
    s = st.one_of(*strategies)
    if finite:
        s = s.filter(lambda b: math.isfinite(to_py(t, b)))
    return s


# --- an IR corpus that uses every op of the table --------------------------------------------

def conversion_values(t):
    """Float bit patterns (of ``t``) near the integer ranges -- the conversion edges -- as well
    as everything ``float_bits`` gives."""
    near = [2.0 ** 31, 2.0 ** 32, 2.0 ** 63, 2.0 ** 64, 2.5, 0.5, 1.5, -0.5, -1.0,
            2.0 ** 31 - 0.5, -(2.0 ** 31) - 0.5, -(2.0 ** 31) - 1, 4294967295.5, -(2.0 ** 63)]
    conv = s2b if t is F32 else d2b
    return st.one_of(float_bits(t), st.sampled_from([conv(v) for v in near]))


def every_op_module():
    """A verifiable module whose regions together use every op of the opcode table (also
    every optional result, attribute kind, block parameters and a br_table case list)."""
    m = Module(state=StateLayout([Slot("pc", I64), Slot("gpr", I64, 4), Slot("fpr", F64, 2),
                                  Slot("flag", I1)]))
    m.helpers["mix"] = HelperSig("mix", (I64, F64), (I64,), pure=True)
    m.helpers["log"] = HelperSig("log", (I32,), ())

    fn = m.add(Region("twice", kind="function", params=[I64], results=[I64, I1]))
    b = Builder(fn, m)
    x = fn.entry.params[0]
    s, c, o = b.addc(x, x, b.iconst(I1, 0))
    b.ret(s, c)

    r = m.add(Region("r1000", pc=0x1000, attrs={"mode": 3, "rounding": "rtz"}))
    b = Builder(r, m)
    b.insn_start(pc=0x1000, cost=2)
    b.charge(cycles=2, insns=1)
    b.check_budget(cycles=8, pc=0x1000)
    g = b.get("gpr[1]")
    h = b.get("gpr[2]")
    k = b.iconst(I64, -5)
    ints = [b.add(g, h), b.sub(g, k), b.mul(g, h), b.smulhi(g, h), b.umulhi(g, h),
            b.sdiv(g, k), b.udiv(g, h), b.srem(g, k), b.urem(g, h), b.emit("and", [g, h]),
            b.emit("or", [g, h]), b.xor(g, h),
            b.emit("not", [g]), b.neg(g), b.shl(g, b.iconst(I8, 3)), b.lshr(g, h),
            b.ashr(g, h), b.rotl(g, h), b.rotr(g, h), b.clz(g), b.ctz(g), b.popcount(g),
            b.bswap(g)]
    p, ov = b.smul_ov(g, h)
    q, ov2 = b.umul_ov(g, h)
    d, bo, ov3 = b.subb(g, h, ov)
    w = b.trunc(I16, g)
    ints += [b.sext(I64, w), b.zext(I64, w), p, q, d]
    cond = b.icmp("slt", g, h)
    sel = b.select(cond, ints[0], ints[-1])
    f0 = b.get("fpr[0]")
    f1 = b.bitcast(F64, sel)
    f2, fl = b.fadd(f0, f1, flags=True)
    f3 = b.fsub(f2, f1)
    f4, _ = b.fmul(f3, f0, flags=True)
    f5 = b.fdiv(f4, f1)
    f6 = b.fsqrt(b.fabs(f5))
    f7 = b.fmin(b.fneg(f6), b.fmax(f6, b.fconst(F64, 0x3FF0000000000000)))
    fc = b.fcmp("uge", f7, f0)
    n32 = b.fcvt_to_sint(I32, f7, rounding="rne")
    u64, fl2 = b.fcvt_to_uint(I64, f7, flags=True)
    s32 = b.fdemote(F32, f7)
    f8 = b.fpromote(F64, b.fadd(s32, b.fcvt_from_sint(F32, n32)))
    f9 = b.fcvt_from_uint(F64, u64)
    b.put("fpr[1]", b.fadd(f8, f9))
    b.put("flag", b.emit("xor", [fc, ov2]))
    mixed = b.call("mix", sel, f9)
    b.call("log", n32)
    tw, carry = b.call_fn("twice", mixed)
    addr = b.zext(I64, b.trunc(I32, tw))
    v8 = b.load(I8, addr)
    b.store(addr, b.add(v8, b.trunc(I8, b.zext(I64, carry))))
    b.store(b.add(addr, b.iconst(I64, 8)), tw)
    loop = b.new_block([I64, I1])
    tail = b.new_block([I64])
    done = b.new_block()
    bad = b.new_block()
    b.br((loop, [tw, ov3]))
    b.switch_to(loop)
    i, flag = loop.params
    nxt = b.sub(i, b.iconst(I64, 1))
    zero = b.icmp("eq", nxt, b.iconst(I64, 0))
    b.brif(zero, (tail, [nxt]), (loop, [nxt, flag]))
    b.switch_to(tail)
    b.put("gpr[3]", tail.params[0])
    sel2 = b.trunc(I8, tail.params[0])
    b.br_table(sel2, done, [bad, (tail, [tail.params[0]]), done])
    b.switch_to(bad)
    b.trap(cause=7, pc=0x1004)
    b.switch_to(done)
    b.insn_start(pc=0x1008, delay=1)
    b.exit(b.get("gpr[0]"), kind="indirect")

    r2 = m.add(Region("r2000", pc=0x2000))
    b = Builder(r2, m)
    b.insn_start(pc=0x2000)
    b.exit(kind="halt", pc=0x2000)
    return m


# --- random well-typed modules (hypothesis) --------------------------------------------------

def _signatures():
    """Every valid (operand types, result types) of every pure op, from the table alone."""
    letters = {"I": INT_TYPES, "F": FLOAT_TYPES, "X": ALL_TYPES}
    table = {}
    for name, row in OPS.items():
        if not row.is_pure:
            continue
        combos = []
        for tvar in TYPE_CLASSES[row.types]:
            def choices(spec):
                spec = spec.lstrip("?")
                return [tvar] if spec == "T" else letters.get(spec) or [Type.parse(spec)]
            for args in itertools.product(*map(choices, row.args)):
                required = [s for s in row.results if not s.startswith("?")]
                for results in itertools.product(*map(choices, required)):
                    if row.extra and row.extra(list(args), list(results)):
                        continue
                    combos.append((list(args), list(results)))
                    if len(required) < len(row.results):
                        combos.append((list(args), list(results) + [Type.I8]))
        table[name] = sorted({(tuple(a), tuple(r)) for a, r in combos}, key=str)
    return table


SIGNATURES = _signatures()


@st.composite
def random_modules(draw, max_blocks=4, max_insts=12):
    """A module with a fixed state layout, two helpers, a small function region and one
    random block region of well-typed instructions built with the Builder."""
    m = Module(state=StateLayout([Slot("r", I64, 4), Slot("f", F64, 2), Slot("s", F32),
                                  Slot("b", I8), Slot("flag", I1)]))
    m.helpers["h2"] = HelperSig("h2", (I64, F64), (I64,), pure=True)
    m.helpers["h0"] = HelperSig("h0", (), ())
    fn = m.add(Region("fn", kind="function", params=[I64], results=[I64]))
    fb = Builder(fn, m)
    fb.ret(fb.add(fn.entry.params[0], fb.iconst(I64, 1)))

    region = m.add(Region(draw(st.sampled_from(["r0", "loop", "a.b"])),
                          pc=draw(st.integers(0, 2 ** 64 - 1)),
                          attrs={"rounding": draw(st.sampled_from(ROUNDING_MODES))}))
    b = Builder(region, m)
    n_blocks = draw(st.integers(1, max_blocks))
    blocks = [region.entry] + [
        b.new_block(draw(st.lists(st.sampled_from(ALL_TYPES), max_size=3)))
        for _ in range(n_blocks - 1)]
    pure_ops = sorted(SIGNATURES)
    effect_ops = ["get", "put", "load", "store", "insn_start", "charge", "check_budget",
                  "call", "call_fn"]

    for block in blocks:
        b.switch_to(block)
        # values usable here: the entry's (it dominates everything) and this block's own
        avail = list(block.params) + ([] if block is region.entry else
                                      [r for i in region.entry.insts for r in i.results])

        def value_of(t):
            pool = [v for v in avail if v.type is t]
            if pool and draw(st.booleans()):
                return draw(st.sampled_from(pool))
            if t.is_int:
                v = b.iconst(t, draw(st.integers(-(2 ** t.bits), 2 ** t.bits - 1)))
            else:
                v = b.fconst(t, draw(st.one_of(st.sampled_from(edge_floats(t)),
                                               st.integers(0, t.mask))))
            avail.append(v)
            return v

        def emit(op, args, attrs=None, result_types=()):
            out = b.emit(op, args, attrs or {}, list(result_types))
            avail.extend(b.block.insts[-1].results)
            return out

        for _ in range(draw(st.integers(0, max_insts))):
            op = draw(st.sampled_from(pure_ops + effect_ops))
            if op in SIGNATURES:
                arg_types, result_types = draw(st.sampled_from(SIGNATURES[op]))
                attrs = {}
                for a in OPS[op].attrs:
                    attrs[a.name] = {
                        "value": lambda: draw(st.integers(-(2 ** 64), 2 ** 64)),
                        "bits": lambda: draw(st.integers(0, result_types[0].mask)),
                        "cond": lambda: draw(st.sampled_from(
                            ICMP_CONDS if op == "icmp" else FCMP_CONDS)),
                        "rounding": lambda: draw(st.sampled_from(ROUNDING_MODES)),
                    }[a.name]()
                emit(op, [value_of(t) for t in arg_types], attrs, result_types)
            elif op in ("get", "put"):
                ref = draw(st.sampled_from(list(m.state.refs())))
                t = m.state.type(ref)
                if op == "get":
                    emit("get", [], {"slot": ref}, [t])
                else:
                    emit("put", [value_of(t)], {"slot": ref})
            elif op in ("load", "store"):
                t = draw(st.sampled_from([I8, I32, I64]))
                addr = value_of(draw(st.sampled_from([I32, I64])))
                if op == "load":
                    emit("load", [addr], {}, [t])
                else:
                    emit("store", [addr, value_of(t)])
            elif op == "insn_start":
                emit(op, [], {"pc": draw(st.integers(0, 2 ** 32)),
                              "cost": draw(st.integers(0, 9)),
                              "delay": draw(st.integers(0, 1))})
            elif op in ("charge", "check_budget"):
                attrs = {"cycles": draw(st.integers(0, 50))}
                attrs.update({"insns": draw(st.integers(0, 3))} if op == "charge"
                             else {"pc": draw(st.integers(0, 2 ** 32))})
                emit(op, [], attrs)
            elif op == "call":
                if draw(st.booleans()):
                    emit("call", [value_of(I64), value_of(F64)], {"helper": "h2"}, [I64])
                else:
                    emit("call", [], {"helper": "h0"})
            else:
                emit("call_fn", [value_of(I64)], {"fn": "fn"}, [I64])

        def target(blk):
            return (blk, [value_of(p.type) for p in blk.params])

        term = draw(st.sampled_from(["br", "brif", "br_table", "exit", "exit_pc", "trap"]))
        if term == "br":
            b.br(target(draw(st.sampled_from(blocks[1:] or blocks))))
        elif term == "brif":
            b.brif(value_of(I1), target(draw(st.sampled_from(blocks))),
                   target(draw(st.sampled_from(blocks))))
        elif term == "br_table":
            index = value_of(draw(st.sampled_from([I8, I32])))
            cases = [target(c) for c in draw(st.lists(st.sampled_from(blocks), max_size=3))]
            b.br_table(index, target(draw(st.sampled_from(blocks))), cases)
        elif term == "exit":
            b.exit(kind=draw(st.sampled_from(EXIT_KINDS)), pc=draw(st.integers(0, 2 ** 32)))
        elif term == "exit_pc":
            b.exit(value_of(draw(st.sampled_from([I32, I64]))),
                   kind=draw(st.sampled_from(EXIT_KINDS)))
        else:
            b.trap(cause=draw(st.integers(0, 31)), pc=draw(st.integers(0, 2 ** 32)))
    return m
