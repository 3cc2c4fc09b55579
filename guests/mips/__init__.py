"""MIPS III guest: the NEC VR4300 (the N64's CPU), integer instruction set.

::

    from dynarec import Machine
    m = Machine("mips")                       # MipsGuest through the dynarec.guests entry point
    m.memory.map_ram(0, 8 << 20)              # the address space is PHYSICAL (32-bit, 4 KiB pages)
    m.memory.write_bytes(0x400, code)         # big-endian words
    m.pc = 0xFFFFFFFF80000400                 # KSEG0 view of physical 0x400, sign-extended
    result = m.run(cycles=10_000)             # RunResult; guest exceptions stop with EXCEPTION

Modules: ``arch`` (state layout, ExcCode, COP0 table, address map), ``decoder`` (THE decoder
table), ``translator`` (the region loop and ``Emitter``) with one translator module per group of
instruction classes (``translate_alu``, ``translate_branch``, ``translate_memory``,
``translate_system``), ``interpreter`` (the reference interpreter), ``oracle`` (Unicorn),
``quirks`` (where Unicorn differs from the VR4300), ``disasm`` (capstone listings).
"""

from __future__ import annotations

from typing import Callable, Optional

from dynarec.guest import Guest
from dynarec.host import HelperImpl

from . import interpreter
from .arch import FETCH, MASK32, RESET_COP0, RESET_PC, STATE, Exc, physical_address
from .translator import NO_MAPPING, TLB_HELPER, TLB_SIG, translate_region

TlbHook = Callable[[int, int], Optional[int]]


class MipsGuest(Guest):
    """The VR4300 guest.

    ``MipsGuest(tlb=None, max_insns=64)``. ``tlb(vaddr, access) -> physical address or
    None`` maps virtual addresses outside KSEG0/KSEG1 (KUSEG, KSSEG, KSEG3 and any address that
    is not a sign-extended 32-bit value); ``access`` is ``arch.LOAD``, ``STORE`` or ``FETCH``;
    ``None`` means "no mapping": the access raises an address error (AdEL/AdES), as the
    default hook does for every such address. It is called from generated code (through the
    ``mips_tlb`` helper), for instruction fetches when a region is translated, and by
    ``code_address`` (regions are keyed by the physical page behind their pc, so a changed
    mapping selects other code). ``max_insns`` caps the guest instructions of one region (a
    branch keeps its delay slot; regions also end at a 4 KiB page boundary).

    Guest exceptions end a run with ``RunResult.reason == EXCEPTION``, ``cause`` the ExcCode
    (``arch.Exc``; ``dynarec.FAULT`` when nothing backs a physical address) and ``pc``/``delay``
    as MIPS's EPC/Cause.BD would say; nothing is delivered to the guest's exception vector
    (that is the embedder's move).
    """

    name = "mips"
    state = STATE
    pc_slot = "pc"
    addr_bits = 32
    page_bits = 12
    big_endian = True
    code_granularity = 4        # instructions are aligned words: a code-bitmap bit per word

    def __init__(self, tlb: Optional[TlbHook] = None, max_insns: int = 64):
        super().__init__()
        if max_insns < 1:
            raise ValueError(f"max_insns must be at least 1, not {max_insns}")
        self.tlb: TlbHook = tlb or interpreter.no_tlb
        self.max_insns = max_insns
        self.helpers[TLB_HELPER] = HelperImpl(TLB_SIG, "python", self._tlb_helper)

    def _tlb_helper(self, vaddr: int, access: int) -> int:
        paddr = self.tlb(vaddr, access)
        if paddr is None:
            return NO_MAPPING
        if not 0 <= paddr <= MASK32:
            raise ValueError(f"the TLB hook mapped {vaddr:#x} to {paddr!r}, which is not a "
                             f"32-bit physical address")
        return paddr

    def code_address(self, machine, pc: int) -> int:
        """The physical address instructions at virtual ``pc`` come from (KSEG0/KSEG1
        directly, other segments through the TLB hook); ``pc`` itself when nothing maps it
        (its region is an address-error trap)."""
        paddr = physical_address(pc, FETCH, self.tlb)
        return pc if paddr is None else paddr

    def translate(self, machine, pc: int, module):
        """The region at virtual ``pc`` (see ``translator``); ``GuestFault`` if its first
        instruction has no memory behind it."""
        return translate_region(machine, pc, module, self.tlb, self.max_insns,
                                self.region_attrs())

    def setup(self, machine) -> None:
        """Cold reset: pc at the reset vector, Status.ERL = BEV = 1, Random = 31 (no memory
        is mapped: the embedder maps its own)."""
        machine.pc = RESET_PC
        for number, value in RESET_COP0.items():
            machine.regs[f"cop0[{number}]"] = value

    def step(self, machine) -> interpreter.StepResult:
        """Run one instruction (a branch with its slot) in the reference interpreter."""
        return interpreter.step(machine, tlb=self.tlb)

    def fixed_code(self, machine, pc: int) -> bool:
        """KSEG0/KSEG1 code is untranslated, so regions there may link across pages; code
        reached through the TLB hook is not (an embedder that changes the hook's mapping
        calls ``machine.mapping_changed()``)."""
        from .arch import unmapped_physical
        return unmapped_physical(pc) is not None

    def load_program(self, machine, image, entry=None):
        """The bare system of ``system.py``: RAM, the debug port, the image, the pc."""
        from .system import load_bare
        return load_bare(machine, image, entry)

    def pc_from_address(self, address: int) -> int:
        """ELF addresses of 32-bit images are sign-extended into the 64-bit pc."""
        from .system import virtual
        return virtual(address)

    @staticmethod
    def oracle():
        """A fresh ``oracle.MipsOracle`` (Unicorn)."""
        from .oracle import MipsOracle
        return MipsOracle()

    def explain_oracle_difference(self, machine, before, ours, theirs, ours_exception=None,
                                  theirs_exception=None, ours_stores=(), theirs_stores=()):
        """The lockstep runner's quirk hook (``dynarec.lockstep``): ``quirks.explain`` for
        the step that started from state ``before`` (every reference), reading its
        instruction word at ``before["pc"]`` from ``machine.memory``. Returns the
        ``quirks.Explanation`` (``quirk.name``; ``fix.regs``/``fix.stores`` to write into the
        oracle) or ``None`` when no quirk accounts for every difference."""
        from dynarec.errors import GuestFault
        from .quirks import explain
        pc = before["pc"]
        paddr = None if pc & 3 else physical_address(pc, FETCH, self.tlb)
        if paddr is None:
            return None
        try:
            word = machine.memory.read(paddr, 4)
        except GuestFault:
            return None
        return explain(word, before, ours, theirs, ours_exception, theirs_exception,
                       ours_stores, theirs_stores)

    @staticmethod
    def disassemble(code: bytes, address: int) -> list:
        """Listing of ``code`` at virtual ``address`` (see ``disasm.disassemble``)."""
        from .disasm import disassemble
        return disassemble(code, address)


__all__ = ["MipsGuest", "Exc"]
