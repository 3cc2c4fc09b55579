"""constfold: constant operands folded through the shared semantics, exact identities,
constant branches. Expected texts are written by hand from the opcode table's semantics."""

from dynarec.ir import F64, I1, I8, I32, I64, Builder, Module, Region
from dynarec.ir.interp import Interpreter
from dynarec.passes import constfold

from passes_support import apply, body, expect, new_region
from random_regions import INT_TYPES, SLOTS, STATE


def test_folds_integer_chain_with_division_by_zero():
    m, r, b = new_region()
    b.insn_start(pc=0x1000)
    p = b.mul(b.iconst(I32, 6), b.iconst(I32, 7))
    q = b.sub(p, b.iconst(I32, 50))
    b.put("r[1]", q)
    b.put("r[2]", b.sdiv(q, b.iconst(I32, 0)))       # sdiv x, 0 = -1 (opcodes.py)
    # (the builder gives the three divisions the same zero: one iconst per block and value)
    b.put("r[3]", b.udiv(q, b.iconst(I32, 0)))       # udiv x, 0 = all ones
    b.put("r[4]", b.urem(q, b.iconst(I32, 0)))       # urem x, 0 = x
    b.exit(pc=0x1004)
    assert apply("constfold", r, m) == 5
    assert body(r) == expect("""
        block0:
            insn_start pc=0x1000
            v0:i32 = iconst value=6
            v1:i32 = iconst value=7
            v2:i32 = iconst value=42
            v3:i32 = iconst value=50
            v4:i32 = iconst value=0xfffffff8
            put v4 slot=r[1]
            v5:i32 = iconst value=0
            v6:i32 = iconst value=0xffffffff
            put v6 slot=r[2]
            v7:i32 = iconst value=0xffffffff
            put v7 slot=r[3]
            v8:i32 = iconst value=0xfffffff8
            put v8 slot=r[4]
            exit pc=0x1004
        """)


def test_folds_every_result_of_addc():
    m, r, b = new_region()
    s, carry, ov = b.addc(b.iconst(I32, 0xFFFFFFFF), b.iconst(I32, 1), b.iconst(I1, 0))
    b.put("r[0]", s)
    b.put("r[1]", b.zext(I32, carry))
    b.put("r[2]", b.zext(I32, ov))
    b.exit(pc=0x1004)
    apply("constfold", r, m)
    # 0xffffffff + 1 + 0: sum 0, unsigned carry out, no signed overflow (-1 + 1)
    assert body(r) == expect("""
        block0:
            v0:i32 = iconst value=0xffffffff
            v1:i32 = iconst value=1
            v2:i1 = iconst value=0
            v3:i32 = iconst value=0
            v4:i1 = iconst value=1
            v5:i1 = iconst value=0
            put v3 slot=r[0]
            v6:i32 = iconst value=1
            put v6 slot=r[1]
            v7:i32 = iconst value=0
            put v7 slot=r[2]
            exit pc=0x1004
        """)


def _divide(rounding):
    m, r, b = new_region()
    r.attrs["rounding"] = rounding
    one = b.fconst(F64, 0x3FF0000000000000)           # 1.0
    ten = b.fconst(F64, 0x4024000000000000)           # 10.0
    q, flags = b.fdiv(one, ten, flags=True)
    b.put("f", q)
    b.put("r[0]", b.zext(I32, flags))
    b.exit(pc=0x1004)
    apply("constfold", r, m)
    return body(r)


def test_folds_float_result_and_its_flags_in_the_region_rounding():
    # 0.1 is 0x3fb999999999999a rounded to nearest, ...9999 toward zero; inexact is bit 4
    template = """
        block0:
            v0:f64 = fconst bits=0x3ff0000000000000
            v1:f64 = fconst bits=0x4024000000000000
            v2:f64 = fconst bits={q}
            v3:i8 = iconst value=16
            put v2 slot=f
            v4:i32 = iconst value=16
            put v4 slot=r[0]
            exit pc=0x1004
        """
    assert _divide("rne") == expect(template.format(q="0x3fb999999999999a"))
    assert _divide("rtz") == expect(template.format(q="0x3fb9999999999999"))


def test_exact_integer_identities():
    m, r, b = new_region()
    x = b.get("r[0]")                       # v0
    zero = b.iconst(I32, 0)                 # v1
    one = b.iconst(I32, 1)                  # v2
    ones = b.iconst(I32, -1)                # v3
    y = b.add(zero, x)                      # v4 -> x
    y = b.mul(y, one)                       # v5 -> x
    y = getattr(b, "and")(y, ones)          # v6 -> x
    y = getattr(b, "or")(y, zero)           # v7 -> x
    y = b.shl(y, b.iconst(I8, 0))           # v8 = 0:i8, v9 -> x
    y = b.udiv(y, one)                      # v10 -> x
    b.put("r[1]", y)
    b.put("r[2]", b.xor(x, x))              # v11 -> 0
    b.put("r[3]", b.sub(x, x))              # v12 -> 0
    b.put("r[4]", b.mul(x, zero))           # v13 -> 0
    b.put("r[5]", getattr(b, "or")(x, ones))  # v14 -> -1
    b.put("r[6]", b.trunc(I32, b.zext(I64, x)))   # v15, v16 -> x
    invert = getattr(b, "not")
    b.put("r[7]", invert(invert(x)))        # v17, v18 -> x
    lt = b.icmp(x, x, cond="ult")           # v19 -> 0
    ge = b.icmp(x, x, cond="sge")           # v20 -> 1
    b.put("r[0]", b.select(ge, x, zero))    # v21 -> x
    b.put("r[1]", b.select(lt, x, zero))    # v22 -> zero
    b.exit(pc=0x1004)
    apply("constfold", r, m)
    assert body(r) == expect("""
        block0:
            v0:i32 = get slot=r[0]
            v1:i32 = iconst value=0
            v2:i32 = iconst value=1
            v3:i32 = iconst value=-1
            v8:i8 = iconst value=0
            put v0 slot=r[1]
            v11:i32 = iconst value=0
            put v11 slot=r[2]
            v12:i32 = iconst value=0
            put v12 slot=r[3]
            v13:i32 = iconst value=0
            put v13 slot=r[4]
            v14:i32 = iconst value=0xffffffff
            put v14 slot=r[5]
            v15:i64 = zext v0
            put v0 slot=r[6]
            v17:i32 = not v0
            put v0 slot=r[7]
            v19:i1 = iconst value=0
            v20:i1 = iconst value=1
            put v0 slot=r[0]
            put v1 slot=r[1]
            exit pc=0x1004
        """)


def test_leaves_floats_and_effects_alone():
    m, r, b = new_region()
    x = b.get("f")
    zero = b.fconst(F64, 0)
    b.put("f", b.fadd(x, zero))             # x + 0.0 is not x for x = -0.0
    addr = b.iconst(I32, 0x100)
    b.put("r[0]", b.load(I32, addr))        # a constant address still loads (may trap)
    b.put("r[1]", b.call(addr, addr, helper="mix"))
    b.exit(pc=0x1004)
    before = body(r)
    assert apply("constfold", r, m) == 0
    assert body(r) == before


def test_constant_and_trivial_branches_become_br():
    m, r, b = new_region()
    x = b.get("r[0]")                                         # v0
    one, idx = b.iconst(I1, 1), b.iconst(I32, 1)               # v1, v2
    join = b.new_block([I32])
    t, e, c = b.new_block(), b.new_block(), b.new_block()
    b.brif(one, t, e)
    b.switch_to(t)
    b.br_table(idx, (join, [x]), [(join, [idx]), (c, [])])
    b.switch_to(e)
    big = b.iconst(I32, 7)                                    # v4
    b.br_table(big, (join, [big]), [(c, [])])
    b.switch_to(c)
    cond = b.icmp(x, idx, cond="eq")                          # v5
    b.brif(cond, (join, [x]), (join, [x]))
    b.switch_to(join)
    b.put("r[1]", join.params[0])
    b.exit(pc=0x1004)
    assert apply("constfold", r, m) == 4
    assert body(r) == expect("""
        block0:
            v0:i32 = get slot=r[0]
            v1:i1 = iconst value=1
            v2:i32 = iconst value=1
            br block2
        block1(v3:i32):
            put v3 slot=r[1]
            exit pc=0x1004
        block2:
            br block4
        block3:
            v4:i32 = iconst value=7
            br block1(v4)
        block4:
            v5:i1 = icmp v0, v2 cond=eq
            br block1(v0)
        """)


def test_every_identity_agrees_with_the_interpreter():
    """Each binary integer op and icmp, on every type, with operand pairs (x, x), (x, c) and
    (c, x) for the constants the identities look for: folded and unfolded regions compute the
    same for several x."""
    binary = ["add", "sub", "mul", "and", "or", "xor", "sdiv", "udiv", "srem", "urem", "shl",
              "lshr", "ashr", "rotl", "rotr", "smulhi", "umulhi"]
    conds = ["eq", "ne", "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge"]

    cases = [(op, lambda b, p, q, op=op: getattr(b, op)(p, q)) for op in binary] + \
            [(f"icmp {c}", lambda b, p, q, c=c: b.icmp(p, q, cond=c)) for c in conds]
    for name, emit in cases:
        for t in INT_TYPES:
            for form in ("xx", "xc", "cx"):
                for c in {0, 1, 2, t.mask}:
                    def emit_form(b, x, c=c, form=form, emit=emit, t=t):
                        k = b.iconst(t, c)
                        return emit(b, *{"xx": (x, x), "xc": (x, k), "cx": (k, x)}[form])
                    _check_fold(t, emit_form, (name, t, form, c))


def test_unary_chains_agree_with_the_interpreter():
    for t in INT_TYPES:
        for op in ("not", "neg"):
            _check_fold(t, lambda b, x, op=op: getattr(b, op)(getattr(b, op)(x)), (op, t))
        for wide in (w for w in INT_TYPES if w.bits > t.bits):
            for ext in ("zext", "sext"):
                _check_fold(t, lambda b, x, w=wide, e=ext: b.trunc(t, getattr(b, e)(w, x)),
                            (ext, t, wide))


def _check_fold(t, emit, label):
    """Region ``put(emit(b, get x))`` computes the same with and without constfold, for
    several values of x of type ``t``."""
    def build():
        module = Module(state=STATE)
        region = module.add(Region("r"))
        b = Builder(region, module)
        result = emit(b, b.get(SLOTS[t][0]))
        b.put(SLOTS[result.type][-1], result)
        b.exit(pc=0x1004)
        return module, region

    plain = build()[0]
    module, region = build()
    constfold.run(region, module)
    for x in {0, 1, 2, t.mask, 0x5A5A5A5A5A5A5A5A & t.mask}:
        got, want = (Interpreter(m, state={SLOTS[t][0]: x}) for m in (module, plain))
        got.run("r")
        want.run("r")
        assert got.state == want.state, (label, x)
