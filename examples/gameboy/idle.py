"""Idle-loop skipping: a loop that only polls LY, STAT, IF or SC jumps ahead instead of
spinning.

Games wait for the PPU or an interrupt with loops such as ``wait: LDH A,(44); CP 90;
JR NZ,wait`` or ``LDH A,(41); AND 3; JR NZ,wait``; a program sending over the serial port
waits for the transfer with ``LDH A,(02); RLCA; JR C,wait``. Such a loop does nothing but read one I/O
register: every iteration that reads the same value does the same thing. ``match_loop``
recognises it from its bytes with the decoder table (``dynarec.guests.sm83.decoder``), in this
shape only:

1. the head loads A from LY (FF44), STAT (FF41), IF (FF0F) or SC (FF02): ``LDH A,(a8)`` or
   ``LD A,(a16)``;
2. then up to ``MAX_OPS`` of ``AND``/``OR``/``XOR``/``CP``/``SUB`` with an immediate, with A
   or with B, C, D, E, H, L (which the loop never writes), ``BIT b,A``, ``RLCA`` and ``RRCA``;
3. then a conditional ``JR``/``JP`` back to the head, on a flag step 2 writes.

So the body stores nothing, writes only A and F, reads A and the tested flag only after
writing them, and its only exit is the branch falling through. Its state after an iteration
is a function of the value read (``IdleLoop.iterate``).

``IdleSkipper.skip(stop)`` runs between entries into generated code with the CPU at a loop
head. It predicts the value every future iteration reads (LY and STAT from the PPU's frame
timeline, IF and SC constant until the next device event) and skips the whole iterations that
branch back and end by ``stop`` (the next device event or the end of the run): the cycle
count moves by a multiple of the iteration's cost, A and F become what the last skipped
iteration leaves, and the first iteration that would exit, or would end past ``stop``, runs
as usual. The result is exactly what running every iteration gives, because an I/O read sees
the device at the start of the reading instruction (``bus`` module docstring) and the load is
the first instruction of the iteration. A breakpoint at each loop head found
(``Machine.add_breakpoint``), set the first time the run loop finds the CPU inside the
loop, makes generated code return to the run loop on reaching it.

Instruction semantics and costs: the decoder table (gbdev optables); flag results of AND, OR,
XOR, CP, SUB, BIT, RLCA and RRCA: Pan Docs, "CPU Instruction Set" / gbz80(7).
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass
from typing import Optional

from dynarec.guests.sm83.arch import FLAG_C, FLAG_H, FLAG_N, FLAG_Z, IF_ADDRESS, RunMode
from dynarec.guests.sm83.decoder import Insn, decode

from . import devices, ppu

#: The registers a skippable loop may poll.
POLLED = (ppu.LY, ppu.STAT, IF_ADDRESS, devices.SC)
#: The polled registers that change only at a device event (``bus.GameBoy.next_event``).
CHANGE_AT_EVENTS = (IF_ADDRESS, devices.SC)
#: Most ALU/BIT instructions between the load and the branch.
MAX_OPS = 6
ALU_IDLE_OPS = ("AND", "OR", "XOR", "CP", "SUB")
#: ALU operands besides immediates: A itself, and registers the loop never writes
ALU_IDLE_OPERANDS = ("A", "B", "C", "D", "E", "H", "L")
LONGEST_INSN = 3
#: the most bytes a loop spans: its head is at most this far before any of its instructions
LOOP_REACH = LONGEST_INSN * (MAX_OPS + 2)
IO_START, IO_END = 0xFF00, 0xFF80
STAT_COUNTER = ("idle_loops_skipped", "idle loops skipped")
#: the flag each branch condition tests, and whether it branches when the flag is set
CONDITIONS = {"NZ": (FLAG_Z, False), "Z": (FLAG_Z, True), "NC": (FLAG_C, False),
              "C": (FLAG_C, True)}


@dataclass(frozen=True)
class IdleLoop:
    """A polling loop at ``head``: ``load`` (decoded ``Insn``) reads A from I/O
    ``register`` (one of ``POLLED``), then ``ops`` (the ALU/BIT instructions) and ``branch``
    (the conditional jump back to ``head``) run."""

    head: int
    register: int
    load: Insn
    ops: tuple
    branch: Insn

    @property
    def cost(self) -> int:
        """M-cycles of one iteration that branches back (the branch taken)."""
        return (self.load.row.cycles + sum(op.row.cycles for op in self.ops)
                + self.branch.row.cycles)

    @property
    def insns(self) -> int:
        """Instructions per iteration."""
        return len(self.ops) + 2

    @property
    def pcs(self) -> tuple:
        """The addresses of the loop's instructions, head first."""
        return tuple(insn.pc for insn in (self.load, *self.ops, self.branch))

    def iterate(self, value: int, f: int, regs) -> tuple:
        """One iteration reading ``value`` from the register, with F ``f`` before it and
        the invariant registers read from ``regs`` (``regs["b"]``...): returns ``(a, f,
        loops)``, A and F after it and whether the branch is taken."""
        a = value
        for op in self.ops:
            row = op.row
            if row.op == "BIT":
                f = f & FLAG_C | FLAG_H | (0 if a >> row.bit & 1 else FLAG_Z)
                continue
            if row.op in ("RLCA", "RRCA"):                      # Z, N, H cleared
                carry = a >> 7 if row.op == "RLCA" else a & 1
                a = (a << 1 | carry) & 0xFF if row.op == "RLCA" else a >> 1 | carry << 7
                f = FLAG_C if carry else 0
                continue
            source = row.operands[-1]
            operand = op.imm if row.imm else a if source == "A" else regs[source.lower()]
            if row.op in ("CP", "SUB"):
                result = (a - operand) & 0xFF
                f = (FLAG_N | (FLAG_H if (a & 0xF) < (operand & 0xF) else 0)
                     | (FLAG_C if a < operand else 0))
                if row.op == "SUB":
                    a = result
            else:
                a = {"AND": a & operand, "OR": a | operand, "XOR": a ^ operand}[row.op]
                result = a
                f = FLAG_H if row.op == "AND" else 0
            f |= FLAG_Z if result == 0 else 0
        flag, when_set = CONDITIONS[self.branch.row.cond]
        return a, f, bool(f & flag) == when_set


def match_loop(code: bytes, head: int) -> Optional[IdleLoop]:
    """The ``IdleLoop`` whose bytes ``code`` (at least the loop's; bytes-like) sit at
    ``head``, or ``None`` when they are not one (module docstring; truncated input is not
    one either)."""
    try:
        load = decode(code, head)
    except ValueError:
        return None
    row = load.row
    if row.mnemonic == "LDH A,(a8)":
        register = 0xFF00 | load.imm
    elif row.mnemonic == "LD A,(a16)":
        register = load.imm
    else:
        return None
    if register not in POLLED:
        return None
    ops, written, offset = [], 0, load.length
    for _ in range(MAX_OPS + 1):
        try:
            insn = decode(code[offset:], (head + offset) & 0xFFFF)
        except ValueError:
            return None
        row = insn.row
        if row.cond is not None and row.op in ("JR", "JP"):
            flag, _ = CONDITIONS[row.cond]
            if insn.target != head or not written & flag:
                return None
            return IdleLoop(head, register, load, tuple(ops), insn)
        if not _idle_op(row):
            return None
        ops.append(insn)
        written |= row.flags_written
        offset += row.length
    return None


@functools.lru_cache(maxsize=4096)
def _loop_around(start: int, code: bytes, pc: int) -> Optional[IdleLoop]:
    """The ``IdleLoop`` in ``code`` (the bytes from ``start``) one of whose instructions is
    at ``pc``, or ``None``."""
    for head in range(pc, start - 1, -1):
        loop = match_loop(code[head - start:], head)
        if loop is not None and pc in loop.pcs:
            return loop
    return None


def _idle_op(row) -> bool:
    """True for the instructions a polling loop may run between its load and its branch."""
    if row.op == "BIT":
        return row.operands[1] == "A"
    if row.op in ("RLCA", "RRCA"):
        return True
    return (row.op in ALU_IDLE_OPS and row.cls == "alu"
            and (row.imm == "n8" or row.operands[-1] in ALU_IDLE_OPERANDS))


class IdleSkipper:
    """Skips a ``GameBoy``'s idle loops (module docstring). ``IdleSkipper(gameboy)``
    declares the machine's ``idle_loops_skipped`` counter; ``skip(stop)`` -> iterations
    skipped (0: the CPU is not at a skippable loop head, or no whole iteration fits)."""

    def __init__(self, gameboy):
        self.gameboy = gameboy
        self.heads: set = set()         # loop heads holding a breakpoint of ours
        gameboy.machine.stats.declare(*STAT_COUNTER)

    def loop_at(self, pc: int) -> Optional[IdleLoop]:
        """The ``IdleLoop`` at ``pc`` in memory as it is now, or ``None`` (also for code in
        the I/O registers, which are never read here: reading them has effects)."""
        window = self._window(pc, pc)
        return None if window is None else match_loop(window[1], pc)

    def loop_around(self, pc: int) -> Optional[IdleLoop]:
        """The ``IdleLoop`` one of whose instructions is at ``pc``, or ``None``: from one
        read of the bytes around ``pc`` (the run loop asks at every visit)."""
        window = self._window(pc - LOOP_REACH + 1, pc)
        return None if window is None else _loop_around(*window, pc)

    def _window(self, low: int, pc: int) -> Optional[tuple]:
        """``(start, bytes)``: memory from ``low`` (or the start of ``pc``'s side of the I/O
        registers) to ``LOOP_REACH`` bytes past ``pc`` (or the I/O registers); ``None``
        for a ``pc`` outside memory or in the I/O registers."""
        if not 0 <= pc <= 0xFFFF or IO_START <= pc < IO_END:
            return None
        start, end = (0, IO_START) if pc < IO_START else (IO_END, 0x10000)
        low, high = max(low, start), min(pc + LOOP_REACH, end)
        return low, self.gameboy.machine.memory.read_bytes(low, high - low)

    def skip(self, stop: int) -> bool:
        """With the CPU running (not halted, no EI pending) at a loop head, skip the whole
        iterations that branch back and end by M-cycle ``stop``. The head of a loop the CPU
        is in gets a breakpoint, so generated code stops there next time round; a head of
        ours no longer holding a loop loses it. Returns whether the CPU moved on: by whole
        iterations, or else by the head's load alone (``Machine.step``: a run starting at a
        breakpoint with less budget left than its instruction costs would not move)."""
        machine = self.gameboy.machine
        regs = machine.regs
        pc = machine.pc
        if regs["run_mode"] != RunMode.RUNNING or regs["ei_pending"]:
            return False
        loop = self.loop_around(pc)
        if loop is None:
            if pc in self.heads:
                self.heads.discard(pc)
                machine.remove_breakpoint(pc)
            return False
        if loop.head not in machine.breakpoints:
            self.heads.add(loop.head)
            machine.add_breakpoint(loop.head)
        if pc != loop.head:
            return False
        count, a, f = self._iterations(loop, stop)
        if count:
            regs["a"], regs["f"] = a, f
            machine.cycles += count * loop.cost
            machine.insns += count * loop.insns
            machine.stats["idle_loops_skipped"] += 1
        else:
            machine.step()
        return True

    def _iterations(self, loop: IdleLoop, stop: int) -> tuple:
        """``(count, a, f)``: how many whole iterations from now branch back and end by
        ``stop``, and A and F after the last of them."""
        machine = self.gameboy.machine
        regs = machine.regs
        now, cost = machine.cycles, loop.cost
        most = max((stop - now) // cost, 0)
        times, values = self._timeline(loop.register, now, now + most * cost)
        count, a, f = 0, regs["a"], regs["f"]
        while count < most:
            value = values[bisect.bisect_right(times, now + count * cost) - 1]
            after_a, after_f, loops = loop.iterate(value, f, regs)
            if not loops:
                break
            count, a, f = count + 1, after_a, after_f
        return count, a, f

    def _timeline(self, register: int, now: int, until: int) -> tuple:
        """The values ``register`` reads from M-cycle ``now`` to ``until``: ``(times,
        values)``, each value holding from its time to the next one's. IF and SC change only
        at a device event, which ``skip`` never passes; LY and STAT as the PPU predicts them
        (``Ppu.peek``, ``Ppu.next_change``: constant with the LCD off)."""
        gameboy = self.gameboy
        if register in CHANGE_AT_EVENTS:
            gameboy.catch_up(now)
            return [now], [gameboy.io_handlers[register][0](now)]
        unit = gameboy.ppu
        unit.catch_up(now)
        times, values = [now], [unit.peek(register, now)]
        change = unit.next_change(now)
        while change is not None and change <= until:
            times.append(change)
            values.append(unit.peek(register, change))
            change = unit.next_change(change)
        return times, values
