"""``X86_64Host``: compile IR regions to x86-64 machine code with Keystone.

``compile`` makes sure the code cache holds the shared stubs for the ``CompileEnv``
(``stubs.py``), runs ``CodeGen`` (selection, register allocation, then the lowering rules of
``lower.RULES``), hands the whole text to Keystone in ONE ``asm`` call at the code cache's next
address and commits the bytes. Keystone reports statements (instructions and labels); a count
that differs from the text's is treated as a mis-assembly.
"""

from __future__ import annotations

import itertools

import capstone
import keystone

from dynarec.errors import CodeCacheFull, CompileError
from dynarec.host import CompiledRegion, Host

from . import dispatcher, features as feats, stubs
from .codegen import CodeGen, SlotTable
from .lower import RULES

BYTES_PER_LINE = 6         # code size estimate per assembly line (measured: 4-5 on average)
REL32_REACH = (1 << 31) - 64   # what a rel32 branch reaches, less the longest instruction


class X86_64Host(Host):
    """The x86-64 backend. ``features``: ``None`` detects the CPU (``features.detect``);
    a set forces exactly those optional instructions (``set()``: baseline x86-64).
    ``spill_all=True`` keeps every value in a stack slot (for tests: it exercises the
    memory-operand form of every rule)."""

    name = "x86_64"
    can_link = True

    def __init__(self, features=None, spill_all: bool = False):
        super().__init__(feats.resolve(features))
        self.spill_all = spill_all
        self._ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_64)
        self._cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
        self._serial = itertools.count()
        self._shared: dict = {}
        self._slots = None                     # codegen.SlotTable of the last state layout

    # --- assembling ------------------------------------------------------------------------

    def assemble(self, lines: list, address: int, what: str) -> bytes:
        """Assemble Intel-syntax ``lines`` for RX ``address`` in one Keystone call; raises
        ``CompileError`` naming ``what`` and the offending line."""
        text = "\n".join(lines) + "\n"
        try:
            encoding, count = self._ks.asm(text, address, as_bytes=True)
        except keystone.KsError:
            # Keystone 0.9.2 keeps state between calls and, rarely, rejects valid text after
            # earlier input (seen in the MIPS fuzz tests: a plain `mov qword ptr [rbx + 8],
            # imm32` refused in context, accepted alone and on retry). Retry once with a
            # fresh engine before calling the text bad.
            self._ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_64)
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
            self._slots = SlotTable(env.state)
        start, estimate = cache.flushes, True
        while True:       # a flush drops the stubs with the regions: generate again
            flushes = cache.flushes
            shared = self._stubs(env, cache)
            asm = CodeGen(region, env, self.features, f"r{next(self._serial)}", RULES,
                          shared, self._slots, self.spill_all).generate()
            lines = asm.lines()
            if estimate:
                estimate = False
                try:
                    cache.reserve(len(lines) * BYTES_PER_LINE)
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

    def disassemble(self, code: bytes, address: int) -> list:
        """Capstone listing: ``"0x<address>: <mnemonic> <operands>"`` per instruction."""
        return [f"{i.address:#x}: {i.mnemonic} {i.op_str}".rstrip()
                for i in self._cs.disasm(bytes(code), address)]
