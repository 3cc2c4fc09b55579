"""Bad input to dynarec-diff and dynarec-run: exit status 2 and one line naming the problem,
never a traceback; --help works."""

import pytest
from cli_testlib import LOAD, SIEVE_ELF

from dynarec.cli import diff, run

TOOLS = [pytest.param(diff.main, "dynarec-diff", id="diff"),
         pytest.param(run.main, "dynarec-run", id="run")]


def _one_line_error(outcome, prog: str, *words: str) -> None:
    assert outcome.status == 2
    assert outcome.out == b""
    lines = outcome.err.splitlines()
    assert len(lines) == 1, outcome.err
    assert lines[0].startswith(f"{prog}: ")
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.mark.parametrize("main, prog", TOOLS)
def test_unknown_guest(run_cli, main, prog):
    _one_line_error(run_cli(main, ["z80", SIEVE_ELF]), prog, "unknown guest 'z80'", "mips")


@pytest.mark.parametrize("main, prog", TOOLS)
def test_missing_file(run_cli, main, prog, tmp_path):
    missing = tmp_path / "nothing.elf"
    _one_line_error(run_cli(main, ["mips", missing]), prog, str(missing), "cannot read")


@pytest.mark.parametrize("main, prog", TOOLS)
def test_a_directory_is_unreadable(run_cli, main, prog, tmp_path):
    _one_line_error(run_cli(main, ["mips", tmp_path]), prog, str(tmp_path), "cannot read")


@pytest.mark.parametrize("main, prog", TOOLS)
@pytest.mark.parametrize("keep", [64, 600, 3000])
def test_truncated_elf(run_cli, main, prog, tmp_path, keep):
    cut = tmp_path / "cut.elf"
    cut.write_bytes(SIEVE_ELF.read_bytes()[:keep])
    _one_line_error(run_cli(main, ["mips", cut]), prog, str(cut))


@pytest.mark.parametrize("main, prog", TOOLS)
def test_raw_binary_needs_a_load_address(run_cli, main, prog, tmp_path):
    raw = tmp_path / "code.bin"
    raw.write_bytes(bytes(16))
    _one_line_error(run_cli(main, ["mips", raw]), prog, "--load")


@pytest.mark.parametrize("main, prog", TOOLS)
def test_empty_raw_binary(run_cli, main, prog, tmp_path):
    raw = tmp_path / "empty.bin"
    raw.write_bytes(b"")
    _one_line_error(run_cli(main, ["mips", raw, "--load", hex(LOAD)]), prog, "empty")


@pytest.mark.parametrize("main, prog", TOOLS)
@pytest.mark.parametrize("entry, words", [
    ("0x80700000", ["0x80700000", "outside the image"]),    # RAM, but not the program's
    ("0x1000", ["0x1000", "KSEG0"]),                         # not an unmapped segment
    ("no_such_symbol", ["no_such_symbol"]),
])
def test_entry_outside_the_image(run_cli, main, prog, entry, words):
    _one_line_error(run_cli(main, ["mips", SIEVE_ELF, "--entry", entry]), prog, *words)


@pytest.mark.parametrize("main, prog", TOOLS)
def test_unknown_until_symbol(run_cli, main, prog):
    _one_line_error(run_cli(main, ["mips", SIEVE_ELF, "--until", "_no_halt"]), prog,
                    "_no_halt")


@pytest.mark.parametrize("main, prog", TOOLS)
def test_unknown_pass(run_cli, main, prog):
    _one_line_error(run_cli(main, ["mips", SIEVE_ELF, "--disable-pass", "nopass"]), prog,
                    "nopass", "constfold")


def test_the_lockstep_needs_the_counting_pass(run_cli):
    _one_line_error(run_cli(diff.main, ["mips", SIEVE_ELF, "--disable-pass",
                                        "cycle_accounting"]), "dynarec-diff",
                    "cycle_accounting")


@pytest.mark.parametrize("main, prog", TOOLS)
@pytest.mark.parametrize("option, value", [("--load", "0xZZ"), ("--max-insns", "0"),
                                           ("--max-insns", "many")])
def test_malformed_numbers_are_usage_errors(main, prog, option, value, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["mips", str(SIEVE_ELF), option, value])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"{prog}: error: argument {option}" in err and "Traceback" not in err


@pytest.mark.parametrize("main, prog", TOOLS)
def test_help(main, prog, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: {prog}")
    for option in ("--load", "--entry", "--until", "--max-insns", "--disable-pass", "--stats"):
        assert option in text
    assert ("--oracle" in text) == (prog == "dynarec-diff")
