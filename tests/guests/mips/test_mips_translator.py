"""The shape of translated regions -- instruction markers, delay slots, exits and their kinds,
superblocks that go on along not-taken paths, loops back to the region's own pc, region limits,
faults at translation time, the IR text round trip -- and what the shapes do on the JIT:
loops inside one region entry, budget slices, page and size limits, delay-slot exceptions in
a loop, all checked against the reference interpreter."""

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mips_testlib import (CODE_PHYS, CODE_VADDR, DATA_PHYS, DATA_SIZE, DESTS, RAM_SIZE,
                          SUM_LOOP, assemble, plain_insn, register_value)

from dynarec import ExitReason, GuestFault, Machine
from dynarec.guests.mips import MipsGuest
from dynarec.guests.mips.arch import KSEG0, Exc
from dynarec.ir.parser import parse_module
from dynarec.ir.printer import format_region
from dynarec.ir.verifier import verify_region
from dynarec.memory import AddressSpace
from dynarec.passes import run_passes


class Memory:
    """What ``translate`` needs of a machine: its ``memory`` and ``is_stop_point``."""

    def __init__(self, code: bytes, address: int = CODE_PHYS, stops=()):
        self.memory = AddressSpace(32, 12, big_endian=True)
        self.memory.map_ram(0, RAM_SIZE)
        self.memory.write_bytes(address, code)
        self.stops = set(stops)

    def is_stop_point(self, pc: int) -> bool:
        return pc in self.stops


def translate(text: str, guest=None, pc: int = CODE_VADDR, address: int = CODE_PHYS,
              stops=()):
    guest = guest or MipsGuest()
    module = guest.module()
    region = guest.translate(Memory(assemble(text, address), address, stops), pc, module)
    verify_region(region, module)
    return region, module


def markers(region):
    return [(i.attrs["pc"] - CODE_VADDR, i.attrs["delay"]) for i in region.insts()
            if i.op == "insn_start"]


def exits(region):
    return sorted((i.attrs["kind"], i.attrs["pc"] - CODE_VADDR if i.attrs["pc"] >= 0 else None)
                  for i in region.insts() if i.op == "exit")


def traps(region):
    return [(i.attrs["cause"], i.attrs["pc"] - CODE_VADDR) for i in region.insts()
            if i.op == "trap"]


def shape(region, base: int = CODE_VADDR) -> dict:
    """Block name -> (its ``insn_start`` markers as (pc - base, delay), where its terminator
    leads: the target blocks of a branch, ``(kind, pc - base)`` of an exit, the cause of a
    trap)."""
    out = {}
    for block in region.blocks:
        marks = [(i.attrs["pc"] - base, i.attrs["delay"]) for i in block.insts
                 if i.op == "insn_start"]
        end = block.insts[-1]
        if end.op == "exit":
            to = (end.attrs["kind"], end.attrs["pc"] - base)
        elif end.op == "trap":
            to = ("trap", end.attrs["cause"])
        else:
            to = (end.op, *[t.block.name for t in end.targets])
        out[block.name] = (marks, to)
    return out


def test_a_region_goes_on_along_the_not_taken_path():
    region, _ = translate("addu $1, $2, $3\nbeq $1, $0, L\nori $4, $0, 1\nori $5, $0, 1\n"
                          "L: syscall")
    assert shape(region) == {
        "block0": ([(0, 0), (4, 0), (4, 1)], ("brif", "block1", "block2")),  # slot: branch pc
        "block1": ([], ("jump", 16)),                                        # taken
        "block2": ([(12, 0), (16, 0)], ("trap", Exc.Sys)),                   # not taken
    }
    assert all(i.attrs["cost"] == 1 for i in region.insts() if i.op == "insn_start")


def test_a_branch_likely_runs_its_slot_when_taken_and_goes_on_after_the_nullified_slot():
    region, _ = translate("beql $1, $0, L\nori $4, $0, 1\nori $5, $0, 1\nL: syscall")
    assert shape(region) == {
        "block0": ([(0, 0)], ("brif", "block1", "block2")),
        "block1": ([(0, 1)], ("jump", 12)),                                  # slot run
        "block2": ([(0, 1), (8, 0), (12, 0)], ("trap", Exc.Sys)),            # nullified
    }
    nullified = region.block("block2").insts[0]
    assert nullified.attrs["cost"] == 1 and len(region.block("block1").insts) > 2


def test_registers_read_before_a_branch_stay_in_values_on_the_not_taken_path():
    region, module = translate("addu $1, $2, $3\nbne $1, $0, L\nnop\naddu $4, $1, $2\n"
                               "L: syscall")
    run_passes(region, module)
    gets = [(b.name, i.attrs["slot"]) for b in region.blocks for i in b.insts if i.op == "get"]
    assert gets == [("block0", "gpr[2]"), ("block0", "gpr[3]")]


@pytest.mark.parametrize("text, expected", [
    ("j 0x1400\nnop", [("jump", 0x400)]),
    ("jal 0x1400\nnop", [("call", 0x400)]),
    ("jr $31\nnop", [("return", None)]),
    ("jr $5\nnop", [("indirect", None)]),
    ("jalr $5\nnop", [("call", None)]),
    ("bgezal $5, L\nnop\nL: j 0x1400\nnop", [("call", 8), ("jump", 0x400)]),
    ("eret", [("indirect", None)]),
    ("b L\nnop\nnop\nL: nop", [("jump", 12)]),           # always taken: beq $0, $0
    ("beql $7, $7, L\nnop\nnop\nL: nop", [("jump", 12)]),
    ("bal L\nnop\nnop\nL: nop", [("call", 12)]),          # bgezal $0
])
def test_exit_kinds(text, expected):
    region, _ = translate(text)
    assert exits(region) == expected


def test_an_always_taken_branch_ends_the_region_and_runs_its_slot():
    region, _ = translate("bgezl $0, L\nori $4, $0, 1\nnop\nL: nop")
    assert shape(region) == {"block0": ([(0, 0), (0, 1)], ("jump", 12))}


def test_calls_return_after_their_slot_on_every_path():
    region, _ = translate("bltzal $5, L\nnop\njal 0x1400\nnop\nL: nop")
    assert sorted((i.attrs["pc"] - CODE_VADDR, i.attrs["ret_pc"] - CODE_VADDR)
                  for i in region.insts() if i.op == "exit") == [(16, 8), (0x400, 16)]


# --- loops -------------------------------------------------------------------------------

def test_a_branch_to_the_region_start_is_a_back_edge_to_the_entry_block():
    region, module = translate("loop: addiu $3, $3, -1\nbne $3, $0, loop\nori $4, $0, 1\n"
                               "syscall")
    assert shape(region) == {
        "block0": ([(0, 0), (4, 0), (4, 1)], ("brif", "block0", "block1")),
        "block1": ([(12, 0)], ("trap", Exc.Sys)),
    }
    run_passes(region, module)
    verify_region(region, module)
    head = region.entry.insts[0]
    # one budget check guards both the entry and the loop, for the longest path to the next
    # check or the end: the loop's 3 instructions, then the syscall
    assert head.op == "check_budget" and head.attrs == {"cycles": 4, "pc": CODE_VADDR}


def test_a_likely_back_edge_runs_the_slot_on_the_loop_path_only():
    region, _ = translate("loop: addiu $3, $3, -1\nbnel $3, $0, loop\nori $4, $0, 1\nsyscall")
    assert shape(region) == {
        "block0": ([(0, 0), (4, 0)], ("brif", "block1", "block2")),
        "block1": ([(4, 1)], ("br", "block0")),
        "block2": ([(4, 1), (12, 0)], ("trap", Exc.Sys)),
    }


@pytest.mark.parametrize("jump", ["b loop", "j 0x1000"])
def test_an_unconditional_jump_to_the_start_loops(jump):
    region, _ = translate(f"loop: addiu $3, $3, 1\n{jump}\nnop")
    assert shape(region) == {"block0": ([(0, 0), (4, 0), (4, 1)], ("br", "block0"))}


def test_a_region_does_not_go_on_after_a_loop_headed_elsewhere():
    text = "ori $3, $0, 5\nloop: addiu $3, $3, -1\nbne $3, $0, loop\nnop\nsyscall"
    region, _ = translate(text)                              # runs into the loop
    assert shape(region) == {
        "block0": ([(0, 0), (4, 0), (8, 0), (8, 1)], ("brif", "block1", "block2")),
        "block1": ([], ("jump", 4)),
        "block2": ([], ("jump", 16)),             # the loop's own region goes on from here
    }
    region, _ = translate(text, pc=CODE_VADDR + 4)           # the loop's own region
    assert shape(region)["block1"] == ([(16, 0)], ("trap", Exc.Sys))


def test_no_back_edge_for_calls_or_a_start_that_is_a_stop_point():
    region, _ = translate("loop: bgezal $3, loop\nnop\nsyscall")
    assert ("call", 0) in exits(region)
    region, _ = translate("loop: addiu $3, $3, -1\nbne $3, $0, loop\nnop\nsyscall",
                          stops={CODE_VADDR})
    assert shape(region)["block1"] == ([], ("jump", 0))


@pytest.mark.parametrize("stops, guest, text, not_taken", [
    ({CODE_VADDR + 12}, MipsGuest(), "addu $1, $2, $3\nbeq $1, $0, L\nnop\nnop\nL: nop",
     ([], ("jump", 12))),                                   # a stop point after the branch
    ((), MipsGuest(max_insns=3), "addu $1, $2, $3\nbeq $1, $0, L\nnop\nnop\nL: nop",
     ([], ("jump", 12))),                                   # the size cap, slot included
    ((), MipsGuest(max_insns=4), "addu $1, $2, $3\nbeq $1, $0, L\nnop\nnop\nnop\nL: nop",
     ([(12, 0)], ("jump", 16))),
])
def test_where_the_not_taken_path_stops(stops, guest, text, not_taken):
    region, _ = translate(text, guest, stops=stops)
    assert shape(region)["block2"] == not_taken


def test_the_not_taken_path_stays_on_the_start_page():
    base = KSEG0 + 0x1FF8
    region, _ = translate("beq $1, $0, L\nnop\nL: nop", pc=base, address=0x1FF8)
    assert shape(region, base)["block2"] == ([], ("jump", 8))
    # a loop whose slot lies on the next page still loops; it stops after that slot
    base = KSEG0 + 0x1FF8
    region, _ = translate("loop: addiu $3, $3, -1\nbne $3, $0, loop\nnop\nsyscall",
                          pc=base, address=0x1FF8)
    assert shape(region, base) == {
        "block0": ([(0, 0), (4, 0), (4, 1)], ("brif", "block0", "block1")),
        "block1": ([], ("jump", 12)),
    }


def test_instructions_that_always_raise_end_the_region():
    region, _ = translate("ori $1, $0, 1\nsyscall\nori $2, $0, 2")
    assert markers(region) == [(0, 0), (4, 0)]
    assert traps(region) == [(Exc.Sys, 4)]
    assert exits(region) == []


def test_a_reserved_instruction_traps_ri():
    region, _ = translate(".word 0x7c000000")
    assert traps(region) == [(Exc.RI, 0)]


def test_region_size_is_capped_and_regions_stop_at_the_page_end():
    region, _ = translate("\n".join(["nop"] * 10), MipsGuest(max_insns=3))
    assert len(markers(region)) == 3 and exits(region) == [("jump", 12)]
    near_end = KSEG0 + 0x1FF8
    region, _ = translate("nop\nnop\nnop\nnop", pc=near_end, address=0x1FF8)
    assert len(markers(region)) == 2
    assert [i.attrs["pc"] for i in region.insts() if i.op == "exit"] == [KSEG0 + 0x2000]


def test_a_branch_keeps_its_slot_across_the_cap():
    region, _ = translate("beq $0, $0, L\nnop\nnop\nL: nop", MipsGuest(max_insns=1))
    assert markers(region) == [(0, 0), (0, 1)]


def test_fetch_problems():
    guest = MipsGuest()
    memory = Memory(assemble("nop"))
    with pytest.raises(GuestFault):                       # physical 0x100000: no memory
        guest.translate(memory, KSEG0 + 0x10_0000, guest.module())
    module = guest.module()
    region = guest.translate(memory, CODE_VADDR + 2, module)        # misaligned pc
    verify_region(region, module)
    assert [i.op for i in region.insts()] == ["insn_start", "iconst", "put", "trap"]
    assert [i.attrs["cause"] for i in region.insts() if i.op == "trap"] == [Exc.AdEL]
    region = guest.translate(memory, 0x1000, guest.module())         # KUSEG, no TLB mapping
    assert [i.attrs["cause"] for i in region.insts() if i.op == "trap"] == [Exc.AdEL]


def test_code_in_tlb_segments_is_fetched_through_the_hook():
    asked = []

    def tlb(vaddr, access):
        asked.append((vaddr, access))
        return CODE_PHYS + (vaddr & 0xFFF)

    region, _ = translate("ori $1, $0, 1\nj 0x0\nnop", MipsGuest(tlb), pc=0x0040_0000)
    assert [a for _, a in asked] == [2, 2, 2]            # arch.FETCH for each word
    assert len([i for i in region.insts() if i.op == "insn_start"]) == 3


@pytest.mark.parametrize("text", [
    "lw $1, 4($26)\nswl $1, 9($26)\nsc $2, 0($27)\nddiv $0, $3, $4\nsra $5, $6, 3\n"
    "mtc0 $7, $11\nbltzall $8, L\nadd $9, $9, $9\nL: syscall",
    "loop: lw $1, 4($26)\nbnel $1, $0, loop\nsw $1, 8($26)\nbeq $1, $2, loop\nnop\nsyscall",
])
def test_regions_round_trip_through_the_ir_text(text):
    region, module = translate(text)
    printed = format_region(region)
    module.regions.clear()
    module.add(region)
    parsed = parse_module(str(module))
    assert format_region(next(iter(parsed.regions.values()))) == printed


# --- loops on the JIT, against the reference interpreter -----------------------------------

#: the largest budget check of SUM_LOOP's regions: 6 instructions, in the first region to the
#: branch and its slot, in the loop's region its 4 and then the sw and syscall
SUM_LOOP_CHECK = 6


def loaded(text: str, address: int = CODE_PHYS, regs=None, data: bytes = b"",
           link: bool = True, **guest_options) -> Machine:
    """A Machine with ``text`` at physical ``address``, the pc on it (KSEG0), $26 pointing
    at the data page (KSEG0) and the registers ``regs``."""
    m = Machine(MipsGuest(**guest_options), link=link)
    m.memory.map_ram(0, RAM_SIZE)
    m.memory.write_bytes(address, assemble(text, address))
    m.memory.write_bytes(DATA_PHYS, data)
    m.pc = KSEG0 + address
    m.regs["gpr[26]"] = KSEG0 + DATA_PHYS
    for ref, value in (regs or {}).items():
        m.regs[ref] = value
    return m


def end_state(m: Machine, exception: tuple, retired: int) -> tuple:
    return (m.regs.as_dict(), m.memory.read_bytes(DATA_PHYS, DATA_SIZE), exception, retired)


def run_jit(m: Machine, cycles=None, within: int = 0) -> tuple:
    """Run to the exception that ends the program -- in slices of ``cycles``, each of which
    must stop at least at its target and less than ``within`` cycles (the largest budget
    check: the most a region may run past its target) beyond -- and return the end state."""
    while True:
        before = m.cycles
        result = m.run(cycles=cycles)
        if result.reason != ExitReason.BUDGET:
            break
        assert cycles <= m.cycles - before < cycles + within
    assert result.reason == ExitReason.EXCEPTION, result
    return end_state(m, (result.cause, result.pc, result.delay), m.insns)


def run_reference(m: Machine) -> tuple:
    """Step the reference interpreter to the exception that ends the program; the end
    state."""
    retired = 0
    for _ in range(100_000):
        result = m.guest.step(m)
        retired += result.retired
        e = result.exception
        if e is not None:
            return end_state(m, (int(e.cause), e.pc, e.delay), retired)
    raise AssertionError("the program did not end")


def test_a_tight_loop_runs_in_one_region_entry():
    m = loaded(SUM_LOOP, link=False)
    assert run_jit(m) == run_reference(loaded(SUM_LOOP))
    assert m.regs["gpr[2]"] == sum(range(1, 1001)) and m.insns == 2 + 4 * 1000 + 1
    # the first region runs the first iteration; the loop's region the other 999, then the
    # sw and syscall after it -- without the back edge it would be one entry per iteration
    assert m.stats["entries"] == 2
    split = loaded(SUM_LOOP, link=False, max_insns=2)       # too small to hold the loop
    run_jit(split)
    assert split.stats["entries"] > 2 * 1000


@pytest.mark.parametrize("cycles", [1, 2, 5, 7, 64, 999])
def test_a_loop_run_in_budget_slices_stops_near_each_target_and_ends_the_same(cycles):
    assert run_jit(loaded(SUM_LOOP), cycles, SUM_LOOP_CHECK) == run_reference(loaded(SUM_LOOP))


PAGE_END_LOOP = """
    ori $3, $0, 50
loop:
    addiu $2, $2, 3
    addiu $3, $3, -1
    bne $3, $0, loop
    addu $4, $4, $2
    sw $4, 0($26)
    syscall
"""


@pytest.mark.parametrize("address", [0x1FE0, 0x1FF0, 0x1FF4, 0x1FF8, 0x1FFC])
@pytest.mark.parametrize("max_insns", [1, 3, 4, 64])
def test_loops_across_a_page_end_or_over_the_size_cap_run_right(address, max_insns):
    m = loaded(PAGE_END_LOOP, address, max_insns=max_insns)
    assert run_jit(m) == run_reference(loaded(PAGE_END_LOOP, address))
    assert m.regs["gpr[4]"] == sum(3 * k for k in range(1, 51))


def test_an_exception_in_a_delay_slot_of_a_loop_reports_the_branch():
    text = "ori $3, $0, 10\nori $6, $0, 4\nloop: addiu $3, $3, -1\nbne $3, $0, loop\n" \
           "teq $3, $6\nsyscall"
    m = loaded(text, link=False)
    state = run_jit(m)
    assert state == run_reference(loaded(text))
    assert state[2] == (Exc.Tr, CODE_VADDR + 12, 1) and m.regs["gpr[3]"] == 4
    assert m.stats["entries"] == 2


@st.composite
def loops(draw):
    """A random counted loop: random instructions (of every class but control) before it,
    in its body, in its branch's delay slot and after it; a BNE or BNEL back to its head;
    random registers and data page. Gives the text, its number of instructions, the
    registers and the data page."""
    count = draw(st.integers(1, 12))
    branch = draw(st.sampled_from(["bne", "bnel"]))
    before, body, after = (draw(st.lists(plain_insn(), max_size=n)) for n in (2, 6, 3))
    slot = draw(plain_insn(in_slot=True))
    lines = [*before, f"ori $25, $0, {count}", "loop:", *body, "addiu $25, $25, -1",
             f"{branch} $25, $0, loop", slot, *after, "syscall"]
    regs = {f"gpr[{n}]": draw(register_value()) for n in DESTS if n}
    seed = draw(st.integers(0, 2**32 - 1))
    return "\n".join(lines), len(lines) - 1, regs, random.Random(seed).randbytes(DATA_SIZE)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(loops(), st.sampled_from([None, 1, 3, 10]), st.sampled_from([3, 64]))
def test_random_loops_agree_with_the_reference_interpreter(loop, cycles, max_insns):
    text, size, regs, data = loop
    expected = run_reference(loaded(text, regs=regs, data=data))
    m = loaded(text, regs=regs, data=data, max_insns=max_insns)
    # a budget check covers a path through one region: each instruction at most once
    assert run_jit(m, cycles, within=size) == expected
