"""The quirk table: where Unicorn (the MIPS oracle, its R4000 model) computes something else
than the VR4300, with the source of each fact.

A lockstep runner that finds the oracle's registers, exception or stores differ from its own
after an instruction asks ``explain(word, before, ours, theirs, ...)``: if one quirk
accounts for every difference, the answer carries the VR4300-correct values (``Fix.regs``,
which may include the ``pc`` the oracle must continue at, ``Fix.stores`` the oracle failed to
make, ``Fix.exception`` it failed to raise) for the runner to write into the oracle before
comparing on. The correct values come from each quirk's own formula (from its source) over
the state BEFORE the instruction -- for COP0 reads, the register's contents, which Unicorn
cannot show -- never from the result being judged: a wrong JIT result is not explained away.

Shapes: ``before``/``ours``/``theirs`` map state references (``"gpr[3]"``, ``"hi"``,
``"cop0[9]"``, ``"llbit"``) to raw integers; ``before`` is the full guest state before the
instruction (the runner's own, which also holds COP0 and the LL bit), ``theirs`` the
registers the oracle reports after it. ``word`` is the instruction. The quirky instructions
are not branches, and the fixes assume they do not sit in a delay slot (the ``pc`` they give
is the next instruction's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, Sequence

from dynarec.oracle import Store

from .arch import C0_COUNT, MASK64, Exc, is_sext32, sext, signed64, unmapped_physical
from .decoder import Insn, decode


@dataclass
class Fix:
    """VR4300-correct results of one execution: register values by reference, stores
    (``dynarec.oracle.Store``, physical addresses) the VR4300 makes and the oracle did not,
    and the ``exception`` cause the VR4300 raises there (``None``: none)."""

    regs: dict
    stores: list = field(default_factory=list)
    exception: Optional[int] = None


@dataclass(frozen=True)
class Quirk:
    """One known difference. ``mnemonics`` it concerns (empty: not tied to an instruction);
    ``unicorn``/``vr4300``: what each does; ``source`` of the facts; ``fix(insn, before) ->
    Fix or None``: the correct results when the quirk applies to this execution (``None``:
    it does not apply, or the entry is informational only)."""

    name: str
    mnemonics: tuple
    unicorn: str
    vr4300: str
    source: str
    fix: Optional[Callable[[Insn, Mapping], Optional[Fix]]] = None


@dataclass(frozen=True)
class Explanation:
    """``explain``'s answer: the ``quirk`` and its ``fix``."""

    quirk: Quirk
    fix: Fix


def _gpr(before: Mapping, n: int) -> int:
    return before.get(f"gpr[{n}]", 0) & MASK64 if n else 0


def _fix_add32_wide_input(insn: Insn, before: Mapping) -> Optional[Fix]:
    rs = _gpr(before, insn.rs)
    rt = insn.simm & MASK64 if insn.mnemonic == "ADDI" else _gpr(before, insn.rt)
    if is_sext32(rs) and is_sext32(rt):
        return None
    a, b = signed64(sext(rs, 32)), signed64(sext(rt, 32))
    total = a - b if insn.mnemonic == "SUB" else a + b
    dest = insn.rt if insn.mnemonic == "ADDI" else insn.rd
    overflow = not -(1 << 31) <= total < (1 << 31)
    regs = {"pc": before["pc"] if overflow else (before["pc"] + 4) & MASK64}
    if dest:
        regs[f"gpr[{dest}]"] = _gpr(before, dest) if overflow else sext(total, 32)
    return Fix(regs, exception=Exc.Ov if overflow else None)


def _fix_sra(insn: Insn, before: Mapping) -> Optional[Fix]:
    rt = _gpr(before, insn.rt)
    if is_sext32(rt) or insn.rd == 0:
        return None
    shift = insn.sa if insn.mnemonic == "SRA" else _gpr(before, insn.rs) & 31
    return Fix({f"gpr[{insn.rd}]": sext(signed64(rt) >> shift, 32)})


def _fix_divide_by_zero(insn: Insn, before: Mapping) -> Optional[Fix]:
    wide = insn.mnemonic.startswith("DD")
    bits = 64 if wide else 32
    dividend = sext(_gpr(before, insn.rs), bits)
    if _gpr(before, insn.rt) & ((1 << bits) - 1):
        return None
    negative = insn.mnemonic in ("DIV", "DDIV") and signed64(dividend) < 0
    return Fix({"lo": 1 if negative else MASK64, "hi": dividend})


def _fix_store_conditional(insn: Insn, before: Mapping) -> Optional[Fix]:
    if not before.get("llbit", 0):
        return None
    size = 8 if insn.mnemonic == "SCD" else 4
    paddr = unmapped_physical((_gpr(before, insn.base) + insn.simm) & MASK64)
    if paddr is None or paddr % size:
        return None
    value = _gpr(before, insn.rt) & ((1 << (8 * size)) - 1)
    regs = {f"gpr[{insn.rt}]": 1} if insn.rt else {}
    return Fix(regs, [Store(paddr, size, value)])


def _fix_sc_misaligned(insn: Insn, before: Mapping) -> Optional[Fix]:
    size = 8 if insn.mnemonic == "SCD" else 4
    if (_gpr(before, insn.base) + insn.simm) % size == 0:
        return None
    regs = {"pc": before["pc"]}
    if insn.rt:
        regs[f"gpr[{insn.rt}]"] = _gpr(before, insn.rt)
    return Fix(regs, exception=Exc.AdES)


def _fix_cop0_read(insn: Insn, before: Mapping) -> Optional[Fix]:
    regs = {"pc": (before["pc"] + 4) & MASK64}
    if insn.rt:
        value = before.get(f"cop0[{insn.rd}]", 0) & MASK64
        regs[f"gpr[{insn.rt}]"] = sext(value, 32) if insn.mnemonic == "MFC0" else value
    return Fix(regs)


def _fix_count_read(insn: Insn, before: Mapping) -> Optional[Fix]:
    return _fix_cop0_read(insn, before) if insn.rd == C0_COUNT else None


def _fix_other_cop0_read(insn: Insn, before: Mapping) -> Optional[Fix]:
    return _fix_cop0_read(insn, before) if insn.rd != C0_COUNT else None


QUIRKS = (
    Quirk("add32_wide_input", ("ADD", "ADDI", "SUB"),
          unicorn="when an operand is not a sign-extended word, QEMU's overflow test mixes "
                  "the 64-bit operands with the 32-bit result: it can raise Ov where the "
                  "low words do not overflow (and the reverse)",
          vr4300="overflow is decided on the low words alone; the result is the "
                 "sign-extended low word of the sum (MIPS III leaves such inputs "
                 "UNPREDICTABLE; this is the ares N64 emulator's model)",
          source="ares CPU::ADD/ADDI/SUB (ares/n64/cpu/interpreter-ipu.cpp); measured",
          fix=_fix_add32_wide_input),
    Quirk("sra_wide_input", ("SRA", "SRAV"),
          unicorn="when rt is not a sign-extended word, the result is not the sign-extended "
                  "low word of a shift (measured: 0x100000000 >> 1 gives 0x80000000, "
                  "0x180000000 >> 0 gives 0x180000000)",
          vr4300="rd = sign-extended low word of (64-bit rt >> sa), arithmetic shift",
          source="lemmy-64/n64-systemtest src/tests/arithmetic/shifts.rs (hardware results); "
                 "DESIGN.md section 10",
          fix=_fix_sra),
    Quirk("divide_by_zero", ("DIV", "DIVU", "DDIV", "DDIVU"),
          unicorn="divides by 1 instead: LO = dividend, HI = 0 (measured)",
          vr4300="LO = -1 (DIV/DDIV: +1 when the dividend is negative), HI = the dividend "
                 "(DIV/DIVU: sign-extended low word)",
          source="DESIGN.md section 10 (measured on hardware); ares CPU::DIV/DIVU/DDIV/DDIVU",
          fix=_fix_divide_by_zero),
    Quirk("sc_link", ("SC", "SCD"),
          unicorn="QEMU's SC is a compare-and-swap against the address and value of the last "
                  "LL and ends the link: it fails after a store that changed the word, at "
                  "another address, or on a second SC",
          vr4300="SC succeeds (stores, rt = 1) whenever the LL bit is set; only ERET clears "
                 "the LL bit",
          source="VR4300 User's Manual chapter 16 (LL, SC); DESIGN.md section 10; "
                 "lemmy-64/n64-systemtest src/tests/arithmetic/ll_sc.rs (SC through another "
                 "virtual alias of the linked word succeeds)",
          fix=_fix_store_conditional),
    Quirk("sc_misaligned", ("SC", "SCD"),
          unicorn="a misaligned SC/SCD at an address other than the linked one fails quietly "
                  "(rt = 0, no exception): QEMU compares with the link address before it "
                  "checks alignment (measured)",
          vr4300="address error AdES, rt and memory unchanged",
          source="VR4300 User's Manual chapter 16 (SC, SCD: exceptions); MIPS R4000 "
                 "User's Manual pseudo-code (address checked before the LL bit)",
          fix=_fix_sc_misaligned),
    Quirk("cop0_count", ("MFC0", "DMFC0"),
          unicorn="Count reads 0, also after MTC0 (measured)",
          vr4300="Count counts at half the pipeline clock; this model keeps it as a plain "
                 "register, so the correct read is the register's contents",
          source="DESIGN.md section 10; VR4300 User's Manual chapter 6 (Count register)",
          fix=_fix_count_read),
    Quirk("cop0_registers", ("MFC0", "DMFC0"),
          unicorn="COP0 follows QEMU's R4000: MTC0 stores all 64 bits of rt, write masks "
                  "differ (e.g. Compare reads back 0), reset values differ, and reading a "
                  "register QEMU does not implement (e.g. 7) raises RI",
          vr4300="MTC0 writes the sign-extended low word, each register keeps only the bits "
                 "of its write mask (arch.COP0); the correct read is the register's contents",
          source="measured (Unicorn 2.1.4); ares CPU::MTC0/setControlRegister; VR4300 User's "
                 "Manual chapter 6",
          fix=_fix_other_cop0_read),
    Quirk("exception_delivery", (),
          unicorn="does not deliver exceptions: stops with an interrupt number or an error "
                  "and leaves the pc unusable (for SYSCALL: the next pc)",
          vr4300="enters the exception vector with EPC, Cause.BD/ExcCode and Status.EXL set "
                 "(BadVAddr for address errors)",
          source="DESIGN.md section 10; measured. MipsOracle reports the cause (QEMU EXCP_* "
                 "mapped to ExcCode) and the pc from its instruction trace; the JIT and the "
                 "reference interpreter stop at guest exceptions too, so runs compare there"),
)

BY_NAME = {q.name: q for q in QUIRKS}


def explain(word: int, before: Mapping, ours: Mapping, theirs: Mapping,
            ours_exception: Optional[int] = None, theirs_exception: Optional[int] = None,
            ours_stores: Sequence = (), theirs_stores: Sequence = ()) -> Optional[Explanation]:
    """The quirk that accounts for EVERY difference between our outcome and the oracle's
    after ``word`` ran from ``before``: registers (compared on ``theirs``' references), the
    exception cause each side stopped with (``None``: none) and the stores each side made
    (``(address, size, value)`` sequences, e.g. ``dynarec.oracle.Store``s). Returns it with
    its fix, or ``None`` when the outcomes agree or no quirk makes them agree (a real
    divergence)."""
    ours_stores = [tuple(s) for s in ours_stores]
    theirs_stores = [tuple(s) for s in theirs_stores]
    if ours_exception == theirs_exception and ours_stores == theirs_stores and \
            all(ours.get(ref) == value for ref, value in theirs.items()):
        return None
    insn = decode(word)
    if insn is None:
        return None
    for quirk in QUIRKS:
        if insn.mnemonic not in quirk.mnemonics or quirk.fix is None:
            continue
        fix = quirk.fix(insn, before)
        if fix is None:
            continue
        patched = dict(theirs)
        patched.update((ref, v) for ref, v in fix.regs.items() if ref in theirs)
        if fix.exception == ours_exception and \
                theirs_stores + [tuple(s) for s in fix.stores] == ours_stores and \
                all(ours.get(ref) == value for ref, value in patched.items()):
            return Explanation(quirk, fix)
    return None
