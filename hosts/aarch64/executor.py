"""Running AArch64 code on an x86-64 machine: ``UnicornExecutor``, Unicorn's ARM64 CPU over
the process's own memory.

Host memory is mapped one-to-one into Unicorn's address space (``Uc.mem_map_ptr(page, size,
perms, page)``), so generated code, the context, the page table and guest RAM hold the same
pointers on both sides and both see one memory. Pages are mapped lazily: a fetch, read or
write of an unmapped address maps its host page if the process has one there (``mincore``
tells), and fails the run with a ``DynarecError`` naming the address otherwise, never a host
crash.

Calls out of generated code trap to Python: a *trampoline* is an address in a page below
``mmap_min_addr`` (so never a host address) holding ``ret``; a code hook on that page runs
the trampoline's Python handler, which reads its arguments from the registers (AAPCS64:
integers in ``x0-x7``, floats in ``d0-d7``, further arguments in 8-byte stack slots) and
writes its results into ``x0``/``x1``/``d0``/``d1``; then the ``ret`` returns to the caller.
Every other register is preserved. A handler that raises keeps the exception pending and
returns into the dispatcher's ERROR exit instead (``error_stub``), so the region exits with
``ExitReason.ERROR`` and ``run`` raises the exception -- the x86-64 behaviour.

Unicorn keeps translations of the code it ran: every write to the code cache must be
followed by ``sync(address, nbytes)`` (``Uc.ctl_remove_cache``), or Unicorn keeps executing
the stale translation.

Limits: generated code cannot call ``enter`` again from inside a helper (``run`` is not
re-entrant; Unicorn cannot nest ``emu_start``); a host page the process unmaps while Unicorn
has it mapped must not be touched by generated code afterwards.
"""

from __future__ import annotations

import ctypes
import mmap
import operator
import struct
from typing import Callable

import unicorn
from unicorn import arm64_const as A

from dynarec.errors import DynarecError
from dynarec.ir.types import Type

PAGE = mmap.PAGESIZE
TRAP_BASE = 0x1000                  # below mmap_min_addr (64 KiB on Linux): no host page
TRAP_PAGES = 8
STOP = 0x4                          # the return address of ``run``: emulation stops there
STACK_BYTES = 1 << 20
RET = struct.pack("<I", 0xD65F03C0)  # ret (x30)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]

_CTYPE = {Type.I1: ctypes.c_uint8, Type.I8: ctypes.c_uint8, Type.I16: ctypes.c_uint16,
          Type.I32: ctypes.c_uint32, Type.I64: ctypes.c_uint64, Type.F32: ctypes.c_float,
          Type.F64: ctypes.c_double}


def _host_page_mapped(page: int) -> bool:
    """True if the process has a mapping at host address ``page`` (page aligned)."""
    vec = ctypes.create_string_buffer(1)
    return _libc.mincore(page, PAGE, vec) == 0


def f32_bits(x: float) -> int:
    """The binary32 pattern of Python float ``x`` rounded to nearest (a C cast, which never
    overflows to an error)."""
    return struct.unpack("<I", bytes(ctypes.c_float(x)))[0]


class UnicornExecutor:
    """One Unicorn ARM64 CPU running generated code over this process's memory.

    ``trampoline(handler)`` returns a fresh trampoline address; ``python_call``,
    ``native_call``, ``slow_load`` and ``slow_store`` build the handlers for the ``dynarec.
    host`` call protocols. ``run(entry, x0, x1, x2)`` runs from ``entry`` until generated
    code returns to the stop address and returns ``x0``. ``sync(address, nbytes)`` drops
    Unicorn's translations of freshly written code. ``error_stub``: where a raising handler
    returns to (set by the dispatcher).
    """

    def __init__(self):
        self.uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
        self.uc.mem_map(TRAP_BASE, TRAP_PAGES * PAGE, unicorn.UC_PROT_READ | unicorn.UC_PROT_EXEC)
        self.uc.mem_write(TRAP_BASE, RET * (TRAP_PAGES * PAGE // 4))
        self._handlers: list = []
        self._cached: dict = {}
        self._stack = ctypes.create_string_buffer(STACK_BYTES)
        self._stack_top = (ctypes.addressof(self._stack) + STACK_BYTES) & ~15
        self._running = False
        self.pending = None
        self.error_stub = 0
        self._fault = None
        self.uc.hook_add(unicorn.UC_HOOK_CODE, self._on_trap, begin=TRAP_BASE,
                         end=TRAP_BASE + TRAP_PAGES * PAGE - 1)
        self.uc.hook_add(unicorn.UC_HOOK_MEM_UNMAPPED, self._on_unmapped)

    # --- memory ----------------------------------------------------------------------------

    def _on_unmapped(self, uc, access, address, size, value, data) -> bool:
        first, last = address & -PAGE, (address + max(size, 1) - 1) & -PAGE
        for page in range(first, last + PAGE, PAGE):
            if not _host_page_mapped(page):
                self._fault = address
                return False
            try:
                uc.mem_map_ptr(page, PAGE, unicorn.UC_PROT_ALL, page)
            except unicorn.UcError:
                pass                                # mapped already (the access spans two)
        return True

    def sync(self, address: int, nbytes: int) -> None:
        """Forget Unicorn's translations of the ``nbytes`` at ``address`` (just written)."""
        self.uc.ctl_remove_cache(address, address + nbytes)

    # --- trampolines -----------------------------------------------------------------------

    def trampoline(self, handler: Callable[["UnicornExecutor"], None]) -> int:
        """A new trampoline address whose ``handler(executor)`` runs when it is called.
        Raises ``DynarecError`` when the trampoline page is full."""
        if len(self._handlers) >= TRAP_PAGES * PAGE // 4:
            raise DynarecError("the AArch64 executor ran out of trampolines")
        self._handlers.append(handler)
        return TRAP_BASE + 4 * (len(self._handlers) - 1)

    def _cached_trampoline(self, key, make: Callable) -> int:
        address = self._cached.get(key)
        if address is None:
            address = self._cached[key] = self.trampoline(make())
        return address

    def _on_trap(self, uc, address, size, data) -> None:
        handler = self._handlers[(address - TRAP_BASE) // 4]
        try:
            handler(self)
        except BaseException as exc:               # leave through the ERROR exit
            self.pending = exc
            uc.reg_write(A.UC_ARM64_REG_X30, self.error_stub)

    def x(self, n: int) -> int:
        return self.uc.reg_read(A.UC_ARM64_REG_X0 + n)

    def set_x(self, n: int, value: int) -> None:
        self.uc.reg_write(A.UC_ARM64_REG_X0 + n, value & (1 << 64) - 1)

    def _args(self, types) -> list:
        """The AAPCS64 arguments of ``types`` as bit patterns (floats: their IEEE bits)."""
        out, ints, floats, stack = [], 0, 0, 0
        sp = self.uc.reg_read(A.UC_ARM64_REG_SP)
        for t in types:
            if t.is_float and floats < 8:
                bits = self.uc.reg_read(A.UC_ARM64_REG_D0 + floats)
                floats += 1
            elif not t.is_float and ints < 8:
                bits = self.x(ints)
                ints += 1
            else:
                bits = int.from_bytes(self.uc.mem_read(sp + 8 * stack, 8), "little")
                stack += 1
            out.append(bits & t.mask if not t.is_float else bits & ((1 << t.bits) - 1))
        return out

    def _results(self, types, values) -> None:
        """Write results (Python ints / floats) into x0, x1 / d0, d1 as AAPCS64 returns."""
        ints = floats = 0
        for t, v in zip(types, values):
            if t.is_float:
                bits = f32_bits(float(v)) if t is Type.F32 else \
                    struct.unpack("<Q", struct.pack("<d", float(v)))[0]
                self.uc.reg_write(A.UC_ARM64_REG_D0 + floats, bits)
                floats += 1
            else:
                self.set_x(ints, operator.index(v) & t.mask)
                ints += 1

    def python_call(self, target: Callable, params, results) -> int:
        """A trampoline calling Python ``target`` with the IR values of ``params`` (integers
        as ``int`` of their bits, floats as ``float``); its result (a tuple for several) is
        returned as ``results`` say. One trampoline per (target, signature)."""
        params, results = tuple(params), tuple(results)

        def make():
            def handler(ex):
                args = [_to_py(t, b) for t, b in zip(params, ex._args(params))]
                value = target(*args)
                if len(results) == 1:
                    value = (value,)
                elif results:             # a short tuple raises IndexError, as on x86-64
                    value = [value[i] for i in range(len(results))]
                ex._results(results, value if results else ())
            return handler
        return self._cached_trampoline(("py", id(target), params, results), make)

    def native_call(self, address: int, params, results) -> int:
        """A trampoline calling the host C function at ``address`` (ctypes, the host's C
        ABI) with ``params``; at most one result. ``DynarecError`` for more."""
        params, results = tuple(params), tuple(results)
        if len(results) > 1:
            raise DynarecError("native helpers with several results cannot run under the "
                               "AArch64 executor")
        proto = ctypes.CFUNCTYPE(_CTYPE[results[0]] if results else None,
                                 *(_CTYPE[t] for t in params))
        fn = proto(address)

        def make():
            def handler(ex):
                value = fn(*(_to_py(t, b) for t, b in zip(params, ex._args(params))))
                ex._results(results, (value,) if results else ())
            return handler
        return self._cached_trampoline(("c", address, params, results), make)

    def slow_load(self, fn: Callable[[int, int], int]) -> int:
        """The trampoline of ``memory.slow_load``: x0 = address, x1 = size; x0 = the value."""
        def make():
            def handler(ex):
                ex.set_x(0, fn(ex.x(0), ex.x(1)))
            return handler
        return self._cached_trampoline(("load", id(fn)), make)

    def slow_store(self, fn: Callable[[int, int, int], None]) -> int:
        """The trampoline of ``memory.slow_store``: x0 = address, x1 = size, x2 = value."""
        def make():
            def handler(ex):
                fn(ex.x(0), ex.x(1), ex.x(2))
            return handler
        return self._cached_trampoline(("store", id(fn)), make)

    # --- running ---------------------------------------------------------------------------

    def run(self, entry: int, x0: int, x1: int, x2: int) -> int:
        """Run from ``entry`` with ``x0-x2`` set and ``x30`` = the stop address until the
        code returns there; returns ``x0``. Raises the exception a handler left pending, or
        ``DynarecError`` for an access to memory the process does not have."""
        if self._running:
            raise DynarecError("the AArch64 executor cannot enter generated code from inside "
                               "a helper")
        uc = self.uc
        for n, value in enumerate((x0, x1, x2)):
            self.set_x(n, value)
        uc.reg_write(A.UC_ARM64_REG_X30, STOP)
        uc.reg_write(A.UC_ARM64_REG_SP, self._stack_top)
        self.pending, self._fault = None, None
        self._running = True
        try:
            uc.emu_start(entry, STOP)
        except unicorn.UcError as e:
            if self.pending is None:
                pc = uc.reg_read(A.UC_ARM64_REG_PC)
                where = f" at {self._fault:#x}" if self._fault is not None else ""
                raise DynarecError(f"AArch64 code at {pc:#x} failed under Unicorn: {e}"
                                   f"{where}") from None
        finally:
            self._running = False
        if self.pending is not None:
            exc, self.pending = self.pending, None
            raise exc
        return self.x(0)


def _to_py(t: Type, bits: int):
    """An argument's bit pattern as the Python value a helper receives."""
    if t is Type.F32:
        return struct.unpack("<f", struct.pack("<I", bits & 0xFFFFFFFF))[0]
    if t is Type.F64:
        return struct.unpack("<d", struct.pack("<Q", bits))[0]
    return bits
