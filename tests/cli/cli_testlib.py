"""Shared by the command-line tests: tiny raw MIPS programs (Keystone) and the paths of the
example programs. Imported by name: pytest puts this directory on ``sys.path``."""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass

from keystone import KS_ARCH_MIPS, KS_MODE_BIG_ENDIAN, KS_MODE_MIPS64, Ks

LOAD = 0x80000400
PROGRAMS = pathlib.Path(__file__).resolve().parents[2] / "examples" / "mips" / "programs"
SIEVE_ELF = PROGRAMS / "build" / "o32" / "sieve.elf"

_KS = Ks(KS_ARCH_MIPS, KS_MODE_MIPS64 + KS_MODE_BIG_ENDIAN)


def assemble(text: str) -> bytes:
    """MIPS64 big-endian machine code for ``text`` at LOAD (``.set noreorder``)."""
    encoding, _ = _KS.asm(".set noreorder\n" + text, LOAD)
    return bytes(encoding)


def put(reg: int) -> str:
    """The instruction printing the low byte of ``$reg`` on the debug port (``$8`` must
    hold 0xBFF00000, as ``raw_program`` sets it)."""
    return f"sb ${reg}, 0($8)"


@dataclass
class Raw:
    """A raw binary on disk and the address of its final ``halt: j halt; nop`` loop."""

    path: pathlib.Path
    halt: int

    def args(self, *extra) -> list:
        """Command-line arguments running it from its load address to the halt loop."""
        return ["mips", str(self.path), "--load", hex(LOAD), "--until", hex(self.halt), *extra]


def summary_line(err: str) -> str:
    """The one ``dynarec-diff: ...`` summary line of a run's stderr."""
    lines = [line for line in err.splitlines() if line.startswith("dynarec-diff: ")]
    assert len(lines) == 1, err
    return lines[0]


def count_in(summary: str, what: str) -> int:
    """The number before ``what`` in a summary line (``"1,234 instructions"`` -> 1234)."""
    return int(re.search(rf"([\d,]+) {what}", summary).group(1).replace(",", ""))
