"""DYNAREC_PERF_MAP=1: every compiled region gets a ``START SIZE NAME`` line in
``perf-<pid>.map`` (the format of the Linux sources' tools/perf/Documentation/jit-interface.txt)."""

import os
import tempfile

from dynarec import IRGuest, Machine, perfmap

PROGRAM = """
state pc:i64 r:i64[2]
region a block pc=0x100 {
block0:
    insn_start pc=0x100
    exit kind=jump pc=0x200
}
region b block pc=0x200 {
block0:
    insn_start pc=0x200
    exit kind=halt pc=0x204
}
"""


def _map_lines(tmp_path, monkeypatch, value):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(perfmap, "_file", None)
    monkeypatch.setenv(perfmap.ENV, value)
    m = Machine(IRGuest(PROGRAM))
    m.pc = 0x100
    m.run()
    if perfmap._file is not None:
        perfmap._file.close()
    path = tmp_path / f"perf-{os.getpid()}.map"
    return m, (path.read_text().splitlines() if path.exists() else None)


def test_each_region_is_named_by_guest_and_pc(tmp_path, monkeypatch):
    m, lines = _map_lines(tmp_path, monkeypatch, "1")
    regions = {r.key.pc: r.code for r in m.blocks}
    assert sorted(lines) == sorted(f"{code.entry:x} {code.size:x} ir:{pc:#x}"
                                   for pc, code in regions.items())
    assert len(lines) == 2


def test_no_map_unless_asked(tmp_path, monkeypatch):
    _, lines = _map_lines(tmp_path, monkeypatch, "0")
    assert lines is None
