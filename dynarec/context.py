"""The context block shared by the run loop and generated code.

Generated code addresses one contiguous block through a fixed host register (the *context
register*): a runtime header first, the guest state (``ir.StateLayout``) after it at
``GUEST_STATE_OFFSET``. Every backend and the run loop read the offsets below from here and
nowhere else.

Header fields (all 8 bytes, little-endian host integers):

===============  ======  =========================================================================
field            offset  meaning
===============  ======  =========================================================================
``exit_reason``  0       an ``ExitReason`` value, written by generated code as it leaves
``next_pc``      8       guest pc to continue at (for EXCEPTION/ERROR: the faulting instruction's)
``budget``       16      signed cycles left; ``charge`` subtracts, ``check_budget`` compares
``insns``        24      guest instructions retired (``charge insns=``), for lockstep runs
``saved_sp``     32      host stack pointer at entry: an exit from any call depth restores it
``exit_info``    40      detail: trap cause; exit kind (index into ``ir.opcodes.EXIT_KINDS``);
                         for BUDGET the ``cycles`` of the ``check_budget`` that refused
``exit_site``    48      host address just after the exit stub that left (for linking)
``exit_delay``   56      delay-slot flag of the instruction at ``next_pc`` (EXCEPTION/ERROR)
``host_scratch`` 64      8 words the backend may use (saved MXCSR/FPCR, spill of the last resort)
===============  ======  =========================================================================
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
GUEST_STATE_OFFSET = 128

FIELDS = {
    "exit_reason": EXIT_REASON, "next_pc": NEXT_PC, "budget": BUDGET, "insns": INSNS,
    "saved_sp": SAVED_SP, "exit_info": EXIT_INFO, "exit_site": EXIT_SITE,
    "exit_delay": EXIT_DELAY,
}


class ExitReason(enum.IntEnum):
    """Why generated code returned to the run loop (stored in ``exit_reason``).

    ``NEXT``: an ``exit`` to a guest pc; the run loop finds or compiles the next region.
    ``BUDGET``: the cycle budget cannot cover the next stretch; ``next_pc`` has not run.
    ``HALT``: an ``exit kind=halt`` (e.g. the ``--until`` address) was reached.
    ``BREAKPOINT``: a breakpoint exit was reached; ``next_pc`` has not run.
    ``EXCEPTION``: a ``trap`` (guest exception; ``exit_info`` is the cause).
    ``ERROR``: a helper or MMIO handler raised; the Python exception is pending.
    ``LINK``/``MISS``: reserved for block linking and the jump cache.
    """

    NEXT = 0
    BUDGET = 1
    HALT = 2
    BREAKPOINT = 3
    EXCEPTION = 4
    ERROR = 5
    LINK = 6
    MISS = 7


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
    ]


assert ctypes.sizeof(ContextHeader) == GUEST_STATE_OFFSET
assert all(getattr(ContextHeader, name).offset == off for name, off in FIELDS.items())
