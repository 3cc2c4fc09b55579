"""``dynarec-gameboy ROM --frames N [--screenshot out.png] [--serial] [--stats]``: run a
cartridge headless on the DMG emulator (``docs/gameboy.md``).

Runs ``N`` frames (VBlanks; with the LCD off, a frame's time each). ``--serial`` prints what
the program sent over the serial port, as text, at the end (stdout); ``--screenshot`` writes
the last frame as a greyscale PNG; ``--stats`` prints the machine's stats table (stderr).

Exit status: 0 after N frames; 1 when the CPU locked up on an illegal opcode (or faulted),
reported with its address on stderr; 2 for a cartridge that cannot be run (one line on
stderr: truncated image, size not matching the header, unsupported type) or bad arguments.
A bad header checksum is a warning on stderr and the run goes on.
"""

from __future__ import annotations

import argparse
import struct
import sys
import warnings
import zlib
from typing import Optional, Sequence

from dynarec.guests.sm83 import TRAP_LOCKED
from dynarec.runtime import ExitReason

from .bus import GameBoy
from .cartridge import Cartridge, CartridgeError, CartridgeWarning
from .ppu import SCREEN_HEIGHT, SCREEN_WIDTH

PROG = "dynarec-gameboy"
#: grey level of each DMG shade, 0 (white) to 3 (black)
GREYS = bytes((0xFF, 0xAA, 0x55, 0x00))


def png_bytes(shades: bytes, width: int = SCREEN_WIDTH, height: int = SCREEN_HEIGHT) -> bytes:
    """A PNG (8-bit greyscale, no interlace) of ``shades``: ``height`` rows of ``width``
    shade numbers 0-3, mapped through ``GREYS``. Format: the PNG specification (W3C, 2nd
    edition): signature, IHDR, one zlib IDAT of rows each led by filter type 0, IEND; each
    chunk is length, type, data, CRC-32 of type and data."""
    if len(shades) != width * height:
        raise ValueError(f"{len(shades)} shades for a {width}x{height} image")
    pixels = bytes(shades).translate(GREYS + bytes(252))
    rows = b"".join(b"\0" + pixels[y * width:(y + 1) * width] for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Run a Game Boy (DMG) cartridge.")
    p.add_argument("rom", help="cartridge image (.gb)")
    p.add_argument("--frames", type=int, required=True, metavar="N",
                   help="frames (VBlanks) to run")
    p.add_argument("--screenshot", metavar="PNG", help="write the last frame as a PNG")
    p.add_argument("--serial", action="store_true",
                   help="print the serial port's output as text at the end")
    p.add_argument("--stats", action="store_true", help="print the stats table at the end")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command with ``argv`` (default ``sys.argv[1:]``); returns the exit status
    (module docstring)."""
    args = _parser().parse_args(argv)
    if args.frames < 0:
        print(f"{PROG}: error: --frames must be at least 0", file=sys.stderr)
        return 2
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CartridgeWarning)
            cartridge = Cartridge.load(args.rom)
    except (CartridgeError, OSError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    for warning in caught:
        print(f"{PROG}: warning: {warning.message}", file=sys.stderr)

    gb = GameBoy(cartridge, render=args.screenshot is not None)
    status = 0
    for _ in range(args.frames):
        result = gb.run_frame()
        if result.reason == ExitReason.EXCEPTION:
            print(f"{PROG}: {_describe(gb, result)} after {gb.ppu.frames} frames",
                  file=sys.stderr)
            status = 1
            break

    if args.serial:
        sys.stdout.write(gb.serial.output.decode("latin-1"))
        sys.stdout.flush()
    if args.screenshot:
        with open(args.screenshot, "wb") as f:
            f.write(png_bytes(gb.ppu.framebuffer))
    if args.stats:
        print(gb.machine.stats.table(), file=sys.stderr)
    return status


def _describe(gb: GameBoy, result) -> str:
    """One line for a run that ended in an exception: the lock-up's opcode and address, or
    the fault."""
    if result.cause == TRAP_LOCKED:
        opcode = gb.machine.memory.read(result.pc, 1)
        return f"CPU locked up: illegal opcode {opcode:02X} at {result.pc:04X}"
    detail = f": {result.fault}" if result.fault is not None else ""
    return f"guest exception {result.cause} at {result.pc:04X}{detail}"


if __name__ == "__main__":
    sys.exit(main())
