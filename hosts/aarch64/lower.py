"""The AArch64 lowering rules: ONE table, ``RULES = {op name: Rule}``, one entry per row of
``dynarec.ir.opcodes.OPS`` (a test checks ``set(RULES) == set(OPS)``).

A rule reads its operands through ``cg`` (``codegen.CodeGen``), emits A64 text and writes
its results, keeping the value representation of ``regs.py`` (integers zero-extended,
``i1`` as 0/1). Integer ops on narrow types compute at 32 bits (``w`` registers) and mask;
``i64`` at 64. Immediates are encoded where the instruction has a form for them (ADD/SUB
12-bit, logical bitmasks, shift amounts) and materialised otherwise.

Where A64 differs from the IR (``dynarec.ir.semantics``), the rule fixes it up: UDIV/SDIV
return 0 for a zero divisor (Arm ARM C6.2.388/C6.2.267; the IR wants all ones / -1), register
shifts take the count modulo the width (C6.2.179 LSLV; the IR saturates), NaN results are
replaced by the region's default NaN, narrow float -> int conversions saturate at the
narrow range. FCVT{N,P,M,Z}{S,U} already saturate and give 0 for NaN (C7.2.80 FCVTZS), as
the IR does; FMIN/FMAX already implement IEEE 754-2019 minimum/maximum with -0 < +0.
"""

from __future__ import annotations

from dynarec import context as C
from dynarec.hosts.common.regs import op_bits
from dynarec.ir.types import Type

from .codegen import INVERSE_CC, Rule, mov_imm
from .regs import ADDR, CTX, FSCRATCH, OPERAND, RESULT, add_imm, logical_imm, view


def _fmt(t: Type) -> str:
    return "s" if t is Type.F32 else "d"


# --- constants, state, bookkeeping -----------------------------------------------------------

def _iconst(cg, inst):
    r = inst.result
    d = cg.dst(r)
    cg.mov_imm(d, inst.attrs["value"] & r.type.mask)
    cg.put(r, d)


def _fconst(cg, inst):
    r = inst.result
    d = cg.fdst(r)
    cg.mov_imm(ADDR, inst.attrs["bits"] & ((1 << r.type.bits) - 1))
    cg.asm(f"fmov {view(d, r.type.bits)}, {view(ADDR, r.type.bits)}")
    cg.fput(r, d)


_SLOT_BITS = {1: 8, 8: 8, 16: 16, 32: 32, 64: 64}


def _get(cg, inst):
    r = inst.result
    t = r.type
    bits = _SLOT_BITS[t.bits]
    offset = cg.slots.slot(inst.attrs["slot"], t)
    if t.is_float:
        d = cg.fdst(r)
        cg.asm(f"ldr {view(d, bits)}, {cg.ctx_ref(offset, bits // 8)}")
        cg.fput(r, d)
        return
    d = cg.dst(r)
    cg.asm(f"{'ldr' if bits >= 32 else {8: 'ldrb', 16: 'ldrh'}[bits]} {view(d, bits)}, "
           f"{cg.ctx_ref(offset, bits // 8)}")
    if t.bits == 1:
        cg.zext(d, t)
    cg.put(r, d)


def _put(cg, inst):
    (v,) = inst.args
    t = v.type
    bits = _SLOT_BITS[t.bits]
    offset = cg.slots.slot(inst.attrs["slot"], t)
    if t.is_float:
        reg = view(cg.fsrc(v), bits)
    else:
        reg = view(cg.src(v), bits)
    cg.asm(f"{ {8: 'strb', 16: 'strh'}.get(bits, 'str')} {reg}, {cg.ctx_ref(offset, bits // 8)}")


def _insn_start(cg, inst):
    cg.cur_pc = inst.attrs["pc"]
    cg.cur_delay = inst.attrs["delay"]


def _ctx_add(cg, offset: int, value: int) -> None:
    """``[ctx + offset] += value`` (any 64-bit value)."""
    a = cg.asm
    a(f"ldr {RESULT}, [{CTX}, #{offset}]")
    if add_imm(value):
        a(f"add {RESULT}, {RESULT}, #{value}")
    elif add_imm(-value):
        a(f"sub {RESULT}, {RESULT}, #{-value}")
    else:
        cg.mov_imm(ADDR, value)
        a(f"add {RESULT}, {RESULT}, {ADDR}")
    a(f"str {RESULT}, [{CTX}, #{offset}]")


def _charge(cg, inst):
    if inst.attrs["cycles"]:
        _ctx_add(cg, C.BUDGET, -inst.attrs["cycles"])
    if inst.attrs["insns"]:
        _ctx_add(cg, C.INSNS, inst.attrs["insns"])


def _check_budget(cg, inst):
    cycles, out = inst.attrs["cycles"], cg.asm.label("budget")
    cg.asm(f"ldr {RESULT}, [{CTX}, #{C.BUDGET}]")
    _compare_imm(cg, RESULT, cycles, 64)
    cg.asm(f"b.lt {out}")
    with cg.asm.far():
        cg.asm.place(out)
        cg.exit(C.ExitReason.BUDGET, pc=inst.attrs["pc"], info=cycles)


def _compare_imm(cg, reg: str, value: int, bits: int) -> None:
    """Flags of ``reg - value`` (``value`` signed or unsigned, any size; may use x16)."""
    if add_imm(value):
        cg.asm(f"cmp {view(reg, bits)}, #{value}")
    elif add_imm(-value):
        cg.asm(f"cmn {view(reg, bits)}, #{-value}")
    else:
        cg.mov_imm(ADDR, value)
        cg.asm(f"cmp {view(reg, bits)}, {view(ADDR, bits)}")


# --- integer arithmetic ----------------------------------------------------------------------

def _alu(mnemonic: str):
    """add/sub/mul/and/orr/eor at 32 or 64 bits, then masked to the type: an immediate
    second operand where the instruction encodes it."""
    logical = mnemonic in ("and", "orr", "eor")

    def rule(cg, inst):
        a, b = inst.args
        r = inst.result
        t, bits = r.type, op_bits(r.type)
        if mnemonic in ("add", "and", "orr", "eor", "mul") and cg.imm(a) is not None:
            a, b = b, a
        ra = cg.src(a, 0)
        k = cg.imm(b)
        d = cg.dst(r)
        if k is not None and logical and logical_imm(k, bits):
            cg.asm(f"{mnemonic} {view(d, bits)}, {view(ra, bits)}, #{k:#x}")
        elif k is not None and mnemonic in ("add", "sub") and add_imm(k):
            cg.asm(f"{mnemonic} {view(d, bits)}, {view(ra, bits)}, #{k}")
        elif k is not None and mnemonic in ("add", "sub") and add_imm(-k & t.mask) and bits == 64:
            other = "sub" if mnemonic == "add" else "add"
            cg.asm(f"{other} {view(d, bits)}, {view(ra, bits)}, #{-k & t.mask}")
        else:
            rb = cg.src(b, 1)
            cg.asm(f"{mnemonic} {view(d, bits)}, {view(ra, bits)}, {view(rb, bits)}")
        if t.bits < 32:
            cg.zext(d, t)
        cg.put(r, d)
    return rule


def _unary(kind: str):
    def rule(cg, inst):
        (a,), r = inst.args, inst.result
        t, bits = r.type, op_bits(r.type)
        ra, d = cg.src(a), cg.dst(r)
        cg.asm(f"{'mvn' if kind == 'not' else 'neg'} {view(d, bits)}, {view(ra, bits)}")
        if t.bits < 32:
            cg.zext(d, t)
        cg.put(r, d)
    return rule


def _extended(cg, a, b, t: Type, signed: bool) -> tuple:
    """x17, x10 = a, b extended to 64 bits (sign- or zero-)."""
    ra, rb = cg.src(a, 0), cg.src(b, 1)
    if signed:
        cg.sext64(OPERAND[0], ra, t)
        cg.sext64(OPERAND[1], rb, t)
        return OPERAND[0], OPERAND[1]
    return ra, rb


def _mulhi(signed: bool):
    """i64: SMULH/UMULH (Arm ARM C6.2.291/C6.2.390); narrower: the 64-bit product of the
    extended operands, shifted down."""
    def rule(cg, inst):
        a, b = inst.args
        r = inst.result
        t = r.type
        d = cg.dst(r)
        if t.bits == 64:
            ra, rb = cg.src(a, 0), cg.src(b, 1)
            cg.asm(f"{'smulh' if signed else 'umulh'} {d}, {ra}, {rb}")
        else:
            ra, rb = _extended(cg, a, b, t, signed)
            cg.asm(f"mul {d}, {ra}, {rb}")
            cg.asm(f"{'asr' if signed else 'lsr'} {d}, {d}, #{t.bits}")
            cg.zext(d, t)
        cg.put(r, d)
    return rule


def _mul_ov(signed: bool):
    """Product and overflow: i64 compares the high half (SMULH/UMULH) with the low half's
    sign fill (zero); narrower types compare the 64-bit product of the extended operands
    with its own truncation, re-extended."""
    def rule(cg, inst):
        a, b = inst.args
        prod, ov = inst.results
        t = prod.type
        asm = cg.asm
        if t.bits == 64:
            ra, rb = cg.src(a, 0), cg.src(b, 1)
            asm(f"{'smulh' if signed else 'umulh'} {ADDR}, {ra}, {rb}")
            asm(f"mul {RESULT}, {ra}, {rb}")
            if signed:
                asm(f"cmp {ADDR}, {RESULT}, asr #63")
            else:
                asm(f"cmp {ADDR}, #0")
        else:
            ra, rb = _extended(cg, a, b, t, signed)
            asm(f"mul {RESULT}, {ra}, {rb}")
            if signed:
                cg.sext64(ADDR, RESULT, t)
            else:
                asm(f"ubfx {ADDR}, {RESULT}, #0, #{t.bits}")
            asm(f"cmp {ADDR}, {RESULT}")
            cg.zext(RESULT, t)
        asm(f"cset {view(ADDR, 32)}, ne")
        cg.put(ov, ADDR)
        cg.put(prod, RESULT)
    return rule


def _divide(signed: bool, remainder: bool):
    """SDIV/UDIV at 32 or 64 bits on extended operands (so MIN / -1 of a narrow type does
    not overflow there, and its truncation is the IR's MIN); a zero divisor's quotient is
    replaced by all ones (CSINV), and the remainder a - q*b (MSUB) is then a, as the IR
    wants."""
    def rule(cg, inst):
        a, b = inst.args
        r = inst.result
        t, bits = r.type, op_bits(r.type)
        if signed:
            ra, rb = _extended(cg, a, b, t, True)
        else:
            ra, rb = cg.src(a, 0), cg.src(b, 1)
        asm = cg.asm
        q = ADDR
        asm(f"{'sdiv' if signed else 'udiv'} {view(q, bits)}, {view(ra, bits)}, "
            f"{view(rb, bits)}")
        if remainder:
            d = cg.dst(r)
            asm(f"msub {view(d, bits)}, {view(q, bits)}, {view(rb, bits)}, {view(ra, bits)}")
        else:
            asm(f"cmp {view(rb, bits)}, #0")
            d = cg.dst(r)
            asm(f"csinv {view(d, bits)}, {view(q, bits)}, {view('xzr', bits)}, ne")
        if t.bits < 64:
            cg.zext(d, t)
        cg.put(r, d)
    return rule


def _shift(kind: str):
    """shl/lshr/ashr: by a constant, one immediate shift (or 0 / the sign fill); by a
    register, the 64-bit shift of the (extended) operand with the count limited: counts at
    or past the width give 0 (CSEL) or, for ashr, shift by 63."""
    def rule(cg, inst):
        a, c = inst.args
        r = inst.result
        t = r.type
        n = t.bits
        asm = cg.asm
        d = cg.dst(r)
        k = cg.imm(c)
        ra = cg.src(a, 0)
        if kind == "ashr":
            cg.sext64(OPERAND[0], ra, t)
            ra = OPERAND[0]
        if k is not None:
            if k >= n and kind != "ashr":
                asm(f"mov {d}, xzr")
            else:
                amount = min(k, n - 1) if kind == "ashr" else k
                mnem = {"shl": "lsl", "lshr": "lsr", "ashr": "asr"}[kind]
                asm(f"{mnem} {d}, {ra}, #{amount}")
        else:
            rc = cg.src(c, 1)
            if kind == "ashr":
                asm(f"mov {ADDR}, #{n - 1}")
                asm(f"cmp {rc}, {ADDR}")
                asm(f"csel {ADDR}, {rc}, {ADDR}, lo")
                asm(f"asr {d}, {ra}, {ADDR}")
            else:
                asm(f"{'lsl' if kind == 'shl' else 'lsr'} {ADDR}, {ra}, {rc}")
                asm(f"cmp {rc}, #{n}")
                asm(f"csel {d}, {ADDR}, xzr, lo")
        if n < 64:
            cg.zext(d, t)
        cg.put(r, d)
    return rule


def _rotate(left: bool):
    """rotl/rotr by ``count mod width``: ROR (Arm ARM C6.2.257/C6.2.259) at 32 and 64 bits
    (rotl by ``-count``); i8/i16 as ``(x >> c) | (x << (n - c))`` with ``c = count mod n``."""
    def rule(cg, inst):
        a, c = inst.args
        r = inst.result
        t = r.type
        n = t.bits
        asm = cg.asm
        d = cg.dst(r)
        ra = cg.src(a, 0)
        if n == 1:
            cg.put(r, ra)
            return
        k = cg.imm(c)
        if k is not None:
            k = k % n
            k = (n - k) % n if left else k
            cnt = None
        else:
            cnt = cg.src(c, 1)
            if left:
                asm(f"neg {ADDR}, {cnt}")
                cnt = ADDR
        if n >= 32:
            if cnt is None:
                asm(f"ror {view(d, n)}, {view(ra, n)}, #{k}")
            else:
                asm(f"ror {view(d, n)}, {view(ra, n)}, {view(cnt, n)}")
        else:
            if cnt is None:
                if k == 0:
                    asm(f"mov {d}, {ra}")
                else:
                    asm(f"lsr {OPERAND[2]}, {ra}, #{k}")
                    asm(f"lsl {d}, {ra}, #{n - k}")
                    asm(f"orr {d}, {d}, {OPERAND[2]}")
            else:
                asm(f"and {ADDR}, {cnt}, #{n - 1}")
                asm(f"lsr {OPERAND[2]}, {ra}, {ADDR}")
                asm(f"neg {ADDR}, {ADDR}")
                asm(f"add {ADDR}, {ADDR}, #{n}")
                asm(f"lsl {d}, {ra}, {ADDR}")
                asm(f"orr {d}, {d}, {OPERAND[2]}")
            cg.zext(d, t)
        cg.put(r, d)
    return rule


def _clz(cg, inst):
    """CLZ at 32/64 bits; narrower types subtract the leading zeros above them (0 gives the
    width); i1 is ``x ^ 1``."""
    (a,), r = inst.args, inst.result
    n = r.type.bits
    ra, d = cg.src(a), cg.dst(r)
    if n == 1:
        cg.asm(f"eor {d}, {ra}, #1")
    elif n == 64:
        cg.asm(f"clz {d}, {ra}")
    else:
        cg.asm(f"clz {view(d, 32)}, {view(ra, 32)}")
        if n < 32:
            cg.asm(f"sub {view(d, 32)}, {view(d, 32)}, #{32 - n}")
    cg.put(r, d)


def _ctz(cg, inst):
    """RBIT + CLZ; narrower types first set bit ``width`` so 0 gives the width."""
    (a,), r = inst.args, inst.result
    n = r.type.bits
    ra, d = cg.src(a), cg.dst(r)
    if n == 64:
        cg.asm(f"rbit {d}, {ra}")
        cg.asm(f"clz {d}, {d}")
    else:
        cg.asm(f"orr {ADDR}, {ra}, #{1 << n:#x}")
        cg.asm(f"rbit {ADDR}, {ADDR}")
        cg.asm(f"clz {d}, {ADDR}")
    cg.put(r, d)


def _popcount(cg, inst):
    """CNT on the bytes of a SIMD register, then ADDV (Arm ARM C7.2.47, C7.2.5)."""
    (a,), r = inst.args, inst.result
    ra, d = cg.src(a), cg.dst(r)
    v = FSCRATCH[2]
    cg.asm(f"fmov {view(v, 64)}, {ra}")
    cg.asm(f"cnt {v}.8b, {v}.8b")
    cg.asm(f"addv b31, {v}.8b")
    cg.asm(f"fmov {view(d, 32)}, {view(v, 32)}")
    cg.put(r, d)


def _bswap(cg, inst):
    (a,), r = inst.args, inst.result
    ra, d = cg.src(a), cg.dst(r)
    if ra != d:
        cg.asm(f"mov {d}, {ra}")
    cg.byte_swap(d, r.type.bits)
    cg.put(r, d)


def _sext(cg, inst):
    (a,), r = inst.args, inst.result
    ra, d = cg.src(a), cg.dst(r)
    cg.sext64(d, ra, a.type)
    cg.zext(d, r.type)
    cg.put(r, d)


def _zext(cg, inst):
    (a,), r = inst.args, inst.result
    cg.put(r, cg.src(a))


def _trunc(cg, inst):
    """Keep the low bits: AND with the mask below 32 bits, a 32-bit MOV at 32 (which clears
    bits 32-63), a copy at 64 (a width the verifier refuses, kept exact anyway)."""
    (a,), r = inst.args, inst.result
    ra, d = cg.src(a), cg.dst(r)
    if r.type.bits < 32:
        cg.asm(f"and {view(d, 32)}, {view(ra, 32)}, #{r.type.mask:#x}")
    else:
        cg.asm(f"mov {view(d, r.type.bits)}, {view(ra, r.type.bits)}")
    cg.put(r, d)


_ICMP_CC = {"eq": "eq", "ne": "ne", "slt": "lt", "sle": "le", "sgt": "gt", "sge": "ge",
            "ult": "lo", "ule": "ls", "ugt": "hi", "uge": "hs"}


def _compare(cg, a, b, cond: str) -> str:
    """Compare two integers (signed conditions on sign-extended copies) and return the A64
    condition of ``cond``."""
    t = a.type
    signed = cond[0] == "s"
    k = cg.imm(b)
    if signed and t.bits < 64:
        ra, rb = _extended(cg, a, b, t, True)
        cg.asm(f"cmp {ra}, {rb}")
    else:
        ra = cg.src(a, 0)
        if k is not None and add_imm(k):
            cg.asm(f"cmp {ra}, #{k}")
        else:
            cg.asm(f"cmp {ra}, {cg.src(b, 1)}")
    return _ICMP_CC[cond]


def _icmp(cg, inst):
    a, b = inst.args
    cc = _compare(cg, a, b, inst.attrs["cond"])
    d = cg.dst(inst.result)
    cg.asm(f"cset {view(d, 32)}, {cc}")
    cg.put(inst.result, d)


def _condition(cg, c) -> str:
    """Set the flags for the ``i1`` value ``c`` -- its fused compare (``common.fold``), or a
    test of it -- and return the A64 condition that is true when ``c`` is 1."""
    icmp = cg.fused(c)
    if icmp is not None:
        return _compare(cg, *icmp.args, icmp.attrs["cond"])
    cg.asm(f"cmp {cg.src(c, 2)}, #0")
    return "ne"


def _select(cg, inst):
    c, a, b = inst.args
    r = inst.result
    cc = _condition(cg, c)
    if r.type.is_float:
        fa, fb = cg.fsrc(a, 0), cg.fsrc(b, 1)
        d = cg.fdst(r)
        cg.asm(f"fcsel {view(d, r.type.bits)}, {view(fa, r.type.bits)}, "
               f"{view(fb, r.type.bits)}, {cc}")
        cg.fput(r, d)
    else:
        ra, rb = cg.src(a, 0), cg.src(b, 1)
        d = cg.dst(r)
        cg.asm(f"csel {d}, {ra}, {rb}, {cc}")
        cg.put(r, d)


def _carry_op(subtract: bool):
    """addc/subb: i32/i64 with ADCS/SBCS (the carry in set up in C first; SBCS subtracts
    ``!C``), carry/borrow from C and overflow from V; narrower types in 64-bit arithmetic on
    the zero- and sign-extended operands."""
    def rule(cg, inst):
        a, b, cin = inst.args
        res, carry, ov = inst.results
        t = res.type
        n = t.bits
        asm = cg.asm
        ra, rb, rc = cg.src(a, 0), cg.src(b, 1), cg.src(cin, 2)
        if n >= 32:
            if subtract:
                asm(f"cmp xzr, {rc}")             # C = (borrow_in == 0)
                asm(f"sbcs {view(RESULT, n)}, {view(ra, n)}, {view(rb, n)}")
                cf = "lo"
            else:
                asm(f"cmp {rc}, #1")              # C = carry_in
                asm(f"adcs {view(RESULT, n)}, {view(ra, n)}, {view(rb, n)}")
                cf = "hs"
            asm(f"cset {view(ADDR, 32)}, vs")
            asm(f"cset {view(OPERAND[2], 32)}, {cf}")
        else:
            op = "sub" if subtract else "add"
            asm(f"{op} {RESULT}, {ra}, {rb}")
            asm(f"{op} {RESULT}, {RESULT}, {rc}")
            cg.sext64(OPERAND[0], ra, t)
            cg.sext64(OPERAND[1], rb, t)
            asm(f"{op} {OPERAND[0]}, {OPERAND[0]}, {OPERAND[1]}")
            asm(f"{op} {OPERAND[0]}, {OPERAND[0]}, {rc}")
            cg.sext64(ADDR, RESULT, t)
            asm(f"cmp {ADDR}, {OPERAND[0]}")
            asm(f"cset {view(ADDR, 32)}, ne")
            if subtract:
                asm(f"lsr {OPERAND[2]}, {RESULT}, #63")
            else:
                asm(f"ubfx {OPERAND[2]}, {RESULT}, #{n}, #1")
            cg.zext(RESULT, t)
        cg.put(ov, ADDR)
        cg.put(carry, OPERAND[2])
        cg.put(res, RESULT)
    return rule


# --- floating point --------------------------------------------------------------------------

def _farith(mnemonic: str):
    """IEEE arithmetic in the region's rounding mode, default NaN, flags from FPSR. For the
    underflow fix-up (``CodeGen.with_flags``) fmul scales its smaller operand by 2**64 (it is
    below 2**-63 when the product is near the smallest normal) and fdiv its dividend (below
    4 then)."""
    def rule(cg, inst):
        r = inst.results[0]
        t = r.type
        f = _fmt(t)
        srcs = [cg.fsrc(a, k) for k, a in enumerate(inst.args)]
        d = cg.fdst(r)
        if d in srcs and len(inst.results) > 1:
            d = FSCRATCH[2]                   # the fix-up reads the operands again

        def body():
            cg.asm(f"{mnemonic} {f}{d[1:]}, " + ", ".join(f"{f}{s[1:]}" for s in srcs))

        def rescaled():
            big = cg.two_to_64(t)
            a, b = (view(x, t.bits) for x in srcs)
            if mnemonic == "fmul":
                cg.asm(f"fabs {view('v9', t.bits)}, {a}")
                cg.asm(f"fabs {view('v10', t.bits)}, {b}")
                cg.asm(f"fcmp {view('v9', t.bits)}, {view('v10', t.bits)}")
                cg.asm(f"fcsel {view('v9', t.bits)}, {a}, {b}, ls")      # the smaller
                cg.asm(f"fcsel {view('v10', t.bits)}, {b}, {a}, ls")     # the other
                cg.asm(f"fmul {view('v9', t.bits)}, {view('v9', t.bits)}, {big}")
                cg.asm(f"fmul {view('v9', t.bits)}, {view('v9', t.bits)}, "
                       f"{view('v10', t.bits)}")
            else:
                cg.asm(f"fmul {view('v9', t.bits)}, {a}, {big}")
                cg.asm(f"fdiv {view('v9', t.bits)}, {view('v9', t.bits)}, {b}")
        cg.with_flags(inst, body, d, rescaled if mnemonic in ("fmul", "fdiv") else None)
        cg.canon_nan(d, t)
        cg.fput(r, d)
    return rule


def _sign_bit(mnemonic: str):
    """fabs/fneg: FABS/FNEG change only the sign bit, NaNs included (Arm ARM C7.2.59)."""
    def rule(cg, inst):
        (a,), r = inst.args, inst.result
        f = _fmt(r.type)
        s, d = cg.fsrc(a), cg.fdst(r)
        cg.asm(f"{mnemonic} {f}{d[1:]}, {f}{s[1:]}")
        cg.fput(r, d)
    return rule


def _fminmax(mnemonic: str):
    def rule(cg, inst):
        a, b = inst.args
        r = inst.result
        f = _fmt(r.type)
        fa, fb, d = cg.fsrc(a, 0), cg.fsrc(b, 1), cg.fdst(r)
        cg.asm(f"{mnemonic} {f}{d[1:]}, {f}{fa[1:]}, {f}{fb[1:]}")
        cg.canon_nan(d, r.type)
        cg.fput(r, d)
    return rule


#: fcmp condition -> (A64 condition after FCMP a, b, combine) where an unordered compare
#: sets C and V, equal Z and C, less N, greater C (Arm ARM C7.2.66 FCMP); ``one`` and
#: ``ueq`` need two conditions.
_FCMP_CC = {"oeq": ("eq",), "une": ("ne",), "olt": ("mi",), "ole": ("ls",), "ogt": ("gt",),
            "oge": ("ge",), "ult": ("lt",), "ule": ("le",), "ugt": ("hi",), "uge": ("pl",),
            "ord": ("vc",), "uno": ("vs",), "one": ("mi", "gt"), "ueq": ("eq", "vs")}


def _fcmp(cg, inst):
    a, b = inst.args
    f = _fmt(a.type)
    fa, fb = cg.fsrc(a, 0), cg.fsrc(b, 1)
    d = cg.dst(inst.result)
    cg.asm(f"fcmp {f}{fa[1:]}, {f}{fb[1:]}")
    conds = _FCMP_CC[inst.attrs["cond"]]
    cg.asm(f"cset {view(d, 32)}, {conds[0]}")
    if len(conds) == 2:
        cg.asm(f"csinc {view(d, 32)}, {view(d, 32)}, wzr, {INVERSE_CC[conds[1]]}")
    cg.put(inst.result, d)


def _fcvt_from_int(signed: bool):
    """SCVTF/UCVTF from the 32- or 64-bit register (narrow operands extended first);
    rounding per FPCR."""
    def rule(cg, inst):
        (a,), r = inst.args, inst.results[0]
        t = r.type
        ra = cg.src(a, 0)
        if signed and a.type.bits < 64:
            cg.sext64(OPERAND[0], ra, a.type)
            ra = OPERAND[0]
        d = cg.fdst(r)
        bits = 64 if a.type.bits == 64 or signed else 32

        def body():
            cg.asm(f"{'scvtf' if signed else 'ucvtf'} {view(d, t.bits)}, {view(ra, bits)}")
        cg.with_flags(inst, body, d)
        cg.fput(r, d)
    return rule


_FCVT_ROUND = {"rne": "n", "rup": "p", "rdn": "m", "rtz": "z"}


def _fcvt_to_int(signed: bool):
    """FCVT{N,P,M,Z}{S,U} (the rounding attribute) to 32 or 64 bits, saturating with NaN ->
    0; i8/i16 results are clamped to their range after a 32-bit conversion, and a clamped
    conversion raises invalid only (the flags then are exactly ``invalid``)."""
    def rule(cg, inst):
        (a,), r = inst.args, inst.results[0]
        n = r.type.bits
        fa = cg.fsrc(a)
        f = _fmt(a.type)
        rnd = _FCVT_ROUND[inst.attrs["rounding"]]
        mnem = f"fcvt{rnd}{'s' if signed else 'u'}"
        asm = cg.asm
        flags = inst.results[1] if len(inst.results) > 1 else None
        if flags is not None:
            asm("msr fpsr, xzr")
        asm(f"{mnem} {view(RESULT, max(n, 32))}, {f}{fa[1:]}")
        if flags is not None:
            asm(f"mrs {OPERAND[2]}, fpsr")
            asm(f"and {OPERAND[2]}, {OPERAND[2]}, #0x1f")
        if n < 32:
            lo, hi = (-(1 << (n - 1)), (1 << (n - 1)) - 1) if signed else (0, (1 << n) - 1)
            above = "gt" if signed else "hi"
            reg = view(RESULT, 32)
            clamp = ADDR
            asm(f"mov {view(clamp, 32)}, #{hi}")
            asm(f"cmp {reg}, {view(clamp, 32)}")
            asm(f"csel {OPERAND[0]}, {clamp}, xzr, {above}")    # x17 != 0: clamped
            asm(f"csel {reg}, {view(clamp, 32)}, {reg}, {above}")
            if signed:
                mov_imm(asm, clamp, lo & 0xFFFFFFFF)
                asm(f"cmp {reg}, {view(clamp, 32)}")
                asm(f"csel {OPERAND[0]}, {clamp}, {OPERAND[0]}, lt")
                asm(f"csel {reg}, {view(clamp, 32)}, {reg}, lt")
            cg.zext(RESULT, r.type)
            if flags is not None:
                asm(f"cmp {OPERAND[0]}, #0")
                asm(f"mov {ADDR}, #1")
                asm(f"csel {OPERAND[2]}, {ADDR}, {OPERAND[2]}, ne")
        if flags is not None:
            cg.put(flags, OPERAND[2])
        cg.put(r, RESULT)
    return rule


def _fconvert(cg, inst):
    """fpromote/fdemote: FCVT between the formats (rounding per FPCR), default NaN."""
    (a,), r = inst.args, inst.results[0]
    fa, d = cg.fsrc(a), cg.fdst(r)
    if d == fa and len(inst.results) > 1:
        d = FSCRATCH[2]                       # the fix-up reads the operand again

    def body():
        cg.asm(f"fcvt {view(d, r.type.bits)}, {view(fa, a.type.bits)}")

    def rescaled():                       # fdemote: scale the f64 operand, then narrow
        cg.asm(f"fmul d9, {view(fa, 64)}, {cg.two_to_64(a.type)}")
        cg.asm("fcvt s9, d9")
    cg.with_flags(inst, body, d, rescaled if inst.op == "fdemote" else None)
    cg.canon_nan(d, r.type)
    cg.fput(r, d)


def _bitcast(cg, inst):
    (a,), r = inst.args, inst.result
    if r.type.is_float:
        d = cg.fdst(r)
        cg.asm(f"fmov {view(d, r.type.bits)}, {view(cg.src(a), r.type.bits)}")
        cg.fput(r, d)
    else:
        d = cg.dst(r)
        cg.asm(f"fmov {view(d, a.type.bits)}, {view(cg.fsrc(a), a.type.bits)}")
        cg.put(r, d)


# --- control flow ----------------------------------------------------------------------------

def _br(cg, inst):
    cg.jump(inst.targets[0])


def _brif(cg, inst):
    then, other = inst.targets
    cg.branch2(_condition(cg, inst.args[0]), then, other)


def _br_table(cg, inst):
    """A compare chain (cases are few in practice)."""
    default, cases = inst.targets[0], inst.targets[1:]
    index = cg.src(inst.args[0], 2)
    for k, target in enumerate(cases):
        _compare_imm(cg, index, k, 64)
        cg.branch("eq", target)
    cg.jump(default)


def _trap(cg, inst):
    cg.exit(C.ExitReason.EXCEPTION, pc=inst.attrs["pc"], info=inst.attrs["cause"], delay=True)


RULES = {
    "iconst": Rule(_iconst),
    "fconst": Rule(_fconst),
    "get": Rule(_get),
    "put": Rule(_put),
    "load": Rule(lambda cg, inst: cg.guest_load(inst)),
    "store": Rule(lambda cg, inst: cg.guest_store(inst)),
    "insn_start": Rule(_insn_start),
    "charge": Rule(_charge),
    "check_budget": Rule(_check_budget),
    "add": Rule(_alu("add")),
    "sub": Rule(_alu("sub")),
    "mul": Rule(_alu("mul")),
    "smul_ov": Rule(_mul_ov(signed=True)),
    "umul_ov": Rule(_mul_ov(signed=False)),
    "smulhi": Rule(_mulhi(signed=True)),
    "umulhi": Rule(_mulhi(signed=False)),
    "sdiv": Rule(_divide(signed=True, remainder=False)),
    "udiv": Rule(_divide(signed=False, remainder=False)),
    "srem": Rule(_divide(signed=True, remainder=True)),
    "urem": Rule(_divide(signed=False, remainder=True)),
    "and": Rule(_alu("and")),
    "or": Rule(_alu("orr")),
    "xor": Rule(_alu("eor")),
    "not": Rule(_unary("not")),
    "neg": Rule(_unary("neg")),
    "shl": Rule(_shift("shl")),
    "lshr": Rule(_shift("lshr")),
    "ashr": Rule(_shift("ashr")),
    "rotl": Rule(_rotate(left=True)),
    "rotr": Rule(_rotate(left=False)),
    "clz": Rule(_clz),
    "ctz": Rule(_ctz),
    "popcount": Rule(_popcount),
    "bswap": Rule(_bswap),
    "sext": Rule(_sext),
    "zext": Rule(_zext),
    "trunc": Rule(_trunc),
    "icmp": Rule(_icmp),
    "select": Rule(_select, cc=True),
    "addc": Rule(_carry_op(subtract=False)),
    "subb": Rule(_carry_op(subtract=True)),
    "fadd": Rule(_farith("fadd")),
    "fsub": Rule(_farith("fsub")),
    "fmul": Rule(_farith("fmul")),
    "fdiv": Rule(_farith("fdiv")),
    "fsqrt": Rule(_farith("fsqrt")),   # never tiny; fadd/fsub are exact when tiny
    "fabs": Rule(_sign_bit("fabs")),
    "fneg": Rule(_sign_bit("fneg")),
    "fmin": Rule(_fminmax("fmin")),
    "fmax": Rule(_fminmax("fmax")),
    "fcmp": Rule(_fcmp),
    "fcvt_from_sint": Rule(_fcvt_from_int(signed=True)),
    "fcvt_from_uint": Rule(_fcvt_from_int(signed=False)),
    "fcvt_to_sint": Rule(_fcvt_to_int(signed=True)),
    "fcvt_to_uint": Rule(_fcvt_to_int(signed=False)),
    "fpromote": Rule(_fconvert),
    "fdemote": Rule(_fconvert),
    "bitcast": Rule(_bitcast),
    "call": Rule(lambda cg, inst: cg.call_helper(inst)),
    "call_fn": Rule(lambda cg, inst: cg.call_function(inst)),
    "br": Rule(_br),
    "brif": Rule(_brif, cc=True),
    "br_table": Rule(_br_table),
    "exit": Rule(lambda cg, inst: cg.leave(inst)),
    "ret": Rule(lambda cg, inst: cg.ret(inst)),
    "trap": Rule(_trap),
}
