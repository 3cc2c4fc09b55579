"""The exceptions dynarec raises. Every one derives from ``DynarecError``."""

from __future__ import annotations


class DynarecError(Exception):
    """Base class of every error the library raises on purpose."""


class IRError(DynarecError):
    """Malformed IR: raised by the builder, the verifier (``VerifyError``) and the parser
    (``ParseError``). The message names the region, block, op and operand at fault."""


class VerifyError(IRError):
    """The verifier rejected a region; ``.problems`` lists every message found."""

    def __init__(self, message: str, problems=()):
        super().__init__(message)
        self.problems = list(problems) or [message]


class ParseError(IRError):
    """The IR text could not be read; ``.line`` is the 1-based line number."""

    def __init__(self, message: str, line: int = 0):
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


class CompileError(DynarecError):
    """A backend could not compile a region (e.g. Keystone rejected the assembly); the message
    includes the region name and the offending assembly line where known."""


class GuestFault(DynarecError):
    """A guest memory access hit no mapping (or a fault target). ``address`` is the guest
    address, ``size`` the access width in bytes, ``write`` True for stores."""

    def __init__(self, address: int, size: int, write: bool, reason: str = "unmapped"):
        kind = "store" if write else "load"
        super().__init__(f"guest {kind} of {size} byte(s) at {address:#x}: {reason}")
        self.address = address
        self.size = size
        self.write = write
        self.reason = reason


class CodeCacheFull(DynarecError):
    """A single region is larger than the whole code cache."""


class RegistryError(DynarecError):
    """No guest or host is registered under the name asked for."""
