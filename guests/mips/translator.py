"""Translating VR4300 code into IR regions: the translator loop and the ``Emitter`` the
per-class translators (``translate_*.py``) write through.

A region is a superblock: guest instructions from its pc on, through conditional branches
along their not-taken path, up to a jump (J, JAL, JR, JALR, an always-taken branch) and its
delay slot, a backward branch to another pc than the region's (see below), an instruction
that always leaves (SYSCALL, BREAK, ERET) or a stop point, or until it would exceed
``max_insns`` instructions (delay slots count) or leave the 4 KiB page of its pc. Its IR:

* every guest instruction starts with ``insn_start pc=<its pc> cost=<row.cycles>``; a delay
  slot starts with ``insn_start pc=<the BRANCH's pc> delay=1``, so that wherever it faults the
  region reports the branch's pc with the delay flag, which is where MIPS restarts (EPC, BD);
* a branch-likely that is not taken still passes an (empty) ``insn_start pc=<branch>
  delay=1``: the nullified slot takes its cycle and is counted as retired, as Unicorn counts
  it;
* a conditional branch runs its delay slot, then a ``brif``: the taken edge leaves the region
  and the not-taken block goes on with the instruction at ``branch + 8`` (a branch-likely:
  the slot runs on the taken edge only, the not-taken block starts with the nullified slot);
  where the region cannot go on, the not-taken edge leaves for ``branch + 8``. It does not
  go on after a backward branch (to its own pc or before) whose target is not the region's
  pc: that branch ends a loop whose head is elsewhere, and the loop's exit belongs to the
  head's region (below), which goes on after the loop;
* a branch or jump whose target is the region's own pc (a tight loop; not a call, not a
  stop point) is a back edge: its taken edge branches to the entry block, which begins with
  the loop's first ``insn_start`` -- so the cycle-accounting pass puts the loop's budget check
  there, the same check that guards the region's entry;
* exits: ``exit pc=<target> kind=jump`` for branches and J, ``kind=call`` for JAL/BxxAL and
  (computed) JALR, with ``ret_pc=<branch + 8>``, ``kind=return`` for JR $ra, ``kind=indirect``
  for other JR and ERET, and a ``jump`` to the next pc when the region ends without a branch;
* guest exceptions end their path with ``trap cause=<ExcCode> pc=<pc>`` (address errors
  write BadVAddr first); memory reaches physical addresses through ``load``/``store`` (KSEG0/
  KSEG1 directly, other segments through the ``mips_tlb`` helper, which the guest binds to the
  embedder's TLB hook).

Translators are functions ``(Emitter, Insn) -> None | Branch``, one per mnemonic, found
through the decoder table's class column (``CLASS_MODULES``).
"""

from __future__ import annotations

from typing import Optional, Union

from dynarec.errors import GuestFault
from dynarec.ir.builder import Builder
from dynarec.ir.nodes import HelperSig, Module, Region, Value
from dynarec.ir.types import I32, I64, Type

from . import translate_alu, translate_branch, translate_memory, translate_system
from .arch import (C0_BADVADDR, FETCH, KSEG0, KSEG2, MASK64, PHYS_MASK, STORE, Exc,
                   physical_address)
from .decoder import TABLE, Insn, decode
from .translate_branch import Branch

PAGE_SIZE = 0x1000
TLB_HELPER = "mips_tlb"
#: ``mips_tlb(vaddr, access) -> physical address, or NO_MAPPING`` (access: arch.LOAD/STORE/FETCH)
TLB_SIG = HelperSig(TLB_HELPER, (I64, I64), (I64,))
NO_MAPPING = MASK64

CLASS_MODULES = {
    "alu": translate_alu, "shift": translate_alu, "muldiv": translate_alu,
    "jump": translate_branch, "branch": translate_branch,
    "load": translate_memory, "store": translate_memory,
    "trap": translate_system, "system": translate_system,
}

#: mnemonic -> translator, for every row of the decoder table (a KeyError here means a row
#: has no translator in its class's module)
TRANSLATORS = {row.mnemonic: CLASS_MODULES[row.cls].TRANSLATE[row.mnemonic] for row in TABLE}


class _FetchError(Exception):
    """The pc cannot be fetched: an address error (misaligned or unmapped segment)."""


class Emitter:
    """Writes the IR of one region. ``b`` is the ``Builder``; ``pc`` the current
    instruction's address; ``exc_pc`` the pc its exceptions report (the branch's inside a
    delay slot, whose ``insn_start`` carries the delay flag)."""

    def __init__(self, region: Region, module: Module):
        self.b = Builder(region, module)
        self.pc = region.pc
        self.exc_pc = region.pc

    # --- values -------------------------------------------------------------------------------

    def const(self, value: int, vtype: Type = I64) -> Value:
        return self.b.iconst(vtype, value & vtype.mask)

    def and_(self, x: Value, y: Value) -> Value:
        return self.b.emit("and", [x, y])

    def or_(self, x: Value, y: Value) -> Value:
        return self.b.emit("or", [x, y])

    def not_(self, x: Value) -> Value:
        return self.b.emit("not", [x])

    def sext64(self, v: Value) -> Value:
        return self.b.sext(I64, v)

    def low32(self, v: Value) -> Value:
        return self.b.trunc(I32, v)

    def bool64(self, cond: Value) -> Value:
        """An i1 as 0/1 in 64 bits."""
        return self.b.zext(I64, cond)

    # --- state --------------------------------------------------------------------------------

    def gpr(self, n: int) -> Value:
        """General purpose register ``n`` (i64); ``$0`` is the constant 0."""
        return self.b.get(f"gpr[{n}]") if n else self.const(0)

    def gpr32(self, n: int) -> Value:
        """The low word of register ``n`` (i32)."""
        return self.low32(self.b.get(f"gpr[{n}]")) if n else self.const(0, I32)

    def set_gpr(self, n: int, v: Value) -> None:
        """Write an i64 to register ``n`` (writes to ``$0`` are dropped)."""
        if n:
            self.b.put(v, slot=f"gpr[{n}]")

    def set_gpr32(self, n: int, v: Value) -> None:
        """Write an i32 result, sign-extended, to register ``n``."""
        if n:
            self.set_gpr(n, self.sext64(v))

    def get(self, slot: str) -> Value:
        return self.b.get(slot)

    def put(self, slot: str, v: Value) -> None:
        self.b.put(v, slot=slot)

    # --- control ------------------------------------------------------------------------------

    def trap(self, cause: int, badvaddr: Optional[Value] = None) -> None:
        """End the current block with guest exception ``cause`` (writing BadVAddr first)."""
        if badvaddr is not None:
            self.put(f"cop0[{C0_BADVADDR}]", badvaddr)
        self.b.trap(cause=int(cause), pc=self.exc_pc)

    def trap_if(self, cond: Value, cause: int, badvaddr: Optional[Value] = None) -> None:
        """Raise ``cause`` when the i1 ``cond`` holds; continue in a fresh block otherwise."""
        raise_block, go_on = self.b.new_block(), self.b.new_block()
        self.b.brif(cond, raise_block, go_on)
        self.b.switch_to(raise_block)
        self.trap(cause, badvaddr)
        self.b.switch_to(go_on)

    def exit(self, target: Union[int, Value], kind: str, ret_pc: Optional[int] = None) -> None:
        """Leave the region for a constant pc or a computed (i64) one. A ``call`` passes its
        return address as ``ret_pc`` (the return-stack buffer pairs it with the return)."""
        extra = {} if ret_pc is None else {"ret_pc": ret_pc & MASK64}
        if isinstance(target, Value):
            self.b.exit(target, kind=kind, **extra)
        else:
            self.b.exit(kind=kind, pc=target & MASK64, **extra)

    # --- memory -------------------------------------------------------------------------------

    def physical(self, vaddr: Value, size: int, access: int) -> Value:
        """The i32 physical address of an access of ``size`` bytes at the i64 ``vaddr``:
        traps AdEL/AdES when it is misaligned or the TLB hook has no mapping."""
        b = self.b
        cause = Exc.AdES if access == STORE else Exc.AdEL
        if size > 1:
            misaligned = b.icmp(self.and_(vaddr, self.const(size - 1)), self.const(0), cond="ne")
            self.trap_if(misaligned, cause, vaddr)
        direct = b.icmp(b.sub(vaddr, self.const(KSEG0)), self.const(KSEG2 - KSEG0), cond="ult")
        kseg, mapped, join = b.new_block(), b.new_block(), b.new_block([I32])
        b.brif(direct, kseg, mapped)
        b.switch_to(kseg)
        b.br((join, [self.low32(self.and_(vaddr, self.const(PHYS_MASK)))]))
        b.switch_to(mapped)
        paddr = b.call(TLB_HELPER, vaddr, self.const(access))
        self.trap_if(b.icmp(paddr, self.const(NO_MAPPING), cond="eq"), cause, vaddr)
        b.br((join, [self.low32(paddr)]))
        b.switch_to(join)
        return join.params[0]

    def address(self, insn: Insn) -> Value:
        """``GPR[base] + sign-extended offset`` (i64)."""
        return self.b.add(self.gpr(insn.base), self.const(insn.simm))


# --- the loop -------------------------------------------------------------------------------

def _fetch_address(tlb, pc: int) -> int:
    """The physical address of the instruction at virtual ``pc``; ``_FetchError`` for an
    address error (misaligned, or no mapping)."""
    paddr = None if pc & 3 else physical_address(pc, FETCH, tlb)
    if paddr is None:
        raise _FetchError(pc)
    return paddr


def translate_region(machine, pc: int, module: Module, tlb, max_insns: int,
                     region_attrs: dict) -> Region:
    """Translate the region at virtual ``pc`` into ``module`` (see the module docstring).
    ``tlb(vaddr, access) -> physical or None`` maps instruction fetches outside KSEG0/KSEG1;
    ``machine.is_stop_point(pc)`` says where a region must end. Raises ``GuestFault`` if the
    first instruction's physical address has no memory."""
    module.helpers.setdefault(TLB_HELPER, TLB_SIG)
    region = module.add(Region(f"mips_{pc:016x}", pc=pc, attrs=dict(region_attrs)))
    e = Emitter(region, module)
    count = 0                                 # guest instructions so far, delay slots too
    while True:
        e.pc = e.exc_pc = pc
        if count and machine.is_stop_point(pc):
            e.exit(pc, "jump")
            return region
        try:
            word = machine.memory.fetch(_fetch_address(tlb, pc), 4)
        except _FetchError:
            if count:
                e.exit(pc, "jump")
            else:
                e.b.insn_start(pc=pc)
                e.trap(Exc.AdEL, e.const(pc))
            return region
        except GuestFault:
            if count:
                e.exit(pc, "jump")
                return region
            raise
        insn = decode(word)
        e.b.insn_start(pc=pc, cost=insn.row.cycles if insn else 1)
        count += 1
        if insn is None:
            e.trap(Exc.RI)
            return region
        plan = TRANSLATORS[insn.mnemonic](e, insn)
        if e.b.terminated:                    # the instruction always leaves
            return region
        if isinstance(plan, Branch):
            count += 1                        # its delay slot
            fall_through = (pc + 8) & MASK64
            go_on = count < max_insns and _same_page(fall_through, region.pc) \
                and not _ends_other_loop(plan, pc, region.pc)
            if not _finish_branch(e, machine, tlb, pc, plan, go_on):
                return region
            pc = fall_through
            continue
        pc = (pc + 4) & MASK64
        if count >= max_insns or not _same_page(pc, region.pc):
            e.exit(pc, "jump")
            return region


def _same_page(pc: int, other: int) -> bool:
    return pc // PAGE_SIZE == other // PAGE_SIZE


def _ends_other_loop(plan: Branch, branch_pc: int, start: int) -> bool:
    """True if the branch at ``branch_pc`` goes backward (to its own pc or before) but not
    to the region's ``start``: it ends a loop whose head is elsewhere. Its not-taken path,
    the loop's exit, is not followed: a backward branch is the one likely taken (static
    prediction), and the head's region, which loops back to itself, goes on along that same
    exit -- following it here too would mostly translate the same code twice."""
    return isinstance(plan.target, int) and plan.target <= branch_pc and plan.target != start


def _finish_branch(e: Emitter, machine, tlb, branch_pc: int, plan: Branch,
                   go_on: bool) -> bool:
    """Emit the delay slot of the branch at ``branch_pc`` and its taken edge (an exit, or
    the back edge to the entry block); then, when the branch may fall through, its not-taken
    edge: with ``go_on`` the builder is left at the start of the not-taken block and the
    result is True (translation goes on at ``branch_pc + 8``), otherwise that block exits
    there. False: the region ends here."""
    b = e.b
    fall_through = (branch_pc + 8) & MASK64
    loops = _loops_back(e, machine, plan)
    not_taken = None
    if plan.likely:
        run_slot, not_taken = b.new_block(), b.new_block()
        b.brif(plan.cond, run_slot, not_taken)
        b.switch_to(not_taken)
        b.insn_start(pc=branch_pc, delay=1)
        b.switch_to(run_slot)
    if _slot(e, machine, tlb, branch_pc):
        loops = go_on = False                         # a store in the slot: see _slot
    if not b.terminated:
        if plan.cond is None or plan.likely:          # the slot leads to the taken edge only
            if loops:
                b.br(b.region.entry)
            else:
                _exit_taken(e, plan, fall_through)
        elif loops:
            not_taken = b.new_block()
            b.brif(plan.cond, b.region.entry, not_taken)
        else:
            taken, not_taken = b.new_block(), b.new_block()
            b.brif(plan.cond, taken, not_taken)
            b.switch_to(taken)
            _exit_taken(e, plan, fall_through)
    if not_taken is None:
        return False
    b.switch_to(not_taken)
    if not go_on:
        e.exit(fall_through, "jump")
    return go_on


def _loops_back(e: Emitter, machine, plan: Branch) -> bool:
    """True if the taken edge of ``plan`` is a back edge: a jump (not a call) to the
    region's own pc, which is not a stop point."""
    start = e.b.region.pc
    return plan.kind == "jump" and isinstance(plan.target, int) and plan.target == start \
        and not machine.is_stop_point(start)


def _exit_taken(e: Emitter, plan: Branch, fall_through: int) -> None:
    """Leave the region along the taken edge (a call returns to ``fall_through``, the
    address after its slot)."""
    e.exit(plan.target, plan.kind, fall_through if plan.kind == "call" else None)


def _slot(e: Emitter, machine, tlb, branch_pc: int) -> bool:
    """The delay slot at ``branch_pc + 4``: reports the branch's pc with ``delay=1``. A
    branch, jump or ERET in a delay slot is undefined on the VR4300; it raises RI here.
    Returns True if the slot holds a store: the branch then ends the region (no back edge,
    no not-taken path inside it), because a store in a delay slot that writes code is made
    and its region goes on to the branch (the branch has retired, so the instruction cannot
    be run again alone: ``Machine``, self-modifying code) -- the next region is then looked
    up, and translated from the new code."""
    slot_pc = (branch_pc + 4) & MASK64
    e.pc, e.exc_pc = slot_pc, branch_pc
    try:
        paddr = _fetch_address(tlb, slot_pc)
    except _FetchError:
        e.b.insn_start(pc=branch_pc, delay=1)
        e.trap(Exc.AdEL, e.const(slot_pc))
        return False
    try:
        word = machine.memory.fetch(paddr, 4)
    except GuestFault:
        # No memory behind the slot: fetch it at run time so that the fault happens there
        # (if memory appears meanwhile, the branch runs again from a fresh region).
        e.b.insn_start(pc=branch_pc, delay=1)
        e.b.load(I32, e.const(paddr, I32))
        e.exit(branch_pc, "jump")
        return False
    insn = decode(word)
    e.b.insn_start(pc=branch_pc, cost=insn.row.cycles if insn else 1, delay=1)
    if insn is None or insn.row.has_delay_slot or insn.mnemonic == "ERET":
        e.trap(Exc.RI)
        return False
    TRANSLATORS[insn.mnemonic](e, insn)
    return insn.row.cls == "store"
