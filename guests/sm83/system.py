"""The flat system the SingleStepTests cases run on: 64 KiB of RAM and a bare CPU.

``flat_machine(max_insns=64, interrupts=False, **options) -> Machine``: an SM83 machine with
RAM over the whole 16-bit address space. By default the CPU has no interrupt controller
(``Sm83Guest(interrupts=False)``: HALT always halts and EI/RETI do not stop the run), as the
suite's README asks; ``interrupts=True`` gives it the Game Boy's, whose IE (FFFF) and IF
(FF0F) are then plain bytes of the RAM. ``load_state(machine, registers, ram)`` sets a
machine up from a case's initial state. ``options`` go to ``Machine`` (e.g. ``keep_ir``).
"""

from __future__ import annotations

import ctypes

from dynarec.machine import Machine

from . import Sm83Guest
from .arch import STATE

RAM_SIZE = 0x10000


def flat_machine(max_insns: int = 64, interrupts: bool = False, **machine_options) -> Machine:
    """A ``Machine`` of the flat system (module docstring)."""
    machine = Machine(Sm83Guest(interrupts=interrupts, max_insns=max_insns), **machine_options)
    machine.memory.map_ram(0, RAM_SIZE, name="ram")
    return machine


def load_state(machine: Machine, registers: dict, ram=()) -> None:
    """Zero the registers and the memory, then set ``registers`` (state references to
    values; ``KeyError`` for one that is no SM83 slot) and the ``(address, value)`` pairs
    of ``ram``; drop the compiled code, which the new memory may contradict."""
    unknown = set(registers) - set(STATE.refs())
    if unknown:
        raise KeyError(f"no SM83 state slot(s) {', '.join(sorted(unknown))}")
    for ref in STATE.refs():
        machine.regs[ref] = registers.get(ref, 0)
    ram_mapping = machine.memory.find(0)
    ctypes.memset(ram_mapping.buffer, 0, RAM_SIZE)
    for address, value in ram:
        machine.memory.write(address, 1, value)
    machine.flush()
