"""The enter/exit stubs: the only way into and out of generated code.

``enter(context, page_table, target)`` is a System V function (``rdi``, ``rsi``, ``rdx``). It
pushes every callee-saved register, loads the fixed registers (``rbx`` = context, ``r15`` =
page table), pushes the context's old ``saved_sp`` (so a helper may call ``enter`` again on the
same context), saves the caller's MXCSR in a 16-byte slot, stores the now 16-byte aligned
``rsp`` into ``saved_sp`` and jumps to ``target``.

The miss stub (``miss_stub``), which empty jump-cache and return-stack-buffer entries point
to, is reached with the guest pc being looked up in ``rcx``: it stores that pc, ``MISS`` and
the ``indirect`` exit kind, then falls into the exit stub.

The exit stub reloads ``rsp`` from ``saved_sp`` (so it works from any call depth inside
generated code), restores MXCSR, ``saved_sp`` and the callee-saved registers and returns the
context's ``exit_reason``. Generated code reads the caller's MXCSR at ``[saved_sp]`` (the
backend restores it before calling Python or C).

``enter`` is called through a ``ctypes.PYFUNCTYPE`` prototype: the GIL stays held, and if the
generated code returns with a Python exception pending (a helper raised), ctypes raises it
from ``enter`` (``PyCFuncPtr`` with ``FUNCFLAG_PYTHONAPI`` checks ``PyErr_Occurred`` after the
call; CPython ``Modules/_ctypes/callproc.c``).
"""

from __future__ import annotations

import ctypes

from dynarec import context as C
from dynarec.host import Dispatcher
from dynarec.ir.opcodes import EXIT_KINDS

CALLEE_SAVED = ("rbp", "rbx", "r12", "r13", "r14", "r15")

ENTER = [
    *(f"push {r}" for r in CALLEE_SAVED),
    "mov rbx, rdi",
    "mov r15, rsi",
    f"push qword ptr [rbx + {C.SAVED_SP}]",
    "sub rsp, 16",
    "stmxcsr dword ptr [rsp]",
    f"mov qword ptr [rbx + {C.SAVED_SP}], rsp",
    "jmp rdx",
]


def leave_at_rcx(reason: C.ExitReason, info: int) -> list:
    """The lines storing the exit fields of leaving with ``reason`` and ``info`` for the guest
    pc in rcx (the miss stub's, and the shared LINK and MISS tails' of ``stubs.py``)."""
    return [f"mov qword ptr [rbx + {C.NEXT_PC}], rcx",
            f"mov qword ptr [rbx + {C.EXIT_REASON}], {int(reason)}",
            f"mov qword ptr [rbx + {C.EXIT_INFO}], {info}"]


MISS = leave_at_rcx(C.ExitReason.MISS, EXIT_KINDS.index("indirect"))

EXIT = [
    f"mov rsp, qword ptr [rbx + {C.SAVED_SP}]",
    "ldmxcsr dword ptr [rsp]",
    "add rsp, 16",
    f"pop qword ptr [rbx + {C.SAVED_SP}]",
    f"mov rax, qword ptr [rbx + {C.EXIT_REASON}]",
    *(f"pop {r}" for r in reversed(CALLEE_SAVED)),
    "ret",
]

_ENTER_TYPE = ctypes.PYFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p,
                                ctypes.c_void_p)


class X86_64Dispatcher(Dispatcher):
    """The stubs assembled at RX addresses ``entry`` (enter), ``miss_stub`` and
    ``exit_stub``."""

    def __init__(self, entry: int, miss_stub: int, exit_stub: int):
        self.entry = entry
        self.miss_stub = miss_stub
        self.exit_stub = exit_stub
        self._enter = _ENTER_TYPE(entry)

    def enter(self, context: int, page_table: int, target: int) -> int:
        """Run generated code at ``target``; returns the ``ExitReason`` value it stored.
        ``context``/``page_table``/``target`` are host addresses (ints). Raises whatever
        Python exception the generated code left pending."""
        return self._enter(context, page_table, target)
