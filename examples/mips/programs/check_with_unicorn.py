#!/usr/bin/env python3
"""Run the committed MIPS test programs in Unicorn and check their output.

Standalone: needs only ``unicorn`` and ``pyelftools``. For every program and ABI
(o32, n32) it loads ``build/<ABI>/NAME.elf`` into a Unicorn MIPS64 big-endian CPU
set up like the target system, runs from the ELF entry point until ``_halt``, and
compares what the program wrote to the debug port with ``expected/NAME.txt`` (which
``build.sh`` computed by running the same C sources natively). It also checks that
``main`` returned 0 (``$v0`` at ``_halt``) and prints the guest instruction count.

The system (see README.md): RAM at physical 0-8 MB, used through KSEG0/KSEG1; the
debug port at physical 0x1FF00000 (virtual 0xBFF00000), where every byte store
appends a byte to the output. Unicorn's MIPS64 CPU translates KSEG0/KSEG1 to
physical addresses itself, so memory is mapped at physical addresses while the pc
and ``emu_start``'s bounds are sign-extended 64-bit virtual addresses.

Usage::

    check_with_unicorn.py [--bench] [--abi o32|n32] [NAME ...]

``--bench`` runs the bench builds (``build/bench-<ABI>/``) against
``expected/bench/``. Exit status 0 when every program passed.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.elffile import ELFFile
from unicorn import (
    UC_ARCH_MIPS,
    UC_HOOK_BLOCK,
    UC_HOOK_MEM_UNMAPPED,
    UC_HOOK_MEM_WRITE,
    UC_MODE_BIG_ENDIAN,
    UC_MODE_MIPS64,
    Uc,
    UcError,
)
from unicorn.mips_const import UC_MIPS_REG_PC, UC_MIPS_REG_V0

HERE = Path(__file__).resolve().parent
ABIS = ("o32", "n32")

RAM_SIZE = 8 << 20                   # physical 0 .. 8 MB
DEBUG_PORT = 0x1FF00000              # physical; byte stores here are program output
DEBUG_PAGE_SIZE = 0x1000
KSEG_PHYSICAL_MASK = 0x1FFFFFFF      # KSEG0 (0x8...) and KSEG1 (0xA...) both map to physical 0..512 MB
MASK64 = (1 << 64) - 1

DEFAULT_LIMIT = 50_000_000           # instructions; a default build runs < ~2 million
BENCH_LIMIT = 5_000_000_000


class GuestError(Exception):
    """The guest did something the test system does not allow, or did not halt."""


@dataclass
class RunResult:
    """What one program run produced.

    output: the bytes stored to the debug port, in order.
    instructions: guest instructions retired from the entry point up to (not
        including) ``_halt``, counted as the sizes of the executed translation
        blocks (each MIPS instruction is 4 bytes; Unicorn ends a block after a
        branch's delay slot).
    exit_code: ``$v0`` at ``_halt`` (main's return value), as a signed 32-bit int.
    """

    output: bytes
    instructions: int
    exit_code: int


def signed32(value: int) -> int:
    """The low 32 bits of value as a signed int (-2**31 .. 2**31 - 1)."""
    return ((value & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000


def sign_extend32(address: int) -> int:
    """The 64-bit pattern (as an unsigned int) of a sign-extended 32-bit address."""
    return signed32(address) & MASK64


def physical(address: int) -> int:
    """The physical address behind a KSEG0/KSEG1 virtual address.

    Raises GuestError for addresses outside KSEG0/KSEG1 (the programs use no TLB).
    """
    address &= 0xFFFFFFFF
    if not 0x80000000 <= address < 0xC0000000:
        raise GuestError(f"address {address:#010x} is not in KSEG0/KSEG1")
    return address & KSEG_PHYSICAL_MASK


def run_elf(path: Path, limit: int) -> RunResult:
    """Load the ELF at ``path`` into a fresh Unicorn and run it from its entry to ``_halt``.

    limit: the most guest instructions to run before giving up.
    Raises GuestError when the program stores anywhere in the debug page other than
    the output byte, touches unmapped memory, stops somewhere other than ``_halt``
    (a fault, a BREAK, the limit) or the ELF cannot be placed in RAM.
    """
    uc = Uc(UC_ARCH_MIPS, UC_MODE_MIPS64 | UC_MODE_BIG_ENDIAN)
    uc.mem_map(0, RAM_SIZE)
    uc.mem_map(DEBUG_PORT, DEBUG_PAGE_SIZE)

    with path.open("rb") as f:
        elf = ELFFile(f)
        for segment in elf.iter_segments():
            if segment["p_type"] != "PT_LOAD" or segment["p_memsz"] == 0:
                continue
            start = physical(segment["p_paddr"])
            if start + segment["p_memsz"] > RAM_SIZE:
                raise GuestError(f"{path.name}: segment at {segment['p_paddr']:#x} does not fit in RAM")
            uc.mem_write(start, segment.data())
        entry = elf["e_entry"]
        symbols = elf.get_section_by_name(".symtab")
        halt_symbols = symbols.get_symbol_by_name("_halt") if symbols else None
        if not halt_symbols:
            raise GuestError(f"{path.name}: no _halt symbol")
        halt = halt_symbols[0]["st_value"]

    output = bytearray()
    faults: list[str] = []
    instructions = 0

    def on_debug_write(uc, access, address, size, value, user_data):
        if address == DEBUG_PORT and size == 1:
            output.append(value & 0xFF)
        else:
            faults.append(f"{size}-byte store to debug page address {address:#x}")
            uc.emu_stop()

    def on_unmapped(uc, access, address, size, value, user_data):
        pc = uc.reg_read(UC_MIPS_REG_PC)
        faults.append(f"access to unmapped address {address:#x} at pc {pc:#x}")
        return False

    def on_block(uc, address, size, user_data):
        nonlocal instructions
        instructions += size // 4

    uc.hook_add(UC_HOOK_MEM_WRITE, on_debug_write, begin=DEBUG_PORT, end=DEBUG_PORT + DEBUG_PAGE_SIZE - 1)
    uc.hook_add(UC_HOOK_MEM_UNMAPPED, on_unmapped)
    uc.hook_add(UC_HOOK_BLOCK, on_block)

    try:
        uc.emu_start(sign_extend32(entry), sign_extend32(halt), count=limit)
    except UcError as error:
        pc = uc.reg_read(UC_MIPS_REG_PC)
        raise GuestError("; ".join([f"{path.name}: {error} at pc {pc:#x}", *faults])) from None
    if faults:
        raise GuestError(f"{path.name}: {'; '.join(faults)}")
    pc = uc.reg_read(UC_MIPS_REG_PC)
    if pc != sign_extend32(halt):
        raise GuestError(f"{path.name}: stopped at pc {pc:#x}, not _halt, after the {limit}-instruction limit")
    return RunResult(bytes(output), instructions, signed32(uc.reg_read(UC_MIPS_REG_V0)))


def first_difference(actual: bytes, expected: bytes) -> str:
    """A one-line description of the first differing output line."""
    actual_lines, expected_lines = actual.splitlines(), expected.splitlines()
    for number, (got, want) in enumerate(zip(actual_lines, expected_lines), start=1):
        if got != want:
            return f"line {number}: got {got!r}, expected {want!r}"
    return f"got {len(actual_lines)} lines, expected {len(expected_lines)} (or a different line ending)"


def program_names() -> list[str]:
    """The programs, named after their sources in src/ (runtime and host shim excluded)."""
    return sorted(p.stem for p in (HERE / "src").glob("*.c") if p.stem not in ("runtime", "host_shim"))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="programs to run (default: all)")
    parser.add_argument("--bench", action="store_true", help="run the bench builds")
    parser.add_argument("--abi", choices=ABIS, action="append", help="only this ABI (repeatable)")
    args = parser.parse_args(argv)

    known = program_names()
    unknown = sorted(set(args.names) - set(known))
    if unknown:
        parser.error(f"unknown program(s) {', '.join(unknown)}; known: {', '.join(known)}")
    names = args.names or known
    abis = args.abi or list(ABIS)
    build_prefix = "bench-" if args.bench else ""
    expected_dir = HERE / "expected" / ("bench" if args.bench else "")
    limit = BENCH_LIMIT if args.bench else DEFAULT_LIMIT

    failures = 0
    print(f"{'program':<10} " + " ".join(f"{abi + ' instructions':>18}" for abi in abis))
    for name in names:
        expected = (expected_dir / f"{name}.txt").read_bytes()
        cells = []
        for abi in abis:
            try:
                result = run_elf(HERE / "build" / f"{build_prefix}{abi}" / f"{name}.elf", limit)
            except GuestError as error:
                cells.append(f"{'ERROR':>18}")
                print(f"  {abi} {name}: {error}", file=sys.stderr)
                failures += 1
                continue
            problems = []
            if result.output != expected:
                problems.append("output differs: " + first_difference(result.output, expected))
            if result.exit_code != 0:
                problems.append(f"main returned {result.exit_code}")
            if problems:
                failures += 1
                print(f"  {abi} {name}: {'; '.join(problems)}", file=sys.stderr)
            cells.append(f"{result.instructions:>14,} {'ok' if not problems else 'FAIL':>3}")
        print(f"{name:<10} " + " ".join(cells), flush=True)
    total = len(names) * len(abis)
    print(f"{total - failures}/{total} passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
