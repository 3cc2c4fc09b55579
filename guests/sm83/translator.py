"""Translating SM83 code into IR regions: the translator loop and the ``Emitter`` the
per-class translators (``translate_*.py``) write through.

Region shape. A region is a superblock: instructions from its pc on, through conditional
branches along their not-taken path, up to an unconditional jump, call, return or RST, an
instruction the run loop must see (HALT, STOP, an illegal opcode; with ``interrupts``, one
after which IME is set), a backward branch to another pc than the region's (that loop's exit
belongs to its head's region, as on MIPS), a stop point (``machine.is_stop_point``), a byte
outside the mapping its first byte came from, a store to a device register that ends regions
(``AddressSpace.ends_region``, asked for LD/LDH to a constant address and LDH (C),A's
FF00-FFFF), or ``max_insns`` instructions. Its IR:

* The entry block checks, before any instruction, the slots no instruction but EI, HALT,
  STOP and an illegal opcode sets: ``ei_pending | halt_bug | run_mode``. All zero (always, on
  the usual path) goes to the ``main`` block. Otherwise: a CPU that is not RUNNING runs
  nothing -- LOCKED traps again with ``TRAP_LOCKED``, HALTED and STOPPED leave at once with
  ``exit kind=halt`` (the run loop idles or wakes it); ``halt_bug`` leaves the same way
  (``Sm83Guest.step`` runs that one fetch, whose bytes the region cannot know); and an EI
  that ran just before the region (``ei_pending``) takes a block that runs the first
  instruction with IME set after it, then leaves. So every region is right whatever state
  it is entered in, and the mode word stays 0.
* Every instruction starts with ``insn_start pc=<its pc> cost=<M-cycles>``; a conditional
  branch costs its not-taken cycles there and its taken edge begins with ``charge
  cycles=<taken - not taken>`` (the cycle-accounting pass adds those to the branch's cost on
  that path, ``dynarec.passes.cycles``).
* Flags are computed exactly, as a ``put`` of F whose value ORs the four flags into bits 7..4
  (unchanged flags are ANDed out of the old F): the ``flags`` pass (region attribute
  ``flags=f``) removes the ones no one reads.
* Memory goes through 8-bit ``load``/``store`` at i16 addresses; a 16-bit access is two of
  them in the order the CPU makes them (``push``/``pop``; LD (a16),SP low byte first). An
  instruction's register writes are held back until its last memory access (``Emitter.put``),
  so a fault or a device handler inside it sees the state at its start.
* Exits: ``kind=jump`` for JP/JR and the fall-through, ``call`` with ``ret_pc`` for CALL and
  RST, ``return`` for RET, ``indirect`` for JP HL, ``halt`` where the run loop must act
  (HALT, STOP; with ``interrupts``, after the instruction that follows EI and after RETI, so
  that a pending interrupt is dispatched at once). A jump or taken branch to the region's own
  pc is a back edge to ``main`` (a tight loop stays in one region; its budget check is
  there) -- except in a single-instruction region, which runs its instruction once.
* An illegal opcode sets ``run_mode`` to LOCKED and ends its path with ``trap
  cause=TRAP_LOCKED pc=<its pc>``: the run stops with EXCEPTION at that address.

Translators are functions ``(Emitter, Insn) -> Optional[Branch]``, one per operation word of
the decoder table (``Row.op``), found through the row's class (``CLASS_MODULES``).
"""

from __future__ import annotations

from typing import Optional, Union

from dynarec.errors import GuestFault
from dynarec.ir.builder import Builder
from dynarec.ir.nodes import Block, Module, Region, Value
from dynarec.ir.types import I8, I16, Type

from . import translate_alu, translate_bits, translate_branch, translate_memory, \
    translate_system
from .arch import FLAGS, PAIRS, REG8, RunMode
from .decoder import CB_PREFIX, TABLE, Insn, Row, decode
from .translate_branch import Branch
from .translate_system import TRAP_LOCKED

#: the illegal rows' translator (their op words differ: ``ILLEGAL_D3`` ...)
_ILLEGAL = "ILLEGAL"

CLASS_MODULES = {
    "load": translate_memory, "load16": translate_memory, "stack": translate_memory,
    "alu": translate_alu, "incdec": translate_alu, "arith16": translate_alu,
    "rotate_a": translate_bits, "accflag": translate_alu,
    "cb_shift": translate_bits, "cb_bit": translate_bits, "cb_setres": translate_bits,
    "jump": translate_branch, "call": translate_branch, "ret": translate_branch,
    "rst": translate_branch, "control": translate_system, "illegal": translate_system,
}


def _op_word(row: Row) -> str:
    return _ILLEGAL if row.cls == "illegal" else row.op


#: opcode -> translator, for every row of the decoder table (a KeyError here means a row has
#: no translator in its class's module)
TRANSLATORS = {opcode: CLASS_MODULES[row.cls].TRANSLATE[_op_word(row)]
               for opcode, row in TABLE.items()}


class Emitter:
    """Writes the IR of one region. ``b`` is the ``Builder``; ``insn`` the instruction being
    translated. ``interrupts``: the system has an interrupt controller (exits after which
    IME is newly set go back to the run loop). ``enable_ime``: EI ran just before ``insn``, so
    IME is set after it (unless ``insn`` is DI). ``sets_ime``: ``insn`` sets IME itself
    (RETI)."""

    def __init__(self, region: Region, module: Module, interrupts: bool, memory):
        self.b = Builder(region, module)
        self.interrupts = interrupts
        self.memory = memory
        self.insn: Optional[Insn] = None
        self.enable_ime = False
        self.sets_ime = False
        self.ends_region = False        # the instruction stores to a register that ends regions
        self._pending: dict = {}        # slot -> Value: the instruction's held-back writes
        self._reach: dict = {}          # address Value -> (start, end) it lies in, if known

    def start(self, insn: Insn, enable_ime: bool) -> None:
        """Begin ``insn``: its ``insn_start`` (not-taken cost for conditional branches)."""
        self.insn = insn
        self.enable_ime = enable_ime
        self.sets_ime = False
        self.ends_region = False
        row = insn.row
        cost = row.cycles if row.cycles_not_taken is None else row.cycles_not_taken
        self.b.insn_start(pc=insn.pc, cost=cost)

    @property
    def ime_rises(self) -> bool:
        """True if IME is set at the end of this instruction (EI's delay or RETI)."""
        return self.sets_ime or self.enable_ime

    # --- values -------------------------------------------------------------------------------

    def const(self, value: int, vtype: Type = I8) -> Value:
        return self.b.iconst(vtype, value & vtype.mask)

    def and_(self, x: Value, y: Value) -> Value:
        return self.b.emit("and", [x, y])

    def or_(self, x: Value, y: Value) -> Value:
        return self.b.emit("or", [x, y])

    def xor(self, x: Value, y: Value) -> Value:
        return self.b.emit("xor", [x, y])

    def bit(self, v: Value, mask: int) -> Value:
        """i1: ``v & mask`` is not 0."""
        return self.b.icmp(self.and_(v, self.const(mask, v.type)), self.const(0, v.type),
                           cond="ne")

    def is_zero(self, v: Value) -> Value:
        return self.b.icmp(v, self.const(0, v.type), cond="eq")

    def nonzero(self, v: Value) -> Value:
        return self.b.icmp(v, self.const(0, v.type), cond="ne")

    def word(self, high: Value, low: Value) -> Value:
        """The i16 ``high << 8 | low`` of two i8."""
        b = self.b
        return self.or_(b.shl(b.zext(I16, high), self.const(8, I16)), b.zext(I16, low))

    def high(self, v: Value) -> Value:
        """The high byte (i8) of an i16."""
        return self.b.trunc(I8, self.b.lshr(v, self.const(8, I16)))

    def low(self, v: Value) -> Value:
        """The low byte (i8) of an i16."""
        return self.b.trunc(I8, v)

    # --- state: reads see the instruction's own writes, writes wait for ``commit`` -------------

    def get(self, slot: str) -> Value:
        held = self._pending.get(slot)
        return held if held is not None else self.b.get(slot)

    def put(self, slot: str, v: Value) -> None:
        self._pending[slot] = v

    def held(self) -> dict:
        """The writes held back so far (to give the other path of a branch with ``hold``)."""
        return dict(self._pending)

    def hold(self, writes: dict) -> None:
        self._pending = dict(writes)

    def reg(self, name: str) -> Value:
        """An 8-bit register by its instruction-set name (``"A"`` .. ``"L"``)."""
        return self.get(REG8[name])

    def set_reg(self, name: str, v: Value) -> None:
        self.put(REG8[name], v)

    def pair(self, name: str) -> Value:
        """A register pair (``"AF" "BC" "DE" "HL"``) or ``"SP"`` as an i16."""
        if name == "SP":
            return self.get("sp")
        high, low = PAIRS[name]
        return self.word(self.get(high), self.get(low))

    def set_pair(self, name: str, v: Value) -> None:
        """Write an i16 to a pair or SP (F keeps bits 7..4 only)."""
        if name == "SP":
            self.put("sp", v)
        else:
            self.set_bytes(name, self.high(v), self.low(v))

    def set_bytes(self, name: str, high: Value, low: Value) -> None:
        """Write a pair from its two bytes (F keeps bits 7..4 only)."""
        high_slot, low_slot = PAIRS[name]
        if low_slot == "f":
            low = self.and_(low, self.const(0xF0))
        self.put(high_slot, high)
        self.put(low_slot, low)

    # --- flags (arch.FLAGS: Z N H C in bits 7..4 of F) ----------------------------------------

    def flag(self, name: str) -> Value:
        """i1: flag ``name`` is set."""
        return self.bit(self.get("f"), FLAGS[name])

    def set_flags(self, z=None, n=None, h=None, c=None) -> None:
        """Write F: each flag ``None`` (unchanged), 0 or 1, or an i1 Value."""
        b = self.b
        keep = fixed = 0
        parts = []
        for name, value in zip(FLAGS, (z, n, h, c)):
            mask = FLAGS[name]
            if value is None:
                keep |= mask
            elif isinstance(value, Value):
                parts.append(b.shl(b.zext(I8, value), self.const(mask.bit_length() - 1)))
            elif value:
                fixed |= mask
        if keep:
            parts.append(self.and_(self.get("f"), self.const(keep)))
        if fixed or not parts:
            parts.append(self.const(fixed))
        f = parts[0]
        for part in parts[1:]:
            f = self.or_(f, part)
        self.put("f", f)

    # --- operands -----------------------------------------------------------------------------

    def address(self, token: str) -> Value:
        """The i16 address a memory operand names (``(HL)``, ``(HL+)``, ``(C)``, ``(a8)``,
        ...); ``(HL+)``/``(HL-)`` also step HL (held back like every write)."""
        if token in ("(HL+)", "(HL-)"):
            hl = self.pair("HL")
            step = self.b.add if token == "(HL+)" else self.b.sub
            self.set_pair("HL", step(hl, self.const(1, I16)))
            return hl
        if token == "(C)":
            address = self.or_(self.const(0xFF00, I16), self.b.zext(I16, self.reg("C")))
            self._reach[address] = (0xFF00, 0x10000)
            return address
        if token in ("(a8)", "(a16)"):
            value = self.insn.imm | (0xFF00 if token == "(a8)" else 0)
            address = self.const(value, I16)
            self._reach[address] = (value, value + 1)
            return address
        return self.pair(token[1:-1])

    def operand(self, token: str) -> "Operand":
        """The 8-bit operand ``token`` of the current instruction (``decoder.R8`` names,
        ``n8`` or a memory operand)."""
        return Operand(self, token)

    # --- memory -------------------------------------------------------------------------------

    def load(self, address: Value) -> Value:
        return self.b.load(I8, address)

    def store(self, address: Value, v: Value) -> None:
        """An 8-bit store; one that can reach a register ending regions
        (``AddressSpace.ends_region``) sets ``ends_region``."""
        reach = self._reach.get(address)
        if reach is not None and self.memory.ends_region(*reach):
            self.ends_region = True
        self.b.store(address, v)

    def push(self, high: Value, low: Value) -> None:
        """PUSH's two writes, high byte to SP-1 first (gbctr), and SP -= 2."""
        sp = self.get("sp")
        self.store(self.b.sub(sp, self.const(1, I16)), high)
        new_sp = self.b.sub(sp, self.const(2, I16))
        self.store(new_sp, low)
        self.put("sp", new_sp)

    def pop(self) -> tuple:
        """POP's two reads, low byte at SP first, and SP += 2; returns ``(high, low)``."""
        sp = self.get("sp")
        low = self.load(sp)
        high = self.load(self.b.add(sp, self.const(1, I16)))
        self.put("sp", self.b.add(sp, self.const(2, I16)))
        return high, low

    # --- ending paths -------------------------------------------------------------------------

    def commit(self) -> None:
        """Emit the instruction's held-back writes (and EI's: IME = 1, ``ei_pending`` = 0)."""
        if self.enable_ime:
            self._pending["ime"] = self.const(1)
            self._pending["ei_pending"] = self.const(0)
        for slot, v in self._pending.items():
            self.b.put(v, slot=slot)
        self._pending = {}

    def end(self) -> None:
        """The instruction is over on the current path: commit; what follows is between
        instructions."""
        self.commit()
        self.enable_ime = self.sets_ime = False

    def exit(self, target: Union[int, Value], kind: str, ret_pc: Optional[int] = None) -> None:
        """Commit, then leave for a constant pc or an i16 Value. With ``interrupts``, an
        exit where IME rises is ``kind=halt`` (the run loop dispatches a pending interrupt)."""
        self.commit()
        if self.interrupts and self.ime_rises:
            kind, ret_pc = "halt", None
        extra = {} if ret_pc is None else {"ret_pc": ret_pc}
        if isinstance(target, Value):
            self.b.exit(target, kind=kind, **extra)
        else:
            self.b.exit(kind=kind, pc=target & 0xFFFF, **extra)

    def trap(self, cause: int) -> None:
        """End the path with a guest exception at the instruction's pc (nothing of it is
        committed)."""
        self._pending = {}
        self.b.trap(cause=cause, pc=self.insn.pc)


class Operand:
    """An 8-bit operand: a register, the immediate ``n8``, or memory at an address computed
    once (a read-modify-write such as ``INC (HL)`` loads and stores the same address)."""

    def __init__(self, e: Emitter, token: str):
        self.e = e
        self.token = token
        self.address = None if token in REG8 or token == "n8" else e.address(token)

    def read(self) -> Value:
        e, token = self.e, self.token
        if token in REG8:
            return e.reg(token)
        if token == "n8":
            return e.const(e.insn.imm)
        return e.load(self.address)

    def write(self, v: Value) -> None:
        if self.token in REG8:
            self.e.set_reg(self.token, v)
        else:
            self.e.store(self.address, v)


# --- the loop -----------------------------------------------------------------------------------

def fetch(memory, pc: int) -> Insn:
    """Decode the instruction at ``pc`` of ``memory`` (an ``AddressSpace``), its bytes
    fetched one by one (``AddressSpace.fetch``: they become the region's code, which stores
    invalidate) with 16-bit wrap-around; ``GuestFault`` where nothing is mapped."""
    first = memory.fetch(pc, 1)
    length = 2 if first == CB_PREFIX else TABLE[first].length
    code = bytes([first] + [memory.fetch((pc + i) & 0xFFFF, 1) for i in range(1, length)])
    return decode(code, pc)


def translate_region(machine, pc: int, module: Module, interrupts: bool, max_insns: int,
                     region_attrs: dict) -> Region:
    """Translate the region at ``pc`` into ``module`` (see the module docstring), reading
    code through ``machine.memory`` and asking ``machine.is_stop_point``. Raises
    ``GuestFault`` if the first instruction is not all mapped."""
    fetch(machine.memory, pc)                       # a fault here is the run's to report
    region = module.add(Region(f"sm83_{pc:04x}", pc=pc, attrs=dict(region_attrs)))
    e = Emitter(region, module, interrupts, machine.memory)
    main, after_ei = _entry(e, pc)
    _run(e, machine, pc, after_ei, enable_ime=True, max_insns=1, loop_head=None)
    _run(e, machine, pc, main, enable_ime=False, max_insns=max_insns,
         loop_head=main if max_insns > 1 else None)
    return region


def _entry(e: Emitter, pc: int) -> tuple:
    """The entry block's state check (module docstring); returns the ``main`` block and the
    block for a region entered right after EI."""
    b = e.b
    special = e.or_(e.or_(b.get("ei_pending"), b.get("halt_bug")), b.get("run_mode"))
    main, slow = b.new_block(), b.new_block()
    b.brif(e.nonzero(special), slow, main)
    b.switch_to(slow)
    idle, after_ei = b.new_block(), b.new_block()
    b.brif(e.nonzero(e.or_(b.get("halt_bug"), b.get("run_mode"))), idle, after_ei)
    b.switch_to(idle)
    locked, waiting = b.new_block(), b.new_block()
    b.brif(b.icmp(b.get("run_mode"), e.const(RunMode.LOCKED), cond="eq"), locked, waiting)
    b.switch_to(locked)
    b.trap(cause=TRAP_LOCKED, pc=pc)
    b.switch_to(waiting)
    b.exit(kind="halt", pc=pc)
    return main, after_ei


def _run(e: Emitter, machine, pc: int, block: Block, enable_ime: bool, max_insns: int,
         loop_head: Optional[Block]) -> None:
    """Translate from ``pc`` into ``block`` until the path ends (module docstring).
    ``enable_ime``: EI ran just before ``pc``. ``loop_head``: where a jump back to the
    region's pc branches (``None``: such a jump leaves)."""
    b = e.b
    b.switch_to(block)
    memory = machine.memory
    mapping = memory.find(pc)
    count = 0
    while True:
        if count:
            if count >= max_insns or machine.is_stop_point(pc):
                e.exit(pc, "jump")
                return
            try:
                insn = fetch(memory, pc)
            except GuestFault:
                e.exit(pc, "jump")
                return
            if any(memory.find((pc + i) & 0xFFFF) is not mapping for i in range(insn.length)):
                e.exit(pc, "jump")
                return
        else:
            insn = fetch(memory, pc)
        e.start(insn, enable_ime)
        count += 1
        plan = TRANSLATORS[insn.row.opcode](e, insn)
        if b.terminated:                            # the instruction always leaves
            return
        if plan is not None and not _branch(e, machine, plan, loop_head, count < max_insns):
            return
        if e.interrupts and e.ime_rises:
            e.exit(insn.next_pc, "halt")
            return
        if e.ends_region:
            e.exit(insn.next_pc, "jump")
            return
        e.end()
        enable_ime = insn.row.op == "EI" and not enable_ime
        pc = insn.next_pc


def _branch(e: Emitter, machine, plan: Branch, loop_head: Optional[Block],
            room: bool) -> bool:
    """Emit the control flow of a jump, call, return or RST. Its taken path (which, for a
    conditional one, first charges the taken cycles) leaves or loops back to
    ``loop_head``. True: the builder is at the not-taken path, translation goes on there
    (``room``: the region may hold more instructions); else the region's path ended."""
    b, insn = e.b, e.insn
    row, start = insn.row, b.region.pc
    held = e.held()
    if plan.cond is not None:
        taken, not_taken = b.new_block(), b.new_block()
        b.brif(plan.cond, taken, not_taken)
        b.switch_to(taken)
        b.charge(cycles=row.cycles - row.cycles_not_taken)
    target = plan.taken(e)
    constant = isinstance(target, int)
    if loop_head is not None and constant and target == start and plan.kind == "jump" \
            and not (e.interrupts and e.ime_rises) and not machine.is_stop_point(start):
        e.commit()
        b.br(loop_head)
    else:
        e.exit(target, plan.kind, plan.ret_pc)
    if plan.cond is None:
        return False
    b.switch_to(not_taken)
    e.hold(held)
    if room and not (constant and target <= insn.pc and target != start):
        return True
    e.exit(insn.next_pc, "jump")
    return False
