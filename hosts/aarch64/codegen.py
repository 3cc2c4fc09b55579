"""The AArch64 lowering machinery: frame layout, operand access, parallel moves, calls, exits
and the memory fast/slow paths. The per-op rules (``lower.RULES``) are written in terms of
this class.

One ``CodeGen`` compiles one region: ``CodeGen(region, env, prefix, rules, dispatcher,
executor, slots, spill_all).generate()`` returns the ``Asm`` text. Rules see:

* ``cg.asm`` -- the text buffer (``cg.asm("add x9, x0, x1")``, labels, far code);
* operand access -- ``loc(v)``, ``imm(v)`` (the folded constant or ``None``), ``fused(v)``
  (the ``icmp`` a flags consumer emits itself), ``src(v, k)``
  (an integer operand in a register, normalised: its own, or operand scratch ``k``),
  ``fsrc(v, k)`` (a float operand in an FP register), ``dst(v)`` / ``fdst(v)`` (where to
  compute a result), ``put(v, reg)`` / ``fput(v, reg)`` (write a result back), ``mov_imm``;
* helpers for the representation invariants -- ``narrow`` (mask to a type), ``sext64``,
  ``canon_nan``, ``with_flags`` (FPSR around an op whose flags the IR reads);
* control flow -- ``jump``, ``branch``, ``branch2``, ``exit``, ``leave``;
* calls -- ``call_helper``, ``call_function``, and ``guest_load``/``guest_store``.

Rules read every operand before writing any result. Instruction facts are from the Arm
Architecture Reference Manual for A-profile (DDI 0487), section C6 (the A64 base
instructions) and C7 (SIMD and floating point).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from dynarec import context as C
from dynarec.errors import CompileError
from dynarec.hosts.common.emit import Asm
from dynarec.hosts.common.regalloc import allocate, successors
from dynarec.ir.opcodes import EXIT_KINDS, OPS
from dynarec.ir.types import Type

from .regs import (ADDR, CTX, FLOAT_RESULT_REGS, FSCRATCH, INT_RESULT_REGS, M64, OPERAND,
                   PAGE_TABLE, REGISTER_FILE, RESULT, Imm, Mem, Reg, aapcs_classify, add_imm,
                   view)

TERMINATORS = frozenset(name for name, row in OPS.items() if row.is_terminator)

#: A64 condition codes and their negations (Arm ARM C1.2.4, table C1-1).
INVERSE_CC = {"eq": "ne", "ne": "eq", "hs": "lo", "lo": "hs", "mi": "pl", "pl": "mi",
              "vs": "vc", "vc": "vs", "hi": "ls", "ls": "hi", "ge": "lt", "lt": "ge",
              "gt": "le", "le": "gt"}

#: FPCR.RMode (bits 23:22; Arm ARM D17.2.48): 0 nearest, 1 towards +inf, 2 towards -inf,
#: 3 towards zero. AHP, DN and FZ stay 0 (NaN payloads propagate, subnormals are kept).
FPCR_RMODE = {"rne": 0, "rup": 1, "rdn": 2, "rtz": 3}

#: Ops whose result depends on FPCR's rounding mode or that read the FPSR flags.
FP_MODE_OPS = frozenset({"fadd", "fsub", "fmul", "fdiv", "fsqrt", "fcvt_from_sint",
                         "fcvt_from_uint", "fpromote", "fdemote", "fcvt_to_sint",
                         "fcvt_to_uint"})

_LOAD = {8: "ldrb", 16: "ldrh", 32: "ldr", 64: "ldr"}
_STORE = {8: "strb", 16: "strh", 32: "str", 64: "str"}


@dataclass(frozen=True)
class Rule:
    """How one op lowers: ``emit(cg, inst)`` writes its code. Every AArch64 rule takes any
    operand as a folded constant (``imm="all"``, ``wide``: it encodes what fits and
    materialises the rest); ``cc``: operand 0 may be a fused compare (``brif``, ``select``);
    no views (``common.fold``)."""

    emit: Callable
    imm: str = "all"
    wide: bool = True
    low: tuple = ()
    cc: bool = False


def mov_imm(asm: Asm, reg: str, value: int) -> None:
    """``reg`` (an ``xN`` name) = ``value`` (any 64-bit pattern) with MOVZ or MOVN and the
    MOVKs the other halfwords need (Arm ARM C6.2.226 MOVZ, C6.2.225 MOVN, C6.2.224 MOVK)."""
    value &= M64
    halves = [(value >> (16 * i)) & 0xFFFF for i in range(4)]
    if value == 0:
        asm(f"mov {reg}, xzr")
        return
    inverted = halves.count(0xFFFF) > halves.count(0)
    first = True
    for i, h in enumerate(halves):
        if h == (0xFFFF if inverted else 0):
            continue
        if first:
            if inverted:
                asm(f"movn {reg}, #{~h & 0xFFFF:#x}, lsl #{16 * i}")
            else:
                asm(f"movz {reg}, #{h:#x}, lsl #{16 * i}")
            first = False
        else:
            asm(f"movk {reg}, #{h:#x}, lsl #{16 * i}")
    if first:                                   # all ones
        asm(f"movn {reg}, #0")


def mem_operand(asm: Asm, base: str, offset: int, size: int) -> str:
    """``[base, #offset]`` for a ``size``-byte access, through x16 when the offset is not a
    scaled unsigned 12-bit immediate (Arm ARM C6.2.132 LDR (immediate))."""
    if offset % size == 0 and 0 <= offset // size < 4096:
        return f"[{base}, #{offset}]"
    mov_imm(asm, ADDR, offset)
    asm(f"add {ADDR}, {base}, {ADDR}")
    return f"[{ADDR}]"


class SlotTable:
    """Offsets and types of the guest-state slots of one ``StateLayout`` (``state``), each
    reference resolved once; a host keeps one across compiles."""

    def __init__(self, state):
        self.state = state
        self._slots: dict = {}

    def slot(self, ref: str, t: Type) -> int:
        """The context offset of slot ``ref`` accessed as type ``t``; ``CompileError`` if
        there is no such slot or it has another type."""
        hit = self._slots.get(ref)
        if hit is None:
            try:
                hit = (self.state.type(ref), C.GUEST_STATE_OFFSET + self.state.offset(ref))
            except KeyError as e:
                raise CompileError(str(e.args[0])) from None
            self._slots[ref] = hit
        if hit[0] is not t:
            raise CompileError(f"state slot {ref} is {hit[0]}, the op uses {t}")
        return hit[1]


class CodeGen:
    """Compiles one region (module docstring). ``dispatcher``: the cache's
    ``AArch64Dispatcher`` (its ``tails``); ``executor``: hands out the trampolines of helpers
    and the memory slow path; ``slots``: the ``SlotTable`` of ``env.state``; ``spill_all``:
    give no value a register."""

    def __init__(self, region, env, prefix: str, rules: dict, dispatcher, executor,
                 slots: SlotTable, spill_all: bool = False):
        self.region = region
        self.env = env
        self.rules = rules
        self.tails = dispatcher.tails
        self.executor = executor
        self.slots = slots
        self.asm = Asm(prefix)
        self.is_function = region.kind == "function"
        self.cur_pc = region.pc
        self.cur_delay = 0
        self.nan = {Type.F32: region.attrs["nan32"] & 0xFFFFFFFF,
                    Type.F64: region.attrs["nan64"] & M64}
        if region.attrs["rounding"] not in FPCR_RMODE:
            raise CompileError(f"region {region.name}: unknown rounding "
                               f"{region.attrs['rounding']!r} (one of {', '.join(FPCR_RMODE)})")
        self.fpcr = FPCR_RMODE[region.attrs["rounding"]] << 22
        self._layout_frame(spill_all)

    # --- frame -----------------------------------------------------------------------------

    def _layout_frame(self, spill_all: bool):
        """Frame from sp up: outgoing stack args | spill slots, 16-byte aligned. Notes whether
        the region has rounding-sensitive float ops (``uses_fp``)."""
        out = 0
        self.uses_fp = False
        for block in self.region.blocks:
            for inst in block.insts:
                if inst.op in FP_MODE_OPS:
                    self.uses_fp = True
                elif inst.op in ("call", "call_fn"):
                    out = max(out, aapcs_classify([a.type for a in inst.args])[1])
        self.alloc = allocate(self.region, REGISTER_FILE, out, spill_all, self.rules)
        self.sel = self.alloc.selection
        self._loc = self.alloc.loc
        self.frame = (out + self.alloc.spill_bytes + 15) & -16
        if self.frame >= 1 << 15:
            raise CompileError(f"region {self.region.name}: a {self.frame}-byte frame is too "
                               f"large")

    # --- operands --------------------------------------------------------------------------

    def loc(self, v):
        """The location of value ``v``: ``Reg``, ``Mem`` or ``Imm``."""
        return self._loc[v]

    def imm(self, v):
        """The bit pattern of ``v`` if it is a folded constant, else ``None``."""
        loc = self._loc.get(v)
        return loc.value if type(loc) is Imm else None

    def fused(self, v):
        """The ``icmp`` Inst whose compare the user of ``v`` emits itself, or ``None``."""
        return self.sel.fused.get(v)

    def mov_imm(self, reg: str, value: int) -> None:
        mov_imm(self.asm, reg, value)

    def src(self, v, k: int = 0) -> str:
        """Integer (or a float's raw bits) ``v`` in a general register (``xN``): its own, or
        operand scratch ``k`` (0-2) loaded from its constant or stack slot."""
        loc = self._loc[v]
        if type(loc) is Reg and not loc.is_fp:
            return loc.name
        reg = OPERAND[k]
        self.load_into(v, reg)
        return reg

    def load_into(self, v, reg: str) -> str:
        """Copy ``v`` (an integer, or a float's raw bits) into general register ``reg``."""
        loc = self._loc[v]
        if type(loc) is Imm:
            self.mov_imm(reg, loc.value)
        elif type(loc) is Mem:
            self.asm(f"ldr {reg}, {self.slot_ref(loc)}")
        elif loc.is_fp:
            self.asm(f"fmov {view(reg, v.type.bits)}, {view(loc.name, v.type.bits)}")
        elif loc.name != reg:
            self.asm(f"mov {reg}, {loc.name}")
        return reg

    def fsrc(self, v, k: int = 0) -> str:
        """Float ``v`` in an FP register (``vN``): its own, or float scratch ``k``."""
        loc = self._loc[v]
        if type(loc) is Reg and loc.is_fp:
            return loc.name
        reg = FSCRATCH[k]
        if type(loc) is Mem:
            self.asm(f"ldr {view(reg, 64)}, {self.slot_ref(loc)}")
        else:
            self.asm(f"fmov {view(reg, v.type.bits)}, {view(self.src(v, k), v.type.bits)}")
        return reg

    def dst(self, v) -> str:
        """The general register to compute integer result ``v`` in: its own, else x9."""
        loc = self._loc[v]
        return loc.name if type(loc) is Reg and not loc.is_fp else RESULT

    def fdst(self, v) -> str:
        """The FP register to compute float result ``v`` in: its own, else v31."""
        loc = self._loc[v]
        return loc.name if type(loc) is Reg and loc.is_fp else FSCRATCH[2]

    def put(self, v, reg: str) -> None:
        """Write general register ``reg`` (normalised for ``v``'s type) to ``v``."""
        loc = self._loc[v]
        if type(loc) is Mem:
            self.asm(f"str {reg}, {self.slot_ref(loc)}")
        elif loc.is_fp:
            self.asm(f"fmov {view(loc.name, v.type.bits)}, {view(reg, v.type.bits)}")
        elif loc.name != reg:
            self.asm(f"mov {loc.name}, {reg}")

    def fput(self, v, reg: str) -> None:
        """Write FP register ``reg`` to float ``v`` (a stack slot gets the whole 64 bits,
        zero-filled above an ``f32``)."""
        loc = self._loc[v]
        if type(loc) is Mem:
            if v.type is Type.F32:
                self.asm(f"fmov {view(reg, 32)}, {view(reg, 32)}")   # clears bits 32-127
            self.asm(f"str {view(reg, 64)}, {self.slot_ref(loc)}")
        elif not loc.is_fp:
            self.asm(f"fmov {view(loc.name, v.type.bits)}, {view(reg, v.type.bits)}")
        elif loc.name != reg:
            self.asm(f"mov {loc.name}.16b, {reg}.16b")

    def slot_ref(self, slot: Mem) -> str:
        """``[sp, #offset]`` of a stack slot (frames are below 32 KiB)."""
        return f"[sp, #{slot.offset}]"

    def ctx_ref(self, offset: int, size: int) -> str:
        """The memory operand of ``size`` bytes at context offset ``offset`` (may use x16)."""
        return mem_operand(self.asm, CTX, offset, size)

    # --- representation invariants ---------------------------------------------------------

    def narrow(self, reg: str, t: Type) -> None:
        """Clear the bits of ``reg`` above ``t.bits`` (i1/i8/i16/i32)."""
        if t.bits < 32:
            self.asm(f"and {view(reg, 32)}, {view(reg, 32)}, #{t.mask:#x}")
        elif t.bits == 32:
            self.asm(f"mov {view(reg, 32)}, {view(reg, 32)}")

    def sext64(self, dst: str, src: str, t: Type) -> None:
        """``dst`` = normalised ``t`` in ``src`` sign-extended to 64 bits."""
        if t.bits < 64:
            self.asm(f"sbfx {dst}, {src}, #0, #{t.bits}")
        elif dst != src:
            self.asm(f"mov {dst}, {src}")

    # --- floating point environment --------------------------------------------------------

    def set_fp_mode(self) -> None:
        """Load the region's FPCR (rounding mode) if it has rounding-sensitive ops."""
        if self.uses_fp:
            self.mov_imm(ADDR, self.fpcr)
            self.asm(f"msr fpcr, {ADDR}")

    def with_flags(self, inst, body: Callable[[], None], reg: str,
                   rescaled: Callable[[], None] = None) -> None:
        """Run ``body`` (which leaves the float result in FP register ``reg``) between
        clearing FPSR and reading its flags into the optional flags result of ``inst``, if
        it has one. FPSR's IOC, DZC, OFC, UFC, IXC (bits 0-4; Arm ARM D17.2.51) are the IR's
        flag bits 0-4.

        Arm detects tininess before rounding (FPRound pseudocode), the IR after it (rounded
        to the format's precision with an unbounded exponent). They can differ only when the
        delivered result is normal: UFC is dropped for a result above the smallest normal
        magnitude; for one of exactly that magnitude, ``rescaled`` (ops that can deliver it
        inexactly: fmul, fdiv, fdemote) emits the op again on operands scaled by 2**64
        into v9 -- exact scaling, and a result in the normal range, so it is the IR's
        rounding times 2**64 -- and UFC stays only if that is below 2**64 times the smallest
        normal. v8-v10 are free there: they are not allocated (regs.py) and the dispatcher
        saves them for the caller."""
        flags = inst.results[1] if len(inst.results) > 1 else None
        if flags is None:
            body()
            return
        a = self.asm
        a("msr fpsr, xzr")
        body()
        t = inst.results[0].type
        d = self.dst(flags)
        a(f"mrs {d}, fpsr")
        a(f"and {d}, {d}, #0x1f")
        if t.is_float:
            bits, (exp_bits, mant) = t.bits, ((8, 23) if t is Type.F32 else (11, 52))
            done, far = a.label("uf"), a.label("ufmin")
            a(f"tbz {d}, #3, {done}")
            a(f"fmov {view(ADDR, bits)}, {view(reg, bits)}")
            a(f"and {ADDR}, {ADDR}, #{(1 << (bits - 1)) - 1:#x}")   # |result|
            self.mov_imm(OPERAND[0], 1 << mant)                      # smallest normal
            a(f"cmp {ADDR}, {OPERAND[0]}")
            if rescaled is not None:
                a(f"b.eq {far}")
            a(f"b.lo {done}")                                        # subnormal: tiny
            a(f"and {d}, {d}, #{M64 ^ 8:#x}")                        # clear UFC
            a.place(done)
            if rescaled is not None:
                with a.far():
                    a.place(far)
                    rescaled()
                    self.mov_imm(ADDR, 65 << mant)   # 2**64 * smallest normal: exponent 1 + 64
                    a(f"fmov {view('v10', bits)}, {view(ADDR, bits)}")
                    a(f"fabs {view('v9', bits)}, {view('v9', bits)}")
                    a(f"fcmp {view('v9', bits)}, {view('v10', bits)}")
                    a(f"b.lo {done}")
                    a(f"and {d}, {d}, #{M64 ^ 8:#x}")
                    a(f"b {done}")
        self.put(flags, d)

    def two_to_64(self, t: Type, reg: str = "v8") -> str:
        """FP register ``reg`` = 2**64 as ``t``; returns its name at ``t``'s width."""
        self.mov_imm(ADDR, 0x5F800000 if t is Type.F32 else 0x43F0000000000000)
        self.asm(f"fmov {view(reg, t.bits)}, {view(ADDR, t.bits)}")
        return view(reg, t.bits)

    def canon_nan(self, reg: str, t: Type) -> None:
        """Replace a NaN in FP register ``reg`` by the region's default NaN of type ``t``
        (fix-up in far code; clobbers x16 on that path)."""
        fix, done = self.asm.label("nan"), self.asm.label("nanok")
        r = view(reg, t.bits)
        self.asm(f"fcmp {r}, {r}")
        self.asm(f"b.vs {fix}")
        self.asm.place(done)
        with self.asm.far():
            self.asm.place(fix)
            self.mov_imm(ADDR, self.nan[t])
            self.asm(f"fmov {r}, {view(ADDR, t.bits)}")
            self.asm(f"b {done}")

    # --- moves -----------------------------------------------------------------------------

    def move(self, dst, src, tmp: str = ADDR) -> None:
        """Copy 8 raw bytes between two locations, or a constant into one."""
        if dst == src:
            return
        if type(src) is Imm:
            if type(dst) is Reg and not dst.is_fp:
                self.mov_imm(dst.name, src.value)
                return
            self.mov_imm(tmp, src.value)
            src = Reg(tmp)
        if type(src) is Mem and type(dst) is Mem:
            self.asm(f"ldr {tmp}, {self.slot_ref(src)}")
            self.asm(f"str {tmp}, {self.slot_ref(dst)}")
        elif type(dst) is Mem:
            self.asm(f"str {view(src.name, 64)}, {self.slot_ref(dst)}")
        elif type(src) is Mem:
            self.asm(f"ldr {view(dst.name, 64)}, {self.slot_ref(src)}")
        elif dst.is_fp and src.is_fp:
            self.asm(f"mov {dst.name}.16b, {src.name}.16b")
        elif dst.is_fp or src.is_fp:
            self.asm(f"fmov {view(dst.name, 64)}, {view(src.name, 64)}")
        else:
            self.asm(f"mov {dst.name}, {src.name}")

    def parallel_move(self, moves: list) -> None:
        """Perform ``[(dst, src), ...]`` as if all at once (every ``dst`` distinct; a ``src``
        may be an ``Imm``). Moves whose destination no pending move still reads go first; a
        cycle is broken by parking one destination's old value in x17 (v31 for FP
        registers); constants go last, as they read nothing."""
        pending = [(d, s) for d, s in moves if d != s and type(s) is not Imm]
        while pending:
            sources = {s for _, s in pending}
            ready = next((m for m in pending if m[0] not in sources), None)
            if ready is not None:
                self.move(*ready)
                pending.remove(ready)
                continue
            dst = pending[0][0]
            park = Reg(FSCRATCH[2] if type(dst) is Reg and dst.is_fp else OPERAND[0])
            self.move(park, dst)
            pending = [(d, park if s == dst else s) for d, s in pending]
        for d, s in moves:
            if type(s) is Imm:
                self.move(d, s)

    # --- control flow ----------------------------------------------------------------------

    def block_label(self, block) -> str:
        return self.labels[id(block)]

    def edge_moves(self, target) -> list:
        loc = self._loc
        return [(loc[p], loc[a]) for p, a in zip(target.block.params, target.args)
                if loc[p] != loc[a]]

    def jump(self, target) -> None:
        """Go to ``target`` (a BlockCall): its arguments into its parameters, then branch
        (or fall through when the block comes next)."""
        self.parallel_move(self.edge_moves(target))
        if target.block is not self.next_block:
            self.asm(f"b {self.block_label(target.block)}")

    def branch(self, cc: str, target) -> None:
        """Conditional branch to ``target`` on condition ``cc``; the edge's moves, if any, go
        in far code."""
        moves = self.edge_moves(target)
        if not moves:
            self.asm(f"b.{cc} {self.block_label(target.block)}")
            return
        edge = self.asm.label("edge")
        self.asm(f"b.{cc} {edge}")
        with self.asm.far():
            self.asm.place(edge)
            self.parallel_move(moves)
            self.asm(f"b {self.block_label(target.block)}")

    def branch2(self, cc: str, then, other) -> None:
        """Two-way branch on ``cc`` (true: ``then``), falling through into whichever target
        comes next when its edge needs no moves."""
        if then.block is self.next_block and not self.edge_moves(then):
            self.branch(INVERSE_CC[cc], other)
            self.jump(then)
        else:
            self.branch(cc, then)
            self.jump(other)

    def store_ctx(self, offset: int, value: int, tmp: str = RESULT) -> None:
        """``[ctx + offset]`` = the constant ``value`` (clobbers ``tmp``; offsets of the
        context header need no x16)."""
        self.mov_imm(tmp, value)
        self.asm(f"str {tmp}, {self.ctx_ref(offset, 8)}")

    def exit(self, reason: int, pc=None, pc_value=None, info: int = 0,
             delay: bool = False) -> None:
        """Fill the context's exit fields and branch to the exit stub through a shared tail
        (``dispatcher.Tails``). The next pc is the constant ``pc`` or the value ``pc_value``;
        ``delay`` stores the current instruction's delay-slot flag too."""
        if pc_value is not None and self.imm(pc_value) is None:
            self.asm(f"str {self.src(pc_value)}, [{CTX}, #{C.NEXT_PC}]")
        else:
            self.store_ctx(C.NEXT_PC, pc if pc_value is None else self.imm(pc_value))
        if delay:
            self.store_ctx(C.EXIT_DELAY, self.cur_delay)
        tail = self.tails.exit_tails.get((int(reason), info))
        if tail is None:
            self.mov_imm(RESULT, info)
            tail = self.tails.info_tails[int(reason)]
        self.asm(f"b #{tail:#x}")

    def leave(self, inst) -> None:
        """``exit``: with ``env.link`` (outside function regions), a constant target goes
        through a patchable site (``direct_exit``), a computed one through the return-stack
        buffer (``kind=return``) and the jump cache; ``kind=call`` with a ``ret_pc`` pushes
        the RSB first. ``kind=halt`` and exits without ``env.link`` leave with HALT/NEXT
        (``dynarec.host`` has the protocol)."""
        kind = inst.attrs["kind"]
        info = EXIT_KINDS.index(kind)
        if len(inst.args) > 1 or (not inst.args and inst.attrs["pc"] == -1):
            raise CompileError("exit needs a pc attribute or exactly one pc operand")
        target = inst.args[0] if inst.args else None
        pc = inst.attrs["pc"] if target is None else self.imm(target)
        if kind in C.STOP_KINDS or not self.env.link or self.is_function:
            self.exit(C.exit_reason(kind), pc=pc, pc_value=target, info=info)
            return
        ret_pc = inst.attrs.get("ret_pc", -1)
        if kind == "call" and ret_pc != -1:
            self.rsb_push(ret_pc & M64)
        if pc is not None:
            self.direct_exit(pc & M64, info)
            return
        self.load_into(target, "x11")
        if kind == "return":
            self.rsb_pop()
        self.asm(f"b #{self.tails.lookups[(info, self.env.counters)]:#x}")

    def direct_exit(self, pc: int, info: int, site: str = None) -> None:
        """An exit site for guest ``pc`` (exit kind index ``info``): a ``b`` (patchable:
        ``AArch64Host.patch_jump``) to far code that leaves with LINK (x9 = the site, x10 =
        its route, x11 = ``pc``), and the route, which looks ``pc`` up in the jump cache. A
        ``site`` label given puts the site itself in far code (an RSB push's return site)."""
        a = self.asm
        slow, route = a.label("link"), a.label("route")
        in_far = site is not None
        if not in_far:
            site = a.label("site")
            a.place(site)
            a(f"b {slow}")
        with a.far():
            if in_far:
                a.place(site)
                a(f"b {slow}")
            a.place(slow)
            a(f"adr x9, {site}")
            a(f"adr x10, {route}")
            self.mov_imm("x11", pc)
            a(f"b #{self.tails.link_tails[info]:#x}")
            a.place(route)
            self.mov_imm("x11", pc)
            a(f"b #{self.tails.lookups[(info, self.env.counters)]:#x}")

    def _count(self, offset: int) -> None:
        """``[ctx + offset] += 1`` (clobbers x16)."""
        self.asm(f"ldr {ADDR}, [{CTX}, #{offset}]")
        self.asm(f"add {ADDR}, {ADDR}, #1")
        self.asm(f"str {ADDR}, [{CTX}, #{offset}]")

    def rsb_push(self, ret_pc: int) -> None:
        """Push (``ret_pc``, a return site of this region for ``ret_pc``) on the return-stack
        buffer (``dynarec.context``). Clobbers x9, x10, x16."""
        a = self.asm
        site = a.label("ret")
        a(f"ldr x9, [{CTX}, #{C.RSB_TOP}]")
        a("add x9, x9, #16")
        a(f"and x9, x9, #{C.RSB_MASK}")
        a(f"str x9, [{CTX}, #{C.RSB_TOP}]")
        a(f"add x9, {CTX}, x9")
        self.mov_imm("x10", ret_pc)
        a(f"str x10, [x9, #{C.RSB}]")
        a(f"adr x10, {site}")
        a(f"str x10, [x9, #{C.RSB + 8}]")
        self.direct_exit(ret_pc, EXIT_KINDS.index("return"), site=site)

    def rsb_pop(self) -> None:
        """Pop the return-stack buffer and branch to the popped host address if its pc is
        the guest pc in x11; otherwise fall through (to a jump-cache lookup). Clobbers x9,
        x10, x16, x17."""
        a = self.asm
        a(f"ldr x9, [{CTX}, #{C.RSB_TOP}]")
        a(f"add x10, {CTX}, x9")
        a(f"ldr x17, [x10, #{C.RSB}]")
        a(f"ldr x10, [x10, #{C.RSB + 8}]")
        a("sub x9, x9, #16")
        a(f"and x9, x9, #{C.RSB_MASK}")
        a(f"str x9, [{CTX}, #{C.RSB_TOP}]")
        a("cmp x17, x11")
        mismatch = a.label("rsbmiss")
        a(f"b.ne {mismatch}")
        if self.env.counters:
            self._count(C.RSB_HITS)
        a("br x10")
        a.place(mismatch)
        if self.env.counters:
            self._count(C.RSB_MISSES)

    def store_position(self, tmp: str = RESULT) -> None:
        """next_pc / exit_delay = the current guest instruction (before calling out);
        clobbers ``tmp``."""
        self.store_ctx(C.NEXT_PC, self.cur_pc, tmp)
        self.store_ctx(C.EXIT_DELAY, self.cur_delay, tmp)

    # --- calls -----------------------------------------------------------------------------

    def call_abs(self, address: int) -> None:
        """Call an absolute address: ``bl`` within the +-128 MiB of a B, else through x16."""
        here = self.env_cache_base
        if abs(address - here) < (1 << 27) - (1 << 26):
            self.asm(f"bl #{address:#x}")
        else:
            self.mov_imm(ADDR, address)
            self.asm(f"blr {ADDR}")

    def _helper(self, inst):
        try:
            return self.env.helpers[inst.attrs["helper"]]
        except KeyError:
            raise CompileError(f"region {self.region.name}: call: no helper "
                               f"{inst.attrs['helper']!r} in the CompileEnv") from None

    def _pass_args(self, inst) -> None:
        locs, _ = aapcs_classify([a.type for a in inst.args])
        self.parallel_move([(dst, self._loc[a]) for dst, a in zip(locs, inst.args)])

    def _take_results(self, inst) -> None:
        """Move call results from the return registers into their locations (ints masked)."""
        moves, ints, floats = [], list(INT_RESULT_REGS), list(FLOAT_RESULT_REGS)
        for r in inst.results:
            pool = floats if r.type.is_float else ints
            if not pool:
                raise CompileError(f"{inst.op}: more than 2 "
                                   f"{'float' if r.type.is_float else 'integer'} results")
            reg = pool.pop(0)
            if not r.type.is_float:
                self.narrow(reg, r.type)
            moves.append((self._loc[r], Reg(reg)))
        self.parallel_move(moves)

    def call_helper(self, inst) -> None:
        """``call``: a Python helper or a native one, through an executor trampoline."""
        helper = self._helper(inst)
        params = [a.type for a in inst.args]
        results = [r.type for r in inst.results]
        if helper.kind == "python":
            address = self.executor.python_call(helper.target, params, results)
        elif helper.kind == "native":
            try:
                address = self.executor.native_call(int(helper.target), params, results)
            except Exception as e:
                raise CompileError(f"call: helper {inst.attrs['helper']!r}: {e}") from None
        else:
            raise CompileError(f"call: helper {inst.attrs['helper']!r} has unknown kind "
                               f"{helper.kind!r}")
        self.store_position()
        self._pass_args(inst)
        self.mov_imm(ADDR, address)
        self.asm(f"blr {ADDR}")
        self._take_results(inst)
        self.set_fp_mode()

    def call_function(self, inst) -> None:
        """``call_fn``: native call of a function region (AAPCS64, regs.py)."""
        name = inst.attrs["fn"]
        self._pass_args(inst)
        if self.is_function and name == self.region.name:
            self.asm(f"bl {self.entry_label}")
        elif name in self.env.functions:
            self.call_abs(int(self.env.functions[name]))
        else:
            raise CompileError(f"call_fn: function region {name!r} is not compiled yet "
                               f"(CompileEnv.functions has no entry for it)")
        self._take_results(inst)
        self.set_fp_mode()

    # --- guest memory ----------------------------------------------------------------------

    def _memory(self, op: str):
        if self.env.memory is None:
            raise CompileError(f"{op}: the CompileEnv has no memory (MemoryABI)")
        return self.env.memory

    def _translate(self, addr: str, bits: int, size: int, write: bool, slow: str) -> None:
        """Fast-path address translation (``dynarec.host`` memory ABI) of the guest address
        in register ``addr`` (a ``bits``-wide value): leaves the host page in x10 and the
        page offset in x11; branches to ``slow`` when the address is out of range, the access
        crosses its page or the entry is 0. Clobbers x16."""
        mem = self._memory("store" if write else "load")
        a = self.asm
        a(f"lsr x10, {addr}, #{mem.page_bits}")
        if bits > mem.addr_bits:
            if add_imm(mem.num_pages):
                a(f"cmp x10, #{mem.num_pages}")
            else:
                self.mov_imm(ADDR, mem.num_pages)
                a(f"cmp x10, {ADDR}")
            a(f"b.hs {slow}")
        if write:
            self.mov_imm(ADDR, 8 * mem.num_pages)
            a(f"add {ADDR}, {PAGE_TABLE}, {ADDR}")
            a(f"ldr x10, [{ADDR}, x10, lsl #3]")
        else:
            a(f"ldr x10, [{PAGE_TABLE}, x10, lsl #3]")
        a(f"cbz x10, {slow}")
        a(f"and x11, {addr}, #{(1 << mem.page_bits) - 1:#x}")
        if size > 1:
            limit = (1 << mem.page_bits) - size          # the last offset that fits
            if add_imm(limit):
                a(f"cmp x11, #{limit}")
            else:
                self.mov_imm(ADDR, limit)
                a(f"cmp x11, {ADDR}")
            a(f"b.hi {slow}")

    def _slow_call(self, address: int, addr: str, size: int, value: str = None) -> None:
        """A slow-path call (far code): store the position, save x0-x2 and x30, call the
        trampoline at ``address`` with x0 = the guest address in ``addr``, x1 = ``size``,
        x2 = ``value`` (stores), restore. A load's result is left in x9."""
        a = self.asm
        self.store_position(ADDR)
        a("stp x0, x1, [sp, #-32]!")
        a("stp x2, x30, [sp, #16]")
        a(f"mov {ADDR}, {addr}")
        if value is not None:
            a(f"mov x2, {value}")
        a(f"mov x0, {ADDR}")
        a(f"mov x1, #{size}")
        self.mov_imm(ADDR, address)
        a(f"blr {ADDR}")
        a(f"mov {RESULT}, x0")
        a("ldp x2, x30, [sp, #16]")
        a("ldp x0, x1, [sp], #32")

    def guest_load(self, inst) -> None:
        """``load``: page-table fast path into x9, byte swap for big-endian guests, slow
        path in far code calling ``memory.slow_load(addr, size)``."""
        (addr,), (result,) = inst.args, inst.results
        mem, size, bits = self._memory("load"), result.type.bytes, result.type.bits
        slow, done = self.asm.label("ldslow"), self.asm.label("lddone")
        a_reg = self.src(addr, 0)
        self._translate(a_reg, addr.type.bits, size, False, slow)
        self.asm(f"{_LOAD[bits]} {view(RESULT, bits)}, [x10, x11]")
        if mem.big_endian and size > 1:
            self.byte_swap(RESULT, bits)
        self.asm.place(done)
        self.put(result, RESULT)
        with self.asm.far():
            self.asm.place(slow)
            self._slow_call(self.executor.slow_load(mem.slow_load), a_reg, size)
            self.narrow(RESULT, result.type)
            self.asm(f"b {done}")

    def guest_store(self, inst) -> None:
        """``store``: as ``guest_load``, calling ``memory.slow_store(addr, size, value)``
        unless the code-bitmap test (``_store_past_code``) lets the store through."""
        addr, value = inst.args
        mem, size, bits = self._memory("store"), value.type.bytes, value.type.bits
        slow, done, put = (self.asm.label(hint) for hint in ("stslow", "stdone", "stput"))
        a_reg = self.src(addr, 0)
        v_reg = self.dst(value)           # its own register, else x9 (translation spares it)
        self.load_into(value, v_reg)
        self._translate(a_reg, addr.type.bits, size, True, slow)
        self.asm.place(put)
        if mem.big_endian and size > 1:
            self.asm(f"mov {ADDR}, {v_reg}")
            self.byte_swap(ADDR, bits)
            self.asm(f"{_STORE[bits]} {view(ADDR, bits)}, [x10, x11]")
        else:
            self.asm(f"{_STORE[bits]} {view(v_reg, bits)}, [x10, x11]")
        self.asm.place(done)
        with self.asm.far():
            self.asm.place(slow)
            if mem.code_line_bits is not None:
                self._store_past_code(a_reg, addr.type.bits, size, put)
            self._slow_call(self.executor.slow_store(mem.slow_store), a_reg, size, v_reg)
            self.asm(f"b {done}")

    def _store_past_code(self, addr: str, bits: int, size: int, put: str) -> None:
        """Far code before a store's slow-path call: when the page of the guest address in
        ``addr`` has a code bitmap (``dynarec.host``, code pages) and no line the store
        touches is marked, branch back to the store at ``put`` with x10 = the page's read
        entry and x11 = the page offset; otherwise fall through to the call. Clobbers x10,
        x11, x16."""
        mem, a = self.env.memory, self.asm
        call = a.label("stcall")
        page_mask = (1 << mem.page_bits) - 1
        a(f"lsr x10, {addr}, #{mem.page_bits}")
        if bits > mem.addr_bits:
            self.mov_imm(ADDR, mem.num_pages)
            a(f"cmp x10, {ADDR}")
            a(f"b.hs {call}")
        self.mov_imm(ADDR, 16 * mem.num_pages)
        a(f"add {ADDR}, {PAGE_TABLE}, {ADDR}")
        a(f"ldr {ADDR}, [{ADDR}, x10, lsl #3]")          # the page's code bitmap
        a(f"cbz {ADDR}, {call}")
        if size > 1:
            a(f"and x11, {addr}, #{page_mask:#x}")
            self.mov_imm("x10", (1 << mem.page_bits) - size)
            a("cmp x11, x10")
            a(f"b.hi {call}")                               # crosses its page
        for last in ((0, size - 1) if size > 1 else (0,)):
            if last:
                a(f"add x11, {addr}, #{last}")
                a(f"and x11, x11, #{page_mask:#x}")
            else:
                a(f"and x11, {addr}, #{page_mask:#x}")
            a(f"lsr x11, x11, #{mem.code_line_bits}")      # line j: bit j & 7 of byte j >> 3
            a("lsr x10, x11, #3")
            a(f"ldrb w10, [{ADDR}, x10]")
            a("and x11, x11, #7")
            a("lsr w10, w10, w11")
            a(f"tbnz w10, #0, {call}")
        a(f"lsr x10, {addr}, #{mem.page_bits}")
        a(f"ldr x10, [{PAGE_TABLE}, x10, lsl #3]")
        a(f"and x11, {addr}, #{page_mask:#x}")
        a(f"b {put}")
        a.place(call)

    def byte_swap(self, reg: str, bits: int) -> None:
        """Reverse the bytes of the low ``bits`` of ``reg`` (result zero-extended; Arm ARM
        C6.2.253 REV, C6.2.255 REV16)."""
        if bits == 16:
            self.asm(f"rev16 {view(reg, 32)}, {view(reg, 32)}")
            self.asm(f"and {view(reg, 32)}, {view(reg, 32)}, #0xffff")
        else:
            self.asm(f"rev {view(reg, bits)}, {view(reg, bits)}")

    # --- the region ------------------------------------------------------------------------

    def _frame_sub(self, base: str) -> None:
        """sp = ``base`` - frame."""
        low, high = self.frame & 0xFFF, self.frame >> 12
        self.asm(f"sub sp, {base}, #{low}")
        if high:
            self.asm(f"sub sp, sp, #{high}, lsl #12")

    def prologue(self) -> None:
        a = self.asm
        if self.is_function:
            a.place(self.entry_label)
            saved = ["x29", "x30", *self.alloc.callee_saved]
            if len(saved) % 2:
                saved.append("xzr")
            self.saved_pairs = [saved[i:i + 2] for i in range(0, len(saved), 2)]
            for r1, r2 in self.saved_pairs:
                a(f"stp {r1}, {r2}, [sp, #-16]!")
            if self.frame:
                self._frame_sub("sp")
            self.set_fp_mode()
            arg_locs, _ = aapcs_classify(self.region.params,
                                         stack_offset=self.frame + 16 * len(self.saved_pairs))
            self.parallel_move([(self._loc[p], src)
                                for p, src in zip(self.region.entry.params, arg_locs)])
        else:
            if self.frame:
                a(f"ldr {ADDR}, [{CTX}, #{C.SAVED_SP}]")
                self._frame_sub(ADDR)
            self.set_fp_mode()

    def ret(self, inst) -> None:
        """``ret``: results into x0/x1/v0/v1, undo the frame, return."""
        if not self.is_function:
            raise CompileError(f"ret in block region {self.region.name}")
        ints, floats = list(INT_RESULT_REGS), list(FLOAT_RESULT_REGS)
        moves = []
        for v in inst.args:
            pool = floats if v.type.is_float else ints
            if not pool:
                raise CompileError(f"ret: too many {'float' if v.type.is_float else 'integer'} "
                                   f"results for the internal convention (at most 2 of each)")
            moves.append((Reg(pool.pop(0)), self._loc[v]))
        self.parallel_move(moves)
        if self.frame:
            low, high = self.frame & 0xFFF, self.frame >> 12
            self.asm(f"add sp, sp, #{low}")
            if high:
                self.asm(f"add sp, sp, #{high}, lsl #12")
        for r1, r2 in reversed(self.saved_pairs):
            self.asm(f"ldp {r1}, {r2}, [sp], #16")
        self.asm("ret")

    def generate(self, cache_base: int) -> Asm:
        """Lower every reachable block with the rules (``cache_base``: an address of the
        code cache, for the reach of ``bl``). A block starts at the guest instruction (pc,
        delay flag) its predecessors end in (the first laid out before it; the region's pc
        for the entry)."""
        self.env_cache_base = cache_base
        order = self.alloc.order
        rules, folded = self.rules, self.sel.folded
        self.entry_label = self.asm.label("entry")
        self.labels = {id(b): self.asm.label("b") for b in order}
        preds: dict = {}
        for b in order:
            for s in successors(b):
                preds.setdefault(id(s), []).append(id(b))
        ends = {}
        self.prologue()
        for i, block in enumerate(order):
            self.next_block = order[i + 1] if i + 1 < len(order) else None
            self.cur_pc, self.cur_delay = next(
                (ends[p] for p in preds.get(id(block), ()) if p in ends), (self.region.pc, 0))
            self.asm.place(self.block_label(block))
            if not block.insts or block.insts[-1].op not in TERMINATORS:
                raise CompileError(f"region {self.region.name}: block {block.name} does not "
                                   f"end in a terminator")
            for inst in block.insts:
                if id(inst) in folded:
                    continue
                rule = rules.get(inst.op)
                if rule is None:
                    raise CompileError(f"region {self.region.name}: no AArch64 lowering for "
                                       f"op {inst.op!r}")
                try:
                    rule.emit(self, inst)
                except CompileError as e:
                    raise CompileError(f"region {self.region.name}, block {block.name}, "
                                       f"{inst!r}: {e}") from e
            ends[id(block)] = (self.cur_pc, self.cur_delay)
        return self.asm
