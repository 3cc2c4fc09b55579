"""The context block shared by the run loop and generated code.

Generated code addresses one contiguous block through a fixed host register (the *context
register*): a runtime header first, the guest state (``ir.StateLayout``) after it at
``GUEST_STATE_OFFSET``. Every backend and the run loop read the offsets below from here and
nowhere else.

Header fields (all 8 bytes, little-endian host integers):

================  ======  ========================================================================
field             offset  meaning
================  ======  ========================================================================
``exit_reason``   0       an ``ExitReason`` value, written by generated code as it leaves
``next_pc``       8       guest pc to continue at (for EXCEPTION/ERROR: the faulting instruction's)
``budget``        16      signed cycles left; ``charge`` subtracts, ``check_budget`` compares
``insns``         24      guest instructions retired (``charge insns=``), for lockstep runs
``saved_sp``      32      host stack pointer at entry: an exit from any call depth restores it
``exit_info``     40      detail: trap cause; exit kind (index into ``ir.opcodes.EXIT_KINDS``,
                          also for LINK and MISS); for BUDGET the ``cycles`` of the
                          ``check_budget`` that refused
``exit_site``     48      LINK: host address of the exit's patchable jump (``Host.patch_jump``)
``exit_delay``    56      delay-slot flag of the instruction at ``next_pc`` (EXCEPTION/ERROR)
``host_scratch``  64      8 words the backend may use (saved MXCSR/FPCR, spill of the last resort)
``exit_route``    128     LINK: host address that looks ``next_pc`` up in the jump cache; the
                          run loop points the site there when it must not link it
``jump_cache``    136     host address of the jump cache (layout below)
``rsb_top``       144     byte offset from ``RSB`` of the return-stack buffer's top entry
``jc_hits``       152     with ``CompileEnv.counters``: jump-cache hits in generated code
``rsb_hits``      160     with ``CompileEnv.counters``: returns that matched the RSB
``rsb_misses``    168     with ``CompileEnv.counters``: returns that did not
(reserved)        176     up to ``RSB``
``rsb``           256     the return-stack buffer: ``RSB_ENTRIES`` entries of (guest pc, host)
================  ======  ========================================================================

Jump cache (QEMU's per-CPU ``tb_jmp_cache``): ``JUMP_CACHE_ENTRIES`` entries of two u64,
(guest pc, host address of that pc's region), at ``jump_cache_slot(pc)``. Generated code
hashes a computed target, compares the entry's pc and jumps to its host address, or exits
with MISS; the run loop fills the entry. The pc is the whole tag: the run loop empties the
jump cache whenever anything else in a region key (``blocks.RegionKey``: the backing page,
the mode word) may have changed, so every entry holds the region the current key selects.
Empty entries hold ``EMPTY_PC`` and the dispatcher's ``miss_stub``, so even a guest jump to
``EMPTY_PC`` is handled correctly (it exits MISS).

Return-stack buffer: a ring of ``RSB_ENTRIES`` (guest return pc, host address) pairs at
``RSB``. A call pushes (``rsb_top`` advances by 16 modulo ``RSB_BYTES``, then the entry is
written; overflow overwrites the oldest entry); a return pops (reads the top entry, then
``rsb_top`` goes back by 16) and jumps to the host address if the pc matches its computed
target, else looks the target up in the jump cache. The host address is a patchable exit
site of the calling region that continues at the return pc, so a stale entry can only cost a
trip through the run loop. Empty entries are (``EMPTY_PC``, ``miss_stub``).
"""

from __future__ import annotations

import ctypes
import enum

EXIT_REASON = 0
NEXT_PC = 8
BUDGET = 16
INSNS = 24
SAVED_SP = 32
EXIT_INFO = 40
EXIT_SITE = 48
EXIT_DELAY = 56
HOST_SCRATCH = 64
HOST_SCRATCH_WORDS = 8
EXIT_ROUTE = 128
JUMP_CACHE = 136
RSB_TOP = 144
JC_HITS = 152
RSB_HITS = 160
RSB_MISSES = 168
RSB = 256
RSB_ENTRIES = 16
RSB_BYTES = 16 * RSB_ENTRIES
RSB_MASK = RSB_BYTES - 16              # rsb_top = (rsb_top +/- 16) & RSB_MASK
GUEST_STATE_OFFSET = RSB + RSB_BYTES

JUMP_CACHE_BITS = 12
JUMP_CACHE_ENTRIES = 1 << JUMP_CACHE_BITS
EMPTY_PC = (1 << 64) - 1

FIELDS = {
    "exit_reason": EXIT_REASON, "next_pc": NEXT_PC, "budget": BUDGET, "insns": INSNS,
    "saved_sp": SAVED_SP, "exit_info": EXIT_INFO, "exit_site": EXIT_SITE,
    "exit_delay": EXIT_DELAY, "exit_route": EXIT_ROUTE, "jump_cache": JUMP_CACHE,
    "rsb_top": RSB_TOP, "jc_hits": JC_HITS, "rsb_hits": RSB_HITS, "rsb_misses": RSB_MISSES,
    "rsb": RSB,
}


def jump_cache_slot(pc: int) -> int:
    """The jump-cache entry index of guest ``pc``: ``(pc ^ (pc >> 2)) mod JUMP_CACHE_ENTRIES``.
    Every ``JUMP_CACHE_ENTRIES`` consecutive 4-byte aligned pcs get distinct entries (the map
    is invertible on the low bits), and so do the pcs of an aligned window of as many bytes,
    so code that fits in the cache does not evict itself, whatever its instruction size. A
    multiplicative hash (Knuth's) evicted a quarter of such windows on MIPS programs."""
    return (pc ^ (pc >> 2)) & (JUMP_CACHE_ENTRIES - 1)


class ExitReason(enum.IntEnum):
    """Why generated code returned to the run loop (stored in ``exit_reason``).

    ``NEXT``: an ``exit`` to a guest pc; the run loop finds or compiles the next region.
    ``BUDGET``: the cycle budget cannot cover the next stretch; ``next_pc`` has not run.
    ``HALT``: an ``exit kind=halt`` (e.g. the ``--until`` address) was reached.
    ``BREAKPOINT``: a breakpoint exit was reached; ``next_pc`` has not run.
    ``EXCEPTION``: a ``trap`` (guest exception; ``exit_info`` is the cause).
    ``ERROR``: a helper or MMIO handler raised; the Python exception is pending.
    ``LINK``: a direct exit whose site is not patched yet (``exit_site``, ``exit_route``).
    ``MISS``: a computed exit whose target is not in the jump cache.
    """

    NEXT = 0
    BUDGET = 1
    HALT = 2
    BREAKPOINT = 3
    EXCEPTION = 4
    ERROR = 5
    LINK = 6
    MISS = 7


def exit_reason(kind: str) -> ExitReason:
    """The reason an ``exit`` of ``kind`` (``ir.opcodes.EXIT_KINDS``) leaves with when it
    does not lead to other code: HALT for ``halt``, BREAKPOINT for ``breakpoint``, NEXT for
    the kinds that do (jump, call, return, indirect)."""
    return _STOP_KINDS.get(kind, ExitReason.NEXT)


_STOP_KINDS = {"halt": ExitReason.HALT, "breakpoint": ExitReason.BREAKPOINT}
STOP_KINDS = frozenset(_STOP_KINDS)     #: exit kinds that end the run instead of chaining


class ContextHeader(ctypes.Structure):
    """The header as a ctypes structure over the context buffer (``from_buffer``)."""

    _fields_ = [
        ("exit_reason", ctypes.c_uint64),
        ("next_pc", ctypes.c_uint64),
        ("budget", ctypes.c_int64),
        ("insns", ctypes.c_uint64),
        ("saved_sp", ctypes.c_uint64),
        ("exit_info", ctypes.c_uint64),
        ("exit_site", ctypes.c_uint64),
        ("exit_delay", ctypes.c_uint64),
        ("host_scratch", ctypes.c_uint64 * HOST_SCRATCH_WORDS),
        ("exit_route", ctypes.c_uint64),
        ("jump_cache", ctypes.c_uint64),
        ("rsb_top", ctypes.c_uint64),
        ("jc_hits", ctypes.c_uint64),
        ("rsb_hits", ctypes.c_uint64),
        ("rsb_misses", ctypes.c_uint64),
        ("reserved", ctypes.c_uint64 * ((RSB - RSB_MISSES - 8) // 8)),
        ("rsb", ctypes.c_uint64 * (2 * RSB_ENTRIES)),
    ]


assert ctypes.sizeof(ContextHeader) == GUEST_STATE_OFFSET
assert all(getattr(ContextHeader, name).offset == off for name, off in FIELDS.items())
