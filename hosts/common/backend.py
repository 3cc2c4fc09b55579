"""``KeystoneHost``: the part of a ``Host`` every backend shares -- assemble text with
Keystone, place a region's code in the code cache, disassemble with Capstone.

``compile`` runs the host's ``CodeGen`` (``_generate``), hands the whole text to Keystone in
ONE ``asm`` call at the code cache's next address and commits the bytes. The text is sized
first by an estimate (``BYTES_PER_LINE``); when the real code does not fit, the cache is
flushed and the region generated again, since a host's code may refer to shared code the
flush dropped. Keystone reports statements (instructions and labels); a count that differs
from the text's is treated as a mis-assembly.
"""

from __future__ import annotations

import itertools

import capstone
import keystone

from dynarec.errors import CodeCacheFull, CompileError
from dynarec.host import CompiledRegion, Host

from .codegen import SlotTable


class KeystoneHost(Host):
    """A ``Host`` whose subclass sets the Keystone/Capstone modes (``KS_ARCH``, ``KS_MODE``,
    ``CS_ARCH``, ``CS_MODE``), ``BYTES_PER_LINE`` (code size estimate of one line),
    ``SLOT_TABLE`` (its ``SlotTable`` class) and implements ``_generate``."""

    KS_ARCH = KS_MODE = CS_ARCH = CS_MODE = None
    BYTES_PER_LINE = 4
    SLOT_TABLE = SlotTable

    def __init__(self, features):
        super().__init__(features)
        self._ks = keystone.Ks(self.KS_ARCH, self.KS_MODE)
        self._cs = capstone.Cs(self.CS_ARCH, self.CS_MODE)
        self._serial = itertools.count()
        self._slots = None                     # SlotTable of the last state layout

    # --- assembling ------------------------------------------------------------------------

    def assemble(self, lines: list, address: int, what: str) -> bytes:
        """Assemble ``lines`` (the host's syntax) for RX ``address`` in one Keystone call;
        raises ``CompileError`` naming ``what`` and the offending line."""
        text = "\n".join(lines) + "\n"
        try:
            encoding, count = self._ks.asm(text, address, as_bytes=True)
        except keystone.KsError:
            # Keystone 0.9.2 keeps state between calls and, rarely, rejects valid text after
            # earlier input (seen in the MIPS fuzz tests on x86-64: a plain `mov qword ptr
            # [rbx + 8], imm32` refused in context, accepted alone and on retry). Retry once
            # with a fresh engine before calling the text bad.
            self._ks = keystone.Ks(self.KS_ARCH, self.KS_MODE)
            try:
                encoding, count = self._ks.asm(text, address, as_bytes=True)
            except keystone.KsError as e:
                raise CompileError(f"{what}: Keystone rejected the assembly ({e}): "
                                   f"{self._bad_line(lines, address)}") from None
        if count != len(lines):
            raise CompileError(f"{what}: Keystone assembled {count} of {len(lines)} statements")
        return encoding or b""

    def _bad_line(self, lines: list, address: int) -> str:
        """The first line Keystone rejects on its own at ``address`` (label references are
        fine; absolute branch targets are in reach from there)."""
        for number, line in enumerate(lines, 1):
            if line.endswith(":"):
                continue
            try:
                self._ks.asm(line, address)
            except keystone.KsError as e:
                if e.errno != keystone.KS_ERR_ASM_SYMBOL_MISSING:
                    return f"line {number}: {line.strip()!r}"
        return "(no single line fails alone)"

    # --- the Host protocol -----------------------------------------------------------------

    def _generate(self, region, env, cache, prefix: str):
        """The region's ``Asm`` from the host's ``CodeGen`` (labels prefixed ``prefix``),
        with ``self._slots`` as its slot table (host hook)."""
        raise NotImplementedError

    def compile(self, region, env, cache) -> CompiledRegion:
        """Compile ``region`` (``kind`` ``"block"`` or ``"function"``) into ``cache``.
        Raises ``CompileError`` naming the region (and op or assembly line) for anything it
        cannot compile, ``CodeCacheFull`` if the code exceeds the whole cache."""
        if region.kind not in ("block", "function"):
            raise CompileError(f"region {region.name}: unknown kind {region.kind!r}")
        if not region.blocks:
            raise CompileError(f"region {region.name} has no blocks")
        what = f"region {region.name}"
        if self._slots is None or self._slots.state is not env.state:
            self._slots = self.SLOT_TABLE(env.state)
        start, estimate = cache.flushes, True
        while True:       # a flush drops shared code with the regions: generate again
            flushes = cache.flushes
            asm = self._generate(region, env, cache, f"r{next(self._serial)}")
            lines = asm.lines()
            if estimate:
                estimate = False
                try:
                    cache.reserve(len(lines) * self.BYTES_PER_LINE)
                except CodeCacheFull:
                    pass                           # only an estimate: the real size decides
                if cache.flushes != flushes:
                    continue
            address = cache.next_address
            code = self.assemble(lines, address, what)
            if cache.fits(len(code)):
                entry = cache.commit(code, at=address)
                return CompiledRegion(region.name, entry, len(code), asm.text(),
                                      asm.instructions)
            if cache.flushes != start:             # the cache holds only what must stay
                raise CodeCacheFull(f"{what}: {len(code)} bytes do not fit in the code cache "
                                    f"({cache.free} bytes free after a flush)")
            cache.reserve(len(code))               # flushes, or raises CodeCacheFull

    def disassemble(self, code: bytes, address: int) -> list:
        """Capstone listing: ``"0x<address>: <mnemonic> <operands>"`` per instruction."""
        return [f"{i.address:#x}: {i.mnemonic} {i.op_str}".rstrip()
                for i in self._cs.disasm(bytes(code), address)]
