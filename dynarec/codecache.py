"""Executable memory for generated code, never writable and executable at once (W^X).

One ``memfd`` is mapped twice with ``MAP_SHARED``: a read/write view the backend writes
through and a read/execute view the CPU runs. Both views show the same bytes at the same
offset, so ``rx(offset)`` and ``rw(offset)`` differ by a constant. Allocation is a bump
pointer; when a region does not fit, the owner flushes the whole cache (``flush``) and
recompiles on demand, which is what QEMU's TCG does with its translation buffer.
"""

from __future__ import annotations

import ctypes
import mmap
import os
from typing import Callable, Optional

from .errors import CodeCacheFull

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_MAP_FAILED = ctypes.c_void_p(-1).value

DEFAULT_SIZE = 64 << 20
ALIGN = 16


def _map(fd: int, size: int, prot: int) -> int:
    addr = _libc.mmap(None, size, prot, mmap.MAP_SHARED, fd, 0)
    if addr in (None, _MAP_FAILED):
        err = ctypes.get_errno()
        raise OSError(err, f"mmap of the code cache failed: {os.strerror(err)}")
    return addr


class CodeCache:
    """``size`` bytes of executable memory (rounded up to whole pages).

    ``sync_icache(rx_address, nbytes)`` is called after every write (the host's instruction
    cache maintenance; a no-op on x86-64). Counters: ``allocations``, ``flushes``,
    ``bytes_used``.
    """

    def __init__(self, size: int = DEFAULT_SIZE,
                 sync_icache: Optional[Callable[[int, int], None]] = None):
        page = mmap.PAGESIZE
        self.size = (size + page - 1) // page * page
        self.fd = os.memfd_create("dynarec-code", getattr(os, "MFD_CLOEXEC", 1))
        os.ftruncate(self.fd, self.size)
        self.rw_base = _map(self.fd, self.size, mmap.PROT_READ | mmap.PROT_WRITE)
        self.rx_base = _map(self.fd, self.size, mmap.PROT_READ | mmap.PROT_EXEC)
        self.sync_icache = sync_icache or (lambda addr, n: None)
        self.used = 0
        self.allocations = 0
        self.flushes = 0
        self._flush_listeners: list = []

    # --- allocation -----------------------------------------------------------------------

    @property
    def next_address(self) -> int:
        """The RX address the next ``commit`` will place code at (assemble there)."""
        return self.rx_base + self.used

    @property
    def free(self) -> int:
        return self.size - self.used

    def fits(self, nbytes: int) -> bool:
        return self.used + nbytes <= self.size

    def commit(self, code: bytes, at: Optional[int] = None) -> int:
        """Copy ``code`` to ``at`` (default: ``next_address``), which must be the current
        bump pointer, and return its RX address. Raises ``CodeCacheFull`` if it does not fit
        (the caller flushes and retries) and ``ValueError`` if ``at`` is stale."""
        addr = self.next_address if at is None else at
        if addr != self.next_address:
            raise ValueError(f"code assembled for {addr:#x}, but the cache is now at "
                             f"{self.next_address:#x}")
        if not self.fits(len(code)):
            raise CodeCacheFull(f"{len(code)} bytes do not fit in the code cache "
                                f"({self.free} of {self.size} free)")
        self.write(addr, code)
        self.used = (self.used + len(code) + ALIGN - 1) // ALIGN * ALIGN
        self.allocations += 1
        return addr

    def write(self, rx_address: int, data: bytes) -> None:
        """Write ``data`` at an RX address through the RW view, then sync the icache. Every
        write to generated code (commit, link patch, unpatch) goes through here."""
        off = rx_address - self.rx_base
        if off < 0 or off + len(data) > self.size:
            raise ValueError(f"write of {len(data)} bytes at {rx_address:#x} is outside the "
                             f"code cache")
        ctypes.memmove(self.rw_base + off, data, len(data))
        self.sync_icache(rx_address, len(data))

    def read(self, rx_address: int, nbytes: int) -> bytes:
        """The bytes at an RX address (through the RW view)."""
        off = rx_address - self.rx_base
        if off < 0 or off + nbytes > self.size:
            raise ValueError(f"read at {rx_address:#x} is outside the code cache")
        return ctypes.string_at(self.rw_base + off, nbytes)

    def contains(self, rx_address: int) -> bool:
        return self.rx_base <= rx_address < self.rx_base + self.used

    # --- flush ----------------------------------------------------------------------------

    def reserve(self, nbytes: int) -> None:
        """Make sure ``nbytes`` fit, flushing the whole cache first if they do not. Raises
        ``CodeCacheFull`` if they could never fit."""
        if nbytes > self.size - self._pinned:
            raise CodeCacheFull(f"{nbytes} bytes exceed the code cache ({self.size} bytes)")
        if not self.fits(nbytes):
            self.flush()

    _pinned = 0

    def pin(self) -> None:
        """Keep everything allocated so far across flushes (the dispatcher and shared stubs)."""
        self._pinned = self.used

    def on_flush(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after every flush (block caches drop their host addresses)."""
        self._flush_listeners.append(listener)

    def flush(self) -> None:
        """Forget every region (not the pinned prefix). Listeners drop their references."""
        self.used = self._pinned
        self.flushes += 1
        for listener in self._flush_listeners:
            listener()

    def close(self) -> None:
        if self.fd >= 0:
            _libc.munmap(self.rw_base, self.size)
            _libc.munmap(self.rx_base, self.size)
            os.close(self.fd)
            self.fd = -1

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
