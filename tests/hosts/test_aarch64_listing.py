"""``dynarec-diff --show-host-asm``: the capstone listing of a region's host code, here the
AArch64 code of a MIPS region (and, to tell them apart, the x86-64 code of the same one)."""

from __future__ import annotations

import pathlib
import re

import pytest

from dynarec.cli import diff

ELF = (pathlib.Path(__file__).resolve().parents[2] / "examples" / "mips" / "programs" /
       "build" / "test-o32" / "crc32.elf")


@pytest.mark.parametrize("host, mnemonic", [("aarch64", "ldr"), ("x86_64", "mov")])
def test_show_host_asm_lists_the_region_of_a_symbol(capsys, host, mnemonic):
    status = diff.main(["mips", str(ELF), "--host", host, "--show-host-asm", "main"])
    out = capsys.readouterr().out.splitlines()
    assert status == 0
    assert re.fullmatch(rf"# region at pc=0x[0-9a-f]+ on {host}: \d+ bytes, \d+ instructions",
                        out[0])
    lines = out[1:]
    assert len(lines) > 10 and all(re.match(r"0x[0-9a-f]+: \w", line) for line in lines)
    assert lines[0].split()[1] == mnemonic          # the budget check loads/compares first
    if host == "aarch64":                           # fixed-size A64 instructions, in order
        addresses = [int(line.split(":")[0], 16) for line in lines]
        assert all(b - a == 4 for a, b in zip(addresses, addresses[1:]))


def test_show_host_asm_of_a_missing_symbol_is_bad_input(capsys):
    status = diff.main(["mips", str(ELF), "--host", "aarch64", "--show-host-asm", "nosuch"])
    assert status == 2
    assert "nosuch" in capsys.readouterr().err
