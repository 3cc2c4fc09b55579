"""The lowering machinery: frame layout, operand access, parallel moves, calls, exits and the
memory fast/slow paths. The per-op rules (``lower.RULES``) are written in terms of this class.

One ``CodeGen`` compiles one region: ``CodeGen(region, env, features, prefix, rules, stubs,
slots).generate()`` returns the ``Asm`` text. Rules see:

* ``cg.asm`` -- the text buffer (``cg.asm("add rax, rcx")``, labels, far code);
* operand access -- ``loc(v)`` (``Reg``/``Mem``/``Imm``), ``imm(v)`` (the constant, or
  ``None``), ``rm(v, bits)`` (a register, memory or immediate operand for reading),
  ``fused(v)`` (the ``icmp`` a flags consumer emits itself), ``dest(result, *later)`` (the
  register to compute a result in), ``load(v, reg[, bits])`` / ``fload(v, xmm)`` (copy into a
  register), ``store(v, reg)`` / ``fstore(v, xmm)`` (write a result), ``store_imm(v, value)``;
* helpers for the representation invariants -- ``zext`` (mask a result to its type),
  ``sext64``, ``canon_nan``, ``fp_flags``; ``bound(v)`` (what an ``and`` with a constant
  tells about ``v``);
* control flow -- ``jump``, ``branch``, ``branch2``, ``exit``, ``error_exit``; ``leave``
  (the ``exit`` op: exit sites, jump-cache lookups, the return-stack buffer);
* calls -- ``call_helper``, ``call_function``, and ``guest_load``/``guest_store``.

Rules read every operand before writing any result (the allocator may give a result the
register of an operand that dies at the same instruction -- it prefers that register, so
in-place forms need no copy). An operand in a position its rule lists in ``Rule.low`` may be
a *view* (``regs.py``): only its low ``type.bits`` bits are meaningful, so such a rule reads it
at that width (``rm(v, bits)`` with ``bits <= 32`` for narrow types, or ``load``, which
normalises).
"""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass
from typing import Callable

from dynarec import context as C
from dynarec.errors import CompileError
from dynarec.hosts.common.regalloc import allocate, successors
from dynarec.ir.opcodes import EXIT_KINDS, OPS
from dynarec.ir.types import I64, Type, to_signed

from .emit import Asm
from .regs import (CTX, FLOAT_RESULT_REGS, INT_RESULT_REGS, PAGE_TABLE, REGISTER_FILE, Imm,
                   Mem, Reg, fits_imm32, ptr, sub, sysv_classify)

# Host scratch words of the context (dynarec.context HOST_SCRATCH) used by generated code.
SCR_MXCSR = C.HOST_SCRATCH          # the MXCSR image ldmxcsr loads (region mode, flag clears)
SCR_SAVED_MXCSR = C.HOST_SCRATCH + 8  # MXCSR kept while the no-SSE4.1 rounding fallback runs

# MXCSR (Intel SDM vol. 1 section 10.2.3): all exceptions masked (bits 7-12), FTZ/DAZ off,
# rounding control in bits 13-14: 0 nearest, 1 down, 2 up, 3 toward zero.
MXCSR_DEFAULT = 0x1F80
MXCSR_RC = {"rne": 0, "rdn": 1, "rup": 2, "rtz": 3}

TERMINATORS = frozenset(name for name, row in OPS.items() if row.is_terminator)

# x86 condition codes and their negations (Intel SDM vol. 2, "Jcc")
INVERSE_CC = {"e": "ne", "ne": "e", "l": "ge", "ge": "l", "le": "g", "g": "le", "b": "ae",
              "ae": "b", "be": "a", "a": "be", "o": "no", "no": "o", "s": "ns", "ns": "s",
              "p": "np", "np": "p", "z": "nz", "nz": "z"}

# Ops whose result depends on MXCSR (rounding control) or that read its flags.
FP_MODE_OPS = frozenset({"fadd", "fsub", "fmul", "fdiv", "fsqrt", "fcvt_from_sint",
                         "fcvt_from_uint", "fpromote", "fdemote", "fcvt_to_sint",
                         "fcvt_to_uint"})


@dataclass(frozen=True)
class Rule:
    """How one op lowers: ``emit(cg, inst)`` writes its code; the rest says which operand
    forms ``emit`` accepts, so ``fold.select`` can fold operands into it.

    ``imm``: operand positions that may be an ``Imm`` (``"all"``: every operand).
    ``wide``: any 64-bit constant is fine there (``emit`` materialises what x86 cannot
    encode); otherwise only ``regs.fits_imm32`` constants are folded. ``low``: positions
    whose operand is read only in its type's low bits (a view may stand there). ``cc``:
    operand 0 may be a fused ``icmp``.
    """

    emit: Callable
    imm: tuple | str = ()
    wide: bool = False
    low: tuple = ()
    cc: bool = False


class SlotTable:
    """Memory operands of the guest-state slots of one ``StateLayout`` (``state``), each
    reference resolved once; a host keeps one across compiles."""

    def __init__(self, state):
        self.state = state
        self._operands: dict = {}

    def operand(self, ref: str, t: Type) -> str:
        """``<size> ptr [ctx + offset]`` of slot reference ``ref`` accessed as type ``t``;
        ``CompileError`` if there is no such slot or it has another type."""
        hit = self._operands.get(ref)
        if hit is None:
            try:
                offset, slot_type = self.state.offset(ref), self.state.type(ref)
            except KeyError as e:
                raise CompileError(str(e.args[0])) from None
            hit = self._operands[ref] = (slot_type, ptr(slot_type.bits, f"{CTX} + "
                                                               f"{C.GUEST_STATE_OFFSET + offset}"))
        if hit[0] is not t:
            raise CompileError(f"state slot {ref} is {hit[0]}, the op uses {t}")
        return hit[1]


def _capi(name: str) -> int:
    """Address of a CPython C API function (``ctypes.pythonapi``)."""
    return ctypes.cast(getattr(ctypes.pythonapi, name), ctypes.c_void_p).value


def f64_bits(x: float) -> int:
    """The IEEE 754 binary64 bit pattern of ``x``."""
    return struct.unpack("<Q", struct.pack("<d", x))[0]


# --- emission helpers shared with the stubs (stubs.py) ---------------------------------------

def mov_imm(asm: Asm, reg: str, value: int) -> None:
    """``reg = value`` (any 64-bit pattern) with the shortest form; ``xor`` for 0 (so it
    clobbers the flags)."""
    value &= (1 << 64) - 1
    if value == 0:
        r32 = sub(reg, 32)
        asm(f"xor {r32}, {r32}")
    elif value < 1 << 32:
        asm(f"mov {sub(reg, 32)}, {value}")
    elif value >= (1 << 64) - (1 << 31):
        asm(f"mov {reg}, {value - (1 << 64)}")
    else:
        asm(f"mov {reg}, {value:#x}")


def store_ctx_word(asm: Asm, offset: int, value: int, tmp: str = "rax") -> None:
    """``qword [ctx + offset] = value`` (any 64-bit pattern; negative means two's
    complement); ``tmp`` is clobbered for values imm32 cannot sign-extend to."""
    if fits_imm32(value, 64):
        asm(f"mov qword ptr [{CTX} + {offset}], {to_signed(value, 64)}")
    else:
        mov_imm(asm, tmp, value)
        asm(f"mov qword ptr [{CTX} + {offset}], {tmp}")


def host_fp_mode(asm: Asm) -> None:
    """Restore the MXCSR ``enter`` was called with (it sits at ``[saved_sp]``), before calling
    C or Python code. Clobbers rax."""
    asm(f"mov rax, qword ptr [{CTX} + {C.SAVED_SP}]")
    asm("ldmxcsr dword ptr [rax]")


def jump_cache_lookup(asm: Asm, miss: str, counters: bool) -> None:
    """Jump to the region of the guest pc in rcx through the jump cache (``dynarec.context``:
    entry ``jump_cache_slot(pc)``, 16 bytes of (pc, host address)), or to ``miss`` (a label or
    an address) with rcx unchanged. ``counters``: count a hit in ``jc_hits``. Clobbers rax."""
    asm("mov eax, ecx")
    asm("shr eax, 2")
    asm("xor eax, ecx")
    asm(f"and eax, {C.JUMP_CACHE_ENTRIES - 1}")
    asm("shl eax, 4")
    asm(f"add rax, qword ptr [{CTX} + {C.JUMP_CACHE}]")
    asm("cmp rcx, qword ptr [rax]")
    asm(f"jne {miss}")
    if counters:
        asm(f"inc qword ptr [{CTX} + {C.JC_HITS}]")
    asm("jmp qword ptr [rax + 8]")


def py_call(asm: Asm, keep_alive: list, call: Callable, target, fmt: str, n_xmm: int,
            result_types: list, obj: Mem, error: str, decref: Callable) -> list:
    """Call Python ``target`` with ``PyObject_CallFunction(target, fmt, ...)``; the varargs
    are already in place (``rdx rcx r8 r9``, ``xmm0-7``, stack). Keeps the result object at
    ``obj`` and converts the result(s) (``PyLong_AsUnsignedLongLongMask`` /
    ``PyFloat_AsDouble``; several results come as a tuple) into the words after it, returning
    those ``Mem`` slots. A NULL result jumps to ``error``; a pending exception after a
    conversion to ``decref(obj)`` (a label that drops the object, then exits ERROR).
    ``call(address)`` emits a call; ``keep_alive`` receives the objects the code refers to.
    Clobbers every caller-saved register."""
    fmt_buf = ctypes.create_string_buffer(fmt.encode("ascii"))
    keep_alive.extend([target, fmt_buf])
    mov_imm(asm, "rdi", id(target))
    mov_imm(asm, "rsi", ctypes.addressof(fmt_buf))
    asm(f"mov eax, {n_xmm}")                      # varargs: vector registers used (psABI)
    call(_capi("PyObject_CallFunction"))
    asm("test rax, rax")
    asm(f"jz {error}")
    asm(f"mov {obj.ref()}, rax")
    temps = []
    for i, t in enumerate(result_types):
        temp = Mem(obj.offset + 8 * (i + 1), obj.base)
        temps.append(temp)
        if len(result_types) > 1:
            asm(f"mov rdi, {obj.ref()}")
            asm(f"mov esi, {i}")
            call(_capi("PyTuple_GetItem"))
            asm("test rax, rax")
            asm(f"jz {decref(obj)}")
        asm("mov rdi, rax")
        if t.is_float:
            call(_capi("PyFloat_AsDouble"))
            asm(f"movq {temp.ref()}, xmm0")
        else:
            call(_capi("PyLong_AsUnsignedLongLongMask"))
            asm(f"mov {temp.ref()}, rax")
        call(_capi("PyErr_Occurred"))
        asm("test rax, rax")
        asm(f"jnz {decref(obj)}")
    asm(f"mov rdi, {obj.ref()}")
    call(_capi("Py_DecRef"))
    return temps


def py_decref(asm: Asm, call: Callable, obj: Mem) -> None:
    """``Py_DecRef(*obj)``."""
    asm(f"mov rdi, {obj.ref()}")
    call(_capi("Py_DecRef"))


class CodeGen:
    """Compiles one region (see the module docstring). ``features``: the host's feature set
    (``features.KNOWN`` names); ``prefix``: label prefix unique within the text; ``rules``: op
    name -> ``Rule``; ``stubs``: the code cache's ``stubs.SharedStubs`` (its ``near(address)``
    tells whether a rel32 branch reaches ``address``); ``slots``: the ``SlotTable`` of
    ``env.state``; ``spill_all``: give no value a register."""

    def __init__(self, region, env, features: frozenset, prefix: str, rules: dict, stubs,
                 slots: SlotTable, spill_all: bool = False):
        self.region = region
        self.env = env
        self.features = features
        self.rules = rules
        self.stubs = stubs
        self.near = stubs.near
        self.slots = slots
        self.asm = Asm(prefix)
        self.is_function = region.kind == "function"
        self.cur_pc = region.pc
        self.cur_delay = 0
        self._decref_error_labels: dict = {}
        self.nan = {Type.F32: region.attrs["nan32"] & 0xFFFFFFFF,
                    Type.F64: region.attrs["nan64"] & 0xFFFFFFFFFFFFFFFF}
        if region.attrs["rounding"] not in MXCSR_RC:
            raise CompileError(f"region {region.name}: unknown rounding "
                               f"{region.attrs['rounding']!r} (one of {', '.join(MXCSR_RC)})")
        self.mxcsr = MXCSR_DEFAULT | (MXCSR_RC[region.attrs["rounding"]] << 13)
        self._layout_frame(spill_all)

    # --- frame -----------------------------------------------------------------------------

    def _layout_frame(self, spill_all: bool):
        """Frame from rsp up: outgoing stack args | call temporaries (the result object and
        its converted values) | spill slots. Notes whether the region has rounding-sensitive
        float ops (``uses_fp``)."""
        out, temps = 0, 0
        self.uses_fp = False
        for block in self.region.blocks:
            for inst in block.insts:
                op = inst.op
                if op in FP_MODE_OPS:
                    self.uses_fp = True
                elif op == "call" or op == "call_fn":
                    _, stack = self._arg_locs(inst)
                    out = max(out, stack)
                    temps = max(temps, 1 + len(inst.results))
        self.obj_temp = Mem(out)
        spill_base = out + 8 * temps
        self.alloc = allocate(self.region, REGISTER_FILE, spill_base, spill_all, self.rules)
        self.sel = self.alloc.selection
        self._loc = self.alloc.loc
        size = spill_base + self.alloc.spill_bytes
        if self.is_function:
            pushed = 8 * len(self.alloc.callee_saved) + 8     # + return address
            size += (-(size + pushed)) % 16
        else:
            size += (-size) % 16
        self.frame = size

    def _arg_locs(self, inst) -> tuple:
        """System V argument locations of a ``call``/``call_fn`` and the stack bytes they need."""
        types = [a.type for a in inst.args]
        if inst.op == "call" and self._helper(inst).kind == "python":
            return sysv_classify([I64, I64] + types)   # callable, format come first
        return sysv_classify(types)

    # --- operands --------------------------------------------------------------------------

    def loc(self, v):
        """The location of value ``v``: ``Reg``, ``Mem`` or ``Imm`` (a view: its root's)."""
        return self._loc[v]

    def imm(self, v):
        """The bit pattern of ``v`` if it is a folded constant, else ``None``."""
        loc = self._loc.get(v)
        return loc.value if type(loc) is Imm else None

    def fused(self, v):
        """The ``icmp`` Inst whose compare the user of ``v`` emits itself, or ``None``."""
        return self.sel.fused.get(v)

    def is_view(self, v) -> bool:
        """True if ``v`` is a view (only its low ``type.bits`` bits are meaningful)."""
        return v in self.sel.alias

    def rm(self, v, bits: int = 64) -> str:
        """``v`` as a register, memory or immediate operand of ``bits`` width (xmm registers
        by name)."""
        loc = self._loc[v]
        kind = type(loc)
        if kind is Reg:
            return loc.name if loc.is_xmm else sub(loc.name, bits)
        if kind is Mem:
            return loc.ref(bits)
        return loc.text(bits)

    def dest(self, result, *later) -> str:
        """Where a simple rule should compute ``result``: its own general register when it
        has one that none of the operands ``later`` (read after the first write) occupies,
        else ``rax``."""
        loc = self._loc[result]
        if type(loc) is Reg and not loc.is_xmm:
            for v in later:
                if self._loc[v] == loc:
                    return "rax"
            return loc.name
        return "rax"

    def load(self, v, reg: str, bits: int = None) -> str:
        """Copy ``v`` (an integer, or a float's raw bits) into general register ``reg`` and
        return ``reg``. Without ``bits`` the copy is normalised (zero-extended, also for a
        view); with ``bits`` only its low ``bits`` bits need be right, so a value already in
        ``reg`` costs nothing."""
        loc = self._loc[v]
        kind = type(loc)
        if kind is Imm:
            mov_imm(self.asm, reg, loc.value)
            return reg
        t = v.type
        if t.is_float:
            if kind is Mem:
                if t is Type.F32:
                    self.asm(f"mov {sub(reg, 32)}, {loc.ref(32)}")
                else:
                    self.asm(f"mov {reg}, {loc.ref()}")
            else:
                self.asm(f"movd {sub(reg, 32)}, {loc.name}" if t is Type.F32
                         else f"movq {reg}, {loc.name}")
            return reg
        if kind is Reg and loc.name == reg and (bits is not None or v not in self.sel.alias):
            return reg
        n = t.bits
        if n == 64:
            self.asm(f"mov {reg}, {self.rm(v, 64)}")
        elif n in (8, 16):
            self.asm(f"movzx {sub(reg, 32)}, {self.rm(v, n)}")
        else:
            self.asm(f"mov {sub(reg, 32)}, {self.rm(v, 32)}")
        return reg

    def fload(self, v, xreg: str) -> str:
        """Copy float ``v`` into xmm register ``xreg``."""
        loc = self._loc[v]
        if type(loc) is Mem:
            self.asm(f"movq {xreg}, {loc.ref()}")
        elif loc.name != xreg:
            self.asm(f"movaps {xreg}, {loc.name}")
        return xreg

    def store(self, v, reg: str) -> None:
        """Write general register ``reg`` (already normalised for ``v``'s type) to ``v``."""
        loc = self._loc[v]
        if type(loc) is Mem:
            self.asm(f"mov {loc.ref()}, {reg}")
        elif loc.is_xmm:
            self.asm(f"movq {loc.name}, {reg}")
        elif loc.name != reg:
            self.asm(f"mov {loc.name}, {reg}")

    def fstore(self, v, xreg: str) -> None:
        """Write xmm register ``xreg`` to float ``v``."""
        loc = self._loc[v]
        if type(loc) is Mem:
            self.asm(f"movq {loc.ref()}, {xreg}")
        elif loc.name != xreg:
            self.asm(f"movaps {loc.name}, {xreg}")

    def store_imm(self, v, value: int) -> None:
        """Write the constant bit pattern ``value`` to ``v``."""
        loc = self._loc[v]
        if type(loc) is Reg:
            if not loc.is_xmm:
                mov_imm(self.asm, loc.name, value)
            elif value == 0:
                self.asm(f"xorps {loc.name}, {loc.name}")
            else:
                mov_imm(self.asm, "rax", value)
                self.asm(f"movq {loc.name}, rax")
        elif type(loc) is Mem:
            if fits_imm32(value, 64):
                self.asm(f"mov {loc.ref()}, {to_signed(value, 64)}")
            else:
                mov_imm(self.asm, "rax", value)
                self.asm(f"mov {loc.ref()}, rax")

    def mov_imm(self, reg: str, value: int) -> None:
        """``reg = value`` (see the module function; clobbers the flags for 0)."""
        mov_imm(self.asm, reg, value)

    def zext(self, reg: str, t: Type) -> None:
        """Re-establish the invariant for integer type ``t``: clear bits above ``t.bits``."""
        if t.bits == 1:
            self.asm(f"and {sub(reg, 32)}, 1")
        elif t.bits in (8, 16):
            self.asm(f"movzx {sub(reg, 32)}, {sub(reg, t.bits)}")
        elif t.bits == 32:
            self.asm(f"mov {sub(reg, 32)}, {sub(reg, 32)}")

    def sext64(self, reg: str, t: Type) -> None:
        """Sign-extend ``reg`` (holding a normalised ``t``) to 64 bits."""
        if t.bits == 1:
            self.asm(f"neg {reg}")
        elif t.bits in (8, 16):
            self.asm(f"movsx {reg}, {sub(reg, t.bits)}")
        elif t.bits == 32:
            self.asm(f"movsxd {reg}, {sub(reg, 32)}")

    # --- floating point environment --------------------------------------------------------

    def set_fp_mode(self) -> None:
        """Load the region's MXCSR (rounding, flags cleared) if it has rounding-sensitive ops."""
        if self.uses_fp:
            self.asm(f"mov dword ptr [{CTX} + {SCR_MXCSR}], {self.mxcsr:#x}")
            self.asm(f"ldmxcsr dword ptr [{CTX} + {SCR_MXCSR}]")

    def host_fp_mode(self) -> None:
        """Restore the MXCSR ``enter`` was called with, before calling C or Python code
        (always: a function region called earlier may have left its own mode)."""
        host_fp_mode(self.asm)

    def clear_fp_flags(self) -> None:
        """Clear MXCSR's sticky exception flags (bits 0-5) before an op whose flags we read."""
        self.asm(f"stmxcsr dword ptr [{CTX} + {SCR_MXCSR}]")
        self.asm(f"and dword ptr [{CTX} + {SCR_MXCSR}], 0xffffffc0")
        self.asm(f"ldmxcsr dword ptr [{CTX} + {SCR_MXCSR}]")

    def fp_flags(self, reg: str) -> None:
        """``reg`` = IR flags (opcodes.FP_FLAG_*) from MXCSR: IE (bit 0) -> invalid; ZE, OE,
        UE, PE (bits 2-5) -> bits 1-4; DE (bit 1, denormal operand) is not an IR flag."""
        r32 = sub(reg, 32)
        self.asm(f"stmxcsr dword ptr [{CTX} + {SCR_MXCSR}]")
        self.asm(f"mov {r32}, dword ptr [{CTX} + {SCR_MXCSR}]")
        self.asm(f"mov r11d, {r32}")
        self.asm("and r11d, 1")
        self.asm(f"shr {r32}, 1")
        self.asm(f"and {r32}, 0x1e")
        self.asm(f"or {r32}, r11d")

    def canon_nan(self, xreg: str, t: Type) -> None:
        """Replace a NaN in ``xreg`` by the region's default NaN of type ``t`` (fix-up in far
        code; clobbers rax only on that path)."""
        fix, done = self.asm.label("nan"), self.asm.label("nanok")
        self.asm(f"ucomis{'s' if t is Type.F32 else 'd'} {xreg}, {xreg}")
        self.asm(f"jp {fix}")
        self.asm.place(done)
        with self.asm.far():
            self.asm.place(fix)
            self.mov_imm("rax", self.nan[t])
            self.asm(f"movq {xreg}, rax")
            self.asm(f"jmp {done}")

    # --- moves -----------------------------------------------------------------------------

    def move(self, dst, src, tmp: str = "rax") -> None:
        """Copy 8 raw bytes between two locations, or a constant into one (``tmp`` for
        memory to memory and wide constants to memory)."""
        if dst == src:
            return
        if type(src) is Imm:
            if type(dst) is Mem:
                if fits_imm32(src.value, 64):
                    self.asm(f"mov {dst.ref()}, {to_signed(src.value, 64)}")
                    return
                mov_imm(self.asm, tmp, src.value)
                src = Reg(tmp)
            elif dst.is_xmm:
                mov_imm(self.asm, tmp, src.value)
                src = Reg(tmp)
            else:
                mov_imm(self.asm, dst.name, src.value)
                return
        if isinstance(src, Mem) and isinstance(dst, Mem):
            self.asm(f"mov {tmp}, {src.ref()}")
            self.asm(f"mov {dst.ref()}, {tmp}")
        elif isinstance(dst, Mem):
            self.asm(f"{'movq' if src.is_xmm else 'mov'} {dst.ref()}, {src.name}")
        elif isinstance(src, Mem):
            self.asm(f"{'movq' if dst.is_xmm else 'mov'} {dst.name}, {src.ref()}")
        elif dst.is_xmm and src.is_xmm:
            self.asm(f"movaps {dst.name}, {src.name}")
        elif dst.is_xmm or src.is_xmm:
            self.asm(f"movq {dst.name}, {src.name}")
        else:
            self.asm(f"mov {dst.name}, {src.name}")

    def parallel_move(self, moves: list) -> None:
        """Perform ``[(dst, src), ...]`` as if all at once (every ``dst`` distinct; a ``src``
        may be an ``Imm``). Moves whose destination no pending move still reads go first; a
        cycle is broken by parking one destination's old value in ``r11`` (``xmm15`` for xmm
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
            park = Reg("xmm15" if isinstance(dst, Reg) and dst.is_xmm else "r11")
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
        """Go to ``target`` (a BlockCall): move its arguments into its parameters, then jump
        (or fall through when the block comes next)."""
        self.parallel_move(self.edge_moves(target))
        if target.block is not self.next_block:
            self.asm(f"jmp {self.block_label(target.block)}")

    def branch(self, cc: str, target) -> None:
        """Conditional jump to ``target`` on x86 condition ``cc``; the edge's moves, if any,
        go in far code."""
        moves = self.edge_moves(target)
        if not moves:
            self.asm(f"j{cc} {self.block_label(target.block)}")
            return
        edge = self.asm.label("edge")
        self.asm(f"j{cc} {edge}")
        with self.asm.far():
            self.asm.place(edge)
            self.parallel_move(moves)
            self.asm(f"jmp {self.block_label(target.block)}")

    def branch2(self, cc: str, then, other) -> None:
        """Two-way branch on ``cc`` (true: ``then``): falls through into whichever target
        block comes next when its edge needs no moves."""
        if then.block is self.next_block and not self.edge_moves(then):
            self.branch(INVERSE_CC[cc], other)
            self.jump(then)
        else:
            self.branch(cc, then)
            self.jump(other)

    def jump_abs(self, address: int) -> None:
        """Jump to an absolute host address (rel32 when near, else through rax)."""
        if self.near(address):
            self.asm(f"jmp {address:#x}")
        else:
            self.mov_imm("rax", address)
            self.asm("jmp rax")

    def exit(self, reason: int, pc=None, pc_value=None, info: int = 0,
             delay: bool = False) -> None:
        """Fill the context's exit fields and jump to the dispatcher's exit stub, through a
        shared tail (``stubs.py``) that stores the reason and info. The next pc is the
        constant ``pc`` or the value ``pc_value``; ``delay`` stores the current instruction's
        delay-slot flag too."""
        a = self.asm
        if pc_value is not None:
            loc = self._loc[pc_value]
            if type(loc) is Imm:
                store_ctx_word(a, C.NEXT_PC, loc.value)
            else:
                src = loc.name if type(loc) is Reg else self.load(pc_value, "rax")
                a(f"mov qword ptr [{CTX} + {C.NEXT_PC}], {src}")
        else:
            store_ctx_word(a, C.NEXT_PC, pc)
        if delay:
            store_ctx_word(a, C.EXIT_DELAY, self.cur_delay)
        tail = self.stubs.exit_tails.get((int(reason), info))
        if tail is not None and self.near(tail):
            a(f"jmp {tail:#x}")
            return
        tail = self.stubs.info_tails.get(int(reason))
        if tail is not None and self.near(tail):
            mov_imm(a, "rcx", info)
            a(f"jmp {tail:#x}")
            return
        a(f"mov qword ptr [{CTX} + {C.EXIT_REASON}], {int(reason)}")
        store_ctx_word(a, C.EXIT_INFO, info)
        self.jump_abs(self.env.exit_stub)

    # --- exits to other regions: links, jump cache, return-stack buffer --------------------

    def leave(self, inst) -> None:
        """``exit``: with ``env.link`` (outside function regions, whose exits keep their
        caller's stack), a constant target goes through a patchable site (``direct_exit``),
        a computed one through the return-stack buffer (``kind=return``) and the jump cache;
        ``kind=call`` with a ``ret_pc`` pushes the RSB first. ``kind=halt`` and exits without
        ``env.link`` leave with HALT/NEXT. ``dynarec.host`` has the protocol."""
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
            self.rsb_push(ret_pc & (1 << 64) - 1)
        if pc is not None:
            self.direct_exit(pc & (1 << 64) - 1, info)
            return
        self.load(target, "rcx")
        if kind == "return":
            self.rsb_pop()
        jump_cache_lookup(self.asm, f"{self._stub(self.stubs.miss_tails[info]):#x}",
                          self.env.counters)

    def _stub(self, address: int) -> int:
        """``address`` of shared code, checked to be in rel32 reach."""
        if not self.near(address):
            raise CompileError("the shared stubs are out of rel32 reach of the region")
        return address

    def direct_exit(self, pc: int, info: int, site: str = None) -> None:
        """An exit site for guest ``pc`` (exit kind index ``info``): a patchable jump
        (``Asm.jump_site``) to far code that leaves with LINK (rax = the site, rdx = its
        route, rcx = ``pc``), and the route, which looks ``pc`` up in the jump cache. A
        ``site`` label given puts the site itself in far code (an RSB push's return site)."""
        a = self.asm
        slow, route = a.label("link"), a.label("route")
        in_far = site is not None
        if not in_far:
            site = a.label("site")
            a.jump_site(site, slow)
        with a.far():
            if in_far:
                a.jump_site(site, slow)
            a.place(slow)
            a(f"lea rax, [rip + {site}]")
            a(f"lea rdx, [rip + {route}]")
            mov_imm(a, "rcx", pc)
            a(f"jmp {self._stub(self.stubs.link_tails[info]):#x}")
            a.place(route)
            mov_imm(a, "rcx", pc)
            a(f"jmp {self._stub(self.stubs.lookups[info]):#x}")

    def rsb_push(self, ret_pc: int) -> None:
        """Push (``ret_pc``, a return site of this region for ``ret_pc``) on the return-stack
        buffer (``dynarec.context``). Clobbers rax, rdx."""
        a = self.asm
        site = a.label("ret")
        a(f"mov rax, qword ptr [{CTX} + {C.RSB_TOP}]")
        a("add eax, 16")
        a(f"and eax, {C.RSB_MASK}")
        a(f"mov qword ptr [{CTX} + {C.RSB_TOP}], rax")
        if fits_imm32(ret_pc, 64):
            a(f"mov qword ptr [{CTX} + rax + {C.RSB}], {to_signed(ret_pc, 64)}")
        else:
            mov_imm(a, "rdx", ret_pc)
            a(f"mov qword ptr [{CTX} + rax + {C.RSB}], rdx")
        a(f"lea rdx, [rip + {site}]")
        a(f"mov qword ptr [{CTX} + rax + {C.RSB + 8}], rdx")
        self.direct_exit(ret_pc, EXIT_KINDS.index("return"), site=site)

    def rsb_pop(self) -> None:
        """Pop the return-stack buffer and jump to the popped host address if its pc is the
        guest pc in rcx; otherwise fall through (to a jump-cache lookup). Clobbers rax, rdx,
        r11."""
        a = self.asm
        a(f"mov rax, qword ptr [{CTX} + {C.RSB_TOP}]")
        a(f"mov rdx, qword ptr [{CTX} + rax + {C.RSB + 8}]")
        a(f"mov r11, qword ptr [{CTX} + rax + {C.RSB}]")
        a("sub eax, 16")
        a(f"and eax, {C.RSB_MASK}")
        a(f"mov qword ptr [{CTX} + {C.RSB_TOP}], rax")
        a("cmp rcx, r11")
        mismatch = a.label("rsbmiss")
        a(f"jne {mismatch}")
        if self.env.counters:
            a(f"inc qword ptr [{CTX} + {C.RSB_HITS}]")
        a("jmp rdx")
        a.place(mismatch)
        if self.env.counters:
            a(f"inc qword ptr [{CTX} + {C.RSB_MISSES}]")

    def store_position(self, tmp: str = "rax") -> None:
        """next_pc / exit_delay = the current guest instruction (before calling out)."""
        store_ctx_word(self.asm, C.NEXT_PC, self.cur_pc, tmp)
        store_ctx_word(self.asm, C.EXIT_DELAY, self.cur_delay, tmp)

    def error_exit(self) -> str:
        """Jump target of the ERROR exit (next_pc/exit_delay are stored before calls)."""
        return f"{self.stubs.error:#x}"

    def decref_error_exit(self, obj: Mem) -> str:
        """Label that drops the call result held at ``obj``, then exits ERROR."""
        if obj not in self._decref_error_labels:
            label = self._decref_error_labels[obj] = self.asm.label("decref")
            with self.asm.far():
                self.asm.place(label)
                py_decref(self.asm, self.call_abs, obj)
                self.asm(f"jmp {self.error_exit()}")
        return self._decref_error_labels[obj]

    # --- calls -----------------------------------------------------------------------------

    def call_abs(self, address: int) -> None:
        """``call`` an absolute host address (rel32 when near, else through r11)."""
        if self.near(address):
            self.asm(f"call {address:#x}")
        else:
            self.mov_imm("r11", address)
            self.asm("call r11")

    def _helper(self, inst):
        try:
            return self.env.helpers[inst.attrs["helper"]]
        except KeyError:
            raise CompileError(f"region {self.region.name}: call: no helper "
                               f"{inst.attrs['helper']!r} in the CompileEnv") from None

    def _pass_args(self, inst, locs: list) -> None:
        self.parallel_move([(dst, self._loc[a]) for dst, a in zip(locs, inst.args)])

    def _take_results(self, inst, int_regs, float_regs) -> None:
        """Move call results from the return registers into their locations (ints masked)."""
        moves, ints, floats = [], list(int_regs), list(float_regs)
        for r in inst.results:
            if r.type.is_float:
                if not floats:
                    raise CompileError(f"{inst.op}: more than {len(float_regs)} float results")
                moves.append((self._loc[r], Reg(floats.pop(0))))
            else:
                if not ints:
                    raise CompileError(f"{inst.op}: more than {len(int_regs)} integer results")
                reg = ints.pop(0)
                self.zext(reg, r.type)
                moves.append((self._loc[r], Reg(reg)))
        self.parallel_move(moves)

    def call_helper(self, inst) -> None:
        """``call``: a Python helper through PyObject_CallFunction, or a native one."""
        helper = self._helper(inst)
        self.store_position()
        self.host_fp_mode()
        locs, _ = self._arg_locs(inst)
        if helper.kind == "native":
            self._pass_args(inst, locs)
            self.call_abs(int(helper.target))
            self._take_results(inst, INT_RESULT_REGS, FLOAT_RESULT_REGS)
        elif helper.kind == "python":
            self._pass_args(inst, locs[2:])
            n_xmm = 0
            for a, dst in zip(inst.args, locs[2:]):     # "d" takes a C double
                if a.type is Type.F32:
                    if isinstance(dst, Reg):
                        self.asm(f"cvtss2sd {dst.name}, {dst.name}")
                    else:
                        self.asm(f"cvtss2sd xmm15, {dst.ref(32)}")
                        self.asm(f"movq {dst.ref()}, xmm15")
                n_xmm += isinstance(dst, Reg) and dst.is_xmm
            fmt = "".join("d" if a.type.is_float else "K" for a in inst.args)
            temps = py_call(self.asm, self.env.keep_alive, self.call_abs, helper.target, fmt,
                            n_xmm, [r.type for r in inst.results], self.obj_temp,
                            self.error_exit(), self.decref_error_exit)
            for r, temp in zip(inst.results, temps):
                if r.type is Type.F32:
                    self.asm(f"cvtsd2ss xmm15, {temp.ref()}")
                    self.fstore(r, "xmm15")
                elif r.type.is_float:
                    self.move(self._loc[r], temp)
                else:
                    self.asm(f"mov rax, {temp.ref()}")
                    self.zext("rax", r.type)
                    self.store(r, "rax")
        else:
            raise CompileError(f"call: helper {inst.attrs['helper']!r} has unknown kind "
                               f"{helper.kind!r}")
        self.set_fp_mode()

    def call_function(self, inst) -> None:
        """``call_fn``: native call of a function region (internal convention: regs.py)."""
        name = inst.attrs["fn"]
        locs, _ = self._arg_locs(inst)
        self._pass_args(inst, locs)
        if self.is_function and name == self.region.name:
            self.asm(f"call {self.entry_label}")
        elif name in self.env.functions:
            self.call_abs(int(self.env.functions[name]))
        else:
            raise CompileError(f"call_fn: function region {name!r} is not compiled yet "
                               f"(CompileEnv.functions has no entry for it)")
        self._take_results(inst, INT_RESULT_REGS, FLOAT_RESULT_REGS)
        self.set_fp_mode()

    # --- guest memory ----------------------------------------------------------------------

    def _memory(self, op: str):
        if self.env.memory is None:
            raise CompileError(f"{op}: the CompileEnv has no memory (MemoryABI)")
        return self.env.memory

    def bound(self, v) -> tuple:
        """``(largest value, alignment)`` known of integer ``v`` from an ``and`` with a
        constant under its ``trunc``\\ s (the mask bounds it and its clear low bits align
        it), else ``(None, 1)``."""
        d = v.defn
        while d is not None and d.op == "trunc":
            d = d.args[0].defn
        if d is not None and d.op == "and":
            for a in d.args:
                if a.defn is not None and a.defn.op == "iconst":
                    mask = a.defn.attrs["value"] & v.type.mask
                    return mask, (mask & -mask) or 1 << 64
        return None, 1

    def _translate(self, addr, size: int, write: bool, slow: str) -> None:
        """Fast-path address translation (dynarec.host memory ABI): leaves the host page in
        rcx and the page offset in rdx, ``addr`` untouched; jumps to ``slow`` when the
        address is out of range, the access crosses its page or the entry is 0."""
        mem = self._memory("store" if write else "load")
        a = self.asm
        bits = addr.type.bits
        largest, align = self.bound(addr)
        if bits == 64:
            a(f"mov rcx, {self.rm(addr, 64)}")
        else:
            self.load(addr, "rcx")
        a(f"shr rcx, {mem.page_bits}")
        if bits > mem.addr_bits and (largest is None or largest >> mem.addr_bits):
            if mem.num_pages < 1 << 31:
                a(f"cmp rcx, {mem.num_pages}")
                a(f"jae {slow}")
            else:
                a("mov rdx, rcx")
                a(f"shr rdx, {mem.addr_bits - mem.page_bits}")
                a(f"jnz {slow}")
        table = 8 * mem.num_pages if write else 0
        a(f"mov rcx, qword ptr [{PAGE_TABLE} + rcx*8 + {table}]")
        a("test rcx, rcx")
        a(f"jz {slow}")
        if mem.page_bits <= 32:
            self.load(addr, "rdx", 32)
            a(f"and edx, {(1 << mem.page_bits) - 1}")
            last = "edx"
        else:
            self.load(addr, "rdx")
            a(f"shl rdx, {64 - mem.page_bits}")
            a(f"shr rdx, {64 - mem.page_bits}")
            last = "rdx"
        if size > 1 and align % size:
            limit = (1 << mem.page_bits) - size          # the last offset that fits
            if limit < 1 << 31:
                a(f"cmp {last}, {limit}")
            else:
                mov_imm(a, "rax", limit)
                a(f"cmp {last}, rax")
            a(f"ja {slow}")

    def _slow_path(self, kind: str, size: int, addr) -> None:
        """A slow-path call site (far code): the shared stub's arguments (stubs.py: rax
        address, rcx pc, edx size + 256 * delay flag), then the call."""
        self.load(addr, "rax")
        mov_imm(self.asm, "rcx", self.cur_pc)
        self.asm(f"mov edx, {size | (self.cur_delay & 0xFFFFFF) << 8}")
        stub = self.stubs.load if kind == "load" else self.stubs.store
        if not self.near(stub):
            raise CompileError("the shared memory stubs are out of rel32 reach of the region")
        self.asm(f"call {stub:#x}")

    def guest_load(self, inst) -> None:
        """``load``: page-table fast path straight into the result's register, byte swap for
        big-endian guests, slow path in far code calling ``memory.slow_load(addr, size)``."""
        (addr,), (result,) = inst.args, inst.results
        mem, size, bits = self._memory("load"), result.type.bytes, result.type.bits
        slow, done = self.asm.label("ldslow"), self.asm.label("lddone")
        self._translate(addr, size, False, slow)
        d = self.dest(result)
        src = ptr(bits, "rcx + rdx")
        if mem.big_endian and size > 1 and "movbe" in self.features:
            if bits == 16:
                self.asm(f"movbe {sub(d, 16)}, {src}")
                self.asm(f"movzx {sub(d, 32)}, {sub(d, 16)}")
            else:
                self.asm(f"movbe {sub(d, bits)}, {src}")
        else:
            self.asm(f"movzx {sub(d, 32)}, {src}" if bits < 32 else f"mov {sub(d, bits)}, {src}")
            if mem.big_endian and size > 1:
                self.byte_swap(d, bits)
        self.asm.place(done)
        self.store(result, d)
        with self.asm.far():
            self.asm.place(slow)
            self._slow_path("load", size, addr)
            if bits == 64:
                if d != "rax":
                    self.asm(f"mov {d}, rax")
            elif bits == 32:
                self.asm(f"mov {sub(d, 32)}, eax")
            else:
                self.asm(f"movzx {sub(d, 32)}, {sub('rax', bits)}")
            self.asm(f"jmp {done}")

    def guest_store(self, inst) -> None:
        """``store``: as ``guest_load``, calling ``memory.slow_store(addr, size, value)``; a
        constant value is stored as an immediate (byte-swapped at compile time)."""
        addr, value = inst.args
        mem, size, bits = self._memory("store"), value.type.bytes, value.type.bits
        swap = mem.big_endian and size > 1
        slow, done = self.asm.label("stslow"), self.asm.label("stdone")
        loc = self._loc[value]
        constant = self.imm(value)
        if type(loc) is Mem or (constant is not None and swap and bits == 64):
            loc = Reg(self.load(value, "r11"))       # a swapped wide constant is rarely imm32
        self._translate(addr, size, True, slow)
        put = self.asm.label("stput")
        self.asm.place(put)
        dst = ptr(bits, "rcx + rdx")
        if type(loc) is Imm:
            pattern = int.from_bytes(constant.to_bytes(size, "little"), "big") if swap \
                else constant
            if fits_imm32(pattern, bits):
                self.asm(f"mov {dst}, {Imm(pattern).text(bits)}")
            else:
                mov_imm(self.asm, "rax", pattern)
                self.asm(f"mov {dst}, rax")
        elif not swap:
            self.asm(f"mov {dst}, {sub(loc.name, bits)}")
        elif "movbe" in self.features:
            self.asm(f"movbe {dst}, {sub(loc.name, bits)}")
        else:
            self.asm(f"mov {sub('rax', max(32, bits))}, {sub(loc.name, max(32, bits))}")
            self.byte_swap("rax", bits)
            self.asm(f"mov {dst}, {sub('rax', bits)}")
        self.asm.place(done)
        with self.asm.far():
            self.asm.place(slow)
            if mem.code_line_bits is not None:
                self._store_past_code(addr, size, put)
            self.load(value, "r11")
            self._slow_path("store", size, addr)
            self.asm(f"jmp {done}")

    def _store_past_code(self, addr, size: int, put: str) -> None:
        """Far code before a store's slow-path call: when the page has a code bitmap
        (``dynarec.host``, code pages) and no line the store touches is marked, jump back to
        the store at ``put`` with rcx = the page's read entry and rdx = the page offset;
        otherwise fall through to the call. The store is within its page here (the fast
        path sent page-crossing stores to the slow path only if they cross, which this
        re-checks). Clobbers rax, rcx, rdx."""
        mem, a = self.env.memory, self.asm
        call = a.label("stcall")
        self.load(addr, "rcx")
        a(f"shr rcx, {mem.page_bits}")
        if addr.type.bits > mem.addr_bits:
            mov_imm(a, "rax", mem.num_pages)
            a("cmp rcx, rax")
            a(f"jae {call}")
        a(f"mov rax, qword ptr [{PAGE_TABLE} + rcx*8 + {16 * mem.num_pages}]")
        a("test rax, rax")
        a(f"jz {call}")
        self.load(addr, "rdx", 32)
        a(f"and edx, {(1 << mem.page_bits) - 1}")
        if size > 1:
            a(f"cmp edx, {(1 << mem.page_bits) - size}")
            a(f"ja {call}")                                  # crosses its page
        a(f"shr edx, {mem.code_line_bits}")
        a("bt qword ptr [rax], rdx")
        a(f"jc {call}")
        if size > 1:
            self.load(addr, "rdx", 32)
            a(f"add edx, {size - 1}")
            a(f"and edx, {(1 << mem.page_bits) - 1}")
            a(f"shr edx, {mem.code_line_bits}")
            a("bt qword ptr [rax], rdx")
            a(f"jc {call}")
        a(f"mov rcx, qword ptr [{PAGE_TABLE} + rcx*8]")
        self.load(addr, "rdx", 32)
        a(f"and edx, {(1 << mem.page_bits) - 1}")
        a(f"jmp {put}")
        a.place(call)

    def byte_swap(self, reg: str, bits: int) -> None:
        """Reverse the bytes of the low ``bits`` of ``reg`` (result zero-extended)."""
        if bits == 16:
            self.asm(f"rol {sub(reg, 16)}, 8")
            self.asm(f"movzx {sub(reg, 32)}, {sub(reg, 16)}")
        else:
            self.asm(f"bswap {sub(reg, bits)}")

    # --- the region ------------------------------------------------------------------------

    def prologue(self) -> None:
        a = self.asm
        if self.is_function:
            a.place(self.entry_label)
            for r in self.alloc.callee_saved:
                a(f"push {r}")
            if self.frame:
                a(f"sub rsp, {self.frame}")
            self.set_fp_mode()
            arg_locs, _ = sysv_classify(
                self.region.params, stack_offset=self.frame + 8 * len(self.alloc.callee_saved) + 8)
            self.parallel_move([(self._loc[p], src)
                                for p, src in zip(self.region.entry.params, arg_locs)])
        else:
            if self.frame:
                a(f"mov rsp, qword ptr [{CTX} + {C.SAVED_SP}]")
                a(f"sub rsp, {self.frame}")
            self.set_fp_mode()

    def ret(self, inst) -> None:
        """``ret``: results into rax/rdx/xmm0/xmm1, undo the frame, return."""
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
            self.asm(f"add rsp, {self.frame}")
        for r in reversed(self.alloc.callee_saved):
            self.asm(f"pop {r}")
        self.asm("ret")

    def generate(self) -> Asm:
        """Lower every reachable block with the rules; instructions the selection folded
        into their users emit nothing. A block starts at the guest instruction (pc, delay
        flag) its predecessors end in (the first one laid out before it; the region's pc for
        the entry)."""
        order = self.alloc.order
        rules, folded = self.rules, self.sel.folded
        self.entry_label = self.asm.label("entry")
        self.labels = {id(b): self.asm.label("b") for b in order}   # IR names may be odd
        preds: dict = {}
        for b in order:
            for s in successors(b):
                preds.setdefault(id(s), []).append(id(b))
        ends = {}                                   # id(block) -> (pc, delay) at its end
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
                    raise CompileError(f"region {self.region.name}: no x86-64 lowering for "
                                       f"op {inst.op!r}")
                try:
                    rule.emit(self, inst)
                except CompileError as e:
                    raise CompileError(f"region {self.region.name}, block {block.name}, "
                                       f"{inst!r}: {e}") from e
            ends[id(block)] = (self.cur_pc, self.cur_delay)
        return self.asm
