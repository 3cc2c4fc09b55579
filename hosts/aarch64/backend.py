"""``AArch64Host``: compile IR regions to AArch64 machine code with Keystone, run them through
an executor (``executor.UnicornExecutor`` on machines that are not AArch64).

``compile`` runs ``CodeGen`` (selection and linear-scan allocation from ``dynarec.hosts.
common``, then the lowering rules of ``lower.RULES``), hands the whole text to Keystone in ONE
``asm`` call at the code cache's next address and commits the bytes. Every write into the
code cache -- a new region, a link patch, an unpatch -- ends in ``sync_icache``, which makes
the executor drop its translations of those bytes.
"""

from __future__ import annotations

import itertools

import capstone
import keystone

from dynarec.errors import CompileError
from dynarec.host import CompiledRegion, Host

from . import dispatcher
from .codegen import CodeGen, SlotTable
from .lower import RULES

BYTES_PER_LINE = 4             # every A64 instruction is 4 bytes (labels take none)
B_REACH = 1 << 27              # B imm26: +-128 MiB (Arm ARM C6.2.26)


class AArch64Host(Host):
    """The AArch64 backend. ``features``: accepted for the Host protocol; only the base
    ARMv8.0-A instructions are used, so it must be ``None`` or empty. ``executor``: what runs
    the code (default: a ``UnicornExecutor``; there is no native executor yet, see
    ``docs/hosts/aarch64.md``). ``spill_all=True`` keeps every value in a stack slot (tests)."""

    name = "aarch64"
    can_link = True

    def __init__(self, features=None, executor=None, spill_all: bool = False):
        if features:
            raise ValueError(f"unknown AArch64 feature(s) {sorted(features)}: the backend "
                             f"uses base ARMv8.0-A only")
        super().__init__(frozenset())
        if executor is None:
            from .executor import UnicornExecutor
            executor = UnicornExecutor()
        self.executor = executor
        self.spill_all = spill_all
        self._ks = keystone.Ks(keystone.KS_ARCH_ARM64, keystone.KS_MODE_LITTLE_ENDIAN)
        self._cs = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
        self._serial = itertools.count()
        self._dispatchers: dict = {}
        self._slots = None

    # --- assembling ------------------------------------------------------------------------

    def assemble(self, lines: list, address: int, what: str) -> bytes:
        """Assemble A64 ``lines`` for ``address`` in one Keystone call; raises
        ``CompileError`` naming ``what`` and the offending line."""
        text = "\n".join(lines) + "\n"
        try:
            encoding, count = self._ks.asm(text, address, as_bytes=True)
        except keystone.KsError as e:
            raise CompileError(f"{what}: Keystone rejected the assembly ({e}): "
                               f"{self._bad_line(lines, address)}") from None
        if count != len(lines):
            raise CompileError(f"{what}: Keystone assembled {count} of {len(lines)} statements")
        return encoding or b""

    def _bad_line(self, lines: list, address: int) -> str:
        """The first line Keystone rejects on its own (label references are fine)."""
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

    def build_dispatcher(self, cache) -> dispatcher.AArch64Dispatcher:
        """Assemble the enter and exit stubs and the shared exit tails into ``cache``."""
        if cache.size > B_REACH // 2:
            raise ValueError(f"a {cache.size}-byte code cache is beyond the reach of B "
                             f"(+-128 MiB) from its dispatcher")
        built = dispatcher.build(cache, self.assemble, self.executor)
        self._dispatchers[id(cache)] = built
        return built

    def compile(self, region, env, cache) -> CompiledRegion:
        """Compile ``region`` (``kind`` ``"block"`` or ``"function"``) into ``cache`` (whose
        dispatcher this host built). Raises ``CompileError`` naming the region (and op or
        assembly line) for anything it cannot compile, ``CodeCacheFull`` if the code exceeds
        the whole cache."""
        if region.kind not in ("block", "function"):
            raise CompileError(f"region {region.name}: unknown kind {region.kind!r}")
        if not region.blocks:
            raise CompileError(f"region {region.name} has no blocks")
        built = self._dispatchers.get(id(cache))
        if built is None or built.exit_stub != env.exit_stub:
            raise CompileError(f"region {region.name}: the code cache has no dispatcher of "
                               f"this host (call build_dispatcher first)")
        what = f"region {region.name}"
        if self._slots is None or self._slots.state is not env.state:
            self._slots = SlotTable(env.state)
        asm = CodeGen(region, env, f"r{next(self._serial)}", RULES, built, self.executor,
                      self._slots, self.spill_all).generate(cache.rx_base)
        lines = asm.lines()
        size = len(lines) * BYTES_PER_LINE          # an upper bound: labels take no bytes
        cache.reserve(size)                         # flushes, or raises CodeCacheFull
        address = cache.next_address
        code = self.assemble(lines, address, what)
        entry = cache.commit(code, at=address)
        return CompiledRegion(region.name, entry, len(code), asm.text(), asm.instructions)

    def patch_jump(self, site: int, target: int) -> bytes:
        """``B target`` at ``site`` (Arm ARM C6.2.26: 0x14000000 | imm26, the offset in
        words from the instruction). Raises ``ValueError`` beyond +-128 MiB or for a
        misaligned address."""
        offset = target - site
        if offset % 4:
            raise ValueError(f"jump from {site:#x} to {target:#x}: not 4-byte aligned")
        if not -B_REACH <= offset < B_REACH:
            raise ValueError(f"jump from {site:#x} to {target:#x} is beyond the reach of B")
        word = 0x14000000 | ((offset >> 2) & 0x3FFFFFF)
        return word.to_bytes(4, "little")

    def sync_icache(self, address: int, nbytes: int) -> None:
        """Make freshly written code visible to instruction fetch: the executor drops its
        translations of those bytes (``Uc.ctl_remove_cache`` under Unicorn; natively this
        is the data-cache clean and instruction-cache invalidate of Arm ARM B2.4.4)."""
        self.executor.sync(address, nbytes)

    def disassemble(self, code: bytes, address: int) -> list:
        """Capstone listing: ``"0x<address>: <mnemonic> <operands>"`` per instruction."""
        return [f"{i.address:#x}: {i.mnemonic} {i.op_str}".rstrip()
                for i in self._cs.disasm(bytes(code), address)]

