"""The lowering machinery: frame layout, operand access, parallel moves, calls, exits and the
memory fast/slow paths. The per-op rules (``lower.RULES``) are written in terms of this class.

One ``CodeGen`` compiles one region: ``CodeGen(region, env, features, prefix).generate(RULES)``
returns the ``Asm`` text. Rules see:

* ``cg.asm`` -- the text buffer (``cg.asm("add rax, rcx")``, labels, far code);
* operand access -- ``rm(v, bits)`` (a register or memory operand for reading), ``load(v,
  reg)`` / ``fload(v, xmm)`` (copy into a scratch register), ``store(v, reg)`` /
  ``fstore(v, xmm)`` (write a result from a scratch register), ``store_imm(v, value)``;
* helpers for the representation invariants -- ``zext`` (mask a result to its type),
  ``sext64``, ``canon_nan``, ``fp_flags``;
* control flow -- ``jump``, ``branch``, ``exit``, ``error_exit``;
* calls -- ``call_helper``, ``call_function``, and ``guest_load``/``guest_store``.

Rules read every operand before writing any result (the allocator may give a result the
register of an operand that dies at the same instruction).
"""

from __future__ import annotations

import ctypes
import struct

from dynarec import context as C
from dynarec.errors import CompileError
from dynarec.ir.types import I64, Type

from .emit import Asm
from .regalloc import allocate
from .regs import (ALLOC_CALLER_SAVED, ALLOC_XMM, CTX, FLOAT_RESULT_REGS, INT_RESULT_REGS,
                   PAGE_TABLE, Mem, Reg, ptr, sub, sysv_classify)

# Host scratch words of the context (dynarec.context HOST_SCRATCH) used by generated code.
SCR_MXCSR = C.HOST_SCRATCH          # the MXCSR image ldmxcsr loads (region mode, flag clears)
SCR_SAVED_MXCSR = C.HOST_SCRATCH + 8  # MXCSR kept while the no-SSE4.1 rounding fallback runs

# MXCSR (Intel SDM vol. 1 section 10.2.3): all exceptions masked (bits 7-12), FTZ/DAZ off,
# rounding control in bits 13-14: 0 nearest, 1 down, 2 up, 3 toward zero.
MXCSR_DEFAULT = 0x1F80
MXCSR_RC = {"rne": 0, "rdn": 1, "rup": 2, "rtz": 3}

# Ops whose result depends on MXCSR (rounding control) or that read its flags.
FP_MODE_OPS = frozenset({"fadd", "fsub", "fmul", "fdiv", "fsqrt", "fcvt_from_sint",
                         "fcvt_from_uint", "fpromote", "fdemote", "fcvt_to_sint",
                         "fcvt_to_uint"})

CALLER_SAVED = ALLOC_CALLER_SAVED + ALLOC_XMM   # what a memory slow path must preserve


def _capi(name: str) -> int:
    """Address of a CPython C API function (``ctypes.pythonapi``)."""
    return ctypes.cast(getattr(ctypes.pythonapi, name), ctypes.c_void_p).value


def f64_bits(x: float) -> int:
    """The IEEE 754 binary64 bit pattern of ``x``."""
    return struct.unpack("<Q", struct.pack("<d", x))[0]


class CodeGen:
    """Compiles one region (see the module docstring). ``features``: the host's feature set
    (``features.KNOWN`` names); ``prefix``: label prefix unique within the text; ``spill_all``:
    give no value a register."""

    def __init__(self, region, env, features: frozenset, prefix: str, spill_all: bool = False):
        self.region = region
        self.env = env
        self.features = features
        self.asm = Asm(prefix)
        self.is_function = region.kind == "function"
        self.cur_pc = region.pc
        self.cur_delay = 0
        self.uses_fp = any(inst.op in FP_MODE_OPS for inst in region.insts())
        self._error_label = None
        self._decref_error_labels: dict = {}
        self._memory_stubs: dict = {}
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
        its converted values) | spill slots."""
        out, temps = 0, 0
        for inst in self.region.insts():
            if inst.op in ("call", "call_fn"):
                _, stack = self._arg_locs(inst)
                out = max(out, stack)
                temps = max(temps, 1 + len(inst.results))
        self.obj_temp = Mem(out)
        spill_base = out + 8 * temps
        self.alloc = allocate(self.region, spill_base, spill_all)
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
        """The allocated location of value ``v``."""
        return self.alloc.loc[v]

    def rm(self, v, bits: int = 64) -> str:
        """``v`` as a register-or-memory operand of ``bits`` width (xmm registers by name)."""
        loc = self.loc(v)
        if isinstance(loc, Mem):
            return loc.ref(bits)
        return loc.name if loc.is_xmm else sub(loc.name, bits)

    def target(self, result, *later) -> str:
        """Where a simple rule should compute ``result``: its own general register when it
        has one that none of the operands ``later`` (read after the first write) occupies,
        else ``rax``."""
        loc = self.loc(result)
        if isinstance(loc, Reg) and not loc.is_xmm and all(self.loc(v) != loc for v in later):
            return loc.name
        return "rax"

    def load(self, v, reg: str) -> str:
        """Copy ``v`` (an integer, or a float's raw bits) into general register ``reg``."""
        loc = self.loc(v)
        if isinstance(loc, Mem):
            if v.type is Type.F32:
                self.asm(f"mov {sub(reg, 32)}, {loc.ref(32)}")
            else:
                self.asm(f"mov {reg}, {loc.ref()}")
        elif loc.is_xmm:
            self.asm(f"movd {sub(reg, 32)}, {loc.name}" if v.type is Type.F32
                     else f"movq {reg}, {loc.name}")
        elif loc.name != reg:
            self.asm(f"mov {reg}, {loc.name}")
        return reg

    def fload(self, v, xreg: str) -> str:
        """Copy float ``v`` into xmm register ``xreg``."""
        loc = self.loc(v)
        if isinstance(loc, Mem):
            self.asm(f"movq {xreg}, {loc.ref()}")
        elif loc.name != xreg:
            self.asm(f"movaps {xreg}, {loc.name}")
        return xreg

    def store(self, v, reg: str) -> None:
        """Write general register ``reg`` (already normalised for ``v``'s type) to ``v``."""
        loc = self.loc(v)
        if isinstance(loc, Mem):
            self.asm(f"mov {loc.ref()}, {reg}")
        elif loc.is_xmm:
            self.asm(f"movq {loc.name}, {reg}")
        elif loc.name != reg:
            self.asm(f"mov {loc.name}, {reg}")

    def fstore(self, v, xreg: str) -> None:
        """Write xmm register ``xreg`` to float ``v``."""
        loc = self.loc(v)
        if isinstance(loc, Mem):
            self.asm(f"movq {loc.ref()}, {xreg}")
        elif loc.name != xreg:
            self.asm(f"movaps {loc.name}, {xreg}")

    def store_imm(self, v, value: int) -> None:
        """Write the constant bit pattern ``value`` to ``v``."""
        loc = self.loc(v)
        if isinstance(loc, Reg) and not loc.is_xmm:
            self.mov_imm(loc.name, value)
        elif isinstance(loc, Mem) and value < 1 << 31:
            self.asm(f"mov {loc.ref()}, {value}")
        else:
            self.mov_imm("rax", value)
            self.store(v, "rax")

    def mov_imm(self, reg: str, value: int) -> None:
        """``reg = value`` (0 .. 2**64-1) with the shortest form."""
        value &= (1 << 64) - 1
        if value == 0:
            self.asm(f"xor {sub(reg, 32)}, {sub(reg, 32)}")
        elif value < 1 << 32:
            self.asm(f"mov {sub(reg, 32)}, {value}")
        else:
            self.asm(f"mov {reg}, {value:#x}")

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
        self.asm(f"mov rax, qword ptr [{CTX} + {C.SAVED_SP}]")
        self.asm("ldmxcsr dword ptr [rax]")

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
        """Copy 8 raw bytes between two locations (``tmp`` for memory to memory)."""
        if dst == src:
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
        """Perform ``[(dst, src), ...]`` as if all at once (every ``dst`` distinct). Moves
        whose destination no pending move still reads go first; a cycle is broken by parking
        one destination's old value in ``r11`` (``xmm15`` for xmm registers)."""
        pending = [(d, s) for d, s in moves if d != s]
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

    # --- control flow ----------------------------------------------------------------------

    def block_label(self, block) -> str:
        return self.labels[id(block)]

    def edge_moves(self, target) -> list:
        return [(self.loc(p), self.loc(a)) for p, a in zip(target.block.params, target.args)]

    def jump(self, target) -> None:
        """Go to ``target`` (a BlockCall): move its arguments into its parameters, then jump
        (or fall through when the block comes next)."""
        self.parallel_move(self.edge_moves(target))
        if target.block is not self.next_block:
            self.asm(f"jmp {self.block_label(target.block)}")

    def branch(self, cc: str, target) -> None:
        """Conditional jump to ``target`` on x86 condition ``cc``; the edge's moves, if any,
        go in far code."""
        moves = [m for m in self.edge_moves(target) if m[0] != m[1]]
        if not moves:
            self.asm(f"j{cc} {self.block_label(target.block)}")
            return
        edge = self.asm.label("edge")
        self.asm(f"j{cc} {edge}")
        with self.asm.far():
            self.asm.place(edge)
            self.parallel_move(moves)
            self.asm(f"jmp {self.block_label(target.block)}")

    def exit(self, reason: int, pc=None, pc_value=None, info: int = 0,
             delay: bool = False) -> None:
        """Fill the context's exit fields and jump to the dispatcher's exit stub. The next pc
        is the constant ``pc`` or the value ``pc_value``."""
        self.asm(f"mov qword ptr [{CTX} + {C.EXIT_REASON}], {int(reason)}")
        if pc_value is not None:
            self.load(pc_value, "rax")
            self.asm(f"mov qword ptr [{CTX} + {C.NEXT_PC}], rax")
        else:
            self.store_ctx_word(C.NEXT_PC, pc)
        self.store_ctx_word(C.EXIT_INFO, info)
        if delay:
            self.store_ctx_word(C.EXIT_DELAY, self.cur_delay)
        self.mov_imm("rax", self.env.exit_stub)
        self.asm("jmp rax")

    def store_ctx_word(self, offset: int, value: int, tmp: str = "rax") -> None:
        """``qword [ctx + offset] = value`` (any 64-bit pattern; negative means two's
        complement); ``tmp`` is clobbered for values that need 64 bits."""
        value &= (1 << 64) - 1
        if value < 1 << 31 or value >= (1 << 64) - (1 << 31):
            self.asm(f"mov qword ptr [{CTX} + {offset}], {ctypes.c_int64(value).value}")
        else:
            self.mov_imm(tmp, value)
            self.asm(f"mov qword ptr [{CTX} + {offset}], {tmp}")

    def store_position(self, tmp: str = "rax") -> None:
        """next_pc / exit_delay = the current guest instruction (before calling out)."""
        self.store_ctx_word(C.NEXT_PC, self.cur_pc, tmp)
        self.store_ctx_word(C.EXIT_DELAY, self.cur_delay, tmp)

    def error_exit(self) -> str:
        """Label of the region's ERROR exit (next_pc/exit_delay are stored before calls)."""
        if self._error_label is None:
            self._error_label = self.asm.label("error")
            with self.asm.far():
                self.asm.place(self._error_label)
                self.asm(f"mov qword ptr [{CTX} + {C.EXIT_REASON}], {int(C.ExitReason.ERROR)}")
                self.mov_imm("rax", self.env.exit_stub)
                self.asm("jmp rax")
        return self._error_label

    def decref_error_exit(self, obj: Mem) -> str:
        """Label that drops the call result held at ``obj``, then exits ERROR."""
        if obj not in self._decref_error_labels:
            label = self._decref_error_labels[obj] = self.asm.label("decref")
            error = self.error_exit()
            with self.asm.far():
                self.asm.place(label)
                self.asm(f"mov rdi, {obj.ref()}")
                self.call_abs(_capi("Py_DecRef"))
                self.asm(f"jmp {error}")
        return self._decref_error_labels[obj]

    # --- calls -----------------------------------------------------------------------------

    def call_abs(self, address: int) -> None:
        """``call`` an absolute host address (through r11)."""
        self.mov_imm("r11", address)
        self.asm("call r11")

    def _helper(self, inst):
        try:
            return self.env.helpers[inst.attrs["helper"]]
        except KeyError:
            raise CompileError(f"region {self.region.name}: call: no helper "
                               f"{inst.attrs['helper']!r} in the CompileEnv") from None

    def _pass_args(self, inst, locs: list) -> None:
        self.parallel_move([(dst, self.loc(a)) for dst, a in zip(locs, inst.args)])

    def _take_results(self, inst, int_regs, float_regs) -> None:
        """Move call results from the return registers into their locations (ints masked)."""
        moves, ints, floats = [], list(int_regs), list(float_regs)
        for r in inst.results:
            if r.type.is_float:
                if not floats:
                    raise CompileError(f"{inst.op}: more than {len(float_regs)} float results")
                moves.append((self.loc(r), Reg(floats.pop(0))))
            else:
                if not ints:
                    raise CompileError(f"{inst.op}: more than {len(int_regs)} integer results")
                reg = ints.pop(0)
                self.zext(reg, r.type)
                moves.append((self.loc(r), Reg(reg)))
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
            temps = self.py_call(helper.target, fmt, n_xmm, [r.type for r in inst.results],
                                 self.obj_temp)
            for r, temp in zip(inst.results, temps):
                if r.type is Type.F32:
                    self.asm(f"cvtsd2ss xmm15, {temp.ref()}")
                    self.fstore(r, "xmm15")
                elif r.type.is_float:
                    self.move(self.loc(r), temp)
                else:
                    self.asm(f"mov rax, {temp.ref()}")
                    self.zext("rax", r.type)
                    self.store(r, "rax")
        else:
            raise CompileError(f"call: helper {inst.attrs['helper']!r} has unknown kind "
                               f"{helper.kind!r}")
        self.set_fp_mode()

    def py_call(self, target, fmt: str, n_xmm: int, result_types: list, obj: Mem) -> list:
        """Call Python ``target`` with ``PyObject_CallFunction(target, fmt, ...)``; the varargs
        are already in place (``rdx rcx r8 r9``, ``xmm0-7``, stack). Keeps the result object
        at ``obj`` and converts the result(s) (``PyLong_AsUnsignedLongLongMask`` /
        ``PyFloat_AsDouble``; several results come as a tuple) into the words after it,
        returning those ``Mem`` slots. A NULL result or a pending exception exits ERROR.
        Clobbers every caller-saved register."""
        fmt_buf = ctypes.create_string_buffer(fmt.encode("ascii"))
        self.env.keep_alive.extend([target, fmt_buf])
        self.mov_imm("rdi", id(target))
        self.mov_imm("rsi", ctypes.addressof(fmt_buf))
        self.asm(f"mov eax, {n_xmm}")                 # varargs: vector registers used (psABI)
        self.call_abs(_capi("PyObject_CallFunction"))
        self.asm("test rax, rax")
        self.asm(f"jz {self.error_exit()}")
        self.asm(f"mov {obj.ref()}, rax")
        temps = []
        for i, t in enumerate(result_types):
            temp = Mem(obj.offset + 8 * (i + 1))
            temps.append(temp)
            if len(result_types) > 1:
                self.asm(f"mov rdi, {obj.ref()}")
                self.asm(f"mov esi, {i}")
                self.call_abs(_capi("PyTuple_GetItem"))
                self.asm("test rax, rax")
                self.asm(f"jz {self.decref_error_exit(obj)}")
            self.asm("mov rdi, rax")
            if t.is_float:
                self.call_abs(_capi("PyFloat_AsDouble"))
                self.asm(f"movq {temp.ref()}, xmm0")
            else:
                self.call_abs(_capi("PyLong_AsUnsignedLongLongMask"))
                self.asm(f"mov {temp.ref()}, rax")
            self.call_abs(_capi("PyErr_Occurred"))
            self.asm("test rax, rax")
            self.asm(f"jnz {self.decref_error_exit(obj)}")
        self.asm(f"mov rdi, {obj.ref()}")
        self.call_abs(_capi("Py_DecRef"))
        return temps

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

    def _translate(self, inst, addr, size: int, write: bool, slow: str) -> None:
        """Fast-path address translation (dynarec.host memory ABI): leaves the guest address
        in rax, the host page in rcx and the page offset in rdx; jumps to ``slow`` when the
        address is out of range, the access crosses its page or the entry is 0."""
        mem = self._memory(inst.op)
        a = self.asm
        self.load(addr, "rax")
        if addr.type.bits > mem.addr_bits:
            a("mov rcx, rax")
            a(f"shr rcx, {mem.addr_bits}")
            a(f"jnz {slow}")
        a("mov rcx, rax")
        a(f"shr rcx, {mem.page_bits}")
        table = 8 * mem.num_pages if write else 0
        a(f"mov rcx, qword ptr [{PAGE_TABLE} + rcx*8 + {table}]")
        page_mask = (1 << mem.page_bits) - 1
        a("mov rdx, rax")
        if page_mask < 1 << 31:
            a(f"and rdx, {page_mask}")
        else:
            self.mov_imm("r11", page_mask)
            a("and rdx, r11")
        if size > 1:
            if page_mask - size + 1 < 1 << 31:
                a(f"cmp rdx, {page_mask - size + 1}")
            else:
                self.mov_imm("r11", page_mask - size + 1)
                a("cmp rdx, r11")
            a(f"ja {slow}")
        a("test rcx, rcx")
        a(f"jz {slow}")

    def _memory_stub(self, kind: str) -> str:
        """Label of the region's shared slow-path routine for ``kind`` ("load"/"store"),
        emitted in far code on first use. Called with rax = guest address, ecx = size and,
        for stores, r11 = value; calls ``slow_load``/``slow_store``; returns the loaded value
        in rax. It saves every caller-saved register the region allocates, so a slow path
        changes no register but rax, rcx, rdx, r11 (the scratch ones)."""
        if kind in self._memory_stubs:
            return self._memory_stubs[kind]
        label = self._memory_stubs[kind] = self.asm.label(f"{kind}stub")
        used = {loc.name for loc in self.alloc.loc.values() if isinstance(loc, Reg)}
        saved = [r for r in CALLER_SAVED if r in used]
        words = len(saved) + 2                      # + result object + converted value
        size = 8 * words + (8 if words % 2 == 0 else 0)   # entered with rsp = 8 (mod 16)
        mem = self._memory(kind)
        a = self.asm
        with a.far():
            a.place(label)
            a(f"sub rsp, {size}")
            for i, r in enumerate(saved):
                self.move(Mem(8 * i), Reg(r))
            a("mov rdx, rax")
            if kind == "store":
                a("mov r8, r11")
            self.host_fp_mode()
            if kind == "load":
                temps = self.py_call(mem.slow_load, "KK", 0, [I64], Mem(8 * len(saved)))
            else:
                self.py_call(mem.slow_store, "KKK", 0, [], Mem(8 * len(saved)))
            self.set_fp_mode()
            for i, r in enumerate(saved):
                self.move(Reg(r), Mem(8 * i))
            if kind == "load":
                a(f"mov rax, {temps[0].ref()}")
            a(f"add rsp, {size}")
            a("ret")
        return label

    def _slow_path(self, kind: str, size: int) -> None:
        """A slow-path call site (far code): position, size, call the region's stub."""
        self.store_position(tmp="rdx")               # rax holds the address
        self.asm(f"mov ecx, {size}")
        self.asm(f"call {self._memory_stub(kind)}")

    def guest_load(self, inst) -> None:
        """``load``: page-table fast path, byte swap for big-endian guests, slow path in far
        code calling ``memory.slow_load(addr, size)``."""
        (addr,), (result,) = inst.args, inst.results
        mem, size, bits = self._memory("load"), result.type.bytes, result.type.bits
        slow, done = self.asm.label("ldslow"), self.asm.label("lddone")
        self._translate(inst, addr, size, False, slow)
        dst = sub("rax", max(bits, 32))
        src = ptr(bits, "rcx + rdx")
        if mem.big_endian and size > 1 and "movbe" in self.features:
            if bits == 16:
                self.asm(f"movbe ax, {src}")
                self.asm("movzx eax, ax")
            else:
                self.asm(f"movbe {dst}, {src}")
        else:
            self.asm(f"movzx eax, {src}" if bits < 32 else f"mov {dst}, {src}")
            if mem.big_endian and size > 1:
                self.byte_swap("rax", bits)
        self.asm.place(done)
        self.store(result, "rax")
        with self.asm.far():
            self.asm.place(slow)
            self._slow_path("load", size)
            self.zext("rax", result.type)
            self.asm(f"jmp {done}")

    def guest_store(self, inst) -> None:
        """``store``: as ``guest_load``, calling ``memory.slow_store(addr, size, value)``."""
        addr, value = inst.args
        mem, size, bits = self._memory("store"), value.type.bytes, value.type.bits
        slow, done = self.asm.label("stslow"), self.asm.label("stdone")
        self.load(value, "r11")
        self._translate(inst, addr, size, True, slow)
        dst = ptr(bits, "rcx + rdx")
        if mem.big_endian and size > 1 and "movbe" in self.features:
            self.asm(f"movbe {dst}, {sub('r11', bits)}")
        else:
            if mem.big_endian and size > 1:
                self.asm("mov rax, r11")         # all checks passed: rax is free
                self.byte_swap("rax", bits)
                self.asm(f"mov {dst}, {sub('rax', bits)}")
            else:
                self.asm(f"mov {dst}, {sub('r11', bits)}")
        self.asm.place(done)
        with self.asm.far():
            self.asm.place(slow)
            self._slow_path("store", size)
            self.asm(f"jmp {done}")

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
            self.parallel_move([(self.loc(p), src)
                                for p, src in zip(self.region.entry.params, arg_locs)])
        else:
            a(f"mov rsp, qword ptr [{CTX} + {C.SAVED_SP}]")
            if self.frame:
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
            moves.append((Reg(pool.pop(0)), self.loc(v)))
        self.parallel_move(moves)
        if self.frame:
            self.asm(f"add rsp, {self.frame}")
        for r in reversed(self.alloc.callee_saved):
            self.asm(f"pop {r}")
        self.asm("ret")

    def generate(self, rules: dict) -> Asm:
        """Lower every reachable block with ``rules`` (op name -> ``rule(cg, inst)``)."""
        order = self.alloc.order
        self.entry_label = self.asm.label("entry")
        self.labels = {id(b): self.asm.label("b") for b in order}   # IR names may be odd
        self.prologue()
        for i, block in enumerate(order):
            self.next_block = order[i + 1] if i + 1 < len(order) else None
            self.asm.place(self.block_label(block))
            term = block.terminator
            if term is None or term is not block.insts[-1]:
                raise CompileError(f"region {self.region.name}: block {block.name} does not "
                                   f"end in exactly one terminator")
            for inst in block.insts:
                rule = rules.get(inst.op)
                if rule is None:
                    raise CompileError(f"region {self.region.name}: no x86-64 lowering for "
                                       f"op {inst.op!r}")
                try:
                    rule(self, inst)
                except CompileError as e:
                    raise CompileError(f"region {self.region.name}, block {block.name}, "
                                       f"{inst!r}: {e}") from e
        return self.asm

