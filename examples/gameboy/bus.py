"""The DMG memory map on a ``Machine("sm83")``, the post-boot state and the run loop.

Sources: Pan Docs (gbdev.io/pandocs), "Memory Map", "I/O Ranges", "OAM DMA Transfer",
"Power Up Sequence" (the DMG column of its register tables).

=============  ==============================================================================
0000-3FFF      ROM bank 0 (MBC1 mode 1: another bank); stores go to the MBC (``mbc``)
4000-7FFF      switchable ROM bank; stores go to the MBC
8000-9FFF      VRAM (plain memory; the PPU renders from the same host bytes)
A000-BFFF      cartridge RAM (``mbc``: plain memory while enabled, FF/ignored otherwise)
C000-DFFF      WRAM (plain memory)
E000-FDFF      echo RAM: a second mapping of WRAM's first 7.5 KiB (the same host bytes)
FE00-FE9F      OAM (plain memory)
FEA0-FEFF      unusable: reads 00 (Pan Docs: on the DMG, reads give 00 unless the PPU blocks
               OAM, when they give FF; the PPU's OAM blocking is not modelled), writes are
               ignored
FF00-FF7F      I/O registers: handlers (one 128-byte guest page)
FF80-FFFE      HRAM, and FFFF IE: plain memory (IE is a full read/write byte on the DMG)
=============  ==============================================================================

I/O registers without a device yet (sound) are latches holding the last byte written,
starting from the post-boot values; addresses with no register read FF and ignore writes.
Device registers catch their device up to ``machine.cycles`` before every access: the
cycle count at the start of the accessing instruction (``Machine.cycles``).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

from dynarec.guests.sm83 import TRAP_LOCKED, Sm83Guest
from dynarec.guests.sm83.arch import IE_ADDRESS, IF_ADDRESS, RunMode
from dynarec.machine import Machine
from dynarec.memory import Mapping
from dynarec.runtime import ExitReason, RunResult

from . import devices, idle, ppu, timer
from .cartridge import Cartridge
from .mbc import make_mbc

VRAM = (0x8000, 0x2000)
WRAM = (0xC000, 0x2000)
ECHO = (0xE000, 0x1E00)
OAM = (0xFE00, 0xA0)
UNUSABLE = (0xFEA0, 0x60)
IO = (0xFF00, 0x80)
HRAM_IE = (0xFF80, 0x80)
DMA = 0xFF46
DMA_LENGTH = 0xA0
#: the I/O registers a store to which can move the next interrupt (``next_event``): a region
#: storing to one of them ends after that instruction (``AddressSpace.ends_region``), so
#: ``run`` plans again before the new event (the store calls ``Machine.end_entry``)
MOVES_NEXT_EVENT = (timer.DIV, timer.TIMA, timer.TMA, timer.TAC, devices.SC, IF_ADDRESS,
                    ppu.LCDC, ppu.STAT, ppu.LYC)
#: stores after which the interpreter returns to ``run`` (IE too: it may unmask a request)
ENDS_INTERPRETING = frozenset(MOVES_NEXT_EVENT) | {IE_ADDRESS}

#: DMG CPU registers after the boot ROM (Pan Docs, "Power Up Sequence"); F is Z set, and
#: H and C set unless the header checksum byte is 00 (``post_boot_f``).
POST_BOOT_REGISTERS = {"a": 0x01, "b": 0x00, "c": 0x13, "d": 0x00, "e": 0xD8, "h": 0x01,
                       "l": 0x4D, "sp": 0xFFFE, "pc": 0x0100}

#: DMG I/O register values after the boot ROM (Pan Docs, "Power Up Sequence", hardware
#: registers). P1, SB, SC, DIV, TIMA, TMA, TAC, IF and the LCD registers are the devices'
#: (``GameBoy._power_up``, ``ppu.Ppu``).
POST_BOOT_IO = {
    0xFF10: 0x80, 0xFF11: 0xBF, 0xFF12: 0xF3, 0xFF13: 0xFF, 0xFF14: 0xBF,
    0xFF16: 0x3F, 0xFF17: 0x00, 0xFF18: 0xFF, 0xFF19: 0xBF,
    0xFF1A: 0x7F, 0xFF1B: 0xFF, 0xFF1C: 0x9F, 0xFF1D: 0xFF, 0xFF1E: 0xBF,
    0xFF20: 0xFF, 0xFF21: 0x00, 0xFF22: 0x00, 0xFF23: 0xBF,
    0xFF24: 0x77, 0xFF25: 0xF3, 0xFF26: 0xF1,
    0xFF46: 0xFF,
    **{address: 0x00 for address in range(0xFF30, 0xFF40)},     # wave RAM
}
#: the system counter after the boot ROM: DIV = AB (Pan Docs); its low byte is not given
POST_BOOT_COUNTER = 0xAB00
POST_BOOT_IF = 0x01                     # IF reads E1
POST_BOOT_P1_SELECT = 0x00              # P1 reads CF


def post_boot_f(cartridge: Cartridge) -> int:
    """F after the boot ROM: Z, plus H and C unless the header checksum byte is 00."""
    return 0x80 if cartridge.stored_checksum == 0 else 0xB0


class GameBoy:
    """A DMG with ``cartridge`` in it, at its post-boot state.

    ``GameBoy(cartridge, max_insns=64, render=True, idle_skip=True, interpreter=False,
    **machine_options)``: ``machine`` (a ``Machine`` of ``Sm83Guest(interrupts=True,
    max_insns)``; ``machine_options`` go to ``Machine``), ``mbc``, ``timer``, ``serial``,
    ``joypad``, ``ppu`` (``render=False``: headless, no framebuffer), ``interrupt_flags``
    (IF), ``idle`` (the ``idle.IdleSkipper``; ``None`` with ``idle_skip=False`` or
    ``interpreter``). ``interpreter=True`` runs the CPU on the reference interpreter
    instead of generated code (``run_code``), with the same devices. ``io_handlers``
    maps each I/O address to its ``(read(now), write(value, now))``; a later device (PPU,
    APU) replaces the entries of its registers with ``attach_io``.

    ``next_event()``: the M-cycle of the next interrupt a device will request, as things
    stand. ``catch_up()``: bring every device to ``machine.cycles``. ``run(cycles)``: the
    emulator loop; ``run_frame()``: run to the next VBlank.
    """

    def __init__(self, cartridge: Cartridge, max_insns: int = 64, render: bool = True,
                 idle_skip: bool = True, interpreter: bool = False, **machine_options):
        self.cartridge = cartridge
        self.interpreter = interpreter
        self.machine = machine = Machine(Sm83Guest(interrupts=True, max_insns=max_insns),
                                         **machine_options)
        memory = machine.memory
        self.interrupt_flags = devices.InterruptFlags(POST_BOOT_IF)
        request = self.interrupt_flags.request
        self.timer = timer.Timer(request, machine.cycles, POST_BOOT_COUNTER)
        self.serial = devices.Serial(request)
        self.joypad = devices.Joypad(request, POST_BOOT_P1_SELECT)
        self.mbc = make_mbc(cartridge)
        self.mbc.attach(memory)
        vram = memory.map_ram(*VRAM, name="vram")
        wram = memory.map_ram(*WRAM, name="wram")
        memory.add(Mapping("echo", *ECHO, wram.buffer))
        oam = memory.map_ram(*OAM, name="oam")
        self.ppu = ppu.Ppu(request, vram.buffer, oam.buffer, machine.cycles, render=render)
        memory.map_mmio(*UNUSABLE, read=lambda address, size: 0,
                        write=lambda address, size, value: None, name="unusable")
        memory.map_mmio(*IO, read=self._io_read, write=self._io_write, name="io",
                        ends_region=MOVES_NEXT_EVENT)
        memory.map_ram(*HRAM_IE, name="hram")
        self.io_handlers: dict = {}
        self._latches = dict(POST_BOOT_IO)
        self._wire_io()
        self._power_up()
        self.idle = idle.IdleSkipper(self) if idle_skip and not interpreter else None

    # --- I/O ------------------------------------------------------------------------------

    def attach_io(self, address: int, read: Callable[[int], int],
                  write: Callable[[int, int], None]) -> None:
        """Make ``read(now) -> byte`` and ``write(value, now)`` register ``address``."""
        if not IO[0] <= address < IO[0] + IO[1]:
            raise ValueError(f"{address:#06x} is not an I/O register address")
        self.io_handlers[address] = (read, write)

    def _wire_io(self) -> None:
        for address in self._latches:
            self.attach_io(address, lambda now, a=address: self._latches[a],
                           lambda value, now, a=address: self._latches.__setitem__(a, value))
        for address in (timer.DIV, timer.TIMA, timer.TMA, timer.TAC):
            self.attach_io(address, lambda now, a=address: self.timer.read(a, now),
                           lambda value, now, a=address: self.timer.write(a, value, now))
        for address in (devices.SB, devices.SC):
            self.attach_io(address, lambda now, a=address: self.serial.read(a, now),
                           lambda value, now, a=address: self.serial.write(a, value, now))
        for address in ppu.REGISTERS:
            self.attach_io(address, lambda now, a=address: self.ppu.read(a, now),
                           lambda value, now, a=address: self.ppu.write(a, value, now))
        self.attach_io(devices.P1, lambda now: self.joypad.read(),
                       lambda value, now: self.joypad.write(value))
        self.attach_io(IF_ADDRESS, self._read_if, lambda value, now: self._write_if(value, now))
        self.attach_io(DMA, lambda now: self._latches[DMA], self._oam_dma)

    def _io_read(self, address: int, size: int) -> int:
        now = self.machine.cycles
        value = 0
        for i in range(size):
            handlers = self.io_handlers.get(address + i)
            value |= (0xFF if handlers is None else handlers[0](now)) << 8 * i
        return value

    def _io_write(self, address: int, size: int, value: int) -> None:
        now = self.machine.cycles
        before = self.next_event()
        for i in range(size):
            handlers = self.io_handlers.get(address + i)
            if handlers is not None:
                handlers[1](value >> 8 * i & 0xFF, now)
        after = self.next_event()
        if after is not None and (before is None or after < before):
            # the prediction the running code's budget came from moved earlier: end the
            # entry, so run() plans again before the new event (Machine.end_entry)
            self.machine.end_entry()

    def _read_if(self, now: int) -> int:
        self.catch_up(now)
        return self.interrupt_flags.read()

    def _write_if(self, value: int, now: int) -> None:
        self.catch_up(now)              # requests due before the write are overwritten
        self.interrupt_flags.write(value)

    def _oam_dma(self, value: int, now: int) -> None:
        """OAM DMA: copy 160 bytes from ``value << 8`` to OAM at once (Pan Docs, "OAM DMA
        Transfer"; the 160 M-cycles it takes on hardware, during which the CPU should only
        touch HRAM, are not modelled). Sources E000-FFFF read WRAM (C000-DFFF) as on the
        DMG, whose DMA reads that range from the external bus where WRAM answers."""
        self._latches[DMA] = value
        source = (value - 0x20 if value >= 0xE0 else value) << 8
        memory = self.machine.memory
        memory.write_bytes(OAM[0], memory.read_bytes(source, DMA_LENGTH))

    # --- state and time -------------------------------------------------------------------

    def _power_up(self) -> None:
        """The DMG's state after its boot ROM (Pan Docs, "Power Up Sequence")."""
        regs = self.machine.regs
        for ref, value in POST_BOOT_REGISTERS.items():
            regs[ref] = value
        regs["f"] = post_boot_f(self.cartridge)
        self.machine.memory.write(IE_ADDRESS, 1, 0x00)

    def catch_up(self, now: Optional[int] = None) -> None:
        """Bring the lazy devices up to ``now`` (default ``machine.cycles``)."""
        now = self.machine.cycles if now is None else now
        self.timer.catch_up(now)
        self.serial.catch_up(now)
        self.ppu.catch_up(now)

    def next_event(self) -> Optional[int]:
        """The M-cycle at which a device will next request an interrupt (``None``: none
        will without the CPU doing something)."""
        times = [t for t in (self.timer.next_event(), self.serial.next_event(),
                             self.ppu.next_event()) if t is not None]
        return min(times, default=None)

    def pending_interrupts(self) -> int:
        """``IE & IF``, bits 4..0, with the devices caught up."""
        self.catch_up()
        return self.machine.memory.read(IE_ADDRESS, 1) & self.interrupt_flags.flags

    def run_frame(self) -> RunResult:
        """Run until the PPU has entered its next VBlank (``ppu.next_vblank``; with the LCD
        off, for a frame's time); returns what ``run`` does."""
        self.catch_up()
        result = self.run(self.ppu.next_vblank() - self.machine.cycles)
        self.catch_up()
        return result

    def run(self, cycles: int) -> RunResult:
        """Run for ``cycles`` M-cycles; returns reason BUDGET when they have run (the last
        instruction may overrun by its own cost), or the machine's EXCEPTION result (the
        CPU locked on an illegal opcode: cause ``TRAP_LOCKED``; a memory fault).

        Generated code runs up to the next device event (``next_event``), so it stops when
        an interrupt is due; between runs this loop dispatches interrupts and runs the HALT
        bug's fetch with the reference interpreter (``Sm83Guest.step``), skips a halted CPU
        ahead to the next event (or the end) and wakes it when ``IE & IF`` is non-zero, and
        skips the CPU through an idle loop that polls LY, STAT or IF (``idle``). A
        stopped CPU sleeps to the end (joypad wake-up is not wired yet). A store to an I/O
        register that moves the predicted event earlier (starting the timer or a serial
        transfer, writing IF) ends its region after the storing instruction
        (``MOVES_NEXT_EVENT``) and makes the next budget check leave
        (``Machine.end_entry``), so this loop plans again before that event."""
        machine = self.machine
        regs = machine.regs
        start = machine.cycles
        end = start + cycles
        while machine.cycles < end:
            pending = self.pending_interrupts()
            mode = regs["run_mode"]
            if mode == RunMode.LOCKED:
                return RunResult(ExitReason.EXCEPTION, machine.pc, machine.cycles - start,
                                 TRAP_LOCKED)
            if mode in (RunMode.HALTED, RunMode.STOPPED) and not (
                    mode == RunMode.HALTED and pending):
                wake = self.next_event() if mode == RunMode.HALTED else None
                machine.cycles = end if wake is None else min(max(wake, machine.cycles), end)
                continue
            if mode == RunMode.HALTED or regs["halt_bug"] or (regs["ime"] and pending):
                step = machine.guest.step(machine)
                machine.cycles += step.cycles
                if step.exception is not None:
                    return RunResult(ExitReason.EXCEPTION, step.exception.pc,
                                     machine.cycles - start, step.exception.cause,
                                     fault=step.exception.fault)
                continue
            event = self.next_event()
            stop = end if event is None else min(event, end)
            if self.idle is not None and self.idle.skip(stop):
                continue
            # stopping exactly at the event matters only if its interrupt can be taken
            # then; with IME clear the devices' lazy catch-up shows the CPU the same thing,
            # and an inexact run ends where a region starts (no region compiled mid-loop)
            result = self.run_code(max(stop - machine.cycles, 1), exact=bool(regs["ime"]))
            if result.reason == ExitReason.EXCEPTION:
                return dataclasses.replace(result, cycles=machine.cycles - start)
        return RunResult(ExitReason.BUDGET, machine.pc, machine.cycles - start)

    def run_code(self, cycles: int, exact: bool = True) -> RunResult:
        """Run generated code for ``cycles`` M-cycles, or until it stops by itself
        (``Machine.run``; ``exact=False``: it may stop a region or loop iteration later):
        the one place ``run`` enters it, which a lockstep run replaces
        (``diff.LockstepGameBoy``). With ``interpreter``, ``interpret`` instead."""
        if self.interpreter:
            return self.interpret(cycles)
        return self.machine.run(cycles=cycles, exact=exact)

    def interpret(self, cycles: int) -> RunResult:
        """Run the reference interpreter (``Sm83Guest.step``, which also dispatches
        interrupts) for ``cycles`` M-cycles, or until the loop of ``run`` must act: the CPU
        halted, stopped or locked, or a store to a register that can move the next event
        (``MOVES_NEXT_EVENT``, IE) -- where generated code would end its region. Returns
        BUDGET, or EXCEPTION for a lock-up or a fault, as ``Machine.run``; counts
        ``machine.cycles`` and ``machine.insns`` as generated code does."""
        machine, regs, guest = self.machine, self.machine.regs, self.machine.guest
        start = machine.cycles
        end = start + cycles
        while machine.cycles < end:
            step = guest.step(machine)
            machine.cycles += step.cycles
            machine.insns += step.retired
            if step.exception is not None:
                return RunResult(ExitReason.EXCEPTION, step.exception.pc,
                                 machine.cycles - start, step.exception.cause,
                                 fault=step.exception.fault)
            if regs["run_mode"] != RunMode.RUNNING or any(
                    address in ENDS_INTERPRETING for address, _, _ in step.stores):
                break
        return RunResult(ExitReason.BUDGET, machine.pc, machine.cycles - start)
