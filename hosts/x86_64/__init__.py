"""x86-64 host backend: ``X86_64Host`` (registered as the ``x86_64`` entry point of
``dynarec.hosts``).

Modules: ``features`` (CPU feature detection), ``regs`` (register roles and conventions, the
``RegisterFile`` for ``dynarec.hosts.common``'s ``fold`` and linear-scan ``regalloc``),
``emit`` (assembly text), ``codegen`` (lowering machinery), ``lower`` (the rule table),
``stubs`` (exit tails and memory slow paths shared by a code cache's regions),
``dispatcher`` (enter/exit stubs), ``backend`` (the Host).
"""

from .backend import X86_64Host

__all__ = ["X86_64Host"]
