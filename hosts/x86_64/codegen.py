"""The x86-64 lowering machinery: the x86 instructions of ``common.codegen.CodeGen`` (which
holds the frame layout, parallel moves, block layout, ``leave`` and ``generate``), operand
access, calls into C and Python, exits and the memory fast/slow paths. The per-op rules
(``lower.RULES``) are written in terms of this class.

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
from typing import Callable

from dynarec import context as C
from dynarec.errors import CompileError
from dynarec.hosts.common import codegen as common
from dynarec.ir.opcodes import EXIT_KINDS
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

# x86 condition codes and their negations (Intel SDM vol. 2, "Jcc")
INVERSE_CC = {"e": "ne", "ne": "e", "l": "ge", "ge": "l", "le": "g", "g": "le", "b": "ae",
              "ae": "b", "be": "a", "a": "be", "o": "no", "no": "o", "s": "ns", "ns": "s",
              "p": "np", "np": "p", "z": "nz", "nz": "z"}

class SlotTable(common.SlotTable):
    """The guest-state slots as ``<size> ptr [ctx + offset]`` memory operands
    (``common.SlotTable``)."""

    def _form(self, slot_type: Type, offset: int) -> str:
        return ptr(slot_type.bits, f"{CTX} + {offset}")


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


class CodeGen(common.CodeGen):
    """Compiles one region (see the module docstring and ``common.CodeGen``). ``features``:
    the host's feature set (``features.KNOWN`` names); ``stubs``: the code cache's
    ``stubs.SharedStubs`` (its ``near(address)`` tells whether a rel32 branch reaches
    ``address``)."""

    ISA = "x86-64"
    ASM = Asm
    REGISTER_FILE = REGISTER_FILE
    INT_RESULT_REGS = INT_RESULT_REGS
    FLOAT_RESULT_REGS = FLOAT_RESULT_REGS
    INVERSE_CC = INVERSE_CC
    ROUNDING = MXCSR_RC
    PARK, FPARK, TEMP = "r11", "xmm15", "rax"
    LINK_REGS = ("rax", "rdx", "rcx")           # the site, its route, the pc (stubs.py)
    EXIT_PC = "rcx"

    def __init__(self, region, env, features: frozenset, prefix: str, rules: dict, stubs,
                 slots: SlotTable, spill_all: bool = False):
        self.features = features
        self.stubs = stubs
        self.near = stubs.near
        self._decref_error_labels: dict = {}
        super().__init__(region, env, prefix, rules, slots, spill_all)
        self.mxcsr = MXCSR_DEFAULT | (self.rounding << 13)
        self.obj_temp = Mem(self.out_bytes)      # the call temporaries (py_call)

    # --- frame -----------------------------------------------------------------------------

    def _call_temps(self, inst) -> int:
        """A call's result object and its converted values (``py_call``)."""
        return 1 + len(inst.results)

    def _frame_size(self, size: int) -> int:
        """16-byte alignment of ``rsp`` in the body: a function region's frame also covers
        its pushes and return address."""
        if self.is_function:
            pushed = 8 * len(self.alloc.callee_saved) + 8     # + return address
            return size + (-(size + pushed)) % 16
        return size + (-size) % 16

    def _arg_locs(self, inst) -> tuple:
        """System V argument locations of a ``call``/``call_fn`` and the stack bytes they
        need (a Python helper's callable and format come first)."""
        types = [a.type for a in inst.args]
        if inst.op == "call" and self._helper(inst).kind == "python":
            return sysv_classify([I64, I64] + types)
        return sysv_classify(types)

    def _classify(self, types, stack_offset: int = 0) -> tuple:
        return sysv_classify(types, stack_offset=stack_offset)

    # --- operands --------------------------------------------------------------------------

    def rm(self, v, bits: int = 64) -> str:
        """``v`` as a register, memory or immediate operand of ``bits`` width (xmm registers
        by name)."""
        loc = self._loc[v]
        kind = type(loc)
        if kind is Reg:
            return loc.name if loc.is_float else sub(loc.name, bits)
        if kind is Mem:
            return loc.ref(bits)
        return loc.text(bits)

    def dest(self, result, *later) -> str:
        """Where a simple rule should compute ``result``: its own general register when it
        has one that none of the operands ``later`` (read after the first write) occupies,
        else ``rax``."""
        loc = self._loc[result]
        if type(loc) is Reg and not loc.is_float:
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
        elif loc.is_float:
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
            if not loc.is_float:
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
            elif dst.is_float:
                mov_imm(self.asm, tmp, src.value)
                src = Reg(tmp)
            else:
                mov_imm(self.asm, dst.name, src.value)
                return
        if isinstance(src, Mem) and isinstance(dst, Mem):
            self.asm(f"mov {tmp}, {src.ref()}")
            self.asm(f"mov {dst.ref()}, {tmp}")
        elif isinstance(dst, Mem):
            self.asm(f"{'movq' if src.is_float else 'mov'} {dst.ref()}, {src.name}")
        elif isinstance(src, Mem):
            self.asm(f"{'movq' if dst.is_float else 'mov'} {dst.name}, {src.ref()}")
        elif dst.is_float and src.is_float:
            self.asm(f"movaps {dst.name}, {src.name}")
        elif dst.is_float or src.is_float:
            self.asm(f"movq {dst.name}, {src.name}")
        else:
            self.asm(f"mov {dst.name}, {src.name}")

    # --- control flow ----------------------------------------------------------------------

    def _jmp(self, label: str) -> None:
        self.asm(f"jmp {label}")

    def _jcc(self, cc: str, label: str) -> None:
        self.asm(f"j{cc} {label}")

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

    def _stub(self, address: int) -> int:
        """``address`` of shared code, checked to be in rel32 reach."""
        if not self.near(address):
            raise CompileError("the shared stubs are out of rel32 reach of the region")
        return address

    def _jmp_shared(self, address: int) -> None:
        """Jump to shared code at ``address`` (rel32; checked to reach)."""
        self.asm(f"jmp {self._stub(address):#x}")

    def _jump_site(self, site: str, target: str) -> None:
        self.asm.jump_site(site, target)

    def _address_of(self, reg: str, label: str) -> None:
        self.asm(f"lea {reg}, [rip + {label}]")

    def _link_tail(self, info: int) -> int:
        return self.stubs.link_tails[info]

    def _lookup_tail(self, info: int) -> int:
        return self.stubs.lookups[info]

    def _jump_cache_exit(self, info: int) -> None:
        """The inline jump-cache lookup of the pc in rcx; a miss goes to the MISS tail."""
        jump_cache_lookup(self.asm, f"{self._stub(self.stubs.miss_tails[info]):#x}",
                          self.env.counters)

    def store_ctx(self, offset: int, value: int, tmp: str = "rax") -> None:
        """``qword [ctx + offset] = value`` (``store_ctx_word``)."""
        store_ctx_word(self.asm, offset, value, tmp)

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

    def _call_label(self, label: str) -> None:
        self.asm(f"call {label}")

    def call_helper(self, inst) -> None:
        """``call``: a Python helper through PyObject_CallFunction, or a native one."""
        helper = self._helper(inst)
        self.store_position()
        self.host_fp_mode()
        locs, _ = self._arg_locs(inst)
        if helper.kind == "native":
            self._pass_args(inst, locs)
            self.call_abs(int(helper.target))
            self._take_results(inst)
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
                n_xmm += isinstance(dst, Reg) and dst.is_float
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

    # --- guest memory ----------------------------------------------------------------------

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

    def _enter_function(self) -> int:
        """Push the callee-saved registers the region allocates, then make the frame."""
        for r in self.alloc.callee_saved:
            self.asm(f"push {r}")
        if self.frame:
            self.asm(f"sub rsp, {self.frame}")
        return 8 * len(self.alloc.callee_saved) + 8             # + return address

    def _enter_block(self) -> None:
        """rsp = the dispatcher's saved_sp less the frame (regs.py: Frames)."""
        if self.frame:
            self.asm(f"mov rsp, qword ptr [{CTX} + {C.SAVED_SP}]")
            self.asm(f"sub rsp, {self.frame}")

    def _leave_function(self) -> None:
        """Undo the frame and the pushes, return."""
        if self.frame:
            self.asm(f"add rsp, {self.frame}")
        for r in reversed(self.alloc.callee_saved):
            self.asm(f"pop {r}")
        self.asm("ret")
