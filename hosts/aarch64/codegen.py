"""The AArch64 lowering machinery: the A64 instructions of ``common.codegen.CodeGen`` (which
holds the frame layout, parallel moves, block layout, ``leave`` and ``generate``), operand
access, calls, exits and the memory fast/slow paths. The per-op rules (``lower.RULES``) are
written in terms of this class.

One ``CodeGen`` compiles one region: ``CodeGen(region, env, prefix, rules, dispatcher,
executor, cache_base, slots, spill_all).generate()`` returns the ``Asm`` text. Rules see:

* ``cg.asm`` -- the text buffer (``cg.asm("add x9, x0, x1")``, labels, far code);
* operand access -- ``loc(v)``, ``imm(v)`` (the folded constant or ``None``), ``fused(v)``
  (the ``icmp`` a flags consumer emits itself), ``src(v, k)``
  (an integer operand in a register, normalised: its own, or operand scratch ``k``),
  ``fsrc(v, k)`` (a float operand in an FP register), ``dst(v)`` / ``fdst(v)`` (where to
  compute a result), ``put(v, reg)`` / ``fput(v, reg)`` (write a result back), ``mov_imm``;
* helpers for the representation invariants -- ``zext`` (mask to a type), ``sext64``,
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
from dynarec.hosts.common import codegen as common
from dynarec.hosts.common.codegen import SlotTable
from dynarec.hosts.common.emit import Asm
from dynarec.hosts.common.regs import M64
from dynarec.ir.opcodes import EXIT_KINDS
from dynarec.ir.types import Type

from .regs import (ADDR, CTX, FLOAT_RESULT_REGS, FSCRATCH, INT_RESULT_REGS, OPERAND,
                   PAGE_TABLE, REGISTER_FILE, RESULT, Imm, Mem, Reg, aapcs_classify, add_imm,
                   view)

#: A64 condition codes and their negations (Arm ARM C1.2.4, table C1-1).
INVERSE_CC = {"eq": "ne", "ne": "eq", "hs": "lo", "lo": "hs", "mi": "pl", "pl": "mi",
              "vs": "vc", "vc": "vs", "hi": "ls", "ls": "hi", "ge": "lt", "lt": "ge",
              "gt": "le", "le": "gt"}

#: FPCR.RMode (bits 23:22; Arm ARM D17.2.48): 0 nearest, 1 towards +inf, 2 towards -inf,
#: 3 towards zero. AHP, DN and FZ stay 0 (NaN payloads propagate, subnormals are kept).
FPCR_RMODE = {"rne": 0, "rup": 1, "rdn": 2, "rtz": 3}

_LOAD = {8: "ldrb", 16: "ldrh", 32: "ldr", 64: "ldr"}
_STORE = {8: "strb", 16: "strh", 32: "str", 64: "str"}


@dataclass(frozen=True)
class Rule(common.Rule):
    """``common.Rule`` with the AArch64 defaults: every rule takes any operand as a folded
    constant (``imm="all"``, ``wide``: it encodes what fits and materialises the rest);
    ``cc``: operand 0 may be a fused compare (``brif``, ``select``); no views."""

    imm: str = "all"
    wide: bool = True


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


class CodeGen(common.CodeGen):
    """Compiles one region (module docstring and ``common.CodeGen``). ``dispatcher``: the
    cache's ``AArch64Dispatcher`` (its ``tails``); ``executor``: hands out the trampolines of
    helpers and the memory slow path; ``cache_base``: an address of the code cache, for the
    reach of ``bl``; ``slots``: the ``common.SlotTable`` of ``env.state`` (context offsets)."""

    ISA = "AArch64"
    ASM = Asm
    REGISTER_FILE = REGISTER_FILE
    INT_RESULT_REGS = INT_RESULT_REGS
    FLOAT_RESULT_REGS = FLOAT_RESULT_REGS
    INVERSE_CC = INVERSE_CC
    ROUNDING = FPCR_RMODE
    PARK, FPARK, TEMP = OPERAND[0], FSCRATCH[2], RESULT
    LINK_REGS = ("x9", "x10", "x11")            # the site, its route, the pc (dispatcher.py)
    EXIT_PC = "x11"

    def __init__(self, region, env, prefix: str, rules: dict, dispatcher, executor,
                 cache_base: int, slots: SlotTable, spill_all: bool = False):
        self.tails = dispatcher.tails
        self.executor = executor
        self.cache_base = cache_base
        super().__init__(region, env, prefix, rules, slots, spill_all)
        self.fpcr = self.rounding << 22

    # --- frame -----------------------------------------------------------------------------

    def _classify(self, types, stack_offset: int = 0) -> tuple:
        return aapcs_classify(types, stack_offset)

    def _frame_size(self, size: int) -> int:
        """16-byte aligned; below 32 KiB so that every spill slot is an ``ldr``/``str``
        offset (``slot_ref``)."""
        frame = (size + 15) & -16
        if frame >= 1 << 15:
            raise CompileError(f"region {self.region.name}: a {frame}-byte frame is too large")
        return frame

    # --- operands --------------------------------------------------------------------------

    def mov_imm(self, reg: str, value: int) -> None:
        mov_imm(self.asm, reg, value)

    def src(self, v, k: int = 0) -> str:
        """Integer (or a float's raw bits) ``v`` in a general register (``xN``): its own, or
        operand scratch ``k`` (0-2) loaded from its constant or stack slot."""
        loc = self._loc[v]
        if type(loc) is Reg and not loc.is_float:
            return loc.name
        reg = OPERAND[k]
        self.load(v, reg)
        return reg

    def load(self, v, reg: str) -> str:
        """Copy ``v`` (an integer, or a float's raw bits) into general register ``reg``."""
        loc = self._loc[v]
        if type(loc) is Imm:
            self.mov_imm(reg, loc.value)
        elif type(loc) is Mem:
            self.asm(f"ldr {reg}, {self.slot_ref(loc)}")
        elif loc.is_float:
            self.asm(f"fmov {view(reg, v.type.bits)}, {view(loc.name, v.type.bits)}")
        elif loc.name != reg:
            self.asm(f"mov {reg}, {loc.name}")
        return reg

    def fsrc(self, v, k: int = 0) -> str:
        """Float ``v`` in an FP register (``vN``): its own, or float scratch ``k``."""
        loc = self._loc[v]
        if type(loc) is Reg and loc.is_float:
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
        return loc.name if type(loc) is Reg and not loc.is_float else RESULT

    def fdst(self, v) -> str:
        """The FP register to compute float result ``v`` in: its own, else v31."""
        loc = self._loc[v]
        return loc.name if type(loc) is Reg and loc.is_float else FSCRATCH[2]

    def put(self, v, reg: str) -> None:
        """Write general register ``reg`` (normalised for ``v``'s type) to ``v``."""
        loc = self._loc[v]
        if type(loc) is Mem:
            self.asm(f"str {reg}, {self.slot_ref(loc)}")
        elif loc.is_float:
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
        elif not loc.is_float:
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

    def zext(self, reg: str, t: Type) -> None:
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
            if type(dst) is Reg and not dst.is_float:
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
        elif dst.is_float and src.is_float:
            self.asm(f"mov {dst.name}.16b, {src.name}.16b")
        elif dst.is_float or src.is_float:
            self.asm(f"fmov {view(dst.name, 64)}, {view(src.name, 64)}")
        else:
            self.asm(f"mov {dst.name}, {src.name}")

    # --- control flow ----------------------------------------------------------------------

    def _jmp(self, label: str) -> None:
        self.asm(f"b {label}")

    def _jcc(self, cc: str, label: str) -> None:
        self.asm(f"b.{cc} {label}")

    def _jmp_shared(self, address: int) -> None:
        """Branch to shared code at ``address`` (the dispatcher's tails, within B reach)."""
        self.asm(f"b #{address:#x}")

    def _jump_site(self, site: str, target: str) -> None:
        """A ``b`` to ``target`` at label ``site`` (patchable: ``AArch64Host.patch_jump``)."""
        self.asm.place(site)
        self.asm(f"b {target}")

    def _address_of(self, reg: str, label: str) -> None:
        self.asm(f"adr {reg}, {label}")

    def _link_tail(self, info: int) -> int:
        return self.tails.link_tails[info]

    def _lookup_tail(self, info: int) -> int:
        return self.tails.lookups[(info, self.env.counters)]

    def _jump_cache_exit(self, info: int) -> None:
        """The shared jump-cache lookup of the pc in x11."""
        self._jmp_shared(self._lookup_tail(info))

    def store_ctx(self, offset: int, value: int, tmp: str = RESULT) -> None:
        """``[ctx + offset]`` = the constant ``value`` (clobbers ``tmp``; offsets of the
        context header need no x16)."""
        self.mov_imm(tmp, value)
        self.asm(f"str {tmp}, {self.ctx_ref(offset, 8)}")

    def exit(self, reason: int, pc=None, pc_value=None, info: int = 0,
             delay: bool = False) -> None:
        """Fill the context's exit fields and branch to the exit stub through a shared tail
        (``dispatcher.py``). The next pc is the constant ``pc`` or the value ``pc_value``;
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

    # --- calls -----------------------------------------------------------------------------

    def call_abs(self, address: int) -> None:
        """Call an absolute address: ``bl`` within the +-128 MiB of a B, else through x16."""
        here = self.cache_base
        if abs(address - here) < (1 << 27) - (1 << 26):
            self.asm(f"bl #{address:#x}")
        else:
            self.mov_imm(ADDR, address)
            self.asm(f"blr {ADDR}")

    def _call_label(self, label: str) -> None:
        self.asm(f"bl {label}")

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
        self._pass_args(inst, self._arg_locs(inst)[0])
        self.mov_imm(ADDR, address)
        self.asm(f"blr {ADDR}")
        self._take_results(inst)
        self.set_fp_mode()

    # --- guest memory ----------------------------------------------------------------------

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
            self.zext(RESULT, result.type)
            self.asm(f"b {done}")

    def guest_store(self, inst) -> None:
        """``store``: as ``guest_load``, calling ``memory.slow_store(addr, size, value)``
        unless the code-bitmap test (``_store_past_code``) lets the store through."""
        addr, value = inst.args
        mem, size, bits = self._memory("store"), value.type.bytes, value.type.bits
        slow, done, put = (self.asm.label(hint) for hint in ("stslow", "stdone", "stput"))
        a_reg = self.src(addr, 0)
        v_reg = self.dst(value)           # its own register, else x9 (translation spares it)
        self.load(value, v_reg)
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

    def _enter_function(self) -> int:
        """Save x29, x30 and the callee-saved registers the region allocates in pairs, then
        make the frame."""
        saved = ["x29", "x30", *self.alloc.callee_saved]
        if len(saved) % 2:
            saved.append("xzr")
        self.saved_pairs = [saved[i:i + 2] for i in range(0, len(saved), 2)]
        for r1, r2 in self.saved_pairs:
            self.asm(f"stp {r1}, {r2}, [sp, #-16]!")
        if self.frame:
            self._frame_sub("sp")
        return 16 * len(self.saved_pairs)

    def _enter_block(self) -> None:
        """sp = the dispatcher's saved_sp less the frame (regs.py: Frames)."""
        if self.frame:
            self.asm(f"ldr {ADDR}, [{CTX}, #{C.SAVED_SP}]")
            self._frame_sub(ADDR)

    def _leave_function(self) -> None:
        """Undo the frame, restore the saved pairs, return."""
        if self.frame:
            low, high = self.frame & 0xFFF, self.frame >> 12
            self.asm(f"add sp, sp, #{low}")
            if high:
                self.asm(f"add sp, sp, #{high}, lsl #12")
        for r1, r2 in reversed(self.saved_pairs):
            self.asm(f"ldp {r1}, {r2}, [sp], #16")
        self.asm("ret")
