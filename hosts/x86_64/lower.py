"""The x86-64 lowering rules: ONE table, ``RULES = {op name: Rule}``, one entry per row of
``dynarec.ir.opcodes.OPS`` (a test checks ``set(RULES) == set(OPS)``).

A rule (``codegen.Rule``) is ``emit(cg, inst)`` plus the operand forms it accepts: which
operands may be immediates, which it reads only in their low bits, whether it consumes a fused
compare (``fold.py`` folds operands into the rule accordingly). ``emit`` reads the
instruction's operands through ``cg`` (``codegen.CodeGen``), emits Intel-syntax text and writes
the results, keeping the value representation of ``regs.py`` (integers zero-extended, ``i1`` as
0/1). Rules compute in the result's own register where they can (in place when it is the first
operand's), take immediates and memory operands directly, and go through the scratch
registers only for x86's fixed-register forms. The machinery (frames, moves, calls, exits, the
memory fast path) lives in ``codegen``; rules only say what each op is on x86-64, as
Cranelift's ISLE keeps lowering rules apart from its machinery.

Instruction facts are from the Intel SDM vol. 2 pages of each mnemonic. Semantics are those of
``dynarec.ir.semantics`` (division by zero and MIN/-1 in far code, never a ``#DE``;
saturating shifts by compare + cmov; NaN results replaced by the region's default NaN;
float -> int saturating with ``roundsd`` or an MXCSR-based fallback).
"""

from __future__ import annotations

from dynarec import context as C
from dynarec.hosts.common.codegen import Rule
from dynarec.hosts.common.regs import op_bits
from dynarec.ir.types import Type, to_signed

from .codegen import INVERSE_CC, MXCSR_RC, SCR_MXCSR, SCR_SAVED_MXCSR, f64_bits
from .regs import CTX, Imm, Mem, Reg, fits_imm32, sub

SCALAR = {Type.F32: "ss", Type.F64: "sd"}
MOVS = {Type.F32: "movss", Type.F64: "movsd"}


# --- small shared pieces ---------------------------------------------------------------------

def _narrow(cg, reg: str, t: Type) -> None:
    """Mask a result computed at 32 bits back to ``t`` (i1/i8/i16)."""
    if t.bits < 32:
        cg.zext(reg, t)


def _setcc(cg, cc: str, reg: str) -> None:
    cg.asm(f"set{cc} {sub(reg, 8)}")
    cg.asm(f"movzx {sub(reg, 32)}, {sub(reg, 8)}")


def _flags_result(inst) -> bool:
    """True if a float op's optional flags result is present."""
    return len(inst.results) > 1


def _wrap_flags(cg, inst, body) -> None:
    """Run ``body`` (which leaves its value in xmm13) between clearing and reading MXCSR's
    flags when the op's flags result is wanted; canonicalise NaN; write the results."""
    want = _flags_result(inst)
    if want:
        cg.clear_fp_flags()
    body()
    if want:
        cg.fp_flags("rcx")
    cg.canon_nan("xmm13", inst.results[0].type)
    cg.fstore(inst.results[0], "xmm13")
    if want:
        cg.store(inst.results[1], "rcx")


# --- constants, state, memory, bookkeeping ---------------------------------------------------

def _iconst(cg, inst):
    cg.store_imm(inst.result, inst.attrs["value"] & inst.result.type.mask)


def _fconst(cg, inst):
    cg.store_imm(inst.result, inst.attrs["bits"] & inst.result.type.mask)


def _get(cg, inst):
    r = inst.result
    mem = cg.slots.slot(inst.attrs["slot"], r.type)
    loc = cg.loc(r)
    if r.type.is_float:
        if type(loc) is Reg:
            cg.asm(f"{MOVS[r.type]} {loc.name}, {mem}")
        else:                                   # a spill slot: the whole word, zero-filled
            cg.asm(f"mov {sub('rax', r.type.bits)}, {mem}")
            cg.asm(f"mov {loc.ref()}, rax")
        return
    dst = cg.dest(r)
    if r.type.bits < 32:
        cg.asm(f"movzx {sub(dst, 32)}, {mem}")
    else:
        cg.asm(f"mov {sub(dst, r.type.bits)}, {mem}")
    if r.type.bits == 1:
        cg.asm(f"and {sub(dst, 32)}, 1")
    cg.store(r, dst)


def _put(cg, inst):
    (v,) = inst.args
    t = v.type
    mem = cg.slots.slot(inst.attrs["slot"], t)
    loc = cg.loc(v)
    if type(loc) is Imm and fits_imm32(loc.value, t.bits):
        cg.asm(f"mov {mem}, {loc.text(t.bits)}")
    elif type(loc) is Reg and loc.is_float:
        cg.asm(f"{MOVS[t]} {mem}, {loc.name}")
    else:
        reg = loc.name if type(loc) is Reg else cg.load(v, "rax", t.bits)
        cg.asm(f"mov {mem}, {sub(reg, t.bits)}")


def _insn_start(cg, inst):
    cg.cur_pc = inst.attrs["pc"]
    cg.cur_delay = inst.attrs["delay"]


def _ctx_imm(cg, mnemonic: str, offset: int, value: int):
    if -(1 << 31) <= value < 1 << 31:
        cg.asm(f"{mnemonic} qword ptr [{CTX} + {offset}], {value}")
    else:
        cg.mov_imm("rax", value)
        cg.asm(f"{mnemonic} qword ptr [{CTX} + {offset}], rax")


def _charge(cg, inst):
    if inst.attrs["cycles"]:
        _ctx_imm(cg, "sub", C.BUDGET, inst.attrs["cycles"])
    if inst.attrs["insns"]:
        _ctx_imm(cg, "add", C.INSNS, inst.attrs["insns"])


def _check_budget(cg, inst):
    cycles, out = inst.attrs["cycles"], cg.asm.label("budget")
    _ctx_imm(cg, "cmp", C.BUDGET, cycles)
    cg.asm(f"jl {out}")
    with cg.asm.far():
        cg.asm.place(out)
        cg.exit(C.ExitReason.BUDGET, pc=inst.attrs["pc"], info=cycles)


# --- integer arithmetic ----------------------------------------------------------------------

def _alu(mnemonic: str, commutative: bool):
    """Two-operand ALU op computed at 32 or 64 bits (low bits are exact for narrower types):
    in place when the result has the first operand's register, ``lea`` for additions into
    another register, three-operand ``imul`` by a constant, ``neg`` + ``add`` for ``a - b``
    into ``b``'s register."""
    bitwise = mnemonic in ("and", "or", "xor")

    def rule(cg, inst):
        a, b = inst.args
        r = inst.result
        t, bits = r.type, op_bits(r.type)
        la, lb, lr = cg.loc(a), cg.loc(b), cg.loc(r)
        if commutative and (type(la) is Imm or (lr == lb and lr != la)):
            a, b, la, lb = b, a, lb, la
        if type(lr) is Reg and lr == lb and lr != la:         # r = a - r
            d = lr.name
            cg.asm(f"neg {sub(d, bits)}")
            cg.asm(f"add {sub(d, bits)}, {cg.rm(a, bits)}")
        else:
            d = cg.dest(r) if la == lb else cg.dest(r, b)
            lea = _lea_operand(mnemonic, lb, bits) if type(la) is Reg and d != la.name \
                else None
            if lea is not None:
                cg.asm(f"lea {sub(d, bits)}, [{la.name} + {lea}]")
            elif type(lb) is Imm and mnemonic == "imul":
                src = cg.rm(a, bits) if type(la) is not Imm else sub(cg.load(a, d), bits)
                cg.asm(f"imul {sub(d, bits)}, {src}, {lb.text(bits)}")
            else:
                cg.load(a, d, bits)
                cg.asm(f"{mnemonic} {sub(d, bits)}, {cg.rm(b, bits)}")
        if t.bits < 32 and not (bitwise and not cg.is_view(a) and not cg.is_view(b)):
            cg.zext(d, t)
        cg.store(r, d)
    return rule


def _lea_operand(mnemonic: str, lb, bits: int):
    """What ``lea d, [a + X]`` needs as ``X`` to compute ``a + b`` / ``a - b`` (a register
    or a displacement: ``lea`` adds at the address width and keeps the low ``bits``), or
    ``None`` when ``lea`` cannot (a register to subtract, memory, a displacement out of
    imm32 range)."""
    if type(lb) is Reg and mnemonic == "add":
        return lb.name
    if type(lb) is Imm and mnemonic in ("add", "sub"):
        disp = to_signed(lb.value if mnemonic == "add" else -lb.value, bits)
        if -(1 << 31) <= disp < 1 << 31:
            return str(disp)
    return None


def _unary_alu(mnemonic: str):
    def rule(cg, inst):
        t = inst.result.type
        dst = cg.load(inst.args[0], cg.dest(inst.result), op_bits(t))
        cg.asm(f"{mnemonic} {sub(dst, op_bits(t))}")
        if t.bits < 32:
            cg.zext(dst, t)
        cg.store(inst.result, dst)
    return rule


def _extended(cg, a, b, t: Type, signed: bool) -> None:
    """rax, rcx = a, b extended to 64 bits (sign- or zero-)."""
    cg.load(a, "rax")
    cg.load(b, "rcx")
    if signed:
        cg.sext64("rax", t)
        cg.sext64("rcx", t)


def _mulhi(signed: bool):
    def rule(cg, inst):
        a, b = inst.args
        t = inst.result.type
        if t.bits == 64:
            cg.load(a, "rax")
            cg.asm(f"{'imul' if signed else 'mul'} {cg.rm(b, 64)}")
            cg.asm("mov rax, rdx")
        else:                                   # the 2n-bit product fits in 64 bits
            _extended(cg, a, b, t, signed)
            cg.asm("imul rax, rcx")
            cg.asm(f"{'sar' if signed else 'shr'} rax, {t.bits}")
            cg.zext("rax", t)
        cg.store(inst.result, "rax")
    return rule


def _mul_ov(signed: bool):
    def rule(cg, inst):
        a, b = inst.args
        t = inst.results[0].type
        n = t.bits
        if n == 64:                             # one-operand form: OF = CF = high half needed
            cg.load(a, "rax")
            cg.asm(f"{'imul' if signed else 'mul'} {cg.rm(b, 64)}")
            _setcc(cg, "o", "rcx")
        else:
            _extended(cg, a, b, t, signed)
            cg.asm("imul rax, rcx")
            cg.asm("mov rdx, rax")
            if signed:                          # overflow: the product is not an n-bit value
                cg.asm(f"shl rdx, {64 - n}")
                cg.asm(f"sar rdx, {64 - n}")
                cg.asm("cmp rdx, rax")
                _setcc(cg, "ne", "rcx")
            else:
                cg.asm(f"shr rdx, {n}")
                _setcc(cg, "nz", "rcx")
            cg.zext("rax", t)
        cg.store(inst.results[0], "rax")
        cg.store(inst.results[1], "rcx")
    return rule


def _divide(signed: bool, remainder: bool):
    """x / 0 and MIN / -1 go to far code (x86 ``div``/``idiv`` would raise #DE)."""
    def rule(cg, inst):
        a, b = inst.args
        t = inst.result.type
        w = 64 if t.bits == 64 else 32
        rax, rcx = sub("rax", w), sub("rcx", w)
        zero, minus1, done = (cg.asm.label(x) for x in ("divz", "divm1", "divok"))
        _extended(cg, a, b, t, signed)
        cg.asm(f"test {rcx}, {rcx}")
        cg.asm(f"jz {zero}")
        if signed and t.bits >= 32:             # narrower MIN / -1 fits in 32 bits
            cg.asm(f"cmp {rcx}, -1")
            cg.asm(f"je {minus1}")
        if signed:
            cg.asm("cqo" if w == 64 else "cdq")
            cg.asm(f"idiv {rcx}")
        else:
            cg.asm("xor edx, edx")
            cg.asm(f"div {rcx}")
        if remainder:
            cg.asm("mov rax, rdx")
        cg.asm.place(done)
        cg.zext("rax", t)
        cg.store(inst.result, "rax")
        with cg.asm.far():
            cg.asm.place(zero)                  # x / 0 = all ones (-1); x % 0 = x
            if not remainder:
                cg.asm("mov rax, -1")
            cg.asm(f"jmp {done}")
            if signed and t.bits >= 32:
                cg.asm.place(minus1)            # MIN / -1 = MIN (wraps); x % -1 = 0
                cg.asm("xor eax, eax" if remainder else f"neg {rax}")
                cg.asm(f"jmp {done}")
    return rule


def _shift(kind: str):
    """Shifts; counts >= the width give 0 (``ashr``: the sign fill). By a constant: one
    instruction at the operation width. By a register: at 32 or 64 bits, the count clamped
    by compare + cmov (x86 masks counts to 5 or 6 bits) unless it is known to be in range
    (``cg.bound``: an ``and`` with a small mask, as guests write it)."""
    mnemonic = {"shl": "shl", "lshr": "shr", "ashr": "sar"}[kind]

    def rule(cg, inst):
        a, count = inst.args
        r = inst.result
        t = r.type
        n, w = t.bits, op_bits(t)
        k = cg.imm(count)
        if n == 1 and kind == "ashr":                # the sign fill of one bit is itself
            cg.store(r, cg.load(a, cg.dest(r)))
            return
        if k is not None:
            if k >= n and kind != "ashr":
                d = cg.dest(r)
                cg.mov_imm(d, 0)
            else:
                d = _shift_source(cg, kind, a, cg.dest(r), n, w)
                if k:
                    cg.asm(f"{mnemonic} {sub(d, w)}, {min(k, n - 1)}")
                if kind != "lshr" and n < 32:
                    cg.zext(d, t)
            cg.store(r, d)
            return
        limit = w - 1
        largest, _ = cg.bound(count)
        clamp = largest is None or largest > limit
        bmi2 = "bmi2" in cg.features
        lc = cg.loc(count)
        if bmi2 and type(lc) is Reg and not (kind == "ashr" and clamp):
            c = lc.name                              # shlx & co. take any count register
        else:
            c = cg.load(count, "rcx")
        if kind == "ashr":
            if clamp:
                cg.asm(f"mov edx, {limit}")
                cg.asm(f"cmp rcx, {limit}")
                cg.asm("cmova ecx, edx")
            d = _shift_source(cg, kind, a, cg.dest(r, count), n, w)   # count read after
            cg.asm(f"sarx {sub(d, w)}, {sub(d, w)}, {sub(c, w)}" if bmi2
                   else f"sar {sub(d, w)}, cl")
        elif bmi2:                                   # shlx/shrx leave the flags alone
            d = cg.dest(r)
            if kind == "lshr" and n < 32 and cg.is_view(a):
                src = sub(cg.load(a, "rax"), w)
            else:
                src = cg.rm(a, w)
            if clamp:
                cg.asm("xor edx, edx")
                cg.asm(f"cmp {sub(c, max(8, count.type.bits))}, {limit}")
            cg.asm(f"{mnemonic}x {sub(d, w)}, {src}, {sub(c, w)}")
            if clamp:
                cg.asm(f"cmova {sub(d, w)}, edx" if w == 32 else f"cmova {d}, rdx")
        else:
            d = _shift_source(cg, kind, a, cg.dest(r), n, w)
            cg.asm(f"{mnemonic} {sub(d, w)}, cl")
            if clamp:
                cg.asm("xor edx, edx")
                cg.asm(f"cmp rcx, {limit}")
                cg.asm(f"cmova {sub(d, w)}, edx" if w == 32 else f"cmova {d}, rdx")
        if kind != "lshr" and n < 32:
            cg.zext(d, t)
        cg.store(r, d)
    return rule


def _shift_source(cg, kind: str, a, d: str, n: int, w: int) -> str:
    """Copy the shifted operand (maybe a view) into ``d`` as the shift needs it:
    sign-extended to 32 bits for a narrow ``ashr``, zero-extended for a narrow ``lshr``, else
    its low ``w`` bits (all a ``w``-bit shift reads)."""
    if kind == "ashr" and n < 32:
        cg.asm(f"movsx {sub(d, 32)}, {cg.rm(a, n)}")
        return d
    return cg.load(a, d) if kind == "lshr" and n < 32 else cg.load(a, d, w)


def _rotate(mnemonic: str):
    """``rol``/``ror`` at the type's width: x86 takes the count mod 32 (mod 64 for 64-bit),
    then mod the width, which is ``count mod width`` for widths 8..64."""
    def rule(cg, inst):
        a, count = inst.args
        r = inst.result
        t = r.type
        k = cg.imm(count)
        if t.bits > 1 and k is not None and k % t.bits:
            d = cg.load(a, cg.dest(r))
            cg.asm(f"{mnemonic} {sub(d, t.bits)}, {k % t.bits}")
        elif t.bits > 1 and k is None:
            cg.load(count, "rcx")
            d = cg.load(a, cg.dest(r))
            cg.asm(f"{mnemonic} {sub(d, t.bits)}, cl")
        else:                                   # a 1-bit rotate, a whole turn: the identity
            d = cg.load(a, cg.dest(r))
        cg.store(r, d)
    return rule


def _clz(cg, inst):
    (a,), t = inst.args, inst.result.type
    n = t.bits
    if n == 1:
        cg.load(a, "rax")
        cg.asm("xor eax, 1")
    elif "lzcnt" in cg.features:
        if n == 64:
            cg.asm(f"lzcnt rax, {cg.rm(a, 64)}")
        else:
            cg.asm(f"lzcnt eax, {cg.rm(a, 32)}")
            if n < 32:
                cg.asm(f"sub eax, {32 - n}")
    else:                                       # bsr gives the top set bit; ZF=1 for 0
        cg.asm("mov rdx, -1")
        cg.asm(f"bsr rax, {cg.rm(a, 64)}")
        cg.asm("cmovz rax, rdx")
        cg.asm("neg rax")
        cg.asm(f"add rax, {n - 1}")
    cg.store(inst.result, "rax")


def _ctz(cg, inst):
    (a,), t = inst.args, inst.result.type
    scan = "tzcnt" if "bmi1" in cg.features else "bsf"
    if t.bits < 64:                             # a stop bit at position n gives ctz(0) = n
        cg.load(a, "rax")
        cg.asm(f"bts rax, {t.bits}")
        cg.asm(f"{scan} rax, rax")
    elif scan == "tzcnt":
        cg.asm(f"tzcnt rax, {cg.rm(a, 64)}")
    else:
        cg.asm("mov edx, 64")
        cg.asm(f"bsf rax, {cg.rm(a, 64)}")
        cg.asm("cmovz rax, rdx")
    cg.store(inst.result, "rax")


def _popcount(cg, inst):
    (a,) = inst.args
    if "popcnt" in cg.features:
        cg.asm(f"popcnt rax, {cg.rm(a, 64)}")
    else:                                       # SWAR count (Hacker's Delight, figure 5-2)
        cg.load(a, "rax")
        for shift, mask in ((1, 0x5555555555555555), (2, 0x3333333333333333)):
            cg.mov_imm("rdx", mask)
            cg.asm("mov rcx, rax")
            cg.asm(f"shr rcx, {shift}")
            cg.asm("and rcx, rdx")
            if shift == 1:
                cg.asm("sub rax, rcx")
            else:
                cg.asm("and rax, rdx")
                cg.asm("add rax, rcx")
        cg.asm("mov rcx, rax")
        cg.asm("shr rcx, 4")
        cg.asm("add rax, rcx")
        cg.mov_imm("rdx", 0x0F0F0F0F0F0F0F0F)
        cg.asm("and rax, rdx")
        cg.mov_imm("rdx", 0x0101010101010101)
        cg.asm("imul rax, rdx")
        cg.asm("shr rax, 56")
    cg.store(inst.result, "rax")


def _bswap(cg, inst):
    cg.load(inst.args[0], "rax")
    cg.byte_swap("rax", inst.result.type.bits)
    cg.store(inst.result, "rax")


def _sext(cg, inst):
    """One ``movsx``/``movsxd`` from the operand's width (``neg`` for ``i1``); narrower
    results are masked back."""
    (a,), r = inst.args, inst.result
    n, t = a.type.bits, r.type
    d = cg.dest(r)
    if n == 1:
        cg.load(a, d)
        cg.asm(f"neg {sub(d, op_bits(t))}")
    else:
        cg.asm(f"{'movsxd' if n == 32 else 'movsx'} {sub(d, op_bits(t))}, {cg.rm(a, n)}")
    if t.bits < 32:
        cg.zext(d, t)
    cg.store(r, d)


def _zext(cg, inst):
    """Nothing (or a copy) for a normalised operand; one ``mov``/``movzx`` for a view."""
    cg.store(inst.result, cg.load(inst.args[0], cg.dest(inst.result)))


def _trunc(cg, inst):
    """One ``mov``/``movzx`` of the kept width (plus ``and`` for ``i1``)."""
    (a,), r = inst.args, inst.result
    n = r.type.bits
    d = cg.dest(r)
    if n in (8, 16):
        cg.asm(f"movzx {sub(d, 32)}, {cg.rm(a, n)}")
    else:
        cg.asm(f"mov {sub(d, 32)}, {cg.rm(a, 32)}")
        if n == 1:
            cg.asm(f"and {sub(d, 32)}, 1")
    cg.store(r, d)


ICMP_CC = {"eq": "e", "ne": "ne", "slt": "l", "sle": "le", "sgt": "g", "sge": "ge",
           "ult": "b", "ule": "be", "ugt": "a", "uge": "ae"}
# i1 read as signed is 0 or -1, so its signed order is the unsigned order reversed
I1_SIGNED = {"slt": "ugt", "sle": "uge", "sgt": "ult", "sge": "ule"}
# the condition that holds for (b, a) when cond holds for (a, b)
SWAPPED = {"eq": "eq", "ne": "ne", "slt": "sgt", "sle": "sge", "sgt": "slt", "sge": "sle",
           "ult": "ugt", "ule": "uge", "ugt": "ult", "uge": "ule"}


def _compare(cg, icmp) -> str:
    """Emit the compare of ``icmp`` (at its operands' width) and return the x86 condition
    code that holds when the ``icmp`` is true. A constant goes second (the condition
    swapped if need be); ``test`` replaces a compare with 0. Uses rcx as scratch."""
    a, b = icmp.args
    cond = icmp.attrs["cond"]
    if a.type.bits == 1:
        cond = I1_SIGNED.get(cond, cond)
    bits = max(8, a.type.bits)
    la, lb = cg.loc(a), cg.loc(b)
    if type(la) is Imm and type(lb) is not Imm:
        a, b, la, lb, cond = b, a, lb, la, SWAPPED[cond]
    if type(la) is Imm or (type(la) is Mem and type(lb) is Mem):
        left = sub(cg.load(a, "rcx"), bits)
    else:
        left = cg.rm(a, bits)
    if type(lb) is Imm and lb.value == 0 and type(la) is Reg:
        cg.asm(f"test {left}, {left}")
    else:
        cg.asm(f"cmp {left}, {cg.rm(b, bits)}")
    return ICMP_CC[cond]


def _condition(cg, c) -> str:
    """Set the flags for the ``i1`` value ``c`` (its fused compare, or a test of it) and
    return the condition code that holds when ``c`` is 1."""
    icmp = cg.fused(c)
    if icmp is not None:
        return _compare(cg, icmp)
    loc = cg.loc(c)
    if type(loc) is Reg:
        cg.asm(f"test {sub(loc.name, 8)}, {sub(loc.name, 8)}")
    else:
        cg.asm(f"cmp {cg.rm(c, 8)}, 0")
    return "ne"


def _icmp(cg, inst):
    cc = _compare(cg, inst)
    d = cg.dest(inst.result)
    _setcc(cg, cc, d)
    cg.store(inst.result, d)


def _select(cg, inst):
    c, x, y = inst.args
    r = inst.result
    k = cg.imm(c)
    if k is not None:                           # a constant condition: a copy
        if r.type.is_float:
            cg.fstore(r, cg.fload(x if k else y, "xmm13"))
        else:
            cg.store(r, cg.load(x if k else y, cg.dest(r)))
    elif r.type.is_float:
        skip = cg.asm.label("sel")
        cg.fload(y, "xmm13")
        cg.asm(f"j{INVERSE_CC[_condition(cg, c)]} {skip}")
        cg.fload(x, "xmm13")
        cg.asm.place(skip)
        cg.fstore(r, "xmm13")
    else:
        icmp = cg.fused(c)
        d = cg.dest(r, x, *(icmp.args if icmp is not None else (c,)))
        cg.load(y, d)
        cc = _condition(cg, c)
        cg.asm(f"cmov{cc} {d}, {cg.rm(x, 64)}")
        cg.store(r, d)


def _carry_op(subtract: bool):
    """addc/subb: hardware adc/sbb at the type's width (CF = carry/borrow, OF = signed
    overflow); i1 by formula: a -/+ b -/+ c with i1 read as 0/-1 signed."""
    def rule(cg, inst):
        a, b, c = inst.args
        t = inst.results[0].type
        cg.load(a, "rax")
        cg.load(b, "rcx")
        if t.bits == 1:
            cg.load(c, "rdx")
            op = "sub" if subtract else "add"
            cg.asm("mov r11, rax")
            cg.asm(f"{op} r11, rcx")
            cg.asm(f"{op} r11, rdx")            # r11 = a +/- b +/- c
            cg.asm("xor rcx, rax")              # a ^ b
            cg.asm("xor rdx, rax")              # a ^ c
            # signed overflow: add when a == b != c, subtract when a != b and a == c
            cg.asm("not rdx" if subtract else "not rcx")
            cg.asm("and ecx, edx")
            cg.asm("and ecx, 1")
            cg.asm("mov rax, r11")
            cg.asm("and eax, 1")
            cg.asm("mov rdx, r11")
            cg.asm("shr rdx, 63" if subtract else "shr edx, 1")
            cg.asm("and edx, 1")
        else:
            cg.asm(f"bt {cg.rm(c, 64)}, 0")     # CF = carry / borrow in
            n = t.bits
            cg.asm(f"{'sbb' if subtract else 'adc'} {sub('rax', n)}, {sub('rcx', n)}")
            cg.asm("setc dl")
            cg.asm("seto cl")
            cg.asm("movzx edx, dl")
            cg.asm("movzx ecx, cl")
            cg.zext("rax", t)
        cg.store(inst.results[0], "rax")
        cg.store(inst.results[1], "rdx")
        cg.store(inst.results[2], "rcx")
    return rule


# --- floating point --------------------------------------------------------------------------

def _farith(mnemonic: str):
    def rule(cg, inst):
        a, b = inst.args
        t = inst.results[0].type

        def body():
            cg.fload(a, "xmm13")
            cg.asm(f"{mnemonic}{SCALAR[t]} xmm13, {cg.rm(b, t.bits)}")
        _wrap_flags(cg, inst, body)
    return rule


def _fsqrt(cg, inst):
    (a,) = inst.args
    t = inst.results[0].type
    _wrap_flags(cg, inst, lambda: cg.asm(f"sqrt{SCALAR[t]} xmm13, {cg.rm(a, t.bits)}"))


def _sign_bit(mnemonic: str):
    """fabs/fneg: bit operations on the raw pattern (payloads kept)."""
    def rule(cg, inst):
        t = inst.result.type
        cg.load(inst.args[0], "rax")
        cg.asm(f"{mnemonic} {sub('rax', t.bits)}, {t.bits - 1}")
        cg.store(inst.result, "rax")
    return rule


def _fminmax(is_max: bool):
    """minss/maxss return the second operand on NaN or equal operands, so compute both
    orders and OR (min: -0 wins) or AND (max: +0 wins) them; NaN in far code."""
    def rule(cg, inst):
        a, b = inst.args
        t = inst.result.type
        s, op = SCALAR[t], "max" if is_max else "min"
        nan, done = cg.asm.label("mmnan"), cg.asm.label("mmok")
        cg.fload(a, "xmm13")
        cg.fload(b, "xmm14")
        cg.asm(f"ucomi{s} xmm13, xmm14")
        cg.asm(f"jp {nan}")
        cg.asm("movaps xmm15, xmm13")
        cg.asm(f"{op}{s} xmm15, xmm14")
        cg.asm(f"{op}{s} xmm14, xmm13")
        cg.asm(f"{'andps' if is_max else 'orps'} xmm14, xmm15")
        cg.asm.place(done)
        cg.fstore(inst.result, "xmm14")
        with cg.asm.far():
            cg.asm.place(nan)
            cg.mov_imm("rax", cg.nan[t])
            cg.asm("movq xmm14, rax")
            cg.asm(f"jmp {done}")
    return rule


# cond -> (swap operands, setcc codes, how to combine two codes). ucomis sets ZF,PF,CF =
# 1,1,1 for unordered; "above" conditions are false then, "below" ones true.
FCMP = {
    "oeq": (False, ("e", "np"), "and"), "une": (False, ("ne", "p"), "or"),
    "one": (False, ("ne",), None), "ueq": (False, ("e",), None),
    "ogt": (False, ("a",), None), "oge": (False, ("ae",), None),
    "olt": (True, ("a",), None), "ole": (True, ("ae",), None),
    "ult": (False, ("b",), None), "ule": (False, ("be",), None),
    "ugt": (True, ("b",), None), "uge": (True, ("be",), None),
    "ord": (False, ("np",), None), "uno": (False, ("p",), None),
}


def _fcmp(cg, inst):
    a, b = inst.args
    swap, codes, combine = FCMP[inst.attrs["cond"]]
    if swap:
        a, b = b, a
    cg.fload(a, "xmm13")
    cg.asm(f"ucomi{SCALAR[a.type]} xmm13, {cg.rm(b, a.type.bits)}")
    _setcc(cg, codes[0], "rax")
    if combine:
        _setcc(cg, codes[1], "rcx")
        cg.asm(f"{combine} eax, ecx")
    cg.store(inst.result, "rax")


def _fcvt_from_int(signed: bool):
    def rule(cg, inst):
        (a,), t = inst.args, inst.results[0].type
        cvt = f"cvtsi2{SCALAR[t]}"

        def body():
            cg.load(a, "rax")
            cg.asm("xorps xmm13, xmm13")
            if signed:
                cg.sext64("rax", a.type)
            elif a.type.bits == 64:             # halve with a sticky bit, convert, double
                big, done = cg.asm.label("u64big"), cg.asm.label("u64ok")
                cg.asm("test rax, rax")
                cg.asm(f"js {big}")
                with cg.asm.far():
                    cg.asm.place(big)
                    cg.asm("mov rcx, rax")
                    cg.asm("shr rcx, 1")
                    cg.asm("and eax, 1")
                    cg.asm("or rcx, rax")
                    cg.asm(f"{cvt} xmm13, rcx")
                    cg.asm(f"add{SCALAR[t]} xmm13, xmm13")
                    cg.asm(f"jmp {done}")
                cg.asm(f"{cvt} xmm13, rax")
                cg.asm.place(done)
                return
            cg.asm(f"{cvt} xmm13, rax")
        _wrap_flags(cg, inst, body)
    return rule


ROUNDSD_IMM = {"rne": 0, "rdn": 1, "rup": 2, "rtz": 3}     # imm8 bits 1:0; bit 3 = no #P


def _round_integral(cg, mode: str) -> None:
    """xmm13 = the f64 in xmm14 rounded to an integral value in ``mode``."""
    if "sse4_1" in cg.features:
        cg.asm(f"roundsd xmm13, xmm14, {ROUNDSD_IMM[mode] | 8}")
        return
    # |x| >= 2**52 is integral already; below, convert to i64 under the wanted MXCSR
    # rounding control and back (both exact there).
    skip = cg.asm.label("rnd")
    cg.asm("movaps xmm13, xmm14")
    cg.asm("movq rax, xmm14")
    cg.asm("btr rax, 63")
    cg.mov_imm("rdx", f64_bits(2.0 ** 52))
    cg.asm("cmp rax, rdx")
    cg.asm(f"jae {skip}")
    cg.asm(f"stmxcsr dword ptr [{CTX} + {SCR_SAVED_MXCSR}]")
    cg.asm(f"mov eax, dword ptr [{CTX} + {SCR_SAVED_MXCSR}]")
    cg.asm("and eax, 0xffff9fff")
    cg.asm(f"or eax, {MXCSR_RC[mode] << 13:#x}")
    cg.asm(f"mov dword ptr [{CTX} + {SCR_MXCSR}], eax")
    cg.asm(f"ldmxcsr dword ptr [{CTX} + {SCR_MXCSR}]")
    cg.asm("cvtsd2si rax, xmm14")
    cg.asm("xorps xmm13, xmm13")
    cg.asm("cvtsi2sd xmm13, rax")
    cg.asm(f"ldmxcsr dword ptr [{CTX} + {SCR_SAVED_MXCSR}]")
    cg.asm.place(skip)


def _fcvt_to_int(signed: bool):
    """Round to integral (attr ``rounding``), then saturate by comparing with the exact
    powers of two that bound the type; NaN -> 0. Flags: invalid for NaN/out of range,
    else inexact when rounding changed the value."""
    def rule(cg, inst):
        (a,), t = inst.args, inst.results[0].type
        n = t.bits
        nan, high, low, done = (cg.asm.label(x) for x in ("cvnan", "cvhi", "cvlo", "cvok"))
        cg.fload(a, "xmm14")
        if a.type is Type.F32:
            cg.asm("cvtss2sd xmm14, xmm14")     # exact; the rest works in f64
        cg.asm("ucomisd xmm14, xmm14")
        cg.asm(f"jp {nan}")
        _round_integral(cg, inst.attrs["rounding"])
        cg.asm("xor ecx, ecx")
        cg.asm("ucomisd xmm13, xmm14")
        cg.asm("setne cl")
        cg.asm("shl ecx, 4")                    # FP_FLAG_INEXACT
        limit = 2.0 ** (n - 1 if signed else n)
        cg.mov_imm("rax", f64_bits(limit))
        cg.asm("movq xmm15, rax")
        cg.asm("ucomisd xmm13, xmm15")
        cg.asm(f"jae {high}")
        if signed:
            cg.mov_imm("rax", f64_bits(-limit))
            cg.asm("movq xmm15, rax")
        else:
            cg.asm("xorps xmm15, xmm15")
        cg.asm("ucomisd xmm13, xmm15")
        cg.asm(f"jb {low}")
        if not signed and n == 64:              # cvttsd2si is signed: take 2**63 off first
            big = cg.asm.label("cvbig")
            cg.mov_imm("rax", f64_bits(2.0 ** 63))
            cg.asm("movq xmm15, rax")
            cg.asm("ucomisd xmm13, xmm15")
            cg.asm(f"jae {big}")
            with cg.asm.far():
                cg.asm.place(big)
                cg.asm("subsd xmm13, xmm15")
                cg.asm("cvttsd2si rax, xmm13")
                cg.asm("btc rax, 63")
                cg.asm(f"jmp {done}")
        cg.asm("cvttsd2si rax, xmm13")
        cg.zext("rax", t)
        cg.asm.place(done)
        cg.store(inst.results[0], "rax")
        if len(inst.results) > 1:
            cg.store(inst.results[1], "rcx")
        lo, hi = ((-(1 << (n - 1))) & t.mask, (1 << (n - 1)) - 1) if signed else (0, t.mask)
        with cg.asm.far():
            for label, value in ((nan, 0), (high, hi), (low, lo)):
                cg.asm.place(label)
                cg.mov_imm("rax", value)
                cg.asm("mov ecx, 1")            # FP_FLAG_INVALID only
                cg.asm(f"jmp {done}")
    return rule


def _fconvert(mnemonic: str):
    def rule(cg, inst):
        (a,) = inst.args

        def body():
            cg.fload(a, "xmm13")
            cg.asm(f"{mnemonic} xmm13, xmm13")
        _wrap_flags(cg, inst, body)
    return rule


def _bitcast(cg, inst):
    cg.load(inst.args[0], "rax")
    cg.store(inst.result, "rax")


# --- control flow and calls ------------------------------------------------------------------

def _br(cg, inst):
    cg.jump(inst.targets[0])


def _brif(cg, inst):
    """``cmp`` + ``jcc`` for a fused compare (else a test of the ``i1``), falling through
    into the target laid out next; a constant condition is a jump."""
    (c,), (then, other) = inst.args, inst.targets
    k = cg.imm(c)
    if k is not None:
        cg.jump(then if k else other)
    else:
        cg.branch2(_condition(cg, c), then, other)


def _br_table(cg, inst):
    """A compare chain (cases are few in practice; no jump table needs RIP-relative data)."""
    default, cases = inst.targets[0], inst.targets[1:]
    cg.load(inst.args[0], "rax")
    for k, target in enumerate(cases):
        cg.asm(f"cmp rax, {k}")
        cg.branch("e", target)
    cg.jump(default)


def _trap(cg, inst):
    cg.exit(C.ExitReason.EXCEPTION, pc=inst.attrs["pc"], info=inst.attrs["cause"], delay=True)


# operand forms: which positions may be immediates (imm), are read in their low bits (low)
_BINARY = dict(imm=(0, 1), low=(0, 1))
_SHIFT = dict(imm=(1,), wide=True, low=(0, 1))
_LOW = dict(low=(0,))
_CALL = dict(imm="all", wide=True)

RULES = {
    "iconst": Rule(_iconst),
    "fconst": Rule(_fconst),
    "get": Rule(_get),
    "put": Rule(_put, imm=(0,), wide=True, low=(0,)),
    "load": Rule(lambda cg, inst: cg.guest_load(inst), low=(0,)),
    "store": Rule(lambda cg, inst: cg.guest_store(inst), imm=(1,), wide=True, low=(0, 1)),
    "insn_start": Rule(_insn_start),
    "charge": Rule(_charge),
    "check_budget": Rule(_check_budget),
    "add": Rule(_alu("add", commutative=True), **_BINARY),
    "sub": Rule(_alu("sub", commutative=False), **_BINARY),
    "mul": Rule(_alu("imul", commutative=True), **_BINARY),
    "smul_ov": Rule(_mul_ov(signed=True)),
    "umul_ov": Rule(_mul_ov(signed=False)),
    "smulhi": Rule(_mulhi(signed=True)),
    "umulhi": Rule(_mulhi(signed=False)),
    "sdiv": Rule(_divide(signed=True, remainder=False)),
    "udiv": Rule(_divide(signed=False, remainder=False)),
    "srem": Rule(_divide(signed=True, remainder=True)),
    "urem": Rule(_divide(signed=False, remainder=True)),
    "and": Rule(_alu("and", commutative=True), **_BINARY),
    "or": Rule(_alu("or", commutative=True), **_BINARY),
    "xor": Rule(_alu("xor", commutative=True), **_BINARY),
    "not": Rule(_unary_alu("not"), **_LOW),
    "neg": Rule(_unary_alu("neg"), **_LOW),
    "shl": Rule(_shift("shl"), **_SHIFT),
    "lshr": Rule(_shift("lshr"), **_SHIFT),
    "ashr": Rule(_shift("ashr"), **_SHIFT),
    "rotl": Rule(_rotate("rol"), **_SHIFT),
    "rotr": Rule(_rotate("ror"), **_SHIFT),
    "clz": Rule(_clz),
    "ctz": Rule(_ctz),
    "popcount": Rule(_popcount),
    "bswap": Rule(_bswap),
    "sext": Rule(_sext, **_LOW),
    "zext": Rule(_zext, **_LOW),
    "trunc": Rule(_trunc, **_LOW),
    "icmp": Rule(_icmp, **_BINARY),
    "select": Rule(_select, imm=(0, 2), wide=True, cc=True),
    "addc": Rule(_carry_op(subtract=False)),
    "subb": Rule(_carry_op(subtract=True)),
    "fadd": Rule(_farith("add")),
    "fsub": Rule(_farith("sub")),
    "fmul": Rule(_farith("mul")),
    "fdiv": Rule(_farith("div")),
    "fsqrt": Rule(_fsqrt),
    "fabs": Rule(_sign_bit("btr")),
    "fneg": Rule(_sign_bit("btc")),
    "fmin": Rule(_fminmax(is_max=False)),
    "fmax": Rule(_fminmax(is_max=True)),
    "fcmp": Rule(_fcmp),
    "fcvt_from_sint": Rule(_fcvt_from_int(signed=True)),
    "fcvt_from_uint": Rule(_fcvt_from_int(signed=False)),
    "fcvt_to_sint": Rule(_fcvt_to_int(signed=True)),
    "fcvt_to_uint": Rule(_fcvt_to_int(signed=False)),
    "fpromote": Rule(_fconvert("cvtss2sd")),
    "fdemote": Rule(_fconvert("cvtsd2ss")),
    "bitcast": Rule(_bitcast),
    "call": Rule(lambda cg, inst: cg.call_helper(inst), **_CALL),
    "call_fn": Rule(lambda cg, inst: cg.call_function(inst), **_CALL),
    "br": Rule(_br),
    "brif": Rule(_brif, imm=(0,), cc=True),
    "br_table": Rule(_br_table),
    "exit": Rule(lambda cg, inst: cg.leave(inst), imm=(0,), wide=True),
    "ret": Rule(lambda cg, inst: cg.ret(inst), **_CALL),
    "trap": Rule(_trap),
}
