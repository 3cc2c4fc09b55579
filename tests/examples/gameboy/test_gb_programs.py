"""The sdcc-built Game Boy programs (examples/gameboy/programs/) print exactly their
expected output over the serial port.

Each ROM in ``build/`` was compiled by sdcc's SM83 port; ``expected/NAME.txt`` is the
output of the same C sources compiled natively by gcc (``build.sh``), never of an
emulator. A test runs the ROM as ``dynarec-gameboy`` does (``GameBoy`` on the parsed
cartridge, frame by frame) until the program has halted for good at the end of crt0
(HALT with IME and IE clear) or ``MAX_FRAMES`` have passed, then compares every byte sent.
"""

import pathlib
import warnings

import pytest
from gb_romlib import checksum

from dynarec.context import ExitReason
from dynarec.guests.sm83.arch import RunMode
from dynarec_gameboy.bus import GameBoy
from dynarec_gameboy.cartridge import Cartridge

PROGRAMS_DIR = pathlib.Path(__file__).resolve().parents[3] / "examples" / "gameboy" / "programs"
PROGRAMS = ["arith", "crc16", "sieve"]

#: The longest program (arith) halts after about 550 frames.
MAX_FRAMES = 1000


def load_program(name):
    """The ROM image and the expected serial output of program ``name`` (skip if absent)."""
    rom = PROGRAMS_DIR / "build" / f"{name}.gb"
    expected = PROGRAMS_DIR / "expected" / f"{name}.txt"
    if not rom.exists() or not expected.exists():
        pytest.skip(f"{name}: {rom.name} or {expected.name} not built (run build.sh)")
    return rom.read_bytes(), expected.read_bytes()


def finished(gb):
    """The CPU sits in crt0's final HALT, from which nothing can wake it."""
    regs = gb.machine.regs
    return (regs["run_mode"] == RunMode.HALTED and not regs["ime"]
            and gb.machine.memory.read(0xFFFF, 1) == 0)


@pytest.mark.parametrize("name", PROGRAMS)
def test_header_is_valid_rom_only(name):
    image, _ = load_program(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # a bad header checksum would warn
        cartridge = Cartridge.parse(image, name)
    assert len(image) == 32 * 1024
    assert (image[0x147], image[0x148], image[0x149]) == (0x00, 0x00, 0x00)
    assert image[0x14D] == checksum(image)
    assert cartridge.title == name.upper()


@pytest.mark.parametrize("name", PROGRAMS)
def test_program_prints_expected_output(name):
    image, expected = load_program(name)
    gb = GameBoy(Cartridge.parse(image, name), render=False)
    for _ in range(MAX_FRAMES):
        result = gb.run_frame()
        assert result.reason != ExitReason.EXCEPTION, f"{name}: {result}"
        if finished(gb):
            break
    else:
        pytest.fail(f"{name}: not halted after {MAX_FRAMES} frames; output so far:\n"
                    + gb.serial.output.decode("ascii", "replace"))
    assert gb.serial.output.decode("ascii", "replace") == expected.decode("ascii")
