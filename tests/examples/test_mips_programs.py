"""The MIPS example programs (examples/mips/programs: C compiled by gcc, o32 and n32) through
dynarec-run and dynarec-diff: the output must be the expected one (computed on the host by
the same sources, never by an emulator) and the lockstep must find no divergence.

Default run: every test build (ITERS=1, 70 K - 1.4 M guest instructions) through dynarec-run
in full, and through the lockstep for its first LOCKSTEP_LIMIT instructions (the output so
far must begin the expected one; a program that halts sooner must match it whole). With
``-m full``: the whole of every test build and default build through the lockstep.
"""

import pathlib
import re

import pytest

from dynarec.cli import diff, run

PROGRAMS = pathlib.Path(__file__).resolve().parents[2] / "examples" / "mips" / "programs"
NAMES = sorted(p.stem for p in (PROGRAMS / "src").glob("*.c")
               if p.stem not in ("runtime", "host_shim"))
ABIS = ("o32", "n32")
#: instructions of each program the default run compares in lockstep (3-7 s each)
LOCKSTEP_LIMIT = 300_000


def test_the_corpus_is_there():
    assert len(NAMES) == 13
    for build in ("test-o32", "test-n32", "o32", "n32"):
        for name in NAMES:
            assert (PROGRAMS / "build" / build / f"{name}.elf").is_file(), (build, name)


@pytest.fixture
def run_cli(capsysbinary):
    """``run_cli(main, argv) -> (status, stdout bytes, stderr text)``: a console script's
    ``main`` in-process."""
    def run_main(main, argv):
        status = main([str(a) for a in argv])
        captured = capsysbinary.readouterr()
        return status, captured.out, captured.err.decode()
    return run_main


def _paths(build: str, abi: str, name: str):
    elf = PROGRAMS / "build" / f"{build}{abi}" / f"{name}.elf"
    expected = PROGRAMS / "expected" / ("test" if build else "") / f"{name}.txt"
    return elf, expected.read_bytes()


def _lockstep(run_cli, elf, *extra):
    """dynarec-diff on ``elf`` to ``_halt``: ``(exit status, output, summary line)``."""
    status, output, err = run_cli(diff.main, ["mips", elf, "--until", "_halt", *extra])
    summary = [line for line in err.splitlines() if line.startswith("dynarec-diff: ")]
    assert len(summary) == 1, err[-5000:]
    assert " 0 divergences" in summary[0], err[-20000:]
    return status, output, summary[0]


CASES = [pytest.param(abi, name, id=f"{abi}-{name}") for abi in ABIS for name in NAMES]


@pytest.mark.parametrize("abi, name", CASES)
def test_run(run_cli, abi, name):
    elf, expected = _paths("test-", abi, name)
    status, output, err = run_cli(run.main, ["mips", elf, "--until", "_halt"])
    assert status == 0, err
    assert output == expected


@pytest.mark.parametrize("abi, name", CASES)
def test_lockstep(run_cli, abi, name):
    elf, expected = _paths("test-", abi, name)
    status, output, summary = _lockstep(run_cli, elf, "--max-insns", LOCKSTEP_LIMIT)
    assert status == 0, summary
    insns = int(re.search(r"([\d,]+) instructions", summary).group(1).replace(",", ""))
    if "halted at" in summary:
        assert output == expected
    else:
        assert "stopped at the instruction limit" in summary
        assert LOCKSTEP_LIMIT <= insns <= LOCKSTEP_LIMIT + 64    # a region: <= 65
        assert expected.startswith(output)


@pytest.mark.full
@pytest.mark.parametrize("build", ["test-", ""], ids=["test", "default"])
@pytest.mark.parametrize("abi, name", CASES)
def test_lockstep_whole_program(run_cli, build, abi, name):
    elf, expected = _paths(build, abi, name)
    status, output, summary = _lockstep(run_cli, elf)
    assert status == 0 and "halted at" in summary, summary
    assert output == expected
