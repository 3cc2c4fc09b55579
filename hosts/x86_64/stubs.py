"""Code shared by every region compiled into one code cache for one ``CompileEnv``: exit tails,
the ERROR exit and the memory slow-path stubs (QEMU's TCG shares its softmmu helpers and
``exit_tb`` code among translation blocks the same way). Regions reach them with rel32 jumps and
calls, so a region carries only its own fast paths.

The stubs are assembled into the code cache itself, right after whatever it holds, the first
time a region needs them; a cache flush drops them with the regions, and the next compile
places them again (``SharedStubs.valid``).

Exit tails: ``exit_tails[(reason, info)]`` stores ``exit_reason`` and ``exit_info`` and jumps
to the dispatcher's exit stub; a region stores ``next_pc`` and jumps to the tail. There is one
per exit kind (``ExitReason.NEXT`` with each kind's index, ``HALT`` with ``halt``'s).
``info_tails[reason]`` does the same for ``BUDGET`` and ``EXCEPTION`` exits, whose info (the
cycles, the cause) comes in ``rcx``.

Exits to other regions (``dynarec.host``, "Exits to other regions"), one of each per exit kind
but ``halt`` (``[info]``, the kind's index), all reached by ``jmp`` with the guest pc in
``rcx``: ``link_tails`` leave with ``LINK`` (the site's address comes in ``rax``, its route in
``rdx``); ``miss_tails`` leave with ``MISS``; ``lookups`` jump to the pc's region through the
jump cache or go on to the miss tail (``codegen.jump_cache_lookup``, the routes of sites the
run loop does not link).

Memory slow-path stubs (``load``/``store``), called from a region's far code with
``rax`` = guest address, ``rcx`` = guest pc of the instruction, ``edx`` = access size +
256 * its delay-slot flag and, for stores, ``r11`` = the value: they store the pc and delay flag
into the context (``next_pc``/``exit_delay``), save every allocatable caller-saved register
(``regs.ALLOC_CALLER_SAVED`` and ``ALLOC_XMM``, low 64 bits) and the region's MXCSR, restore
the caller's MXCSR and call ``memory.slow_load(addr, size)`` / ``slow_store(addr, size,
value)`` through ``PyObject_CallFunction``; a load returns the value in ``rax``. They clobber
``rax rcx rdx r11`` only; if the Python call raises they exit with ``ExitReason.ERROR``.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Callable

from dynarec import context as C
from dynarec.hosts.common.codegen import ExitTails
from dynarec.ir.opcodes import EXIT_KINDS
from dynarec.ir.types import I64

from .codegen import host_fp_mode, jump_cache_lookup, mov_imm, py_call, py_decref
from .dispatcher import leave_at_rcx
from .emit import Asm
from .regs import ALLOC_CALLER_SAVED, ALLOC_XMM, CTX, Mem

SAVED = ALLOC_CALLER_SAVED + ALLOC_XMM
RESERVE = 4096                      # bytes to make room for before placing the stubs


@dataclass(kw_only=True)
class SharedStubs(ExitTails):
    """Host addresses of the shared code in one cache (see the module docstring): the
    ``common.codegen.ExitTails``, and ``load`` and ``store`` (``None`` without a
    ``MemoryABI``); ``near(address)`` tells whether a rel32 jump or call from anywhere in the
    cache reaches ``address``; ``keep`` holds the Python objects the code refers to by
    address."""

    cache: weakref.ref
    flushes: int
    near: Callable[[int], bool]
    load: int = None
    store: int = None
    keep: list = field(default_factory=list)

    def valid(self, cache) -> bool:
        """True while the stubs still sit in ``cache`` (placed there and no flush since)."""
        return self.cache() is cache and cache.flushes == self.flushes


def build(env, cache, assemble, near) -> SharedStubs:
    """Assemble and commit the shared stubs for ``env`` into ``cache``. ``assemble(lines,
    address, what) -> bytes`` is the host's assembler; ``near(address)`` tells whether a rel32
    branch from the cache reaches ``address``. Raises ``CodeCacheFull`` if they cannot fit."""
    cache.reserve(RESERVE)
    stubs = SharedStubs(cache=weakref.ref(cache), flushes=0, near=near)

    def place(lines: list, what: str) -> int:
        address = cache.next_address
        return cache.commit(assemble(lines, address, f"shared stub {what}"), at=address)

    def jump(asm: Asm, address: int) -> None:
        if near(address):
            asm(f"jmp {address:#x}")
        else:
            mov_imm(asm, "rax", address)
            asm("jmp rax")

    def call(asm: Asm, address: int) -> None:
        if near(address):
            asm(f"call {address:#x}")
        else:
            mov_imm(asm, "r11", address)
            asm("call r11")

    for info, kind in enumerate(EXIT_KINDS):
        reason = C.exit_reason(kind)
        asm = Asm("tail")
        asm(f"mov qword ptr [{CTX} + {C.EXIT_REASON}], {int(reason)}")
        asm(f"mov qword ptr [{CTX} + {C.EXIT_INFO}], {info}")
        jump(asm, env.exit_stub)
        stubs.exit_tails[(int(reason), info)] = place(asm.lines(), f"exit {kind}")
    for reason in (C.ExitReason.BUDGET, C.ExitReason.EXCEPTION):
        asm = Asm("info")
        asm(f"mov qword ptr [{CTX} + {C.EXIT_REASON}], {int(reason)}")
        asm(f"mov qword ptr [{CTX} + {C.EXIT_INFO}], rcx")
        jump(asm, env.exit_stub)
        stubs.info_tails[int(reason)] = place(asm.lines(), f"exit {reason.name}")
    for info, kind in enumerate(EXIT_KINDS):
        if kind in C.STOP_KINDS:
            continue
        asm = Asm("link")
        asm(f"mov qword ptr [{CTX} + {C.EXIT_SITE}], rax")
        asm(f"mov qword ptr [{CTX} + {C.EXIT_ROUTE}], rdx")
        for line in leave_at_rcx(C.ExitReason.LINK, info):
            asm(line)
        jump(asm, env.exit_stub)
        stubs.link_tails[info] = place(asm.lines(), f"link {kind}")
        asm = Asm("miss")
        for line in leave_at_rcx(C.ExitReason.MISS, info):
            asm(line)
        jump(asm, env.exit_stub)
        stubs.miss_tails[info] = miss = place(asm.lines(), f"miss {kind}")
        asm = Asm("lookup")
        jump_cache_lookup(asm, f"{miss:#x}", env.counters)
        stubs.lookups[info] = place(asm.lines(), f"lookup {kind}")
    asm = Asm("error")
    asm(f"mov qword ptr [{CTX} + {C.EXIT_REASON}], {int(C.ExitReason.ERROR)}")
    jump(asm, env.exit_stub)
    stubs.error = place(asm.lines(), "error")
    if env.memory is not None:
        stubs.load = place(_memory_stub("load", env.memory.slow_load, stubs, call),
                           "slow load")
        stubs.store = place(_memory_stub("store", env.memory.slow_store, stubs, call),
                            "slow store")
    stubs.flushes = cache.flushes
    return stubs


def _memory_stub(kind: str, target, stubs: SharedStubs, call) -> list:
    """The lines of the ``kind`` ("load"/"store") slow-path stub (module docstring)."""
    asm = Asm(kind)
    words = len(SAVED) + 3                      # + MXCSR, result object, converted value
    size = 8 * words + (8 if words % 2 == 0 else 0)   # entered with rsp = 8 (mod 16)
    mxcsr, obj = Mem(8 * len(SAVED)), Mem(8 * len(SAVED) + 8)
    asm(f"mov qword ptr [{CTX} + {C.NEXT_PC}], rcx")
    asm("mov ecx, edx")
    asm("shr ecx, 8")
    asm(f"mov qword ptr [{CTX} + {C.EXIT_DELAY}], rcx")
    asm("movzx ecx, dl")                        # size: the fourth argument
    asm(f"sub rsp, {size}")
    for i, r in enumerate(SAVED):
        asm(f"{'movq' if r.startswith('xmm') else 'mov'} {Mem(8 * i).ref()}, {r}")
    asm(f"stmxcsr {mxcsr.ref(32)}")
    asm("mov rdx, rax")                         # address: the third
    if kind == "store":
        asm("mov r8, r11")                      # value: the fifth
    host_fp_mode(asm)
    decref = asm.label("decref")
    temps = py_call(asm, stubs.keep, lambda address: call(asm, address), target,
                    "KK" if kind == "load" else "KKK", 0, [I64] if kind == "load" else [],
                    obj, f"{stubs.error:#x}", lambda _: decref)
    asm(f"ldmxcsr {mxcsr.ref(32)}")
    for i, r in enumerate(SAVED):
        asm(f"{'movq' if r.startswith('xmm') else 'mov'} {r}, {Mem(8 * i).ref()}")
    if kind == "load":
        asm(f"mov rax, {temps[0].ref()}")
    asm(f"add rsp, {size}")
    asm("ret")
    asm.place(decref)
    py_decref(asm, lambda address: call(asm, address), obj)
    asm(f"jmp {stubs.error:#x}")
    return asm.lines()
