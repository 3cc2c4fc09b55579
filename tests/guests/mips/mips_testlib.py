"""Shared helpers of the MIPS guest tests: a Keystone assembler, hypothesis strategies for
random valid VR4300 programs, and runners that execute a program on the reference
interpreter, on the translator through the IR interpreter, on the JIT (``dynarec.Machine``)
and in lockstep with Unicorn. Imported by name: pytest puts this directory on ``sys.path``.

A program is straight-line code with forward branches only (so it always ends) laid out at
physical 0x1000 (run at KSEG0 0xFFFFFFFF80001000), ended by ``syscall`` (every run stops there
with a Sys exception, or earlier at another exception) and the oracle's guard. Registers $26
and $27 hold the KSEG0 and KSEG1 addresses of a 4 KiB data page at physical 0x8000 (every
load and store uses them as base, so addresses stay valid); $25 is the scratch register of
JR/JALR targets. None of the three is ever a destination.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Optional

from hypothesis import strategies as st
from keystone import KS_ARCH_MIPS, KS_MODE_BIG_ENDIAN, KS_MODE_MIPS64, Ks

from dynarec.guests.mips.arch import KSEG0, KSEG1, MASK64, STATE
from dynarec.memory import AddressSpace

CODE_PHYS = 0x1000
CODE_VADDR = KSEG0 + CODE_PHYS
DATA_PHYS = 0x8000
DATA_SIZE = 0x1000
RAM_SIZE = 0x10000
BASE_KSEG0, BASE_KSEG1, JUMP_SCRATCH = 26, 27, 25
RESERVED = {BASE_KSEG0, BASE_KSEG1, JUMP_SCRATCH}
DESTS = [n for n in range(32) if n not in RESERVED]
GUARD = bytes.fromhex("1000ffff00000000")          # b . ; nop

_KS = Ks(KS_ARCH_MIPS, KS_MODE_MIPS64 + KS_MODE_BIG_ENDIAN)


def assemble(text: str, address: int = CODE_PHYS) -> bytes:
    """Keystone, MIPS64 big-endian, ``.set noreorder`` (no automatic delay-slot nops).
    ``address`` is the physical address (Keystone only needs the low bits)."""
    encoding, _ = _KS.asm(".set noreorder\n" + text, address)
    return bytes(encoding)


# --- random programs ---------------------------------------------------------------------

R3 = ["ADD", "ADDU", "SUB", "SUBU", "AND", "OR", "XOR", "NOR", "SLT", "SLTU", "DADD", "DADDU",
      "DSUB", "DSUBU"]
SHIFT_V = ["SLLV", "SRLV", "SRAV", "DSLLV", "DSRLV", "DSRAV"]
SHIFT_I = ["SLL", "SRL", "SRA", "DSLL", "DSRL", "DSRA", "DSLL32", "DSRL32", "DSRA32"]
IMM_S = ["ADDI", "ADDIU", "SLTI", "SLTIU", "DADDI", "DADDIU"]
IMM_U = ["ANDI", "ORI", "XORI"]
MULDIV = ["MULT", "MULTU", "DIV", "DIVU", "DMULT", "DMULTU", "DDIV", "DDIVU"]
HILO_FROM, HILO_TO = ["MFHI", "MFLO"], ["MTHI", "MTLO"]
TRAP_R = ["TGE", "TGEU", "TLT", "TLTU", "TEQ", "TNE"]
TRAP_I = ["TGEI", "TGEIU", "TLTI", "TLTIU", "TEQI", "TNEI"]
LOADS = {"LB": 1, "LBU": 1, "LH": 2, "LHU": 2, "LW": 4, "LWU": 4, "LD": 8, "LL": 4, "LLD": 8,
         "LWL": 1, "LWR": 1, "LDL": 1, "LDR": 1}
STORES = {"SB": 1, "SH": 2, "SW": 4, "SD": 8, "SC": 4, "SCD": 8,
          "SWL": 1, "SWR": 1, "SDL": 1, "SDR": 1}
COP0_READ, COP0_WRITE = ["MFC0", "DMFC0"], ["MTC0", "DMTC0"]
#: COP0 registers random programs write: none changes the processor's mode or raises anything
COP0_WRITABLE = [8, 9, 14, 17, 30]
BRANCH_2 = ["BEQ", "BNE", "BEQL", "BNEL"]
BRANCH_1 = ["BLEZ", "BGTZ", "BLTZ", "BGEZ", "BLEZL", "BGTZL", "BLTZL", "BGEZL",
            "BLTZAL", "BGEZAL", "BLTZALL", "BGEZALL"]
#: instructions where Unicorn is known to differ (quirks.py): kept out of delay slots so that
#: the lockstep runner can ask the quirk table about the instruction it just stepped
QUIRKY = {"SRA", "SRAV", "DIV", "DIVU", "DDIV", "DDIVU", "SC", "SCD", "MFC0", "DMFC0", "ADD",
          "ADDI", "SUB"}

reg = st.integers(0, 31)
dest = st.sampled_from(DESTS)
simm16 = st.integers(-0x8000, 0x7FFF)


KINDS = (["r3"] * 6 + ["shiftv"] * 2 + ["shifti"] * 3 + ["imm"] * 4 + ["muldiv"] * 2 +
         ["load"] * 3 + ["store"] * 2 + ["lui", "hilo", "trap", "cop0", "sync"])


@st.composite
def plain_insn(draw, in_slot: bool = False) -> str:
    """One non-control instruction as assembly text (numeric registers); in a delay slot,
    none of the ``QUIRKY`` ones."""

    def pick(names):
        return draw(st.sampled_from([n for n in names if not (in_slot and n in QUIRKY)]))

    kind = draw(st.sampled_from(KINDS))
    if kind in ("r3", "shiftv"):
        m = pick(R3 if kind == "r3" else SHIFT_V)
        return f"{m.lower()} ${draw(dest)}, ${draw(reg)}, ${draw(reg)}"
    if kind == "shifti":
        return f"{pick(SHIFT_I).lower()} ${draw(dest)}, ${draw(reg)}, {draw(st.integers(0, 31))}"
    if kind == "imm":
        m = pick(IMM_S + IMM_U)
        imm = draw(simm16) if m in IMM_S else draw(st.integers(0, 0xFFFF))
        return f"{m.lower()} ${draw(dest)}, ${draw(reg)}, {imm}"
    if kind == "lui":
        return f"lui ${draw(dest)}, {draw(st.integers(0, 0xFFFF))}"
    if kind == "muldiv":
        m = pick(MULDIV)
        prefix = "$0, " if "DIV" in m else ""         # Keystone's DIV without $0 is a macro
        return f"{m.lower()} {prefix}${draw(reg)}, ${draw(reg)}"
    if kind == "hilo":
        if draw(st.booleans()):
            return f"{draw(st.sampled_from(HILO_FROM)).lower()} ${draw(dest)}"
        return f"{draw(st.sampled_from(HILO_TO)).lower()} ${draw(reg)}"
    if kind in ("load", "store"):
        table = LOADS if kind == "load" else STORES
        m = pick(table)
        size = table[m]
        offset = draw(st.integers(0, (DATA_SIZE - 8) // size)) * size
        if size > 1 and draw(st.integers(0, 24)) == 0:
            offset += draw(st.integers(1, size - 1))         # an address error, now and then
        base = draw(st.sampled_from([BASE_KSEG0, BASE_KSEG1]))
        target = draw(dest) if kind == "load" else draw(reg)
        return f"{m.lower()} ${target}, {offset}(${base})"
    if kind == "trap":
        if draw(st.booleans()):
            return f"{draw(st.sampled_from(TRAP_R)).lower()} ${draw(reg)}, ${draw(reg)}"
        return f"{draw(st.sampled_from(TRAP_I)).lower()} ${draw(reg)}, {draw(simm16)}"
    if kind == "cop0":
        if in_slot or draw(st.booleans()):
            number = draw(st.sampled_from(COP0_WRITABLE))
            return f"{draw(st.sampled_from(COP0_WRITE)).lower()} ${draw(reg)}, ${number}"
        return f"{draw(st.sampled_from(COP0_READ)).lower()} ${draw(dest)}, ${draw(reg)}"
    if draw(st.booleans()):
        return "sync"
    return f"cache {draw(st.integers(0, 31))}, {draw(st.integers(0, 0xFF0))}(${BASE_KSEG0})"


@dataclass
class Item:
    """One piece of a program: ``kind`` ``"plain"`` (one instruction), ``"branch"``,
    ``"jump"`` (J/JAL) or ``"jreg"`` (JR/JALR through $25); ``text`` the instruction (for
    control items the mnemonic and register operands); ``forward`` how many items ahead the
    target is; ``slot`` the delay-slot instruction."""

    kind: str
    text: str
    forward: int = 1
    slot: str = "nop"

    @property
    def size(self) -> int:
        return {"plain": 1, "branch": 2, "jump": 2, "jreg": 4}[self.kind]


@st.composite
def item(draw) -> Item:
    kind = draw(st.sampled_from(["plain"] * 8 + ["branch"] * 2 + ["jump", "jreg"]))
    if kind == "plain":
        return Item("plain", draw(plain_insn()))
    forward = draw(st.integers(1, 4))
    slot = draw(plain_insn(in_slot=True))
    if kind == "branch":
        if draw(st.booleans()):
            text = f"{draw(st.sampled_from(BRANCH_2)).lower()} ${draw(reg)}, ${draw(reg)}"
        else:
            text = f"{draw(st.sampled_from(BRANCH_1)).lower()} ${draw(reg)}"
        return Item("branch", text, forward, slot)
    if kind == "jump":
        return Item("jump", draw(st.sampled_from(["j", "jal"])), forward, slot)
    link = draw(st.sampled_from([None, 31, *DESTS]))
    return Item("jreg", "jr $25" if link is None else f"jalr ${link}, $25", forward, slot)


@dataclass
class Program:
    """A program: ``items``, the initial ``regs`` (state reference -> value; the rest are 0)
    and the initial ``data`` page. ``text``/``code`` are the assembly and its encoding,
    ``addresses`` the virtual address of each item and, last, of the closing ``syscall``
    (``end_pc``)."""

    items: list
    regs: dict
    data: bytes
    text: str = ""
    code: bytes = b""
    end_pc: int = 0
    addresses: list = field(default_factory=list)

    def __post_init__(self):
        addresses, pos = [], CODE_PHYS
        for it in self.items:
            addresses.append(pos)
            pos += 4 * it.size
        addresses.append(pos)                      # the closing syscall
        n = len(self.items)
        lines = []
        for i, it in enumerate(self.items):
            label = f"L{min(i + it.forward, n)}"
            target = addresses[min(i + it.forward, n)]
            lines.append(f"L{i}:")
            if it.kind == "plain":
                lines.append(it.text)
            elif it.kind == "branch":
                lines += [f"{it.text}, {label}", it.slot]
            elif it.kind == "jump":
                lines += [f"{it.text} {target:#x}", it.slot]
            else:
                lines += [f"lui $25, 0x8000", f"ori $25, $25, {target:#x}", it.text, it.slot]
        lines += [f"L{n}:", "syscall"]
        self.text = "\n".join(lines)
        self.code = assemble(self.text)
        self.addresses = [KSEG0 + a for a in addresses]
        self.end_pc = self.addresses[-1]

    def __repr__(self) -> str:
        regs = ", ".join(f"{k}={v:#x}" for k, v in self.regs.items())
        return f"Program(\n{self.text}\n; {regs})"

    def _repr_pretty_(self, printer, cycle) -> None:
        """How hypothesis prints a falsifying example (without the data page)."""
        printer.text(repr(self))

    def memory(self) -> AddressSpace:
        """A fresh physical address space holding the program, its guard and data page."""
        mem = AddressSpace(32, 12, big_endian=True)
        mem.map_ram(0, RAM_SIZE)
        mem.write_bytes(CODE_PHYS, self.code + GUARD)
        mem.write_bytes(DATA_PHYS, self.data)
        return mem

    def state(self) -> dict:
        """The initial guest state (every reference of the layout)."""
        state = {ref: 0 for ref in STATE.refs()}
        state.update(self.regs)
        state["pc"] = CODE_VADDR
        return state


def register_value():
    """Register contents that exercise the corners: small, sign-extended words, any 64 bits."""
    return st.one_of(
        st.integers(-64, 64).map(lambda v: v & MASK64),
        st.integers(-(1 << 31), (1 << 31) - 1).map(lambda v: v & MASK64),
        st.integers(0, MASK64),
        st.sampled_from([0, 1, MASK64, 0x7FFF_FFFF, 0xFFFF_FFFF_8000_0000, 0xFFFF_FFFF,
                         1 << 63, (1 << 63) - 1, 0x8000_0000]),
    )


@st.composite
def programs(draw, min_items: int = 6, max_items: int = 20) -> Program:
    """A random program of ``min_items .. max_items`` items, with random registers, HI/LO,
    LL bit, COP0 scratch registers and data page."""
    items = draw(st.lists(item(), min_size=min_items, max_size=max_items))
    regs = {f"gpr[{n}]": draw(register_value()) for n in DESTS if n}
    regs[f"gpr[{BASE_KSEG0}]"] = KSEG0 + DATA_PHYS
    regs[f"gpr[{BASE_KSEG1}]"] = KSEG1 + DATA_PHYS
    regs["hi"], regs["lo"] = draw(register_value()), draw(register_value())
    regs["llbit"] = draw(st.integers(0, 1))
    for n in COP0_WRITABLE:
        regs[f"cop0[{n}]"] = draw(register_value())
    seed = draw(st.integers(0, 2**32 - 1))
    return Program(items, regs, random.Random(seed).randbytes(DATA_SIZE))


# --- runners -----------------------------------------------------------------------------

@dataclass
class Outcome:
    """The end of a run: ``regs`` (the compared references), ``data`` (the data page),
    ``exception`` ``(cause, pc, delay)`` that stopped it, ``retired`` instructions."""

    regs: dict
    data: bytes
    exception: Optional[tuple]
    retired: int
    trace: list = field(default_factory=list)


COMPARED = [ref for ref in STATE.refs() if ref != "pc"] + ["pc"]


def outcome(state, mem: AddressSpace, exception, retired) -> Outcome:
    return Outcome({ref: state[ref] for ref in COMPARED}, mem.read_bytes(DATA_PHYS, DATA_SIZE),
                   exception, retired)


def run_reference(prog: Program, max_steps: int = 1000, tlb=None) -> Outcome:
    """The program on the reference interpreter, to its first exception."""
    from dynarec.guests.mips.interpreter import step
    state, mem = prog.state(), prog.memory()
    retired = 0
    for _ in range(max_steps):
        result = step(state, mem, tlb)
        retired += result.retired
        if result.exception is not None:
            e = result.exception
            return outcome(state, mem, (int(e.cause), e.pc, e.delay), retired)
    raise AssertionError("the program did not end")


class LoggingMemory:
    """The IR interpreter's memory interface over an ``AddressSpace``."""

    def __init__(self, space: AddressSpace):
        self.space = space

    def load(self, addr, size):
        return self.space.read(addr, size)

    def store(self, addr, size, value):
        self.space.write(addr, size, value)


def run_ir(prog: Program, max_insns: int = 64, passes: bool = False,
           max_regions: int = 1000, tlb=None) -> Outcome:
    """The program translated region by region -- every region checked by the IR verifier,
    before and after the default pass pipeline when ``passes`` -- and run on
    ``dynarec.ir.interp``, to its first exception. ``retired`` counts only with ``passes``
    (the cycle-accounting pass inserts the counting)."""
    from dynarec.context import ExitReason
    from dynarec.errors import GuestFault
    from dynarec.guests.mips import MipsGuest
    from dynarec.ir.interp import Interpreter
    from dynarec.ir.verifier import verify_region
    from dynarec.passes import run_passes
    from dynarec.runtime import FAULT
    guest = MipsGuest(tlb, max_insns=max_insns)
    state, mem = prog.state(), prog.memory()
    machine = type("TranslateOnly", (), {"memory": mem,
                                         "is_stop_point": staticmethod(lambda pc: False)})()
    module = guest.module()
    interp = Interpreter(module, state=state, memory=LoggingMemory(mem),
                         helpers={name: h.target for name, h in guest.helpers.items()})
    names = {}
    for _ in range(max_regions):
        pc = state["pc"]
        if pc not in names:
            region = guest.translate(machine, pc, module)
            verify_region(region, module)
            if passes:
                run_passes(region, module)
                verify_region(region, module)
            names[pc] = region.name
        try:
            ex = interp.run(names[pc])
        except GuestFault:
            return outcome(state, mem, (FAULT, interp.next_pc, interp.delay), interp.insns)
        if ex.reason == ExitReason.NEXT:
            state["pc"] = ex.pc
            continue
        assert ex.reason == ExitReason.EXCEPTION, ex
        state["pc"] = ex.pc
        return outcome(state, mem, (ex.info, ex.pc, interp.delay), interp.insns)
    raise AssertionError("the program did not end")


def run_machine(prog: Program, max_insns: int = 64, tlb=None, host: str = None) -> Outcome:
    """The program on the JIT (``dynarec.Machine`` on ``host``, default the native one), to
    its first exception."""
    from dynarec import ExitReason, Machine
    from dynarec.guests.mips import MipsGuest
    m = Machine(MipsGuest(tlb, max_insns=max_insns), host)
    mem = m.memory
    mem.map_ram(0, RAM_SIZE)
    mem.write_bytes(CODE_PHYS, prog.code + GUARD)
    mem.write_bytes(DATA_PHYS, prog.data)
    for ref, value in prog.state().items():
        m.regs[ref] = value
    result = m.run()
    assert result.reason == ExitReason.EXCEPTION, result
    state = m.regs.as_dict()
    return outcome(state, mem, (result.cause, result.pc, result.delay), m.insns)


def lockstep_with_unicorn(prog: Program, oracle, max_steps: int = 1000) -> list:
    """Run the program on the reference interpreter and on Unicorn (``MipsOracle``) one step
    at a time (a branch with its slot is one step). After every step the exceptions (cause,
    pc, delay), retired counts, registers and stores must agree, or the quirk table must
    explain the difference -- its VR4300 values are then written into the oracle. The data
    pages must agree at the end. Returns the names of the quirks used, in order."""
    from dynarec.guests.mips.arch import unmapped_physical
    from dynarec.guests.mips.interpreter import step
    from dynarec.guests.mips.quirks import explain
    state, mem = prog.state(), prog.memory()
    oracle.load(mem, state)
    used = []
    for _ in range(max_steps):
        before = dict(state)
        result = step(state, mem)
        run = oracle.run(max(result.retired, 1))
        where = f"after the step at {before['pc']:#x}\n{prog.text}"
        ours_exc = result.exception and int(result.exception.cause)
        theirs_exc = run.exception and run.exception.cause
        theirs = oracle.read_regs()
        ours = {ref: state[ref] for ref in theirs}
        ours_stores = [tuple(s) for s in result.stores]
        theirs_stores = [tuple(s) for s in run.stores]
        if ours_exc != theirs_exc or ours != theirs or ours_stores != theirs_stores:
            word = mem.read(unmapped_physical(before["pc"]), 4)
            why = explain(word, before, ours, theirs, ours_exc, theirs_exc, ours_stores,
                          theirs_stores)
            assert why is not None, (ours_exc, theirs_exc, ours_stores, theirs_stores,
                                     {r: (hex(ours[r]), hex(v)) for r, v in theirs.items()
                                      if ours[r] != v}, where)
            oracle.write_regs(why.fix.regs)
            for s in why.fix.stores:
                oracle.write_memory(s.address, s.value.to_bytes(s.size, "big"))
            used.append(why.quirk.name)
        else:
            assert run.retired == result.retired, where
            if result.exception is not None:
                e = result.exception
                assert (run.exception.pc, run.exception.delay) == (e.pc, e.delay), where
        if result.exception is not None:
            break
    else:
        raise AssertionError("the program did not end")
    assert oracle.read_memory(DATA_PHYS, DATA_SIZE) == mem.read_bytes(DATA_PHYS, DATA_SIZE)
    return used


#: sum 1000..1 into $2 in a tight loop, store it at the data page ($26) and end with SYSCALL
#: (the loop-region tests of the machine and the translator)
SUM_LOOP = """
    ori $2, $0, 0          # sum
    ori $3, $0, 1000       # n
loop:
    addu $2, $2, $3
    addiu $3, $3, -1
    bne $3, $0, loop
    nop
    sw $2, 0($26)
    syscall
"""
