"""The perf map: names for generated code, so Linux ``perf report`` attributes time to guest
code instead of ``[unknown]``.

With ``DYNAREC_PERF_MAP=1`` in the environment, every region a ``Machine`` compiles is
appended to ``perf-<pid>.map`` in the temporary directory (``/tmp`` unless ``TMPDIR`` says
otherwise; ``perf`` itself reads ``/tmp``), one line per region in the format perf documents
for JIT-ed code (``tools/perf/Documentation/jit-interface.txt`` in the Linux sources):
``START SIZE NAME`` with START (the RX host address) and SIZE (bytes) in hexadecimal, and the
name ``<guest>:<pc>`` (e.g. ``mips:0xffffffff80000400``). The dispatcher and the shared stubs
are not listed. Lines are flushed as they are written, so a profile taken while the program
runs sees every region compiled so far. Code dropped by a cache flush keeps its lines; perf
uses the last line that covers an address.
"""

from __future__ import annotations

import os
import tempfile
from typing import Optional, TextIO

ENV = "DYNAREC_PERF_MAP"

_file: Optional[TextIO] = None
_pid: Optional[int] = None


def enabled() -> bool:
    """True when ``DYNAREC_PERF_MAP`` is set to something other than ``""`` or ``"0"``."""
    return os.environ.get(ENV, "") not in ("", "0")


def path() -> str:
    """The map file of this process: ``<tmpdir>/perf-<pid>.map``."""
    return os.path.join(tempfile.gettempdir(), f"perf-{os.getpid()}.map")


def record(start: int, size: int, name: str) -> None:
    """Append the line for ``size`` bytes of code at host address ``start`` called ``name``
    (spaces are replaced: perf splits on them). Opens the file on first use (again after a
    fork: a child has a map of its own). Raises ``OSError`` if the file cannot be written."""
    global _file, _pid
    if _file is None or _pid != os.getpid():
        _file = open(path(), "a", buffering=1)
        _pid = os.getpid()
    _file.write(f"{start:x} {size:x} {name.replace(' ', '_')}\n")
