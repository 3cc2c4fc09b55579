"""``AArch64Host``: compile IR regions to AArch64 machine code with Keystone, run them through
an executor (``executor.UnicornExecutor`` on machines that are not AArch64).

``compile`` (``common.backend.KeystoneHost``) runs ``CodeGen`` (selection and linear-scan
allocation from ``dynarec.hosts.common``, then the lowering rules of ``lower.RULES``),
assembles the text in one Keystone call and commits the bytes. Every write into the code
cache -- a new region, a link patch, an unpatch -- ends in ``sync_icache``, which makes the
executor drop its translations of those bytes.
"""

from __future__ import annotations

import capstone
import keystone

from dynarec.errors import CompileError
from dynarec.hosts.common.backend import KeystoneHost

from . import dispatcher
from .codegen import CodeGen
from .lower import RULES

BYTES_PER_LINE = 4             # every A64 instruction is 4 bytes (labels take none)
B_REACH = 1 << 27              # B imm26: +-128 MiB (Arm ARM C6.2.26)


class AArch64Host(KeystoneHost):
    """The AArch64 backend. ``features``: accepted for the Host protocol; only the base
    ARMv8.0-A instructions are used, so it must be ``None`` or empty. ``executor``: what runs
    the code (default: a ``UnicornExecutor``; there is no native executor yet, see
    ``docs/hosts/aarch64.md``). ``spill_all=True`` keeps every value in a stack slot (tests)."""

    name = "aarch64"
    can_link = True
    KS_ARCH, KS_MODE = keystone.KS_ARCH_ARM64, keystone.KS_MODE_LITTLE_ENDIAN
    CS_ARCH, CS_MODE = capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM
    BYTES_PER_LINE = BYTES_PER_LINE

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
        self._dispatchers: dict = {}

    # --- the Host protocol -----------------------------------------------------------------

    def build_dispatcher(self, cache) -> dispatcher.AArch64Dispatcher:
        """Assemble the enter and exit stubs and the shared exit tails into ``cache``."""
        if cache.size > B_REACH // 2:
            raise ValueError(f"a {cache.size}-byte code cache is beyond the reach of B "
                             f"(+-128 MiB) from its dispatcher")
        built = dispatcher.build(cache, self.assemble, self.executor)
        self._dispatchers[id(cache)] = built
        return built

    def _generate(self, region, env, cache, prefix: str):
        """Generate with the dispatcher this host built into ``cache``; ``CompileError`` if
        it has none."""
        built = self._dispatchers.get(id(cache))
        if built is None or built.exit_stub != env.exit_stub:
            raise CompileError(f"region {region.name}: the code cache has no dispatcher of "
                               f"this host (call build_dispatcher first)")
        return CodeGen(region, env, prefix, RULES, built, self.executor, cache.rx_base,
                       self._slots, self.spill_all).generate()

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

