"""The block cache and the tables that chain regions: links and the jump cache.

A region's key is ``(guest pc, identity of the backing page, mode word)`` -- never the pc alone,
so a bank switch or a processor-mode change selects different code (QEMU keys its translation
blocks the same way: pc, cs_base, flags). Entries are dropped wholesale when the code cache is
flushed, one by one when they are invalidated.

Links: an exit site of one region patched to jump straight into another (``Host.patch_jump``).
The ``LinkTable`` records every patched site -- its original bytes, the region it sits in and
the key of the region it leads to -- so that invalidating a region restores every site into or
out of it (QEMU's ``tb_jmp_unlink``). A site the run loop routes through the jump cache
instead (a target it must not link to) is recorded the same way.

The ``JumpCache`` is the table generated code looks computed targets up in, the return-stack
buffer (``clear_return_stack``) the ring calls push and returns pop (layouts and hash in
``dynarec.context``).
"""

from __future__ import annotations

import bisect
import ctypes
import struct
from dataclasses import dataclass
from typing import Optional

from . import context as ctxabi
from .host import CompiledRegion


@dataclass(frozen=True)
class RegionKey:
    """``pc`` (guest address), ``page`` (``AddressSpace.page_identity``), ``mode`` (guest)."""

    pc: int
    page: tuple
    mode: int


@dataclass
class CachedRegion:
    """A compiled region: its key, the host code, how many guest instructions it holds, the
    address-space address of its first instruction (``code_address``), whether regions may
    jump into it without returning to the run loop (``chainable``: its entry checks the
    cycle budget, or it only halts), and (with ``Machine(keep_ir=True)``) its IR text before
    and after passes. ``backing`` holds the host buffer behind ``code_address`` (so the
    ``id`` in the key's page identity cannot be reused while the region exists).
    ``guest_pcs``: the guest pcs of the instructions it holds (``insn_start`` pcs: a delay
    slot counts as its branch), what breakpoints and invalidation look up.
    ``code_ranges``: the address-space byte ranges ``(start, end)`` it was translated from
    (what its frontend fetched; a region may span pages), ``code_bytes`` those bytes
    concatenated and ``checksum`` their CRC-32 (``zlib.crc32``): an invalidated region whose
    bytes come back unchanged is revalidated instead of recompiled."""

    key: RegionKey
    code: CompiledRegion
    guest_insns: int
    code_address: int = 0
    chainable: bool = False
    ir_before: Optional[str] = None
    ir_after: Optional[str] = None
    backing: object = None
    guest_pcs: frozenset = frozenset()
    code_ranges: tuple = ()
    code_bytes: bytes = b""
    checksum: int = 0


class BlockCache:
    """Compiled regions by key: ``lookup(key) -> CachedRegion | None``, ``insert(entry)``,
    ``remove(key)``, ``clear()``; ``containing(host_address)`` finds the region whose code
    holds a host address (the source of a LINK exit)."""

    def __init__(self):
        self._regions: dict[RegionKey, CachedRegion] = {}
        self._entries: list[int] = []           # host entry addresses, sorted
        self._by_entry: list[CachedRegion] = []

    def lookup(self, key: RegionKey) -> Optional[CachedRegion]:
        return self._regions.get(key)

    def insert(self, entry: CachedRegion) -> None:
        """Add ``entry`` (replacing a region of the same key)."""
        self.remove(entry.key)
        self._regions[entry.key] = entry
        i = bisect.bisect_right(self._entries, entry.code.entry)
        self._entries.insert(i, entry.code.entry)
        self._by_entry.insert(i, entry)

    def remove(self, key: RegionKey) -> Optional[CachedRegion]:
        """Drop the region of ``key``; return it (``None`` if there was none)."""
        entry = self._regions.pop(key, None)
        if entry is not None:
            i = bisect.bisect_left(self._entries, entry.code.entry)
            while self._by_entry[i] is not entry:
                i += 1
            del self._entries[i]
            del self._by_entry[i]
        return entry

    def containing(self, host_address: int) -> Optional[CachedRegion]:
        """The cached region whose code holds ``host_address``, or ``None``."""
        i = bisect.bisect_right(self._entries, host_address) - 1
        if i >= 0:
            entry = self._by_entry[i]
            if host_address < entry.code.entry + entry.code.size:
                return entry
        return None

    def clear(self) -> None:
        self._regions.clear()
        self._entries.clear()
        self._by_entry.clear()

    def __len__(self) -> int:
        return len(self._regions)

    def __iter__(self):
        return iter(self._regions.values())


class LinkTable:
    """Patched exit sites (host addresses) with their original bytes, by the key of the
    region each sits in (``source``) and the key of the region it leads to (``target``)."""

    def __init__(self):
        self._sites: dict[int, tuple] = {}      # site -> (original bytes, source, target)
        self._by_key: dict[RegionKey, set] = {}  # source or target key -> sites

    def add(self, site: int, original: bytes, source: RegionKey, target: RegionKey) -> None:
        """Record that ``site`` (in region ``source``, formerly ``original``) now leads to
        region ``target``."""
        self._forget(site)
        self._sites[site] = (original, source, target)
        self._by_key.setdefault(source, set()).add(site)
        self._by_key.setdefault(target, set()).add(site)

    def take(self, key: RegionKey) -> list:
        """Forget every site into or out of region ``key``; return them as ``(site,
        original bytes)`` to restore."""
        sites = self._by_key.pop(key, ())
        out = [(site, self._sites[site][0]) for site in sites]
        for site, _ in out:
            self._forget(site)
        return out

    def take_all(self) -> list:
        """Forget every site; return them as ``(site, original bytes)``."""
        out = [(site, record[0]) for site, record in self._sites.items()]
        self.clear()
        return out

    def targets(self) -> list:
        """The keys of the regions some recorded site leads to."""
        return list({record[2] for record in self._sites.values()})

    def _forget(self, site: int) -> None:
        record = self._sites.pop(site, None)
        if record is not None:
            for key in record[1:]:
                sites = self._by_key.get(key)
                if sites is not None:
                    sites.discard(site)
                    if not sites:
                        del self._by_key[key]

    def clear(self) -> None:
        self._sites.clear()
        self._by_key.clear()

    def __len__(self) -> int:
        return len(self._sites)

    def __contains__(self, site: int) -> bool:
        return site in self._sites


def clear_return_stack(header: ctxabi.ContextHeader, empty_host: int) -> None:
    """Empty the return-stack buffer in the context ``header``: every entry (``EMPTY_PC``,
    ``empty_host``), ``rsb_top`` 0."""
    header.rsb_top = 0
    for i in range(ctxabi.RSB_ENTRIES):
        header.rsb[2 * i] = ctxabi.EMPTY_PC
        header.rsb[2 * i + 1] = empty_host


class JumpCache:
    """The jump cache in host memory (``dynarec.context``): ``address`` for the context
    header, ``fill(pc, host)``, ``get(pc) -> host address | None``, ``clear()``.
    ``empty_host`` is where empty entries lead (the dispatcher's ``miss_stub``)."""

    def __init__(self, empty_host: int):
        self.table = (ctypes.c_uint64 * (2 * ctxabi.JUMP_CACHE_ENTRIES))()
        self.address = ctypes.addressof(self.table)
        self._empty = struct.pack("<QQ", ctxabi.EMPTY_PC, empty_host) * \
            ctxabi.JUMP_CACHE_ENTRIES
        self.clear()

    def fill(self, pc: int, host: int) -> None:
        """Make guest ``pc`` lead to host address ``host`` (replacing whatever shared its
        entry)."""
        i = 2 * ctxabi.jump_cache_slot(pc)
        self.table[i] = pc
        self.table[i + 1] = host

    def get(self, pc: int) -> Optional[int]:
        i = 2 * ctxabi.jump_cache_slot(pc)
        return self.table[i + 1] if self.table[i] == pc & ctxabi.EMPTY_PC else None

    def clear(self) -> None:
        ctypes.memmove(self.table, self._empty, len(self._empty))
