"""Test harness for host backends: a context buffer, an optional guest address space with a
page table, a code cache and the dispatcher; compile a region and run it.

``Harness(host, slots, memory=...)``: ``slots`` is a list of ``ir.Slot`` for guest state.
``compile(region)`` returns the ``CompiledRegion``; ``run(entry)`` enters it and returns the
``ExitReason``; ``state[ref]`` reads/writes slots as raw bit patterns. ``link=True`` compiles
exits that chain (``CompileEnv.link``) and gives the context an empty jump cache
(``jump_cache``) and return-stack buffer; ``counters=True`` counts their hits.

``Memory`` is a tiny, self-contained guest address space following the ``dynarec.host`` memory
ABI, with RAM pages, unmapped (slow path) pages and a log of slow-path calls.
"""

from __future__ import annotations

import ctypes
import struct

import pytest

from dynarec import context as C
from dynarec.blocks import JumpCache, clear_return_stack
from dynarec.codecache import CodeCache
from dynarec.host import CompileEnv, MemoryABI
from dynarec.hosts.aarch64 import AArch64Host
from dynarec.hosts.x86_64 import X86_64Host
from dynarec.ir.nodes import StateLayout

#: the backends every host test runs on (ids: how the values live -- in registers, or every
#: one spilled to a stack slot, which exercises the memory-operand form of each rule)
HOSTS = {"registers": X86_64Host, "spill_all": lambda: X86_64Host(spill_all=True),
         "aarch64": AArch64Host, "aarch64-spill_all": lambda: AArch64Host(spill_all=True)}

_FMT = {1: "<B", 8: "<B", 16: "<H", 32: "<I", 64: "<Q"}


class Memory:
    """``addr_bits``-bit guest addresses, ``page_bits`` pages; ``ram_pages`` page indices
    backed by host RAM (fast path); every other in-range address goes to the slow path, which
    reads/writes ``self.slow_bytes`` (a dict address -> byte, default ``fill``) in guest byte
    order and logs ``(kind, addr, size[, value])`` in ``self.calls``. ``fault`` makes the slow
    path raise it."""

    def __init__(self, addr_bits=32, page_bits=12, ram_pages=(0, 1), big_endian=False,
                 fill=0xA5):
        self.addr_bits, self.page_bits, self.big_endian = addr_bits, page_bits, big_endian
        self.page_size = 1 << page_bits
        self.num_pages = 1 << (addr_bits - page_bits)
        self.table = (ctypes.c_uint64 * (2 * self.num_pages))()
        self.ram = {p: (ctypes.c_uint8 * self.page_size)() for p in ram_pages}
        for p, buf in self.ram.items():
            self.table[p] = self.table[self.num_pages + p] = ctypes.addressof(buf)
        self.slow_bytes: dict = {}
        self.fill = fill
        self.calls: list = []
        self.fault = None

    @property
    def order(self) -> str:
        return "big" if self.big_endian else "little"

    def _byte(self, addr: int) -> int:
        page = self.ram.get(addr >> self.page_bits)
        if page is not None:
            return page[addr & (self.page_size - 1)]
        return self.slow_bytes.get(addr, self.fill)

    def read(self, addr: int, size: int) -> int:
        """The guest-order value at ``addr`` (RAM or slow bytes), as Python sees it."""
        data = bytes(self._byte(addr + i) for i in range(size))
        return int.from_bytes(data, self.order)

    def write(self, addr: int, size: int, value: int) -> None:
        for i, b in enumerate(value.to_bytes(size, self.order)):
            page = self.ram.get((addr + i) >> self.page_bits)
            if page is not None:
                page[(addr + i) & (self.page_size - 1)] = b
            else:
                self.slow_bytes[addr + i] = b

    def slow_load(self, addr: int, size: int) -> int:
        self.calls.append(("load", addr, size))
        if self.fault is not None:
            raise self.fault
        return self.read(addr, size)

    def slow_store(self, addr: int, size: int, value: int) -> None:
        self.calls.append(("store", addr, size, value))
        if self.fault is not None:
            raise self.fault
        self.write(addr, size, value)

    def abi(self) -> MemoryABI:
        return MemoryABI(self.page_bits, self.addr_bits, self.num_pages, self.big_endian,
                         self.slow_load, self.slow_store)


class State:
    """Raw access to guest state slots in a context buffer: ``state["r0"] = bits``."""

    def __init__(self, harness):
        self._h = harness

    def _where(self, ref: str):
        layout = self._h.layout
        t = layout.type(ref)
        return C.GUEST_STATE_OFFSET + layout.offset(ref), _FMT[t.bits]

    def __getitem__(self, ref: str) -> int:
        off, fmt = self._where(ref)
        return struct.unpack_from(fmt, self._h.context, off)[0]

    def __setitem__(self, ref: str, value: int) -> None:
        off, fmt = self._where(ref)
        struct.pack_into(fmt, self._h.context, off, value)


class Harness:
    """One host, one code cache with the dispatcher, one context buffer."""

    def __init__(self, host, slots=(), memory: Memory = None, cache_size=1 << 22,
                 state_bytes=4096, link=False, counters=False):
        self.host = host
        self.cache = CodeCache(cache_size, sync_icache=host.sync_icache)
        self.dispatcher = host.build_dispatcher(self.cache)
        self.cache.pin()
        self.context = (ctypes.c_uint8 * (C.GUEST_STATE_OFFSET + state_bytes))()
        self.header = C.ContextHeader.from_buffer(self.context)
        self.memory = memory
        self.functions: dict = {}
        self.helpers: dict = {}
        self.keep_alive: list = []
        self.layout = StateLayout(slots)
        self.state = State(self)
        self.link, self.counters = link, counters
        self.jump_cache = JumpCache(self.dispatcher.miss_stub)
        self.header.jump_cache = self.jump_cache.address
        clear_return_stack(self.header, self.dispatcher.miss_stub)

    def set_layout(self, slots) -> None:
        """Use a new state layout (same context buffer; must fit in ``state_bytes``)."""
        self.layout = StateLayout(slots)
        assert C.GUEST_STATE_OFFSET + self.layout.size <= len(self.context)

    def env(self) -> CompileEnv:
        return CompileEnv(self.layout, self.memory.abi() if self.memory else None,
                          self.dispatcher.exit_stub, self.helpers, self.functions,
                          self.keep_alive, self.link, self.counters)

    def compile(self, region):
        """Compile ``region``; function regions are recorded for later ``call_fn``."""
        compiled = self.host.compile(region, self.env(), self.cache)
        if region.kind == "function":
            self.functions[region.name] = compiled.entry
        return compiled

    def run(self, entry: int, budget: int = 1 << 40) -> C.ExitReason:
        """Enter generated code at ``entry`` (an address or a CompiledRegion)."""
        entry = getattr(entry, "entry", entry)
        self.header.budget = budget
        table = ctypes.addressof(self.memory.table) if self.memory else 0
        return C.ExitReason(self.dispatcher.enter(ctypes.addressof(self.context), table,
                                                  entry))


def x86_only(h: Harness, why: str) -> None:
    """Skip the calling test unless ``h`` runs the x86-64 host (``why``: what it checks that
    is x86-64's alone)."""
    if h.host.name != "x86_64":
        pytest.skip(f"x86-64 only: {why}")
