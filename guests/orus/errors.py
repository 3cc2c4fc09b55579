"""The two errors of the Orus guest: a dump that cannot be loaded, and an Orus runtime error.

``OrusLoadError`` is raised for every malformed dump file (loader, decoder) and for a program
the reference interpreter cannot run; its message names the file, the function (or ``main``)
and the byte offset at fault. ``OrusRuntimeError`` is the guest program's own runtime error:
the real VM prints a diagnostic to stderr and exits with status 70 (``EXIT_RUNTIME_ERROR``).
"""

from __future__ import annotations

from typing import Optional

from dynarec.errors import DynarecError

EXIT_RUNTIME_ERROR = 70
"""Exit status of the real VM after an uncaught runtime error (``../shared/orus/README.md``
section 3, "Program start and end"; sysexits.h ``EX_SOFTWARE``)."""


class OrusLoadError(DynarecError, ValueError):
    """A dump file that cannot be loaded or run: bad JSON or fields, bad hex, a truncated
    instruction, a jump outside its chunk, an unknown or handler-less opcode, a constant index
    out of range, ... The message names the source, the function and the offset."""


class OrusRuntimeError(DynarecError):
    """A runtime error of the Orus program (the VM's ``runtimeError``).

    ``message`` is the VM's text (e.g. ``"Integer overflow"``). Where it happened is set by the
    interpreter (``locate``): ``function`` (the function's name, ``None`` for top-level code),
    ``offset`` (byte offset of the faulting instruction in its chunk) and ``line`` (its source
    line from the dump, -1 where the compiler recorded none).
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
        self.function: Optional[str] = None
        self.offset: Optional[int] = None
        self.line: Optional[int] = None

    def locate(self, function: Optional[str], offset: int, line: int) -> "OrusRuntimeError":
        """Record where the error happened; returns ``self``."""
        self.function, self.offset, self.line = function, offset, line
        return self

    def __str__(self) -> str:
        if self.offset is None:
            return self.message
        where = "top level" if self.function is None else f"function {self.function!r}"
        line = f", line {self.line}" if self.line is not None and self.line >= 0 else ""
        return f"{self.message} ({where}, offset {self.offset:#06x}{line})"
