"""The guest address space: pages with separate read and write targets.

Guest addresses are ``addr_bits`` wide and split into pages of ``1 << page_bits`` bytes. Each
page has a *read target* and a *write target*, each one of:

* host memory (RAM, or ROM for reads): generated code accesses it inline through the page table;
* a handler (MMIO, or a ROM whose writes switch banks): called synchronously from generated
  code's slow path, with the machine state exact;
* nothing: the access raises ``GuestFault``.

Mappings need not be page-aligned: a page that is not wholly covered by one host-memory mapping
goes through the slow path, which finds the mapping by address. Guest RAM is kept in guest byte
order, so DMA, checksums, snapshots and the oracle all see the same bytes; accesses swap.

The page table generated code reads is described in ``dynarec.host`` (memory fast-path ABI).

Code tracking (self-modifying code; ``docs/architecture.md``, "Self-modifying code"): while a
region is translated, its frontend reads guest code through ``fetch``, which records the bytes
read (``begin_fetch``/``end_fetch``). The Machine marks them in a *code bitmap* per page that
holds code (``set_code``: one bit per ``code_granularity`` bytes). The write entry of such a
page is 0, so every store to it takes the slow path, where a bitmap test decides: a store that
misses (data sharing a page with code) is made as usual; a store that hits calls the code-write
listener (``on_code_write``) first, which invalidates the regions translated from those bytes.
Stores from Python (``write``, ``write_bytes``: embedder DMA) take the same test.
"""

from __future__ import annotations

import bisect
import ctypes
from dataclasses import dataclass, field
from typing import Callable, Optional

from .errors import GuestFault
from .host import MemoryABI

ReadHandler = Callable[[int, int], int]            # (guest address, size in bytes) -> value
WriteHandler = Callable[[int, int, int], None]     # (guest address, size, value)


@dataclass(eq=False)
class Mapping:
    """One mapped range ``[base, base + size)`` of guest addresses.

    ``buffer`` is the host memory behind it (a ctypes char array) or ``None`` for pure MMIO;
    ``read``/``write`` are handlers used instead of the buffer for that direction (``None`` with
    a buffer: plain memory; ``None`` without one: fault). ``writable`` False with no write
    handler makes stores fault (ROM). ``ends_region``: guest addresses of device registers
    whose stores end the running region after the storing instruction (a store there can
    move the embedder's next event: ``AddressSpace.ends_region``).
    """

    name: str
    base: int
    size: int
    buffer: Optional[ctypes.Array] = None
    read: Optional[ReadHandler] = None
    write: Optional[WriteHandler] = None
    writable: bool = True
    offset: int = 0     # byte offset into ``buffer`` of guest address ``base`` (bank windows)
    ends_region: frozenset = frozenset()

    @property
    def end(self) -> int:
        return self.base + self.size

    @property
    def host_address(self) -> int:
        """Host address of guest address ``base`` (``ValueError`` for MMIO)."""
        if self.buffer is None:
            raise ValueError(f"mapping {self.name!r} has no host memory")
        return ctypes.addressof(self.buffer) + self.offset

    def __repr__(self) -> str:
        return f"<Mapping {self.name} {self.base:#x}..{self.end:#x}>"


class AddressSpace:
    """``addr_bits``-bit guest addresses, pages of ``1 << page_bits`` bytes, byte order
    ``big_endian``. Raises ``ValueError`` for mappings that overlap or leave the address space.

    ``page_table`` (ctypes array of ``3 * num_pages`` u64) is what generated code reads;
    ``read``/``write``/``read_bytes``/``write_bytes`` are the Python side's accesses (the same
    semantics as generated code, handlers included). ``code_granularity`` (a power of two up
    to the page size): bytes per bit of the code bitmap (module docstring).
    """

    MAX_PAGES = 1 << 22

    def __init__(self, addr_bits: int = 32, page_bits: int = 12, big_endian: bool = False,
                 code_granularity: int = 1):
        if not 8 <= addr_bits <= 64 or not 4 <= page_bits <= addr_bits:
            raise ValueError(f"unsupported address space: {addr_bits}-bit addresses, "
                             f"{1 << page_bits}-byte pages")
        if code_granularity < 1 or code_granularity & (code_granularity - 1) or \
                code_granularity > 1 << page_bits:
            raise ValueError(f"code granularity {code_granularity} is not a power of two "
                             f"within a {1 << page_bits}-byte page")
        if addr_bits - page_bits > 22:
            raise ValueError(f"{addr_bits}-bit addresses with {1 << page_bits}-byte pages need "
                             f"{1 << (addr_bits - page_bits)} page-table entries; use larger pages")
        self.addr_bits = addr_bits
        self.page_bits = page_bits
        self.page_size = 1 << page_bits
        self.big_endian = big_endian
        self.byteorder = "big" if big_endian else "little"
        self.num_pages = 1 << (addr_bits - page_bits)
        #: read entries, write entries, code-bitmap addresses (``dynarec.host``)
        self.page_table = (ctypes.c_uint64 * (3 * self.num_pages))()
        self.mappings: list[Mapping] = []
        self._starts: list[int] = []
        self.slow_accesses = 0
        self.store_log: Optional[list] = None      # (address, size, value) while logging
        self.read_log: Optional[list] = None       # handler reads while logging
        self._listeners: list = []
        self.code_granularity = code_granularity
        self._line_bits = code_granularity.bit_length() - 1
        self._code: dict[int, int] = {}            # page -> code bitmap (bit i: line i)
        self._bitmaps: dict = {}                   # page -> the bitmap's bytes for generated code
        self._code_listener: Optional[Callable[[int, int, bool], None]] = None
        self._fetches: Optional[list] = None       # (address, size) while translating

    # --- mapping --------------------------------------------------------------------------

    def map_ram(self, base: int, size: int, name: str = "ram", data: bytes = b"",
                writable: bool = True) -> Mapping:
        """Map ``size`` bytes of zeroed host memory at ``base`` (``data`` copied to its start).
        ``writable=False`` gives ROM (stores fault)."""
        if len(data) > size:
            raise ValueError(f"{len(data)} bytes of data do not fit in {name!r} ({size} bytes)")
        buf = (ctypes.c_char * size)()
        ctypes.memmove(buf, data, len(data))
        return self.add(Mapping(name, base, size, buf, writable=writable))

    def map_rom(self, base: int, data: bytes, name: str = "rom",
                write: Optional[WriteHandler] = None) -> Mapping:
        """Map ``data`` read-only at ``base``; stores call ``write(addr, size, value)`` (e.g.
        an MBC switching banks) or fault when ``write`` is ``None``."""
        buf = (ctypes.c_char * max(1, len(data)))()
        ctypes.memmove(buf, data, len(data))
        return self.add(Mapping(name, base, len(data), buf, write=write, writable=False))

    def map_mmio(self, base: int, size: int, read: Optional[ReadHandler] = None,
                 write: Optional[WriteHandler] = None, name: str = "mmio",
                 ends_region=()) -> Mapping:
        """Map device registers: loads call ``read(addr, size)``, stores ``write(addr, size,
        value)`` (absolute guest addresses, numeric values). A missing handler faults.
        ``ends_region``: the registers (guest addresses in the range) a store to which can
        move the embedder's next event -- starting a timer, raising an interrupt -- so that
        the region making it must return to the run loop right after the storing
        instruction (``ends_region``); ``ValueError`` for an address outside the range."""
        registers = frozenset(ends_region)
        outside = sorted(a for a in registers if not base <= a < base + size)
        if outside:
            raise ValueError(f"mapping {name!r} {base:#x}..{base + size:#x} does not hold "
                             f"{', '.join(f'{a:#x}' for a in outside)}")
        return self.add(Mapping(name, base, size, None, read, write, writable=write is not None,
                                ends_region=registers))

    def ends_region(self, start: int, end: int) -> bool:
        """True when a store to some guest address in ``[start, end)`` must end the region
        after its instruction (``map_mmio``'s ``ends_region``). A frontend asks this for the
        addresses a store can reach as far as it knows them at translation time (one
        constant address, or a range such as the SM83's FF00+C) and, when True, ends the
        region after that instruction with an exit to the next one; the embedder's store
        handler calls ``Machine.end_entry``, so the next region's budget check returns to
        the run loop. Stores through addresses only known at run time end nothing."""
        i = max(bisect.bisect_right(self._starts, start) - 1, 0)
        for m in self.mappings[i:]:
            if m.base >= end:
                return False
            if m.ends_region and any(start <= a < end for a in m.ends_region):
                return True
        return False

    def on_change(self, listener: Callable[[int, int], None]) -> None:
        """Call ``listener(start, end)`` after every ``add``, ``remove`` and ``rebase``, with
        the guest address range whose backing changed (what regions keyed by those pages
        see changes: the Machine unlinks them)."""
        self._listeners.append(listener)

    def _changed(self, m: Mapping) -> None:
        for listener in self._listeners:
            listener(m.base, m.end)

    def add(self, m: Mapping) -> Mapping:
        """Insert a mapping and rebuild the page-table entries it touches."""
        if m.size <= 0:
            raise ValueError(f"mapping {m.name!r} is empty")
        if m.base < 0 or m.end > (1 << self.addr_bits):
            raise ValueError(f"mapping {m.name!r} {m.base:#x}..{m.end:#x} leaves the "
                             f"{self.addr_bits}-bit address space")
        i = bisect.bisect_right(self._starts, m.base)
        if (i > 0 and self.mappings[i - 1].end > m.base) or \
                (i < len(self.mappings) and self.mappings[i].base < m.end):
            other = self.mappings[i - 1] if i > 0 and self.mappings[i - 1].end > m.base \
                else self.mappings[i]
            raise ValueError(f"mapping {m.name!r} {m.base:#x}..{m.end:#x} overlaps {other!r}")
        self.mappings.insert(i, m)
        self._starts.insert(i, m.base)
        self._refresh(m.base, m.end)
        self._changed(m)
        return m

    def remove(self, m: Mapping) -> None:
        """Unmap ``m`` (its range faults afterwards)."""
        i = self.mappings.index(m)
        del self.mappings[i]
        del self._starts[i]
        self._refresh(m.base, m.end)
        self._changed(m)

    def rebase(self, m: Mapping, buffer: ctypes.Array, offset: int = 0) -> None:
        """Point ``m`` at other host memory (bank switching): generated code sees the new
        bank on its next access."""
        m.buffer = buffer
        m.offset = offset
        self._refresh(m.base, m.end)
        self._changed(m)

    def _refresh(self, start: int, end: int) -> None:
        first = start >> self.page_bits
        last = (end - 1) >> self.page_bits
        for page in range(first, last + 1):
            lo = page << self.page_bits
            m = self.find(lo)
            rd = wr = code = 0
            if m is not None and m.buffer is not None and m.base <= lo and \
                    lo + self.page_size <= m.end:
                host = m.host_address + (lo - m.base)
                rd = host if m.read is None else 0
                plain = m.write is None and m.writable and self.store_log is None
                wr = host if plain and page not in self._code else 0
                # generated code stores through the read entry when no code is hit
                bitmap = self._bitmaps.get(page) if plain and rd else None
                code = 0 if bitmap is None else ctypes.addressof(bitmap)
            self.page_table[page] = rd
            self.page_table[self.num_pages + page] = wr
            self.page_table[2 * self.num_pages + page] = code

    def find(self, addr: int) -> Optional[Mapping]:
        """The mapping containing guest address ``addr``, or ``None``."""
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0 and addr < self.mappings[i].end:
            return self.mappings[i]
        return None

    def page_identity(self, addr: int) -> tuple:
        """What backs the page holding ``addr``: ``(id of the host buffer, byte offset of the
        page in it)``, or ``(0, page number)`` for unmapped or MMIO pages. Part of a region's
        key, so a bank switch (``rebase``) selects other regions."""
        m = self.find(addr)
        page_start = addr >> self.page_bits << self.page_bits
        if m is None or m.buffer is None:
            return (0, page_start)
        return (id(m.buffer), m.offset + page_start - m.base)

    # --- code tracking --------------------------------------------------------------------

    def on_code_write(self, listener: Callable[[int, int, bool], None]) -> None:
        """Call ``listener(start, end, store)`` before bytes ``[start, end)`` that the code
        bitmap marks are written -- ``store`` True for a store of generated code (its slow
        path), False for ``write``/``write_bytes`` -- and make the write after it returns. The
        listener clears the bits (``set_code``) of the code it drops; if it raises, nothing is
        written and the exception propagates (through generated code: an ERROR exit with it
        pending). One listener (the Machine's)."""
        self._code_listener = listener

    def begin_fetch(self) -> None:
        """Start recording ``fetch`` accesses (the Machine, before a region is translated)."""
        self._fetches = []

    def end_fetch(self) -> list:
        """Stop recording; return the ``(start, end)`` ranges fetched since ``begin_fetch``,
        sorted and merged."""
        fetches, self._fetches = self._fetches or [], None
        ranges: list = []
        for start, end in sorted(fetches):
            if ranges and start <= ranges[-1][1]:
                ranges[-1] = (ranges[-1][0], max(end, ranges[-1][1]))
            else:
                ranges.append((start, end))
        return ranges

    def fetch(self, addr: int, size: int) -> int:
        """``read`` for a frontend's instruction fetch: while recording (``begin_fetch``),
        remembers ``[addr, addr + size)`` as code of the region being translated. Raises
        ``GuestFault`` as ``read``."""
        value = self.read(addr, size)
        if self._fetches is not None:
            self._fetches.append((addr, addr + size))
        return value

    def lines(self, start: int, end: int) -> dict:
        """The code-bitmap bits of bytes ``[start, end)``, by page: ``{page: bits}``."""
        out: dict = {}
        shift, per_page = self._line_bits, self.page_bits - self._line_bits
        for line in range(start >> shift, ((end - 1) >> shift) + 1):
            page = line >> per_page
            out[page] = out.get(page, 0) | 1 << (line & ((1 << per_page) - 1))
        return out

    def set_code(self, page: int, bits: int) -> None:
        """Make ``bits`` the code bitmap of ``page`` (0: the page holds no code); a page with
        code sends every store through the slow path."""
        had = page in self._code
        if bits:
            self._code[page] = bits
            size = max(1, (1 << (self.page_bits - self._line_bits)) // 8)
            buf = self._bitmaps.get(page)
            if buf is None:
                buf = self._bitmaps[page] = (ctypes.c_ubyte * size)()
            ctypes.memmove(buf, bits.to_bytes(size, "little"), size)
        else:
            self._code.pop(page, None)
            self._bitmaps.pop(page, None)
        if had != bool(bits):
            self._refresh(page << self.page_bits, (page + 1) << self.page_bits)

    def code_bits(self, page: int) -> int:
        """The code bitmap of ``page`` (0 if it holds no code)."""
        return self._code.get(page, 0)

    def holds_code(self, start: int, end: int) -> bool:
        """True if some byte of ``[start, end)`` lies in a line the code bitmap marks."""
        code = self._code
        return any(code.get(page, 0) & bits for page, bits in self.lines(start, end).items())

    def _code_write(self, start: int, end: int, store: bool) -> None:
        if self._code and self._code_listener is not None and end > start and \
                self.holds_code(start, end):
            self._code_listener(start, end, store)

    # --- accesses (Python side and generated code's slow path) ----------------------------

    def _check(self, addr: int, size: int, write: bool) -> None:
        if addr < 0 or addr + size > (1 << self.addr_bits):
            raise GuestFault(addr, size, write, f"outside the {self.addr_bits}-bit address space")

    def read(self, addr: int, size: int) -> int:
        """Load ``size`` (1, 2, 4 or 8) bytes at ``addr`` as a number; ``GuestFault`` if
        unmapped. Handlers are called as for generated code."""
        self._check(addr, size, False)
        m = self.find(addr)
        if m is not None and addr + size <= m.end:
            if m.read is not None:
                return m.read(addr, size) & ((1 << (8 * size)) - 1)
            if m.buffer is not None:
                off = m.offset + addr - m.base
                return int.from_bytes(m.buffer[off:off + size], self.byteorder)
            raise GuestFault(addr, size, False, f"{m.name!r} is not readable")
        if m is None:
            raise GuestFault(addr, size, False)
        data = bytes(self.read(addr + i, 1) for i in range(size))   # straddles mappings
        return int.from_bytes(data, self.byteorder)

    def write(self, addr: int, size: int, value: int) -> None:
        """Store the low ``size`` bytes of ``value`` at ``addr``; ``GuestFault`` if unmapped or
        read-only without a write handler. Host-memory bytes that hold code are invalidated
        first (``on_code_write``); stores to handlers never are."""
        self._check(addr, size, True)
        self._write(addr, size, value & ((1 << (8 * size)) - 1), False)

    def _write(self, addr: int, size: int, value: int, store: bool) -> None:
        m = self.find(addr)
        if m is not None and addr + size <= m.end:
            if m.write is not None:
                m.write(addr, size, value)
                return
            if m.buffer is not None and m.writable:
                self._code_write(addr, addr + size, store)
                off = m.offset + addr - m.base
                m.buffer[off:off + size] = value.to_bytes(size, self.byteorder)
                return
            raise GuestFault(addr, size, True, f"{m.name!r} is read-only")
        if m is None:
            raise GuestFault(addr, size, True)
        for i, b in enumerate(value.to_bytes(size, self.byteorder)):
            self._write(addr + i, 1, b, store)

    def slow_load(self, addr: int, size: int) -> int:
        """Generated code's load slow path (see ``dynarec.host``)."""
        self.slow_accesses += 1
        value = self.read(addr, size)
        if self.read_log is not None:
            m = self.find(addr)
            if m is None or m.read is not None:
                self.read_log.append((addr, size, value))
        return value

    def slow_store(self, addr: int, size: int, value: int) -> None:
        """Generated code's store slow path (see ``dynarec.host``): a store to bytes that
        hold code calls the code-write listener with ``store`` True first (module
        docstring)."""
        self.slow_accesses += 1
        self._check(addr, size, True)
        self._write(addr, size, value & ((1 << (8 * size)) - 1), True)
        if self.store_log is not None:          # after the write: a store that faults is not made
            self.store_log.append((addr, size, value & ((1 << (8 * size)) - 1)))

    def log_accesses(self, on: bool = True) -> None:
        """Start (or stop) logging every store generated code makes and every load answered
        by a handler (device reads), in ``store_log``/``read_log`` as ``(address, size,
        value)``. While logging, every store takes the slow path so none is missed; a
        lockstep runner compares these logs with the oracle's and replays device reads."""
        self.store_log = [] if on else None
        self.read_log = [] if on else None
        for m in self.mappings:
            self._refresh(m.base, m.end)

    def read_bytes(self, addr: int, n: int) -> bytes:
        """``n`` raw bytes (guest byte order) from host memory or handlers; ``GuestFault``."""
        out = bytearray()
        while n > 0:
            m = self.find(addr)
            if m is None:
                raise GuestFault(addr, 1, False)
            chunk = min(n, m.end - addr)
            if m.buffer is not None and m.read is None:
                off = m.offset + addr - m.base
                out += m.buffer[off:off + chunk]
            else:
                out += bytes(self.read(addr + i, 1) for i in range(chunk))
            addr += chunk
            n -= chunk
        return bytes(out)

    def write_bytes(self, addr: int, data: bytes) -> None:
        """Store raw bytes, as DMA does: into host memory directly (even ROM), through write
        handlers for MMIO; ``GuestFault`` where nothing is mapped. Bytes that hold code are
        invalidated first (``on_code_write``)."""
        pos = 0
        while pos < len(data):
            m = self.find(addr + pos)
            if m is None:
                raise GuestFault(addr + pos, 1, True)
            chunk = min(len(data) - pos, m.end - (addr + pos))
            if m.buffer is not None:
                self._code_write(addr + pos, addr + pos + chunk, False)
                off = m.offset + addr + pos - m.base
                m.buffer[off:off + chunk] = data[pos:pos + chunk]
            else:
                for i in range(chunk):
                    self._write(addr + pos + i, 1, data[pos + i], False)
            pos += chunk

    def abi(self) -> MemoryABI:
        """The fast-path description handed to backends."""
        return MemoryABI(self.page_bits, self.addr_bits, self.num_pages, self.big_endian,
                         self.slow_load, self.slow_store, self._line_bits)

    @property
    def page_table_address(self) -> int:
        return ctypes.addressof(self.page_table)

    def ram_mappings(self) -> list:
        """Mappings with host memory (what snapshots save)."""
        return [m for m in self.mappings if m.buffer is not None]
