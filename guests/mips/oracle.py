"""Unicorn as the VR4300's oracle: ``MipsOracle``.

Unicorn 2.1.4 in MIPS64 big-endian mode with its R4000 CPU model (DESIGN.md section 10):

* ``mem_map`` takes physical addresses (its MMU translates KSEG0/KSEG1), and the address
  space of the MIPS guest is physical too, so memory maps one to one. The pc is the
  sign-extended 64-bit virtual address, as in the guest state.
* It cannot stop between a branch and its delay slot: ``run(count)`` runs the slot too when
  ``count`` ends on the branch. A nullified slot (branch-likely not taken) is counted, as the
  reference interpreter counts it.
* It does not deliver exceptions: the run stops, the cause comes from its interrupt number
  (QEMU's ``EXCP_*`` numbering, mapped to ExcCode below), and the faulting pc -- which
  Unicorn leaves unusable -- is the step's instruction, or its branch with ``delay=1`` for
  a delay slot.
* It kills the process when several hundred straight-line instructions run into unmapped
  memory: end every code image with ``GUARD`` (a branch to itself and its slot).
* Where it computes something else than the VR4300, ``quirks.py`` says so and gives the
  VR4300's value.

Modelled state: ``pc``, ``gpr[0..31]``, ``hi``, ``lo``. Not modelled: COP0 (Unicorn exposes
only Status; its COP0 registers differ -- see the quirk table) and the LL bit.
"""

from __future__ import annotations

from dynarec.oracle import UnicornOracle

from .arch import MASK64, Exc, aligned_chunks, signed64, unmapped_physical
from .decoder import decode

#: registers the branches and jumps link into (JALR: its rd)
_LINKS = {"JAL": 31, "BLTZAL": 31, "BGEZAL": 31, "BLTZALL": 31, "BGEZALL": 31}
#: the condition of each branch-likely over (rs, rt) read as signed (manual chapter 16)
_LIKELY_CONDITIONS = {
    "BEQL": lambda rs, rt: rs == rt, "BNEL": lambda rs, rt: rs != rt,
    "BLEZL": lambda rs, rt: rs <= 0, "BGTZL": lambda rs, rt: rs > 0,
    "BLTZL": lambda rs, rt: rs < 0, "BGEZL": lambda rs, rt: rs >= 0,
    "BLTZALL": lambda rs, rt: rs < 0, "BGEZALL": lambda rs, rt: rs >= 0,
}
#: bytes of memory each store writes (partial stores: the size of their aligned unit)
_STORE_UNITS = {"SB": 1, "SH": 2, "SW": 4, "SD": 8, "SC": 4, "SCD": 8,
                "SWL": 4, "SWR": 4, "SDL": 8, "SDR": 8}

#: ``beq $0, $0, .`` and a ``nop`` slot: Unicorn spins here instead of running off the image.
GUARD = bytes.fromhex("1000ffff00000000")

#: QEMU's MIPS exception numbers (target/mips/cpu.h, ``EXCP_*``, as Unicorn 2.1.4 reports
#: them through UC_HOOK_INTR; checked by tests/guests/mips) -> VR4300 ExcCode.
QEMU_EXCEPTIONS = {
    12: Exc.AdEL, 13: Exc.AdES, 17: Exc.Sys, 18: Exc.Bp, 19: Exc.CpU, 20: Exc.RI,
    21: Exc.Ov, 22: Exc.Tr, 26: Exc.TLBL, 27: Exc.TLBS,
}


class MipsOracle(UnicornOracle):
    """The VR4300 oracle: ``MipsOracle()``; then ``load(address_space, regs)``,
    ``run(count) -> OracleRun``, ``read_regs()`` ... as ``dynarec.oracle.Oracle`` says.

    Steps are driven by the decoder table, not by Unicorn's code hook, which does not fire
    for the delay slot of a taken branch (measured). Stores are logged from the decoder too,
    not with a write hook: one that fires for a store in a taken delay slot leaves Unicorn
    believing it is still in a delay slot (the next branch raises RI, the pc goes stale;
    measured). A store is logged as ``(physical address, size, value)`` of the memory it
    wrote, in the pieces the reference interpreter and the JIT make (SWL/SWR/SDL/SDR:
    ``arch.aligned_chunks``), read after it ran; SC/SCD only when they succeed (an SC into
    ``$0`` counts as failed when memory did not change); stores outside KSEG0/KSEG1 are not
    logged. One ``step`` runs an instruction, or a
    branch or jump with its delay slot: ``emu_start(count=1)`` at a taken branch runs the
    slot too; at a branch that is not taken it stops before the slot (which then runs as a
    step of its own, reported as a slot), except a branch-likely, whose slot is skipped.
    A fault during a branch step is its slot's (branches themselves do not fault). Limits: a
    branch whose target is its own delay slot reads as not taken; where a branch-likely's
    target is the instruction after its slot, whether its slot ran (for the store log) comes
    from the branch condition evaluated on the registers (``_likely_taken``).
    """

    trace_code = False
    hook_writes = False

    def __init__(self):
        import unicorn
        from unicorn import mips_const as uc_mips
        registers = {"pc": uc_mips.UC_MIPS_REG_PC, "hi": uc_mips.UC_MIPS_REG_HI,
                     "lo": uc_mips.UC_MIPS_REG_LO}
        registers.update({f"gpr[{n}]": uc_mips.UC_MIPS_REG_0 + n for n in range(32)})
        super().__init__(unicorn.UC_ARCH_MIPS,
                         unicorn.UC_MODE_MIPS64 + unicorn.UC_MODE_BIG_ENDIAN,
                         registers, cpu_model=uc_mips.UC_CPU_MIPS64_R4000,
                         exception_causes=QEMU_EXCEPTIONS)

    def step(self) -> tuple:
        pc = self.pc
        insn = decode(self._word_at(pc))
        if insn is None or not insn.row.has_delay_slot:
            store = self._store_site(insn, {})
            stop = self.start(pc)
            if stop is not None:
                return 0, self.exception(stop, pc)
            self._log(store)
            return 1, None
        slot_pc, after_slot = (pc + 4) & MASK64, (pc + 8) & MASK64
        link = _LINKS.get(insn.mnemonic, insn.rd)
        store = self._store_site(decode(self._word_at(slot_pc)), {link: after_slot})
        likely_taken = insn.row.likely and self._likely_taken(insn)
        stop = self.start(pc)
        if stop is None and self.pc == slot_pc:    # not taken: the slot is still to run
            stop = self.start(slot_pc)
        if stop is not None:
            return 1, self.exception(stop, pc, 1)
        if not insn.row.likely or self.pc != after_slot or likely_taken:   # the slot ran
            self._log(store)
        return 2, None

    def _likely_taken(self, insn) -> bool:
        """Whether a branch-likely is taken, from the registers now. Needed only when its
        target is the instruction after the slot: Unicorn's pc then reads the same either
        way, but only a taken branch runs the slot."""
        rs = signed64(self.uc.reg_read(self.registers[f"gpr[{insn.rs}]"]) if insn.rs else 0)
        rt = signed64(self.uc.reg_read(self.registers[f"gpr[{insn.rt}]"]) if insn.rt else 0)
        return _LIKELY_CONDITIONS[insn.mnemonic](rs, rt)

    def _store_site(self, insn, overrides: dict):
        """``(pieces, SC's rt or None, bytes there now)`` for the store ``insn``: the
        ``(physical address, size)`` pieces it writes (``arch.aligned_chunks`` for partial
        stores), reading its base register now (``overrides``: values the branch before it
        writes). ``None`` for other instructions and unmapped segments."""
        if insn is None or insn.row.cls != "store":
            return None
        base = overrides.get(insn.base)
        if base is None:
            base = self.uc.reg_read(self.registers[f"gpr[{insn.base}]"]) if insn.base else 0
        paddr = unmapped_physical((base + insn.simm) & MASK64)
        if paddr is None:
            return None
        size = _STORE_UNITS[insn.mnemonic]
        unit, k = paddr & ~(size - 1), paddr % size
        if insn.mnemonic in ("SWL", "SDL"):
            pieces = [(unit + off, n) for off, n in aligned_chunks(k, size)]
        elif insn.mnemonic in ("SWR", "SDR"):
            pieces = [(unit + off, n) for off, n in aligned_chunks(0, k + 1)]
        else:
            pieces = [(paddr, size)]
        if insn.mnemonic in ("SC", "SCD"):
            return pieces, insn.rt, self.read_memory(paddr, size)
        return pieces, None, None

    def _log(self, site) -> None:
        """Log the store at ``site`` (see ``_store_site``) after it ran, with the values
        memory holds now; SC/SCD only when they succeeded."""
        if site is None:
            return
        pieces, sc_rt, before = site
        if sc_rt is not None:
            paddr, size = pieces[0]
            if sc_rt:
                succeeded = self.read_regs()[f"gpr[{sc_rt}]"] == 1
            else:                    # the flag went to $0: look for the write itself
                succeeded = self.read_memory(paddr, size) != before
            if not succeeded:
                return
        for paddr, size in pieces:
            self.log_store(paddr, size, int.from_bytes(self.read_memory(paddr, size), "big"))

    def _word_at(self, pc: int) -> int:
        """The instruction word at virtual ``pc`` (0, a NOP, where memory cannot be read:
        the step then lets Unicorn report the fault)."""
        paddr = unmapped_physical(pc)
        if paddr is None:
            return 0
        try:
            return int.from_bytes(self.read_memory(paddr, 4), "big")
        except self._unicorn.UcError:          # nothing mapped there
            return 0
