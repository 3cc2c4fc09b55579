"""dynarec: dynamic recompilation for emulators and language VMs.

Guest frontends decode guest code into a shared typed SSA IR (``dynarec.ir``), passes clean it
up (``dynarec.passes``), host backends (``dynarec.hosts``) compile it into a W^X code cache, and
a ``Machine`` runs it natively. See ``docs/architecture.md``.
"""

from .context import ExitReason
from .errors import (CodeCacheFull, CompileError, DynarecError, GuestFault, IRError,
                     ParseError, RegistryError, VerifyError)
from .guest import Guest, IRGuest
from .machine import Machine, Registers, Scheduler, Snapshot
from .memory import AddressSpace, Mapping
from .runtime import FAULT, RunResult

__version__ = "0.1.0"

__all__ = [
    "AddressSpace", "CodeCacheFull", "CompileError", "DynarecError", "ExitReason", "FAULT",
    "Guest", "GuestFault", "IRError", "IRGuest", "Machine", "Mapping", "ParseError",
    "Registers", "RegistryError", "RunResult", "Scheduler", "Snapshot", "VerifyError",
]
