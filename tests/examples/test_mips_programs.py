"""The MIPS example programs (examples/mips/programs: C compiled by gcc, o32 and n32) through
dynarec-run and dynarec-diff: the output must be the expected one (computed on the host by
the same sources, never by an emulator) and the lockstep must find no divergence.

Default run: every test build (ITERS=1, 70 K - 1.4 M guest instructions) through dynarec-run
in full on both hosts (x86-64, and AArch64 under Unicorn), and through the lockstep for its
first LOCKSTEP_LIMIT instructions (the output so far must begin the expected one; a program
that halts sooner must match it whole); both hosts end a program in the same guest state; two
programs' first instructions in lockstep on AArch64. With ``-m full``: the whole of every test
build and default build through the lockstep, on both hosts.
"""

import ctypes
import pathlib
import re

import pytest

from dynarec import context as C
from dynarec.cli import diff, run
from dynarec.context import ExitReason
from dynarec.loader import load_image
from dynarec.machine import Machine

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


#: every host backend (the AArch64 one runs under Unicorn's ARM64 CPU on other machines)
HOSTS = ("x86_64", "aarch64")


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("abi, name", CASES)
def test_run(run_cli, abi, name, host):
    elf, expected = _paths("test-", abi, name)
    status, output, err = run_cli(run.main, ["mips", elf, "--until", "_halt", "--host", host])
    assert status == 0, err
    assert output == expected


def _final_state(host: str, abi: str, name: str) -> tuple:
    """Run a test build to ``_halt`` on ``host``: (result, output, guest state bytes, guest
    RAM bytes)."""
    elf, _ = _paths("test-", abi, name)
    machine = Machine("mips", host)
    image = load_image(str(elf), None)
    system = machine.guest.load_program(machine, image, None)
    machine.halt_at(machine.guest.pc_from_address(image.symbol("_halt")))
    result = machine.run(None)
    state = ctypes.string_at(machine.context_address + C.GUEST_STATE_OFFSET,
                             machine.guest.state.size)
    ram = b"".join(machine.memory.read_bytes(m.base, m.size)
                   for m in machine.memory.ram_mappings())
    return (result.reason, result.pc, result.cycles), bytes(system.output), state, ram


@pytest.mark.parametrize("abi, name", [("o32", "interp"), ("n32", "int64")])
def test_both_hosts_end_in_the_same_guest_state(abi, name):
    """The same program on the x86-64 and the AArch64 host: the same stop, output, guest
    registers and guest memory, byte for byte."""
    x86, a64 = _final_state("x86_64", abi, name), _final_state("aarch64", abi, name)
    assert x86[0] == a64[0] and x86[0][0] == ExitReason.HALT
    assert x86[1] == a64[1] == _paths("test-", abi, name)[1]
    assert x86[2] == a64[2]
    assert x86[3] == a64[3]


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


#: the programs the default run also compares in lockstep on the AArch64 host
AARCH64_LOCKSTEP = [pytest.param("o32", "interp", id="o32-interp"),
                    pytest.param("n32", "int64", id="n32-int64")]


@pytest.mark.parametrize("abi, name", AARCH64_LOCKSTEP)
def test_lockstep_on_aarch64(run_cli, abi, name):
    elf, expected = _paths("test-", abi, name)
    status, output, summary = _lockstep(run_cli, elf, "--max-insns", LOCKSTEP_LIMIT // 6,
                                        "--host", "aarch64")
    assert status == 0, summary
    assert expected.startswith(output)


@pytest.mark.full
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("build", ["test-", ""], ids=["test", "default"])
@pytest.mark.parametrize("abi, name", CASES)
def test_lockstep_whole_program(run_cli, build, abi, name, host):
    elf, expected = _paths(build, abi, name)
    status, output, summary = _lockstep(run_cli, elf, "--host", host)
    assert status == 0 and "halted at" in summary, summary
    assert output == expected
