"""The installed console scripts (``[project.scripts]`` in pyproject.toml), run as
processes: a raw program's output, and bad input without a traceback."""

import pathlib
import subprocess
import sys

from cli_testlib import LOAD, assemble, put

BIN = pathlib.Path(sys.executable).parent


def _script(name: str, *args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / name), *map(str, args)], capture_output=True,
                          timeout=120, cwd=cwd)


def _hello(tmp_path) -> tuple:
    body = "\n".join(f"ori $3, $0, {ord(c)}\n{put(3)}" for c in "hi\n")
    code = assemble(f"lui $8, 0xbff0\n{body}\nhalt: j halt\nnop")
    path = tmp_path / "hello.bin"
    path.write_bytes(code)
    return path, LOAD + len(code) - 8


def test_dynarec_run_prints_the_program_output(tmp_path):
    path, halt = _hello(tmp_path)
    done = _script("dynarec-run", "mips", path, "--load", hex(LOAD), "--until", hex(halt))
    assert (done.returncode, done.stdout, done.stderr) == (0, b"hi\n", b"")


def test_dynarec_diff_prints_the_output_and_one_summary_line(tmp_path):
    path, halt = _hello(tmp_path)
    done = _script("dynarec-diff", "mips", path, "--load", hex(LOAD), "--until", hex(halt))
    assert done.returncode == 0 and done.stdout == b"hi\n"
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("dynarec-diff: 7 instructions, 2 regions, 0 divergences, "
                               "0 oracle quirks; halted at pc=0xffffffff8000041c;")


def test_bad_input_is_one_line_without_a_traceback(tmp_path):
    for script in ("dynarec-run", "dynarec-diff"):
        done = _script(script, "no-such-guest", tmp_path / "none.bin")
        assert done.returncode == 2 and done.stdout == b""
        lines = done.stderr.decode().splitlines()
        assert len(lines) == 1
        assert lines[0].startswith(f"{script}: unknown guest 'no-such-guest'; available: ")
        assert "mips" in lines[0]
