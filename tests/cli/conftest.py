"""Fixtures of the command-line tests: tiny raw programs on disk and in-process runs of the
console scripts' ``main`` (the installed scripts themselves run in test_scripts.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from cli_testlib import LOAD, Raw, assemble


@pytest.fixture
def raw_program(tmp_path):
    """``raw_program(body) -> Raw``: ``lui $8, 0xbff0`` (the debug port), ``body``, then the
    halt loop, written as a raw binary to load at 0x80000400."""
    def make(body: str) -> Raw:
        code = assemble(f"lui $8, 0xbff0\n{body}\nhalt: j halt\nnop")
        path = tmp_path / "prog.bin"
        path.write_bytes(code)
        return Raw(path, LOAD + len(code) - 8)
    return make


@dataclass
class Outcome:
    status: int
    out: bytes
    err: str


@pytest.fixture
def run_cli(capsysbinary):
    """``run_cli(main, argv) -> Outcome``: a console script's ``main`` run in-process."""
    def run(main, argv) -> Outcome:
        status = main([str(a) for a in argv])
        captured = capsysbinary.readouterr()
        return Outcome(status, captured.out, captured.err.decode())
    return run
