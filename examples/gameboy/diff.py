"""The Game Boy in lockstep: ``dynarec-diff sm83 ROM.gb [--frames N] [--max-insns N]``.

The cartridge runs on a ``GameBoy`` whose every stretch of generated code -- what ``run``
hands to ``run_code``, up to the next device event -- runs in lockstep with the reference
interpreter (``dynarec.lockstep``): one region at a time, the registers, stores, guest
exceptions and device reads compared after each. What the run loop does between those
stretches (interrupt dispatch, the HALT bug's fetch, skipping a halted CPU) is the
interpreter's own work on the machine, so the oracle takes the machine's registers and
memory again at the start of each stretch. At every VBlank -- at the end of the first
stretch that reaches it -- the memory the CPU writes (VRAM, WRAM, HRAM and IE, enabled
cartridge RAM) must be the same on both sides. Idle-loop skipping is off: every instruction
the CPU runs is compared.

The oracle (``GameBoyOracle``) is the interpreter as generated code runs: no interrupt is
dispatched inside a stretch (the run loop dispatches between them), so the interpreter's
check for one before each instruction -- a read of IE and IF -- sees nothing requested and
reads no device. It has a bank controller of its own, which a store to the cartridge
switches as the machine's is switched, and echo RAM is WRAM's bytes there as on the
machine. OAM is not compared at VBlank: OAM DMA (FF46) is a device's copy, which the
oracle's replayed devices do not make (it gets OAM from the machine at the next stretch).

The run ends after ``--frames`` frames (VBlanks; a frame's time with the LCD off), at
``--max-insns`` instructions, when the CPU is halted with no interrupt enabled (it never
wakes: how the project's test programs end), at an illegal opcode both sides lock up on, or
at the first divergence. The report and exit statuses are ``dynarec-diff``'s.
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass
from typing import Optional

from dynarec.cli.diff import PROG, report_lockstep
from dynarec.guests.sm83 import Sm83Guest
from dynarec.guests.sm83.arch import IE_ADDRESS, IF_ADDRESS, INTERRUPT_BITS, RunMode
from dynarec.lockstep import Divergence, Lockstep, Outcome, Report
from dynarec.memory import Mapping
from dynarec.oracle import DeviceReplay, InterpreterOracle
from dynarec.runtime import ExitReason, RunResult

from .bus import OAM, GameBoy
from .cartridge import ROM_BANK_SIZE, Cartridge, CartridgeWarning
from .mbc import RAM_BASE, RAM_WINDOW, Mbc, make_mbc

#: differing bytes a memory divergence lists
MEMORY_LINES = 8


class _NoDispatchCheck:
    """What ``Sm83Guest.step`` runs on instead of ``target`` (``regs``, ``memory``): the
    same registers and memory, except that IF reads 0 until the step's opcode fetch. The
    interpreter reads IE and IF through the bus before the fetch, when IME is set, to see
    whether to dispatch (``interpreter`` module docstring); reading nothing requested, it
    runs the instruction, as generated code does."""

    def __init__(self, target):
        self.regs = target.regs
        self.memory = self
        self._memory = target.memory
        self._before_fetch = True
        self._pc = target.regs["pc"]

    def read(self, address: int, size: int) -> int:
        if self._before_fetch:
            if address == IF_ADDRESS:
                return 0
            self._before_fetch = address != self._pc
        return self._memory.read(address, size)

    def write(self, address: int, size: int, value: int) -> None:
        self._memory.write(address, size, value)


class _RegionInterpreter(Sm83Guest):
    """The SM83 with the Game Boy's interrupt controller, stepping as generated code runs:
    never dispatching (``_NoDispatchCheck``)."""

    def step(self, target):
        return super().step(_NoDispatchCheck(target))


class GameBoyOracle(InterpreterOracle):
    """The reference interpreter as the oracle of a Game Boy's stretches (module
    docstring): ``GameBoyOracle(cartridge)``.

    The first ``load`` copies the machine's memory as ``InterpreterOracle.load`` does, with
    two differences: the cartridge's ranges (0000-7FFF, A000-BFFF) belong to a bank
    controller of the oracle's own (``mbc.make_mbc``), so a bank switch inside a region
    takes effect where it does on the machine; and a range sharing another's host bytes on
    the machine (echo RAM, WRAM's first 7.5 KiB) shares the oracle's copy of them. Later
    loads keep that address space and controller -- whose banks are the machine's as long
    as every region agreed -- and copy in the registers and the bytes of the machine's
    plain writable memory (what interrupt dispatch and OAM DMA changed meanwhile)."""

    def __init__(self, cartridge: Cartridge):
        super().__init__(_RegionInterpreter(interrupts=True))
        self.cartridge = cartridge
        self.mbc: Optional[Mbc] = None

    def load(self, memory, regs) -> None:
        """Take the machine's state before a stretch (class docstring)."""
        if self.mbc is None:
            super().load(memory, regs)
            self._own_cartridge()
            self._share_aliases(memory)
            return
        for m in memory.ram_mappings():
            mine = self.memory.find(m.base)
            if m.writable and m.write is None and _plain(mine):
                self.memory.write_bytes(m.base, bytes(m.buffer[m.offset:m.offset + m.size]))
        self.regs = {ref: regs.get(ref, 0) for ref in self.refs}
        self.devices.problems()                 # forget what an earlier run left queued

    def _own_cartridge(self) -> None:
        """Replace the copies of the cartridge's ranges with this oracle's controller, and
        the device replay with one that leaves the reads it answers to it."""
        for base in (0x0000, ROM_BANK_SIZE, RAM_BASE):
            self.memory.remove(self.memory.find(base))
        self.mbc = make_mbc(self.cartridge)
        self.mbc.attach(self.memory)
        replay = _CartridgeReplay(self.memory.byteorder)
        for m in self.memory.mappings:
            if m.read == self.devices.read:
                m.read, m.write = replay.read, replay.write
        self.devices = replay

    def _share_aliases(self, memory) -> None:
        """Map each range of ``memory`` whose host bytes lie inside an earlier range's onto
        the oracle's copy of that range."""
        first = {}                      # id(host buffer) -> the first mapping of it
        for m in memory.ram_mappings():
            owner = first.setdefault(id(m.buffer), m)
            offset = m.offset - owner.offset
            if owner is m or not 0 <= offset <= owner.size - m.size:
                continue
            copy = self.memory.find(owner.base)
            self.memory.remove(self.memory.find(m.base))
            self.memory.add(Mapping(m.name, m.base, m.size, copy.buffer,
                                    writable=m.writable, offset=copy.offset + offset))


class _CartridgeReplay(DeviceReplay):
    """A ``DeviceReplay`` that does not queue the machine's reads of the cartridge's
    ranges (disabled RAM, MBC3 clock registers): the oracle's own controller answers
    those."""

    def queue(self, reads) -> None:
        super().queue([read for read in reads if not _on_cartridge(read[0])])


def _on_cartridge(address: int) -> bool:
    return address < 2 * ROM_BANK_SIZE or RAM_BASE <= address < RAM_BASE + RAM_WINDOW


def _plain(m: Optional[Mapping]) -> bool:
    """``m`` is plain memory: host bytes, no handlers."""
    return m is not None and m.buffer is not None and m.read is None and m.write is None


@dataclass
class FrameReport(Report):
    """A ``lockstep.Report`` of a whole Game Boy run: also ``frames`` run and whether the
    ``--frames`` limit ended it (``frame_limit``)."""

    frames: int = 0
    frame_limit: bool = False

    def ending(self) -> str:
        if self.divergence is None and self.frame_limit:
            return f"stopped after {self.frames:,} frames"
        return super().ending()


class _Stop(Exception):
    """Ends a lockstep run from inside ``GameBoy.run``: a divergence, a handler error, the
    instruction limit."""


class LockstepGameBoy(GameBoy):
    """A ``GameBoy`` (``render=False``, no idle-loop skipping, IR kept for reports) whose
    generated code runs in lockstep with ``GameBoyOracle`` (module docstring).
    ``LockstepGameBoy(cartridge, **machine_options)``; ``run_lockstep(frames=None,
    max_insns=None) -> FrameReport``. Raises ``ValueError`` when ``machine_options``
    disable the pass that counts instructions."""

    def __init__(self, cartridge: Cartridge, **machine_options):
        super().__init__(cartridge, render=False, idle_skip=False, keep_ir=True,
                         **machine_options)
        self.lockstep = Lockstep(self.machine, GameBoyOracle(cartridge))
        self.report = FrameReport()
        self._max_insns: Optional[int] = None
        self._vblank: Optional[int] = None      # the VBlank whose memory is still to compare

    def run_code(self, cycles: int, exact: bool = True) -> RunResult:
        """One stretch in lockstep: ``Lockstep.run`` for ``cycles`` (which stops at the
        first region exit past them, whatever ``exact``); its counts go into
        ``report``; the first stretch to reach a VBlank compares memory. Raises ``_Stop``
        at a divergence, a handler error or the limit."""
        report = self.report
        left = None if self._max_insns is None else self._max_insns - report.insns
        part = self.lockstep.run(left, cycles)
        if part.divergence is not None:
            part.divergence.insns += report.insns
            report.divergence = part.divergence
        report.insns += part.insns
        report.regions += part.regions
        report.quirks.update(part.quirks)
        report.result = part.result
        report.limit_reached = part.limit_reached
        if report.divergence is None and self._vblank is not None and \
                self.machine.cycles >= self._vblank:
            self._vblank = None
            report.divergence = self._compare_memory()
        if report.divergence is not None or part.limit_reached or \
                part.result.reason == ExitReason.ERROR:
            raise _Stop
        return part.result

    def run_lockstep(self, frames: Optional[int] = None,
                     max_insns: Optional[int] = None) -> FrameReport:
        """Run frame after frame (``run_frame``) in lockstep until the run ends (module
        docstring); returns ``report``."""
        report = self.report
        self._max_insns = max_insns
        machine = self.machine
        t0 = time.perf_counter()
        try:
            while frames is None or report.frames < frames:
                self.catch_up()
                self._vblank = self.ppu.next_vblank()
                result = self.run_frame()
                if result.reason == ExitReason.EXCEPTION:     # locked up (or a fault)
                    report.result = result
                    break
                report.frames += 1
                if machine.regs["run_mode"] == RunMode.HALTED and \
                        not machine.memory.read(IE_ADDRESS, 1) & INTERRUPT_BITS:
                    report.result = RunResult(ExitReason.HALT, machine.pc, 0)
                    break
            else:
                report.frame_limit = True
        except _Stop:
            pass
        report.seconds = time.perf_counter() - t0
        return report

    def _compare_memory(self) -> Optional[Divergence]:
        """At a VBlank: the memory the CPU writes, machine against oracle (module
        docstring); a ``Divergence`` listing the first differing bytes, or ``None``."""
        machine, oracle = self.machine, self.lockstep.oracle
        seen, differing = set(), []
        for m in machine.memory.ram_mappings():
            if not m.writable or m.base == OAM[0] or id(m.buffer) in seen:
                continue
            seen.add(id(m.buffer))
            ours = machine.memory.read_bytes(m.base, m.size)
            theirs = oracle.read_memory(m.base, m.size)
            if ours != theirs:
                differing += [(m.base + i, ours[i:i + 1], theirs[i:i + 1])
                              for i in range(m.size) if ours[i] != theirs[i]]
        if not differing:
            return None
        regs = machine.regs.as_dict()
        return Divergence(
            f"memory differs at VBlank {self.report.frames + 1:,} ({len(differing):,} bytes): "
            f"a store that no region's comparison saw", machine.pc, self.report.insns,
            ("JIT", "reference interpreter"),
            (Outcome(0, regs, []), Outcome(0, oracle.read_regs(), [])), regs, [],
            differing[:MEMORY_LINES])


class GameBoySystem:
    """The ``dynarec.systems`` entry of Game Boy cartridges for ``dynarec-diff``
    (``dynarec.cli.diff``): ``dynarec-diff sm83 ROM.gb``."""

    guest = "sm83"
    suffixes = (".gb",)

    def diff(self, args) -> int:
        """Run ``args.file`` in lockstep (``args.frames``, ``args.max_insns``,
        ``args.disable_pass``, ``args.host``, ``args.stats``); what the program sent over
        the serial port goes to stdout. ``CartridgeError`` (a ``ValueError``) or
        ``OSError`` for a cartridge that cannot be run; a bad header checksum is a
        warning."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CartridgeWarning)
            cartridge = Cartridge.load(args.file)
        for warning in caught:
            print(f"{PROG}: warning: {warning.message}", file=sys.stderr)
        gb = LockstepGameBoy(cartridge, disabled_passes=args.disable_pass, host=args.host)
        return report_lockstep(lambda: gb.run_lockstep(args.frames, args.max_insns),
                               gb.serial.output, gb.machine, args.stats)


#: the entry point object (pyproject: ``[project.entry-points."dynarec.systems"]``)
SYSTEM = GameBoySystem()
