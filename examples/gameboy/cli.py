"""``dynarec-gameboy ROM --frames N [--screenshot out.png] [--serial] [--window]
[--interpreter] [--stats]``: run a cartridge on the DMG emulator (``docs/gameboy.md``).

Runs ``N`` frames (VBlanks; with the LCD off, a frame's time each) headless, or with
``--window`` in a window at the DMG's frame rate until it is closed (or ``N`` frames, if
given). ``--serial`` prints what the program sent over the serial port, as text, at the end
(stdout); ``--screenshot`` writes the last frame as a greyscale PNG (Pillow);
``--interpreter`` runs the CPU on the reference interpreter instead of generated code;
``--stats`` prints the machine's stats table (stderr).

Exit status: 0 after N frames (or the window closed); 1 when the CPU locked up on an illegal
opcode (or faulted), reported with its address on stderr; 2 for a cartridge that cannot be
run (one line on stderr: truncated image, size not matching the header, unsupported type),
bad arguments, or ``--window`` without pygame. A bad header checksum is a warning on stderr
and the run goes on.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Optional, Sequence

from dynarec.guests.sm83 import TRAP_LOCKED
from dynarec.runtime import ExitReason

from .bus import GameBoy
from .cartridge import Cartridge, CartridgeError, CartridgeWarning
from .ppu import SCREEN_HEIGHT, SCREEN_WIDTH

PROG = "dynarec-gameboy"
#: grey level of each DMG shade, 0 (white) to 3 (black)
GREYS = bytes((0xFF, 0xAA, 0x55, 0x00))


def frame_image(shades: bytes, width: int = SCREEN_WIDTH, height: int = SCREEN_HEIGHT):
    """A Pillow greyscale image (mode ``"L"``) of ``shades``: ``height`` rows of ``width``
    shade numbers 0-3 (``Ppu.framebuffer``), each mapped through ``GREYS``. Raises
    ``ValueError`` when the sizes disagree."""
    from PIL import Image
    if len(shades) != width * height:
        raise ValueError(f"{len(shades)} shades for a {width}x{height} image")
    return Image.frombytes("L", (width, height), bytes(shades).translate(GREYS + bytes(252)))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Run a Game Boy (DMG) cartridge.")
    p.add_argument("rom", help="cartridge image (.gb)")
    p.add_argument("--frames", type=int, metavar="N",
                   help="frames (VBlanks) to run (required without --window)")
    p.add_argument("--screenshot", metavar="PNG", help="write the last frame as a PNG")
    p.add_argument("--serial", action="store_true",
                   help="print the serial port's output as text at the end")
    p.add_argument("--window", action="store_true",
                   help="show the screen in a window and take keyboard input (pygame; "
                        "arrows, Z = A, X = B, Enter = Start, Backspace = Select, Esc quits)")
    p.add_argument("--interpreter", action="store_true",
                   help="run the CPU on the reference interpreter instead of the JIT")
    p.add_argument("--stats", action="store_true", help="print the stats table at the end")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command with ``argv`` (default ``sys.argv[1:]``); returns the exit status
    (module docstring)."""
    args = _parser().parse_args(argv)
    if args.frames is None and not args.window:
        print(f"{PROG}: error: --frames N is required (or --window)", file=sys.stderr)
        return 2
    if args.frames is not None and args.frames < 0:
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

    gb = GameBoy(cartridge, render=args.screenshot is not None or args.window,
                 interpreter=args.interpreter)
    if args.window:
        try:
            from .window import Window
            window = Window(gb)
        except ImportError as e:
            print(f"{PROG}: error: --window needs pygame ({e}); pip install "
                  f"'dynarec[window]'", file=sys.stderr)
            return 2
        result = window.run(args.frames)
    else:
        result = None
        for _ in range(args.frames):
            result = gb.run_frame()
            if result.reason == ExitReason.EXCEPTION:
                break
    status = 0
    if result is not None and result.reason == ExitReason.EXCEPTION:
        print(f"{PROG}: {_describe(gb, result)} after {gb.ppu.frames} frames",
              file=sys.stderr)
        status = 1

    if args.serial:
        sys.stdout.write(gb.serial.output.decode("latin-1"))
        sys.stdout.flush()
    if args.screenshot:
        try:
            frame_image(gb.ppu.framebuffer).save(args.screenshot, format="PNG")
        except OSError as e:
            print(f"{PROG}: error: cannot write {args.screenshot}: {e}", file=sys.stderr)
            return 2
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
