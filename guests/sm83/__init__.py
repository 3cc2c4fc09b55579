"""SM83 guest: the Sharp SM83 CPU core of the Game Boy (DMG).

::

    from dynarec import Machine
    from dynarec.guests.sm83 import Sm83Guest
    m = Machine(Sm83Guest())                  # or Machine("sm83") through the entry point
    m.memory.map_ram(0, 0x10000)              # 16-bit addresses, 128-byte pages
    m.memory.write_bytes(0x100, code)
    m.pc = 0x100
    result = m.run(cycles=10_000)             # M-cycles; HALT/STOP stop with reason HALT

Modules: ``arch`` (state layout, flags, run modes, interrupt sources, time unit), ``decoder``
(THE decoder table: one row per opcode), ``interpreter`` (the reference interpreter, with
per-M-cycle bus activity), ``deviations`` (where the SingleStepTests suite records something
else than the hardware), ``disasm`` (listings from the table's mnemonics), ``translator``
(the region loop and ``Emitter``) with one translator module per group of instruction classes
(``translate_alu``, ``translate_bits``, ``translate_memory``, ``translate_branch``,
``translate_system``), ``system`` (the flat 64 KiB test system).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from dynarec.errors import GuestFault
from dynarec.guest import Guest
from dynarec.runtime import FAULT

from . import interpreter
from .arch import STATE
from .translator import TRAP_LOCKED, translate_region


@dataclass(frozen=True)
class Sm83Exception:
    """Why ``Sm83Guest.step`` stopped: ``cause`` (``TRAP_LOCKED``: the CPU is locked at
    ``pc``, an illegal opcode; ``dynarec.runtime.FAULT``: nothing is mapped where the step
    read or wrote, ``fault`` says where), ``pc`` of the instruction, ``delay`` (always 0: the
    SM83 has no delay slots)."""

    cause: int
    pc: int
    delay: int = 0
    fault: Optional[GuestFault] = None


@dataclass
class Sm83Step:
    """What one ``Sm83Guest.step`` did: ``retired`` (1 for an instruction, 0 for an interrupt
    dispatch, an idle M-cycle of a halted or stopped CPU, a locked CPU or a fault),
    ``cycles`` (M-cycles), ``exception`` (``Sm83Exception`` or ``None``), ``stores``
    (``(address, 1, value)`` in order) and ``result`` (the interpreter's ``StepResult``;
    ``None`` after a fault)."""

    retired: int
    cycles: int
    exception: Optional[Sm83Exception] = None
    stores: list = field(default_factory=list)
    result: Optional[interpreter.StepResult] = None


class _MemoryBus:
    """The interpreter's ``Bus`` over an ``AddressSpace``, logging stores."""

    def __init__(self, memory):
        self.memory = memory
        self.stores: list = []

    def read(self, address: int) -> int:
        return self.memory.read(address, 1)

    def write(self, address: int, value: int) -> None:
        self.memory.write(address, 1, value)
        self.stores.append((address, 1, value))


class Sm83Guest(Guest):
    """The SM83 guest. ``Sm83Guest(interrupts=True, max_insns=64)``.

    ``interrupts``: the system has the interrupt controller of the Game Boy (IE at FFFF, IF
    at FF0F): HALT reads them, and every exit after which IME is newly set -- the instruction
    after EI, RETI -- is ``kind=halt``, so ``Machine.run`` returns (reason HALT, ``run_mode``
    RUNNING) and the embedder can dispatch a pending interrupt with ``step``. ``False`` is a
    bare CPU (the suite's flat 64 KiB system): HALT always halts, EI and RETI do not stop the
    run. ``max_insns`` caps the instructions of one region (``translator`` has the region
    shape).

    ``Machine.run`` returns reason HALT after HALT and STOP (``run_mode`` says HALTED or
    STOPPED; ``halt_bug`` = 1 if HALT met a pending interrupt with IME = 0: ``step`` runs
    that fetch) and at once, without running anything, when entered with the CPU not RUNNING
    or with ``halt_bug`` set; EXCEPTION with cause ``TRAP_LOCKED`` at an illegal opcode (the
    CPU stays locked). Interrupt dispatch and HALT's idling are the interpreter's (``step``).
    """

    name = "sm83"
    state = STATE
    pc_slot = "pc"
    addr_bits = 16
    #: 128-byte pages: the I/O registers FF00-FF7F fill one page, so HRAM (FF80-FFFE, with IE
    #: at FFFF beside it) and WRAM pages can be plain memory to generated code
    page_bits = 7
    big_endian = False

    def __init__(self, interrupts: bool = True, max_insns: int = 64):
        super().__init__()
        if max_insns < 1:
            raise ValueError(f"max_insns must be at least 1, not {max_insns}")
        self.interrupts = interrupts
        self.max_insns = max_insns

    def region_attrs(self) -> dict:
        """The guest's region attributes, with ``flags=f`` for the dead-flag pass."""
        return {**super().region_attrs(), "flags": "f"}

    def translate(self, machine, pc: int, module):
        """The region at ``pc`` (see ``translator``); ``GuestFault`` if its first
        instruction is not all mapped."""
        return translate_region(machine, pc, module, self.interrupts, self.max_insns,
                                self.region_attrs())

    def setup(self, machine) -> None:
        """The CPU's reset: every register 0, so PC = 0000 where the boot ROM starts (Pan
        Docs, "Power Up Sequence"); no memory is mapped (the embedder maps its system)."""
        for ref in STATE.refs():
            machine.regs[ref] = 0

    def fixed_code(self, machine, pc: int) -> bool:
        """Always True: the SM83 has no address translation, so what backs a pc changes only
        through the address space (``add``/``remove``/``rebase``, which is how an embedder
        switches banks), and the machine unlinks on every such change."""
        return True

    def step(self, target) -> Sm83Step:
        """One step of the reference interpreter on ``target`` (a ``Machine``, or anything
        with ``regs`` and ``memory``, e.g. ``dynarec.oracle.InterpreterOracle``): an
        instruction, an interrupt dispatch or an idle M-cycle (``interpreter.step``), with
        this guest's ``interrupts``. A memory fault restores the registers to the step's
        start (stores already made stay). The cycles are not added to a machine's count."""
        regs = target.regs
        bus = _MemoryBus(target.memory)
        before = {ref: regs[ref] for ref in STATE.refs()}
        try:
            result = interpreter.step(regs, bus, interrupts=self.interrupts)
        except GuestFault as fault:
            for ref, value in before.items():
                regs[ref] = value
            return Sm83Step(0, 0, Sm83Exception(FAULT, before["pc"], fault=fault), bus.stores)
        if result.locked is not None:
            return Sm83Step(0, result.cycles, Sm83Exception(TRAP_LOCKED, result.locked),
                            bus.stores, result)
        return Sm83Step(int(result.row is not None), result.cycles, None, bus.stores, result)

    def oracle(self):
        """A fresh ``dynarec.oracle.InterpreterOracle`` over ``step``."""
        from dynarec.oracle import InterpreterOracle
        return InterpreterOracle(self)

    @staticmethod
    def disassemble(code: bytes, address: int) -> list:
        """Listing of ``code`` at ``address`` (see ``disasm.disassemble``)."""
        from .disasm import disassemble
        return disassemble(code, address)


__all__ = ["Sm83Guest", "Sm83Step", "Sm83Exception", "TRAP_LOCKED"]
