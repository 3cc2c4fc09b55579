"""The sdcc-built Game Boy programs (examples/gameboy/programs/) print exactly their
expected output over the serial port.

Each ROM in ``build/`` was compiled by sdcc's SM83 port. For the computing programs
(arith, crc16, sieve, bench) ``expected/NAME.txt`` is the output of the same C sources
compiled natively by gcc (``build.sh``); for the hardware tests (interrupts, halt, mbc) it
was written by hand from the values their sources work out from Pan Docs. Never from an
emulator. A test runs the ROM as ``dynarec-gameboy`` does (``GameBoy`` on the parsed
cartridge, frame by frame) until the program has halted for good at the end of crt0 (HALT
with IME and IE clear) or ``MAX_FRAMES`` have passed, then compares every byte sent.
"""

import pathlib
import struct
import warnings

import pytest
from gb_romlib import checksum

from dynarec.cli import diff
from dynarec.context import ExitReason
from dynarec.guests.sm83.arch import RunMode
from dynarec_gameboy.bus import GameBoy
from dynarec_gameboy.cartridge import Cartridge

PROGRAMS_DIR = pathlib.Path(__file__).resolve().parents[3] / "examples" / "gameboy" / "programs"
ROM_ONLY = ["arith", "crc16", "sieve", "bench", "interrupts", "halt"]
PROGRAMS = ROM_ONLY + ["mbc"]

#: The longest program (arith) halts after about 550 frames.
MAX_FRAMES = 1000
#: where bench.gb keeps its round count (little-endian), as bench.c places it
BENCH_ROUNDS_ADDRESS = 0x01F0


def load_program(name):
    """The ROM image and the expected serial output of program ``name`` (skip if absent)."""
    rom = PROGRAMS_DIR / "build" / f"{name}.gb"
    expected = PROGRAMS_DIR / "expected" / f"{name}.txt"
    if not rom.exists() or not expected.exists():
        pytest.skip(f"{name}: {rom.name} or {expected.name} not built (run build.sh)")
    return rom.read_bytes(), expected.read_bytes()


def parse_strictly(image, name):
    """``Cartridge.parse`` turning its warnings (a bad header checksum) into errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return Cartridge.parse(image, name)


def finished(gb):
    """The CPU sits in crt0's final HALT, from which nothing can wake it."""
    regs = gb.machine.regs
    return (regs["run_mode"] == RunMode.HALTED and not regs["ime"]
            and gb.machine.memory.read(0xFFFF, 1) == 0)


def run_to_end(image, name, interpreter=False):
    """Run ``image`` on the JIT (or the reference interpreter) until crt0's final HALT; the
    serial output as text."""
    gb = GameBoy(Cartridge.parse(image, name), render=False, interpreter=interpreter)
    for _ in range(MAX_FRAMES):
        result = gb.run_frame()
        assert result.reason != ExitReason.EXCEPTION, f"{name}: {result}"
        if finished(gb):
            return gb.serial.output.decode("ascii", "replace")
    pytest.fail(f"{name}: not halted after {MAX_FRAMES} frames; output so far:\n"
                + gb.serial.output.decode("ascii", "replace"))


@pytest.mark.parametrize("name", ROM_ONLY)
def test_header_is_valid_rom_only(name):
    image, _ = load_program(name)
    cartridge = parse_strictly(image, name)
    assert len(image) == 32 * 1024
    assert (image[0x147], image[0x148], image[0x149]) == (0x00, 0x00, 0x00)
    assert image[0x14D] == checksum(image)
    assert cartridge.title == name.upper()


def test_header_of_mbc_is_mbc1_with_banked_ram():
    image, _ = load_program("mbc")
    cartridge = parse_strictly(image, "mbc")
    # Pan Docs "The Cartridge Header": type 03 MBC1+RAM+BATTERY, ROM code 02 (128 KiB,
    # 8 banks), RAM code 03 (32 KiB, 4 banks of 8 KiB)
    assert len(image) == 128 * 1024
    assert (image[0x147], image[0x148], image[0x149]) == (0x03, 0x02, 0x03)
    assert image[0x14D] == checksum(image)
    assert cartridge.title == "MBC"


def test_mbc_banks_hold_their_headers():
    """Each of banks 1-7 starts with bank.h's header naming it (what mbc.c reads through
    the MBC), and the ``id`` function is at the same address, 4200, in every bank."""
    image, _ = load_program("mbc")
    for bank in range(1, 8):
        start = bank * 0x4000
        assert image[start:start + 5] == b"BANK" + bytes([bank])
        assert struct.unpack_from("<H", image, start + 5)[0] == 0x4200


@pytest.mark.parametrize("name", PROGRAMS)
def test_program_prints_expected_output(name):
    image, expected = load_program(name)
    assert run_to_end(image, name) == expected.decode("ascii")


@pytest.mark.parametrize("name", ["interrupts", "halt", "mbc"])
def test_hardware_expectations_are_all_passes(name):
    """The hand-written expectations are passed checks (``rt_check`` prints "label=value
    ok" and ``rt_check_range`` "label in lo..hi ok" only for the value the source works
    out), apart from headings and the serial test's message."""
    _, expected = load_program(name)
    lines = expected.decode("ascii").splitlines()
    checks = [line for line in lines if "=" in line or " in " in line]
    assert len(checks) >= len(lines) - 3
    assert all(line.endswith(" ok") for line in checks)


def test_bench_round_count_is_patchable():
    """The benchmark reads its round count from ROM address 01F0: patched to 1 it runs one
    round, whose check line is the same as in the committed 4-round run."""
    image, expected = load_program("bench")
    assert struct.unpack_from("<H", image, BENCH_ROUNDS_ADDRESS)[0] == 4
    lines = expected.decode("ascii").splitlines()
    patched = bytearray(image)
    struct.pack_into("<H", patched, BENCH_ROUNDS_ADDRESS, 1)
    round_1 = lines[1].split("=")[1]
    assert run_to_end(bytes(patched), "bench") == (
        f"bench rounds=1\n{lines[1]}\nchecksum={round_1}\n")


@pytest.mark.full
def test_halt_program_on_the_interpreter():
    """halt.gb with the CPU on the reference interpreter (``GameBoy(interpreter=True)``,
    ``dynarec-gameboy --interpreter``): the same output. About 17 s."""
    image, expected = load_program("halt")
    assert run_to_end(image, "halt", interpreter=True) == expected.decode("ascii")


@pytest.mark.parametrize("name", ["halt", pytest.param("mbc", marks=pytest.mark.full),
                                  pytest.param("interrupts", marks=pytest.mark.full)])
def test_hardware_program_in_lockstep_with_the_interpreter(name, monkeypatch, capsysbinary):
    """``dynarec-diff sm83`` runs the ROM with the JIT checked against the reference
    interpreter after every region: no divergence, to crt0's final HALT, and the expected
    output. About 3 s for halt, 10 s for mbc, 20 s for
    interrupts."""
    image, expected = load_program(name)
    monkeypatch.setenv(diff.SYSTEMS_VARIABLE, "dynarec_gameboy.diff:SYSTEM")
    status = diff.main(["sm83", str(PROGRAMS_DIR / "build" / f"{name}.gb"), "--frames", "150"])
    captured = capsysbinary.readouterr()
    summary = captured.err.decode()
    assert status == 0, summary
    assert " 0 divergences" in summary and "halted at pc=" in summary, summary
    assert captured.out == expected
