"""The enter/exit stubs and the exit tails every region of a code cache branches to.

``enter(context, page_table, target)`` is an AAPCS64 function (``x0 x1 x2``). It saves
``x19-x30`` and ``d8-d15``, loads the fixed registers (``x19`` = context, ``x20`` = page
table), saves the context's old ``saved_sp`` and the caller's FPCR in its frame, stores the
now 16-byte aligned ``sp`` into ``saved_sp`` and branches to ``target``.

The exit stub reloads ``sp`` from ``saved_sp`` (so it works from any call depth inside
generated code), restores FPCR, ``saved_sp`` and the callee-saved registers and returns the
context's ``exit_reason`` in ``x0``.

Tails (``common.codegen.ExitTails``), all reached by ``b`` from the regions of the cache (the
dispatcher sits at its pinned start, so a B's +-128 MiB always reaches them from a cache of at
most 64 MiB):

* ``exit_tails[(reason, info)]`` store ``exit_reason`` and ``exit_info`` and go to the exit
  stub (one per exit kind: ``NEXT`` with each kind's index, ``HALT``/``BREAKPOINT`` with
  theirs); a region stores ``next_pc`` first;
* ``info_tails[reason]`` (``BUDGET``, ``EXCEPTION``) take the info (cycles, cause) in ``x9``;
* with the guest pc in ``x11``: ``link_tails[info]`` leave with ``LINK`` (the site's address
  in ``x9``, its route in ``x10``), ``miss_tails[info]`` with ``MISS``, and
  ``lookups[(info, counters)]`` look the pc up in the jump cache and go to the region or on
  to the miss tail;
* ``error`` leaves with ``ERROR`` (a raising helper returns there: ``executor.py``).

``miss_stub`` (the host address of empty jump-cache and return-stack-buffer entries) is the
``indirect`` miss tail: it is reached by ``br`` with the looked-up pc in ``x11``.
"""

from __future__ import annotations

from dynarec import context as C
from dynarec.host import Dispatcher
from dynarec.hosts.common.codegen import ExitTails
from dynarec.ir.opcodes import EXIT_KINDS

ENTER = [
    "stp x29, x30, [sp, #-96]!",
    "stp x19, x20, [sp, #16]",
    "stp x21, x22, [sp, #32]",
    "stp x23, x24, [sp, #48]",
    "stp x25, x26, [sp, #64]",
    "stp x27, x28, [sp, #80]",
    "sub sp, sp, #80",
    "stp d8, d9, [sp]",
    "stp d10, d11, [sp, #16]",
    "stp d12, d13, [sp, #32]",
    "stp d14, d15, [sp, #48]",
    "mov x19, x0",
    "mov x20, x1",
    f"ldr x9, [x19, #{C.SAVED_SP}]",
    "mrs x10, fpcr",
    "stp x9, x10, [sp, #64]",
    "mov x9, sp",
    f"str x9, [x19, #{C.SAVED_SP}]",
    "br x2",
]

EXIT = [
    f"ldr x9, [x19, #{C.SAVED_SP}]",
    "mov sp, x9",
    "ldp x9, x10, [sp, #64]",
    f"str x9, [x19, #{C.SAVED_SP}]",
    "msr fpcr, x10",
    "ldp d8, d9, [sp]",
    "ldp d10, d11, [sp, #16]",
    "ldp d12, d13, [sp, #32]",
    "ldp d14, d15, [sp, #48]",
    "add sp, sp, #80",
    f"ldr x0, [x19, #{C.EXIT_REASON}]",
    "ldp x27, x28, [sp, #80]",
    "ldp x25, x26, [sp, #64]",
    "ldp x23, x24, [sp, #48]",
    "ldp x21, x22, [sp, #32]",
    "ldp x19, x20, [sp, #16]",
    "ldp x29, x30, [sp], #96",
    "ret",
]


def store_reason(reason: int, info=None) -> list:
    """Lines storing ``exit_reason`` (and ``exit_info``, an int, unless ``None``) with x9."""
    lines = [f"mov x9, #{int(reason)}", f"str x9, [x19, #{C.EXIT_REASON}]"]
    if info is not None:
        lines += [f"mov x9, #{info}", f"str x9, [x19, #{C.EXIT_INFO}]"]
    return lines


def leave_at_x11(reason: int, info: int) -> list:
    """Lines storing the exit fields of leaving with ``reason`` and ``info`` for the guest pc
    in x11."""
    return [f"str x11, [x19, #{C.NEXT_PC}]", *store_reason(reason, info)]


def jump_cache_lookup(miss: int, counters: bool) -> list:
    """Lines jumping to the region of the guest pc in x11 through the jump cache
    (``dynarec.context``: entry ``(pc ^ pc >> 2) mod JUMP_CACHE_ENTRIES``, 16 bytes of (pc,
    host address)), or to ``miss`` with x11 unchanged; ``counters`` counts a hit in
    ``jc_hits``. Clobbers x9, x10, x16."""
    lines = [
        "eor x9, x11, x11, lsr #2",
        f"and x9, x9, #{C.JUMP_CACHE_ENTRIES - 1}",
        f"ldr x10, [x19, #{C.JUMP_CACHE}]",
        "add x9, x10, x9, lsl #4",
        "ldp x10, x16, [x9]",
        "cmp x10, x11",
        f"b.ne #{miss:#x}",
    ]
    if counters:
        lines += [f"ldr x10, [x19, #{C.JC_HITS}]", "add x10, x10, #1",
                  f"str x10, [x19, #{C.JC_HITS}]"]
    return lines + ["br x16"]


def build(cache, assemble, executor) -> "AArch64Dispatcher":
    """Assemble the stubs and tails into ``cache`` at its next address (one commit).
    ``assemble(lines, address, what) -> bytes``."""
    base = cache.next_address
    code = bytearray()

    def place(lines: list, what: str) -> int:
        address = base + len(code)
        code.extend(assemble(lines, address, what))
        return address

    exit_stub = place(EXIT, "exit stub")
    entry = place(ENTER, "enter stub")
    tails = ExitTails()
    for info, kind in enumerate(EXIT_KINDS):
        reason = C.exit_reason(kind)
        tails.exit_tails[(int(reason), info)] = place(
            store_reason(reason, info) + [f"b #{exit_stub:#x}"], f"exit {kind}")
    for reason in (C.ExitReason.BUDGET, C.ExitReason.EXCEPTION):
        tails.info_tails[int(reason)] = place(
            [f"str x9, [x19, #{C.EXIT_INFO}]", *store_reason(reason), f"b #{exit_stub:#x}"],
            f"exit {reason.name}")
    tails.error = place(store_reason(C.ExitReason.ERROR) + [f"b #{exit_stub:#x}"], "error")
    for info, kind in enumerate(EXIT_KINDS):
        if kind in C.STOP_KINDS:
            continue
        tails.link_tails[info] = place(
            [f"str x9, [x19, #{C.EXIT_SITE}]", f"str x10, [x19, #{C.EXIT_ROUTE}]",
             *leave_at_x11(C.ExitReason.LINK, info), f"b #{exit_stub:#x}"], f"link {kind}")
        miss = tails.miss_tails[info] = place(
            leave_at_x11(C.ExitReason.MISS, info) + [f"b #{exit_stub:#x}"], f"miss {kind}")
        for counters in (False, True):
            tails.lookups[(info, counters)] = place(jump_cache_lookup(miss, counters),
                                                    f"lookup {kind}")
    cache.reserve(len(code))
    if cache.next_address != base:
        raise ValueError("the code cache moved while the dispatcher was assembled")
    cache.commit(bytes(code), at=base)
    executor.error_stub = tails.error
    return AArch64Dispatcher(entry, exit_stub, tails, executor)


class AArch64Dispatcher(Dispatcher):
    """The stubs assembled at ``entry`` (enter), ``exit_stub`` and the ``tails``; ``enter``
    runs through ``executor``."""

    def __init__(self, entry: int, exit_stub: int, tails: ExitTails, executor):
        self.entry = entry
        self.exit_stub = exit_stub
        self.tails = tails
        self.miss_stub = tails.miss_tails[EXIT_KINDS.index("indirect")]
        self.executor = executor

    def enter(self, context: int, page_table: int, target: int) -> int:
        """Run generated code at ``target``; returns the ``ExitReason`` value it stored.
        Raises whatever Python exception a helper raised inside."""
        return self.executor.run(self.entry, context, page_table, target)
