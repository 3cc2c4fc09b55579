"""Translators of the ``control`` and ``illegal`` classes of the decoder table: NOP, DI, EI,
HALT, STOP and the unused opcodes.

Sources as in module ``interpreter`` (Pan Docs "Interrupts", "halt", "Using the STOP
Instruction", "CPU Instruction Set"). DI clears IME and a pending EI at once. EI sets
``ei_pending``; IME is set after the next instruction (``Emitter.enable_ime``). HALT with an
interrupt controller reads IE and IF (in that order, as the interpreter does): nothing pending
halts the CPU; something pending with IME = 0 leaves it running with the HALT bug armed (the
next fetch is the embedder's to run, ``Sm83Guest.step``); with IME = 1 it runs on and the run
loop dispatches. Without one it always halts. STOP is two bytes and stops the CPU. Both end
the region with ``exit kind=halt``. An illegal opcode locks the CPU: ``run_mode`` LOCKED and
a ``trap`` with ``TRAP_LOCKED`` at its address.
"""

from __future__ import annotations

from dynarec.ir.types import I8, I16

from .arch import IE_ADDRESS, IF_ADDRESS, INTERRUPT_BITS, RunMode

#: ``trap`` cause of an illegal opcode: the CPU is locked (``RunResult.cause``)
TRAP_LOCKED = 1


def NOP(e, i): pass


def DI(e, i):
    e.put("ime", e.const(0))
    e.put("ei_pending", e.const(0))
    e.enable_ime = False


def EI(e, i): e.put("ei_pending", e.const(1))


def HALT(e, i):
    b = e.b
    if e.interrupts:
        enabled = e.load(e.const(IE_ADDRESS, I16))
        requested = e.load(e.const(IF_ADDRESS, I16))
        idle = e.is_zero(e.and_(e.and_(enabled, requested), e.const(INTERRUPT_BITS)))
        e.put("run_mode", b.select(idle, e.const(RunMode.HALTED), e.const(RunMode.RUNNING)))
        bug = e.and_(e.xor(idle, e.const(1, idle.type)), e.is_zero(e.get("ime")))
        e.put("halt_bug", b.zext(I8, bug))
    else:
        e.put("run_mode", e.const(RunMode.HALTED))
    e.exit(i.next_pc, "halt")


def STOP(e, i):
    e.put("run_mode", e.const(RunMode.STOPPED))
    e.exit(i.next_pc, "halt")


def ILLEGAL(e, i):
    e.b.put(e.const(RunMode.LOCKED), slot="run_mode")
    e.trap(TRAP_LOCKED)


TRANSLATE = {name: fn for name, fn in globals().items() if name.isupper() and callable(fn)}
