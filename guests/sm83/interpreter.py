"""The reference interpreter: the SM83 written from Pan Docs and gbctr (Gekkio, *Game Boy:
Complete Technical Reference*: each instruction's M-cycles), M-cycle by M-cycle.

It is an oracle of its own (the JIT is tested against it) and the fallback for single steps.
It takes the instruction set from the decoder table (``decoder.TABLE``: which operation, which
operands) and writes each operation's semantics here, one function per operation word.

``step(state, bus, trace=None, interrupts=True) -> StepResult`` runs ONE step of the CPU:

* an interrupt dispatch, when ``IME`` is set and ``IE & IF`` (read through the bus at FFFF and
  FF0F) names a source: 5 M-cycles (Pan Docs, "Interrupt Handling": two wait states, the
  pushes of PC's high then low byte, the jump), IME cleared, the highest-priority source's IF
  bit cleared, PC = its vector. The source is chosen after the high byte is pushed: a push
  that overwrites IE (SP = 0000) can redirect the dispatch, or cancel it to PC = 0000
  leaving IF alone (mooneye-test-suite acceptance/interrupts/ie_push.s, verified on DMG);
* one idle M-cycle of a HALTED, STOPPED or LOCKED CPU. A halted CPU leaves HALT mode at the
  end of a step that finds ``IE & IF`` non-zero: the wake-up costs that one M-cycle before
  the dispatch or the next instruction (AntonioND, *The Cycle-Accurate Game Boy Docs*,
  "Interrupt Handling": 4 more clocks when the CPU is halted);
* or one instruction, opcode fetch included.

``state`` is any mutable mapping of the ``arch.STATE`` references (``new_state()``, a dict, or
``Machine.regs``). ``bus`` is a ``Bus``: ``read(address) -> int`` and ``write(address,
value)`` over the 64 KiB address space, called once per memory M-cycle in the hardware's
order. ``trace``, when given, is a list that receives one ``(address, data, kind)`` tuple per
M-cycle in the SingleStepTests format: ``"r-m"`` read, ``"-wm"`` write, ``"---"`` internal; an
internal cycle repeats the address and data of the cycle before it (a step that begins with
one records ``pc`` and ``None``). ``interrupts=False`` models a system without an interrupt
controller: the CPU never sees a pending interrupt (for the suite's flat 64 KiB memory).

Hardware behaviour beyond the instruction descriptions (sources in each function): EI sets
IME after the following instruction (DI in between cancels it), DI and RETI act at once; HALT
with IME = 0 and an interrupt pending does not halt, and the next opcode fetch does not
advance PC (the HALT bug: the byte after HALT is read twice); STOP is two bytes and stops
the CPU until the embedder wakes it; the illegal opcodes lock the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import MutableMapping, Optional, Protocol

from .arch import (F_MASK, FLAG_C, FLAG_H, FLAG_N, FLAG_Z, IE_ADDRESS, IF_ADDRESS,
                   INTERRUPT_BITS, INTERRUPTS, PAIRS, REG8, STATE, RunMode)
from .decoder import CB_PREFIX, TABLE, Row


class Bus(Protocol):
    """The CPU's view of memory: 16-bit addresses, byte values (0..255)."""

    def read(self, address: int) -> int: ...

    def write(self, address: int, value: int) -> None: ...


class FlatBus:
    """64 KiB of plain RAM, no I/O: the SingleStepTests system. ``FlatBus(ram=())`` takes
    ``(address, value)`` pairs; ``memory`` is the ``bytearray``. Raises ``ValueError`` for an
    address or value out of range (naming it)."""

    def __init__(self, ram=()):
        self.memory = bytearray(0x10000)
        for address, value in ram:
            self.write(address, value)

    def read(self, address: int) -> int:
        if not 0 <= address <= 0xFFFF:
            raise ValueError(f"read of {address!r}: the flat bus has 16-bit addresses")
        return self.memory[address]

    def write(self, address: int, value: int) -> None:
        if not 0 <= address <= 0xFFFF or not 0 <= value <= 0xFF:
            raise ValueError(f"write of {value!r} to {address!r}: the flat bus takes bytes "
                             f"at 16-bit addresses")
        self.memory[address] = value


@dataclass(frozen=True)
class StepResult:
    """What one ``step`` did. ``cycles``: M-cycles it took. ``pc``: where it started.
    ``row``: the instruction executed (``None`` for a dispatch or an idle cycle).
    ``interrupt``: the vector an interrupt dispatch jumped to (0x0000 when the IE push
    cancelled it), else ``None``. ``locked``: the address of the illegal opcode when the CPU
    is locked (by this step or an earlier one), else ``None``."""

    cycles: int
    pc: int
    row: Optional[Row] = None
    interrupt: Optional[int] = None
    locked: Optional[int] = None


def new_state(**values) -> dict:
    """A state mapping with every ``arch.STATE`` reference 0 (RUNNING, IME off), then
    ``values`` (e.g. ``pc=0x100, a=1``). Raises ``KeyError`` for a name that is no slot."""
    state = {ref: 0 for ref in STATE.refs()}
    for name, value in values.items():
        if name not in state:
            raise KeyError(f"no SM83 state slot {name!r} (slots: {', '.join(state)})")
        state[name] = value
    return state


class _Cpu:
    """One step's machine: the state, the bus and the M-cycle count (and trace)."""

    __slots__ = ("s", "bus", "trace", "cycles", "last", "interrupts")

    def __init__(self, state: MutableMapping, bus: Bus, trace, interrupts: bool):
        self.s = state
        self.bus = bus
        self.trace = trace
        self.interrupts = interrupts
        self.cycles = 0
        self.last = (state["pc"], None)

    # bus M-cycles
    def read(self, address: int) -> int:
        value = self.bus.read(address)
        self._cycle(address, value, "r-m")
        return value

    def write(self, address: int, value: int) -> None:
        self.bus.write(address, value)
        self._cycle(address, value, "-wm")

    def idle(self) -> None:
        self._cycle(*self.last, "---")

    def _cycle(self, address, value, kind) -> None:
        self.cycles += 1
        self.last = (address, value)
        if self.trace is not None:
            self.trace.append((address, value, kind))

    # operands
    def fetch8(self) -> int:
        pc = self.s["pc"]
        self.s["pc"] = pc + 1 & 0xFFFF
        return self.read(pc)

    def fetch16(self) -> int:
        low = self.fetch8()
        return self.fetch8() << 8 | low

    def fetch_e8(self) -> int:
        value = self.fetch8()
        return value - 0x100 if value & 0x80 else value

    def pair(self, name: str) -> int:
        if name == "SP":
            return self.s["sp"]
        high, low = PAIRS[name]
        return self.s[high] << 8 | self.s[low]

    def set_pair(self, name: str, value: int) -> None:
        if name == "SP":
            self.s["sp"] = value & 0xFFFF
            return
        high, low = PAIRS[name]
        self.s[high] = value >> 8 & 0xFF
        self.s[low] = value & (F_MASK if low == "f" else 0xFF)

    def address(self, token: str) -> int:
        """The address a memory operand names; (HL+)/(HL-) step HL, (a8)/(a16) fetch."""
        if token in ("(HL+)", "(HL-)"):
            hl = self.pair("HL")
            self.set_pair("HL", hl + (1 if token == "(HL+)" else -1))
            return hl
        if token == "(C)":
            return 0xFF00 | self.s["c"]
        if token == "(a8)":
            return 0xFF00 | self.fetch8()
        if token == "(a16)":
            return self.fetch16()
        return self.pair(token[1:-1])                     # (BC) (DE) (HL)

    def get8(self, token: str) -> int:
        if token in REG8:
            return self.s[REG8[token]]
        if token == "n8":
            return self.fetch8()
        return self.read(self.address(token))

    def put8(self, token: str, value: int) -> None:
        if token in REG8:
            self.s[REG8[token]] = value & 0xFF
        else:
            self.write(self.address(token), value & 0xFF)

    def push16(self, value: int) -> None:
        sp = self.s["sp"]
        self.write(sp - 1 & 0xFFFF, value >> 8)
        self.write(sp - 2 & 0xFFFF, value & 0xFF)
        self.s["sp"] = sp - 2 & 0xFFFF

    def pop16(self) -> int:
        sp = self.s["sp"]
        low = self.read(sp)
        high = self.read(sp + 1 & 0xFFFF)
        self.s["sp"] = sp + 2 & 0xFFFF
        return high << 8 | low

    # flags
    def carry(self) -> int:
        return self.s["f"] >> 4 & 1

    def set_flags(self, z, n, h, c) -> None:
        self.s["f"] = (FLAG_Z if z else 0) | (FLAG_N if n else 0) | (FLAG_H if h else 0) \
            | (FLAG_C if c else 0)

    def condition(self, cond: Optional[str]) -> bool:
        f = self.s["f"]
        if cond is None:
            return True
        flag = FLAG_Z if cond in ("Z", "NZ") else FLAG_C
        return bool(f & flag) != cond.startswith("N")

    def pending(self) -> int:
        """``IE & IF`` of the interrupt sources (0 without an interrupt controller)."""
        if not self.interrupts:
            return 0
        return self.bus.read(IE_ADDRESS) & self.bus.read(IF_ADDRESS) & INTERRUPT_BITS


# --- load, load16, stack (Pan Docs "CPU Instruction Set"; gbz80(7)) -------------------------

def LD(cpu, row):
    dst, src = row.operands
    if row.cls == "load":
        cpu.put8(dst, cpu.get8(src))
    elif src == "n16":
        cpu.set_pair(dst, cpu.fetch16())
    elif dst == "(a16)":                                  # LD (a16),SP: low byte first
        address, sp = cpu.fetch16(), cpu.s["sp"]
        cpu.write(address, sp & 0xFF)
        cpu.write(address + 1 & 0xFFFF, sp >> 8)
    elif src == "HL":                                     # LD SP,HL
        cpu.s["sp"] = cpu.pair("HL")
        cpu.idle()
    else:                                                 # LD HL,SP+e8
        cpu.set_pair("HL", _sp_plus_e8(cpu))
        cpu.idle()


LDH = LD


def PUSH(cpu, row):
    cpu.idle()
    cpu.push16(cpu.pair(row.operands[0]))


def POP(cpu, row):
    cpu.set_pair(row.operands[0], cpu.pop16())


# --- alu: 8-bit arithmetic on A (half carry: carry out of bit 3, borrow from bit 4) ---------

def _add(cpu, row, carry_in):
    a, x = cpu.s["a"], cpu.get8(row.operands[-1])
    total = a + x + carry_in
    cpu.s["a"] = total & 0xFF
    cpu.set_flags(total & 0xFF == 0, 0, (a & 0xF) + (x & 0xF) + carry_in > 0xF, total > 0xFF)


def _subtract(cpu, row, borrow_in, store=True):
    a, x = cpu.s["a"], cpu.get8(row.operands[-1])
    total = a - x - borrow_in
    if store:
        cpu.s["a"] = total & 0xFF
    cpu.set_flags(total & 0xFF == 0, 1, (a & 0xF) - (x & 0xF) - borrow_in < 0, total < 0)


def ADD(cpu, row):
    if row.cls == "alu":
        _add(cpu, row, 0)
    elif row.operands[0] == "HL":                         # ADD HL,rr: Z kept, bits 11/15
        hl, x = cpu.pair("HL"), cpu.pair(row.operands[1])
        total = hl + x
        cpu.set_pair("HL", total)
        cpu.set_flags(cpu.s["f"] & FLAG_Z, 0, (hl & 0xFFF) + (x & 0xFFF) > 0xFFF,
                      total > 0xFFFF)
        cpu.idle()
    else:                                                 # ADD SP,e8
        cpu.s["sp"] = _sp_plus_e8(cpu)
        cpu.idle()
        cpu.idle()


def _sp_plus_e8(cpu) -> int:
    """SP + e8 for ADD SP,e8 and LD HL,SP+e8: Z = N = 0, H and C from the UNSIGNED addition
    of the offset byte to SP's low byte (carries out of bits 3 and 7; Pan Docs "CPU
    Instruction Set", gbz80(7) ``ADD SP,e8``)."""
    sp, e = cpu.s["sp"], cpu.fetch_e8()
    low = e & 0xFF
    cpu.set_flags(0, 0, (sp & 0xF) + (low & 0xF) > 0xF, (sp & 0xFF) + low > 0xFF)
    return sp + e & 0xFFFF


def ADC(cpu, row): _add(cpu, row, cpu.carry())
def SUB(cpu, row): _subtract(cpu, row, 0)
def SBC(cpu, row): _subtract(cpu, row, cpu.carry())
def CP(cpu, row): _subtract(cpu, row, 0, store=False)


def AND(cpu, row):
    cpu.s["a"] &= cpu.get8(row.operands[-1])
    cpu.set_flags(cpu.s["a"] == 0, 0, 1, 0)


def XOR(cpu, row):
    cpu.s["a"] ^= cpu.get8(row.operands[-1])
    cpu.set_flags(cpu.s["a"] == 0, 0, 0, 0)


def OR(cpu, row):
    cpu.s["a"] |= cpu.get8(row.operands[-1])
    cpu.set_flags(cpu.s["a"] == 0, 0, 0, 0)


# --- incdec and arith16 ---------------------------------------------------------------------

def INC(cpu, row):
    target = row.operands[0]
    if row.cls == "arith16":
        cpu.set_pair(target, cpu.pair(target) + 1)
        cpu.idle()
        return
    value = cpu.get8(target) + 1 & 0xFF
    cpu.put8(target, value)
    cpu.set_flags(value == 0, 0, value & 0xF == 0, cpu.carry())


def DEC(cpu, row):
    target = row.operands[0]
    if row.cls == "arith16":
        cpu.set_pair(target, cpu.pair(target) - 1)
        cpu.idle()
        return
    value = cpu.get8(target) - 1 & 0xFF
    cpu.put8(target, value)
    cpu.set_flags(value == 0, 1, value & 0xF == 0xF, cpu.carry())


# --- rotate_a and cb_shift: the rotates of A clear Z, their CB forms compute it -----------

def _shift(op: str, value: int, carry: int) -> tuple:
    """``(result, carry out)`` of a rotate/shift ``op`` of the byte ``value``."""
    if op == "RLC":
        return (value << 1 | value >> 7) & 0xFF, value >> 7
    if op == "RRC":
        return (value >> 1 | value << 7) & 0xFF, value & 1
    if op == "RL":
        return (value << 1 | carry) & 0xFF, value >> 7
    if op == "RR":
        return value >> 1 | carry << 7, value & 1
    if op == "SLA":
        return value << 1 & 0xFF, value >> 7
    if op == "SRA":
        return value >> 1 | value & 0x80, value & 1
    if op == "SRL":
        return value >> 1, value & 1
    return (value << 4 | value >> 4) & 0xFF, 0            # SWAP


def _rotate_a(cpu, row):
    """RLCA RRCA RLA RRA: Z N H reset, C the bit shifted out (Pan Docs; gbz80(7))."""
    result, carry = _shift(row.op[:-1], cpu.s["a"], cpu.carry())
    cpu.s["a"] = result
    cpu.set_flags(0, 0, 0, carry)


RLCA = RRCA = RLA = RRA = _rotate_a


def _cb_shift(cpu, row):
    target = row.operands[0]
    result, carry = _shift(row.op, cpu.get8(target), cpu.carry())
    cpu.put8(target, result)
    cpu.set_flags(result == 0, 0, 0, carry)


RLC = RRC = RL = RR = SLA = SRA = SWAP = SRL = _cb_shift


def BIT(cpu, row):
    value = cpu.get8(row.operands[1])
    cpu.set_flags(not value >> row.bit & 1, 0, 1, cpu.carry())


def RES(cpu, row):
    target = row.operands[1]
    cpu.put8(target, cpu.get8(target) & ~(1 << row.bit))


def SET(cpu, row):
    target = row.operands[1]
    cpu.put8(target, cpu.get8(target) | 1 << row.bit)


# --- accflag ---------------------------------------------------------------------------------

def DAA(cpu, row):
    """Decimal adjust A after a BCD addition (N = 0) or subtraction (N = 1), from N, H and C:
    add/subtract 0x06 for the low digit (H set, or after an addition a digit above 9) and
    0x60 for the high one (C set, or after an addition A above 0x99); C is set when the high
    digit was adjusted, H cleared (Pan Docs "CPU Instruction Set" / rgbds gbz80(7), DAA)."""
    a, f = cpu.s["a"], cpu.s["f"]
    subtract, carry = f & FLAG_N, bool(f & FLAG_C)
    adjust = 0
    if f & FLAG_H or not subtract and a & 0xF > 9:
        adjust |= 0x06
    if carry or not subtract and a > 0x99:
        adjust |= 0x60
        carry = True
    a = (a - adjust if subtract else a + adjust) & 0xFF
    cpu.s["a"] = a
    cpu.set_flags(a == 0, subtract, 0, carry)


def CPL(cpu, row):
    cpu.s["a"] ^= 0xFF
    cpu.s["f"] |= FLAG_N | FLAG_H


def SCF(cpu, row):
    cpu.s["f"] = cpu.s["f"] & FLAG_Z | FLAG_C


def CCF(cpu, row):
    cpu.s["f"] = cpu.s["f"] & FLAG_Z | (cpu.s["f"] ^ FLAG_C) & FLAG_C


# --- jump, call, ret, rst: a taken branch spends one internal M-cycle setting PC -------------

def JP(cpu, row):
    if row.operands == ("HL",):                           # JP HL: no extra cycle
        cpu.s["pc"] = cpu.pair("HL")
        return
    target = cpu.fetch16()
    if cpu.condition(row.cond):
        cpu.idle()
        cpu.s["pc"] = target


def JR(cpu, row):
    offset = cpu.fetch_e8()
    if cpu.condition(row.cond):
        cpu.idle()
        cpu.s["pc"] = cpu.s["pc"] + offset & 0xFFFF


def CALL(cpu, row):
    target = cpu.fetch16()
    if cpu.condition(row.cond):
        cpu.idle()
        cpu.push16(cpu.s["pc"])
        cpu.s["pc"] = target


def RET(cpu, row):
    if row.cond is not None:
        cpu.idle()                                        # the condition check
        if not cpu.condition(row.cond):
            return
    cpu.s["pc"] = cpu.pop16()
    cpu.idle()


def RETI(cpu, row):
    """RET that sets IME at once (Pan Docs "Interrupts": RETI = EI followed by RET, so an
    interrupt can be dispatched right after it)."""
    RET(cpu, row)
    cpu.s["ime"] = 1


def RST(cpu, row):
    cpu.idle()
    cpu.push16(cpu.s["pc"])
    cpu.s["pc"] = row.vector


# --- control ---------------------------------------------------------------------------------

def NOP(cpu, row): pass


def DI(cpu, row):
    """IME = 0 at once, and a pending EI is cancelled (Pan Docs "Interrupts")."""
    cpu.s["ime"] = 0
    cpu.s["ei_pending"] = 0


def EI(cpu, row):
    """IME = 1 after the NEXT instruction (``step`` does it; Pan Docs "Interrupts")."""
    cpu.s["ei_pending"] = 1


def HALT(cpu, row):
    """Halt until ``IE & IF`` is non-zero (Pan Docs "halt"). With an interrupt already
    pending HALT does not halt: with IME = 1 the interrupt is dispatched next; with IME = 0
    the HALT bug strikes: the next opcode fetch does not advance PC, so the byte after HALT
    is read twice."""
    if not cpu.pending():
        cpu.s["run_mode"] = RunMode.HALTED
    elif not cpu.s["ime"]:
        cpu.s["halt_bug"] = 1


def STOP(cpu, row):
    """Enter STOP mode; the second byte is skipped without a bus cycle (Pan Docs
    "CPU Instruction Set": a two-byte instruction; the gbdev optables: 4 T-cycles). The CPU
    stays STOPPED until the embedder sets RUNNING (a joypad line going low; Pan Docs "Using
    the STOP Instruction"). Resetting DIV and the DMG's button-held corner cases (the STOP
    flowchart of Pan Docs) are the embedder's part."""
    cpu.s["pc"] = cpu.s["pc"] + 1 & 0xFFFF
    cpu.s["run_mode"] = RunMode.STOPPED


def ILLEGAL(cpu, row):
    """Lock the CPU for good (Pan Docs "CPU Instruction Set": the invalid opcodes hard-lock
    it until power-off). PC is left at the opcode, so the state names where it locked."""
    cpu.s["run_mode"] = RunMode.LOCKED


SEMANTICS: dict = {name: fn for name, fn in list(globals().items())
                   if name.isupper() and callable(fn)}


def _semantics(row: Row):
    return ILLEGAL if row.cls == "illegal" else SEMANTICS[row.op]


_HANDLERS = {opcode: (row, _semantics(row)) for opcode, row in TABLE.items()}


# --- the step --------------------------------------------------------------------------------

def _dispatch(cpu: _Cpu, pc: int) -> StepResult:
    """Interrupt dispatch (see the module doc). The handler starts with IME = 0, an EI issued
    just before (while IME was still set) included (Pan Docs "Interrupts": the CPU sets IME
    = 0 when it executes an interrupt). A HALT bug still pending (EI, HALT with an
    interrupt waiting) makes the return address the HALT itself: the dispatch undoes the PC
    increment of a fetch that the bug had skipped (Pan Docs "halt bug", after SameSuite
    interrupt/ei_delay_halt.asm)."""
    s = cpu.s
    s["ime"] = s["ei_pending"] = 0
    ret = pc - s["halt_bug"] & 0xFFFF
    s["halt_bug"] = 0
    cpu.idle()
    cpu.idle()
    sp = s["sp"]
    cpu.write(sp - 1 & 0xFFFF, ret >> 8)
    pending = cpu.pending()                               # after the high-byte push
    cpu.write(sp - 2 & 0xFFFF, ret & 0xFF)
    s["sp"] = sp - 2 & 0xFFFF
    vector = 0x0000
    for bit, _name, address in INTERRUPTS:
        if pending >> bit & 1:
            cpu.bus.write(IF_ADDRESS, cpu.bus.read(IF_ADDRESS) & ~(1 << bit) & 0xFF)
            vector = address
            break
    cpu.idle()
    s["pc"] = vector
    return StepResult(cpu.cycles, pc, interrupt=vector)


def step(state: MutableMapping, bus: Bus, trace: Optional[list] = None,
         interrupts: bool = True) -> StepResult:
    """Run one step of the CPU (see the module doc) on ``state`` and ``bus``. Raises
    ``KeyError`` naming a missing state reference and whatever the bus raises."""
    cpu = _Cpu(state, bus, trace, interrupts)
    pc = state["pc"]
    mode = state["run_mode"]
    if mode != RunMode.RUNNING:
        cpu.idle()
        if mode == RunMode.HALTED and cpu.pending():
            state["run_mode"] = RunMode.RUNNING
        return StepResult(1, pc, locked=pc if mode == RunMode.LOCKED else None)
    if state["ime"] and cpu.pending():
        return _dispatch(cpu, pc)

    enable_ime = state["ei_pending"]                      # EI ran one instruction ago
    opcode = cpu.read(pc)
    if state["halt_bug"]:
        state["halt_bug"] = 0
    else:
        state["pc"] = pc + 1 & 0xFFFF
    if opcode == CB_PREFIX:
        opcode = 0xCB00 | cpu.fetch8()
    row, semantics = _HANDLERS[opcode]
    semantics(cpu, row)
    if row.cls == "illegal":
        state["pc"] = pc
        return StepResult(cpu.cycles, pc, row, locked=pc)
    if enable_ime and state["ei_pending"]:
        state["ime"] = 1
        state["ei_pending"] = 0
    return StepResult(cpu.cycles, pc, row)
