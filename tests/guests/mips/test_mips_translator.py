"""The shape of translated regions: instruction markers, delay slots, exits and their kinds,
region limits, faults at translation time, and the IR text round trip."""

import pytest

from mips_testlib import CODE_PHYS, CODE_VADDR, RAM_SIZE, assemble

from dynarec import GuestFault
from dynarec.guests.mips import MipsGuest
from dynarec.guests.mips.arch import KSEG0, Exc
from dynarec.ir.parser import parse_module
from dynarec.ir.printer import format_region
from dynarec.ir.verifier import verify_region
from dynarec.memory import AddressSpace


class Memory:
    """What ``translate`` needs of a machine: its ``memory`` and ``is_stop_point``."""

    def __init__(self, code: bytes, address: int = CODE_PHYS):
        self.memory = AddressSpace(32, 12, big_endian=True)
        self.memory.map_ram(0, RAM_SIZE)
        self.memory.write_bytes(address, code)

    @staticmethod
    def is_stop_point(pc: int) -> bool:
        return False


def translate(text: str, guest=None, pc: int = CODE_VADDR, address: int = CODE_PHYS):
    guest = guest or MipsGuest()
    module = guest.module()
    region = guest.translate(Memory(assemble(text, address), address), pc, module)
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


def test_a_region_runs_to_the_branch_and_its_delay_slot():
    region, _ = translate("addu $1, $2, $3\nbeq $1, $0, L\nori $4, $0, 1\nori $5, $0, 1\nL: nop")
    assert markers(region) == [(0, 0), (4, 0), (4, 1)]     # the slot reports the branch's pc
    assert exits(region) == [("jump", 12), ("jump", 16)]
    assert all(i.attrs["cost"] == 1 for i in region.insts() if i.op == "insn_start")


def test_a_branch_likely_has_a_nullified_slot_on_its_fall_through():
    region, _ = translate("beql $1, $0, L\nori $4, $0, 1\nnop\nL: nop")
    assert markers(region) == [(0, 0), (0, 1), (0, 1)]     # slot run / slot nullified
    assert exits(region) == [("jump", 8), ("jump", 12)]


@pytest.mark.parametrize("text, expected", [
    ("j 0x1400\nnop", [("jump", 0x400)]),
    ("jal 0x1400\nnop", [("call", 0x400)]),
    ("jr $31\nnop", [("return", None)]),
    ("jr $5\nnop", [("indirect", None)]),
    ("jalr $5\nnop", [("call", None)]),
    ("bgezal $5, L\nnop\nL: nop", [("call", 8), ("jump", 8)]),
    ("eret", [("indirect", None)]),
])
def test_exit_kinds(text, expected):
    region, _ = translate(text)
    assert exits(region) == expected


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


def test_regions_round_trip_through_the_ir_text():
    text = ("lw $1, 4($26)\nswl $1, 9($26)\nsc $2, 0($27)\nddiv $0, $3, $4\nsra $5, $6, 3\n"
            "mtc0 $7, $11\nbltzall $8, L\nadd $9, $9, $9\nL: nop")
    region, module = translate(text)
    printed = format_region(region)
    module.regions.clear()
    module.add(region)
    parsed = parse_module(str(module))
    assert format_region(next(iter(parsed.regions.values()))) == printed
