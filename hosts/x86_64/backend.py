"""``X86_64Host``: compile IR regions to x86-64 machine code with Keystone.

``compile`` (``common.backend.KeystoneHost``) makes sure the code cache holds the shared
stubs for the ``CompileEnv`` (``stubs.py``), runs ``CodeGen`` (selection, register allocation,
then the lowering rules of ``lower.RULES``), assembles the text in one Keystone call and
commits the bytes.
"""

from __future__ import annotations

import capstone
import keystone

from dynarec.errors import CodeCacheFull
from dynarec.hosts.common.backend import KeystoneHost

from . import dispatcher, features as feats, stubs
from .codegen import CodeGen, SlotTable
from .lower import RULES

BYTES_PER_LINE = 6         # code size estimate per assembly line (measured: 4-5 on average)
REL32_REACH = (1 << 31) - 64   # what a rel32 branch reaches, less the longest instruction


class X86_64Host(KeystoneHost):
    """The x86-64 backend. ``features``: ``None`` detects the CPU (``features.detect``);
    a set forces exactly those optional instructions (``set()``: baseline x86-64).
    ``spill_all=True`` keeps every value in a stack slot (for tests: it exercises the
    memory-operand form of every rule)."""

    name = "x86_64"
    can_link = True
    KS_ARCH, KS_MODE = keystone.KS_ARCH_X86, keystone.KS_MODE_64
    CS_ARCH, CS_MODE = capstone.CS_ARCH_X86, capstone.CS_MODE_64
    BYTES_PER_LINE = BYTES_PER_LINE
    SLOT_TABLE = SlotTable

    def __init__(self, features=None, spill_all: bool = False):
        super().__init__(feats.resolve(features))
        self.spill_all = spill_all
        self._shared: dict = {}

    def _place(self, lines: list, cache, what: str) -> tuple:
        """Reserve room (by estimate), assemble at the cache's next address, commit; if the
        code turns out not to fit, reserve its real size (which may flush the cache) and
        assemble again at the new address. Returns ``(address, code)``; raises
        ``CodeCacheFull`` if the code exceeds the whole cache."""
        try:
            cache.reserve(len(lines) * BYTES_PER_LINE)
        except CodeCacheFull:
            pass                                   # only an estimate: the real size decides
        address = cache.next_address
        code = self.assemble(lines, address, what)
        if not cache.fits(len(code)):
            cache.reserve(len(code))
            address = cache.next_address
            code = self.assemble(lines, address, what)
        return cache.commit(code, at=address), code

    # --- the Host protocol -----------------------------------------------------------------

    def build_dispatcher(self, cache) -> dispatcher.X86_64Dispatcher:
        """Assemble the enter, miss and exit stubs (dispatcher.py) into ``cache``."""
        enter_size = len(self.assemble(dispatcher.ENTER, 0, "dispatcher"))
        miss_size = len(self.assemble(dispatcher.MISS, 0, "dispatcher"))
        entry, _ = self._place(dispatcher.ENTER + dispatcher.MISS + dispatcher.EXIT, cache,
                               "dispatcher")
        return dispatcher.X86_64Dispatcher(entry, entry + enter_size,
                                           entry + enter_size + miss_size)

    def _generate(self, region, env, cache, prefix: str):
        return CodeGen(region, env, self.features, prefix, RULES, self._stubs(env, cache),
                       self._slots, self.spill_all).generate()

    def _stubs(self, env, cache) -> stubs.SharedStubs:
        """The shared stubs for ``env`` in ``cache``, placed there first if need be."""
        memory = env.memory
        key = (id(cache), env.exit_stub, memory and memory.slow_load,
               memory and memory.slow_store, env.counters)
        shared = self._shared.get(key)
        if shared is None or not shared.valid(cache):
            shared = self._shared[key] = stubs.build(env, cache, self.assemble,
                                                     self._near(cache))
        return shared

    @staticmethod
    def _near(cache):
        """``near(address)``: True if a rel32 jump or call from anywhere in ``cache``
        reaches ``address``."""
        low, high = cache.rx_base, cache.rx_base + cache.size
        return lambda address: (abs(address - low) < REL32_REACH and
                                abs(address - high) < REL32_REACH)

    def patch_jump(self, site: int, target: int) -> bytes:
        """``jmp rel32`` from the 5-byte exit site at ``site`` (``emit.Asm.jump_site``) to
        ``target`` (Intel SDM vol. 2, "JMP": E9 cd, relative to the next instruction).
        Raises ``ValueError`` when ``target`` is beyond rel32 reach."""
        rel = target - (site + 5)
        if not -(1 << 31) <= rel < 1 << 31:
            raise ValueError(f"jump from {site:#x} to {target:#x} is beyond rel32 reach")
        return b"\xe9" + rel.to_bytes(4, "little", signed=True)

    def sync_icache(self, address: int, nbytes: int) -> None:
        """Nothing to do: x86 keeps instruction fetch coherent with stores (Intel SDM vol. 3
        section 11.6, self-modifying code; the RW and RX views alias physically)."""

