"""The pieces under dynarec-diff: device-read replay in the oracles (``DeviceReplay``, MMIO in
``UnicornOracle``), the reference interpreter as an oracle (``InterpreterOracle``), and the
``Lockstep`` runner's guest hooks and report."""

import collections

import pytest
from cli_testlib import LOAD, assemble, put

from dynarec import Machine
from dynarec.guests.mips import MipsGuest
from dynarec.guests.mips.arch import STATE
from dynarec.guests.mips.oracle import GUARD, MipsOracle
from dynarec.lockstep import Lockstep, Report
from dynarec.loader import Image, Segment
from dynarec.memory import AddressSpace
from dynarec.oracle import DeviceReplay, InterpreterOracle, OracleError

PORT = 0x1FF00000                    # the MIPS bare system's debug port (physical)
CODE = LOAD & 0x1FFFFFFF             # physical address of the code
START = 0xFFFFFFFF_00000000 | LOAD   # its sign-extended pc


# --- DeviceReplay --------------------------------------------------------------------------------

def test_device_reads_come_back_in_order_and_mismatches_are_problems():
    devices = DeviceReplay("big")
    devices.queue([(0x10, 4, 0x1234), (0x14, 1, 7)])
    assert devices.read(0x10, 4) == 0x1234
    assert devices.read(0x20, 2) == 7                       # another access: its value anyway
    assert devices.read(0x10, 4) == 0                       # nothing queued
    devices.queue([(0x30, 4, 1)])
    assert devices.problems() == [
        "device read of 2 byte(s) at 0x20 where the JIT read 1 byte(s) at 0x14",
        "device read of 4 byte(s) at 0x10 that the JIT did not make",
        "device read of 4 byte(s) at 0x30 that the JIT made and the oracle did not"]
    assert devices.problems() == []


def test_device_writes_are_remembered_as_bytes():
    devices = DeviceReplay("big")
    devices.write(0x100, 4, 0x11223344)
    devices.write(0x101, 1, 0xAA)
    assert devices.peek(0xFF, 6) == bytes([0, 0x11, 0xAA, 0x33, 0x44, 0])
    little = DeviceReplay("little")
    little.write(0, 2, 0x1234)
    assert little.peek(0, 2) == b"\x34\x12"


# --- MMIO in the Unicorn oracle ------------------------------------------------------------------

def _memory(code: bytes) -> AddressSpace:
    mem = AddressSpace(32, 12, big_endian=True)
    mem.map_ram(0, 0x10000)
    mem.write_bytes(CODE, code + GUARD)
    mem.map_mmio(PORT, 0x1000, lambda a, s: pytest.fail("the oracle called the device"),
                 lambda a, s, v: pytest.fail("the oracle called the device"))
    return mem


@pytest.mark.parametrize("make", [MipsOracle, lambda: InterpreterOracle(MipsGuest())],
                         ids=["unicorn", "interp"])
def test_oracles_answer_device_reads_from_the_replay_queue(make):
    code = assemble("lui $8, 0xbff0\nlw $3, 16($8)\naddiu $3, $3, 1\nsb $3, 0($8)\n"
                    "sw $3, 0x100($0)")
    oracle = make()
    oracle.load(_memory(code), {"pc": START})
    oracle.devices.queue([(PORT + 16, 4, 0x41)])
    run = oracle.run(4)
    assert run.retired == 4 and run.exception is None
    assert oracle.read_regs()["gpr[3]"] == 0x42
    assert [tuple(s) for s in run.stores] == [(PORT, 1, 0x42)]
    assert oracle.read_memory(PORT, 2) == b"\x42\x00"       # what was written, not a read
    assert oracle.devices.problems() == []
    oracle.run(1)                                           # sw to 0x100 -> an address error
    assert oracle.devices.problems() == []


def test_an_unreplayed_device_read_is_a_problem():
    oracle = MipsOracle()
    oracle.load(_memory(assemble("lui $8, 0xbff0\nlw $3, 16($8)")), {"pc": START})
    oracle.run(2)
    assert oracle.devices.problems() == [
        f"device read of 4 byte(s) at {PORT + 16:#x} that the JIT did not make"]


def test_unicorn_serves_several_devices_at_their_own_addresses():
    mem = AddressSpace(32, 12, big_endian=True)
    mem.map_ram(0, 0x10000)
    code = assemble("lui $8, 0xbff0\nlw $3, 0x104($8)\nlbu $4, 0x10($8)\nlui $8, 0xbff1\n"
                    "lhu $5, 0x2($8)")
    mem.write_bytes(CODE, code + GUARD)
    for base, size in [(PORT, 0x100), (PORT + 0x100, 0x100), (PORT + 0x10000, 0x1000)]:
        mem.map_mmio(base, size, lambda a, s: 0, None)
    oracle = MipsOracle()
    oracle.load(mem, {"pc": START})
    oracle.devices.queue([(PORT + 0x104, 4, 1), (PORT + 0x10, 1, 2), (PORT + 0x10002, 2, 3)])
    oracle.run(5)
    assert oracle.devices.problems() == []
    assert [oracle.read_regs()[f"gpr[{n}]"] for n in (3, 4, 5)] == [1, 2, 3]


def test_unicorn_maps_devices_by_whole_pages():
    mem = AddressSpace(32, 12, big_endian=True)
    mem.map_ram(0, 0x1800)
    mem.map_mmio(0x1800, 0x100, lambda a, s: 0, None, name="port")
    with pytest.raises(OracleError, match="'port' at 0x1800 shares a 4096-byte page"):
        MipsOracle().load(mem, {"pc": START})


# --- the reference interpreter as an oracle ----------------------------------------------------

def test_the_interpreter_oracle_models_every_register():
    oracle = InterpreterOracle(MipsGuest())
    assert list(oracle.refs) == list(STATE.refs())
    code = assemble("ori $2, $0, 5\nmtc0 $2, $9\nsyscall")
    oracle.load(_memory(code), {"pc": START, "llbit": 1})
    run = oracle.run(10)
    assert run.retired == 2 and run.exception.cause == 8 and run.exception.pc == START + 8
    regs = oracle.read_regs()
    assert regs["cop0[9]"] == 5 and regs["llbit"] == 1 and regs["pc"] == START + 8
    with pytest.raises(OracleError, match="no state 'fpr\\[0\\]'"):
        oracle.write_regs({"fpr[0]": 1})


def test_a_guest_without_a_reference_interpreter_has_no_interpreter_oracle():
    from dynarec.guest import Guest
    with pytest.raises(OracleError, match="no reference interpreter"):
        InterpreterOracle(Guest())


# --- Lockstep ------------------------------------------------------------------------------------

QUIRK = f"lui $8, 0xbff0\nori $2, $0, 7\ndiv $0, $2, $0\nmflo $3\n{put(3)}\nhalt: j halt\nnop"


def _machine(source: str) -> Machine:
    code = assemble(source)
    m = Machine("mips", keep_ir=True)
    m.guest.load_program(m, Image("test.bin", [Segment(LOAD, code, len(code))], None), LOAD)
    m.halt_at(START + len(code) - 8)
    return m


def test_quirks_are_what_the_guest_hook_explains(monkeypatch):
    report = Lockstep(_machine(QUIRK), MipsOracle()).run()
    assert report.divergence is None and report.quirks == {"divide_by_zero": 1}
    monkeypatch.setattr(MipsGuest, "explain_oracle_difference", None)
    report = Lockstep(_machine(QUIRK), MipsOracle()).run()
    assert report.quirks == {}
    assert report.divergence.what.startswith(
        f"the oracle and the reference interpreter differ at pc={START + 8:#x} and no "
        f"oracle quirk explains it")
    assert report.divergence.sides == ("reference interpreter", "oracle")
    assert "lo: 0xffffffffffffffff | 0x7" in report.divergence.differences()


def test_without_a_reference_interpreter_a_mismatch_is_a_divergence(monkeypatch):
    monkeypatch.setattr(MipsGuest, "step", None)
    report = Lockstep(_machine(QUIRK), MipsOracle()).run()
    assert "the guest has no reference interpreter" in report.divergence.what
    assert report.divergence.sides == ("JIT", "oracle")


def test_the_oracle_must_model_guest_state():
    oracle = MipsOracle()
    oracle.refs = (*oracle.refs, "fpr[3]")
    with pytest.raises(ValueError, match="the oracle models 'fpr\\[3\\]', which the mips"):
        Lockstep(_machine(QUIRK), oracle)


def test_the_instruction_limit_stops_inside_a_looping_region():
    """The loop is one region that branches back to itself: the limit bounds its run by
    cycles (one per instruction here), so it stops at the loop's budget check."""
    source = "ori $9, $0, 100\nloop: addiu $9, $9, -1\nbne $9, $0, loop\nnop\nhalt: j halt\nnop"
    report = Lockstep(_machine(source), MipsOracle()).run(max_insns=10)
    assert report.limit_reached and report.insns == 10 and report.regions == 2


def test_the_summary_line():
    report = Report(insns=1234567, regions=1, quirks=collections.Counter(sra_wide_input=2),
                    limit_reached=True, seconds=2.0)
    assert report.summary() == (
        "1,234,567 instructions, 1 region, 0 divergences, 2 oracle quirks "
        "(sra_wide_input x2); stopped at the instruction limit; 2.0 s, "
        "617,284 instructions/s")


def test_stores_are_compared(monkeypatch):
    """A store the JIT makes wrong is caught even when no register shows it."""
    from dynarec.guests.mips import translate_memory, translator
    monkeypatch.setitem(translator.TRANSLATORS, "SH", translate_memory.SB)
    source = "lui $9, 0x8000\nori $3, $0, 0x1234\nsh $3, 0x1000($9)\nhalt: j halt\nnop"
    report = Lockstep(_machine(source), MipsOracle()).run()
    lines = report.divergence.differences()
    assert lines == ["stores differ: 1 by the JIT, 1 by the reference interpreter; "
                     "#1: [0x1000] 1 byte(s) = 0x34 | [0x1000] 2 byte(s) = 0x1234"]
    assert report.divergence.memory == [(0x1000, b"\x34", b"\x12"),
                                        (0x1000, b"\x34\x00", b"\x12\x34")]
