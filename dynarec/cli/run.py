"""``dynarec-run GUEST FILE``: run a bare program on the JIT and print its output.

FILE is an ELF executable (its symbols name addresses for ``--entry``/``--until``, e.g.
``_halt``) or a raw binary placed at ``--load ADDR`` (and started there unless ``--entry``).
The guest sets up its simple system for bare programs (``Guest.load_program``; for MIPS: RAM
and a debug port, ``guests/mips/system.py``) and the program runs until it reaches
``--until`` (a halt point: a ``_halt: j _halt`` loop ends the run there), a guest exception,
or ``--max-insns`` instructions (counted at region exits: the run stops within one region past
the limit). What the program printed goes to stdout; messages and the ``--stats`` table to
stderr.

Exit status: 0 after reaching ``--until``, 1 after a guest exception, a JIT error or an
unfinished run, 2 for bad input (unknown guest, unreadable or malformed file, entry outside
the image, unknown symbol or pass) -- with a one-line message, never a traceback.

This module also holds what ``dynarec-diff`` shares with it: the options
(``add_program_options``) and the setting up of a program (``open_program``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Optional

from ..context import ExitReason
from ..errors import DynarecError


def _address(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an address: {text!r}") from None


def positive_count(text: str) -> int:
    """argparse type of a count option (``--max-insns``, ``--frames``): a positive integer
    in any Python base, ``_`` separators allowed; ``ArgumentTypeError`` otherwise."""
    try:
        value = int(text.replace("_", ""), 0)
    except ValueError:
        value = -1
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive count: {text!r}")
    return value


def add_program_options(p: argparse.ArgumentParser) -> None:
    """The options ``dynarec-run`` and ``dynarec-diff`` share."""
    p.add_argument("guest", help="guest name (e.g. mips)")
    p.add_argument("file", help="ELF executable, or a raw binary with --load")
    p.add_argument("--load", type=_address, metavar="ADDR",
                   help="guest address to place a raw binary at (e.g. 0x80000400)")
    p.add_argument("--entry", metavar="ADDR|SYMBOL",
                   help="where execution starts (default: the ELF entry point, or the load "
                        "address of a raw binary)")
    p.add_argument("--until", metavar="ADDR|SYMBOL",
                   help="stop when execution reaches this address (e.g. _halt)")
    p.add_argument("--max-insns", type=positive_count, metavar="N",
                   help="stop after about N guest instructions (at a region exit)")
    p.add_argument("--disable-pass", action="append", default=[], metavar="NAME",
                   help="switch an optimisation pass off (repeatable)")
    p.add_argument("--host", default=None, help="host backend (default: the native one)")
    p.add_argument("--stats", action="store_true", help="print the stats table at the end")


@dataclass
class Program:
    """A program set up on a Machine: ``machine``, ``system`` (the guest's bare system: its
    ``output`` bytearray and ``entry`` pc), the loaded ``image`` and the ``until`` pc (or
    ``None``)."""

    machine: object
    system: object
    image: object
    until: Optional[int]


def open_program(args, keep_ir: bool = False) -> Program:
    """Build the Machine for ``args`` (``add_program_options``) and load the program.
    Raises ``DynarecError`` (unknown guest or host, ``LoadError``), ``ValueError`` (unknown
    pass) or ``NotImplementedError`` (a guest without bare programs): bad input."""
    from ..loader import load_image
    from ..machine import Machine
    machine = Machine(args.guest, args.host, disabled_passes=args.disable_pass,
                      keep_ir=keep_ir)
    image = load_image(args.file, args.load)
    entry = None if args.entry is None else image.symbol(args.entry)
    if entry is None and image.entry is None:
        entry = args.load                       # a raw binary starts where it is loaded
    until = None if args.until is None else image.symbol(args.until)
    system = machine.guest.load_program(machine, image, entry)
    if until is not None:
        until = machine.guest.pc_from_address(until)
        machine.halt_at(until)
    return Program(machine, system, image, until)


def bad_input(prog: str, error: BaseException) -> int:
    """Print the one-line message for bad input; the exit status 2."""
    text = str(error) or type(error).__name__
    print(f"{prog}: {text.splitlines()[0]}", file=sys.stderr)
    return 2


BAD_INPUT = (DynarecError, ValueError, NotImplementedError)


def write_output(data: bytes) -> None:
    """The program's output, as bytes, to stdout."""
    sys.stdout.flush()
    sys.stdout.buffer.write(bytes(data))
    sys.stdout.flush()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dynarec-run",
        description="Run a bare program (ELF or raw binary) on the JIT and print its output.")
    add_program_options(p)
    return p


def run_machine(machine, max_insns: Optional[int]):
    """``machine.run`` until it stops by itself or, with ``max_insns``, has retired that
    many instructions (cycles are at least instructions, so each budget leaves the run at
    most one region past the limit). Returns the last ``RunResult``."""
    if max_insns is None:
        return machine.run()
    while True:
        result = machine.run(max(max_insns - machine.insns, 1))
        if result.reason != ExitReason.BUDGET or machine.insns >= max_insns:
            return result


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        program = open_program(args)
    except BAD_INPUT as e:
        return bad_input("dynarec-run", e)
    m = program.machine
    try:
        result = run_machine(m, args.max_insns)
    except DynarecError as e:
        write_output(program.system.output)
        print(f"dynarec-run: {e}", file=sys.stderr)
        return 1
    write_output(program.system.output)
    if args.stats:
        print(m.stats.table(), file=sys.stderr)
    if result.reason == ExitReason.HALT:
        return 0
    if result.reason == ExitReason.BUDGET:
        print(f"dynarec-run: stopped after {m.insns:,} instructions (--max-insns)",
              file=sys.stderr)
    else:
        print(f"dynarec-run: stopped: {result}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
