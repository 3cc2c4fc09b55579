"""The block cache: compiled regions by key.

A region's key is ``(guest pc, identity of the backing page, mode word)`` -- never the pc alone,
so a bank switch or a processor-mode change selects different code (QEMU keys its translation
blocks the same way: pc, cs_base, flags). Entries are dropped wholesale when the code cache is
flushed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .host import CompiledRegion


@dataclass(frozen=True)
class RegionKey:
    """``pc`` (guest address), ``page`` (``AddressSpace.page_identity``), ``mode`` (guest)."""

    pc: int
    page: tuple
    mode: int


@dataclass
class CachedRegion:
    """A compiled region: its key, the host code, how many guest instructions it holds, and
    (with ``Machine(keep_ir=True)``) its IR text before and after passes."""

    key: RegionKey
    code: CompiledRegion
    guest_insns: int
    ir_before: Optional[str] = None
    ir_after: Optional[str] = None


class BlockCache:
    """``lookup(key) -> CachedRegion | None``, ``insert(entry)``, ``clear()``."""

    def __init__(self):
        self._regions: dict[RegionKey, CachedRegion] = {}

    def lookup(self, key: RegionKey) -> Optional[CachedRegion]:
        return self._regions.get(key)

    def insert(self, entry: CachedRegion) -> None:
        self._regions[entry.key] = entry

    def clear(self) -> None:
        self._regions.clear()

    def __len__(self) -> int:
        return len(self._regions)

    def __iter__(self):
        return iter(self._regions.values())
