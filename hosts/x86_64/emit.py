"""x86-64 assembly text: ``common.emit.Asm`` plus the patchable exit site."""

from __future__ import annotations

from dynarec.hosts.common.emit import Asm as _Asm


class Asm(_Asm):
    """``common.emit.Asm`` with ``jump_site`` (Intel-syntax lines)."""

    def jump_site(self, site: str, target: str) -> None:
        """Place label ``site`` at a patchable ``jmp rel32`` to label ``target``: always the 5
        bytes ``E9 rel32`` (Keystone would pick the 2-byte form for a near target), so it can
        be rewritten in place to reach any address within rel32 range."""
        self.place(site)
        self._target.append(".byte 0xe9")
        self.data(f".long {target} - {site} - 5")

