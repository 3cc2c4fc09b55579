"""AArch64 host backend: ``AArch64Host`` (registered as the ``aarch64`` entry point of
``dynarec.hosts``).

Modules: ``regs`` (register roles and conventions, the ``RegisterFile`` for ``dynarec.hosts.
common``'s ``fold`` and linear-scan ``regalloc``), ``codegen`` (lowering machinery), ``lower``
(the rule table), ``dispatcher`` (enter/exit stubs and the shared exit tails), ``executor``
(running the code under Unicorn's ARM64 CPU on other machines), ``backend`` (the Host).
"""

from .backend import AArch64Host

__all__ = ["AArch64Host"]
