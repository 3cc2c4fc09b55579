"""The Machine: the public face of dynarec.

::

    from dynarec import Machine
    m = Machine("mips")                     # guest by name, native host by default
    m.memory.map_ram(0, 8 << 20)
    m.memory.write_bytes(0x400, code)
    m.pc = 0x80000400
    result = m.run(cycles=1_000_000)        # -> RunResult(reason, pc, cycles, ...)
    print(m.regs["gpr[2]"], m.stats)

A Machine owns one guest state (the context block generated code addresses), one address space,
one code cache with its block cache, link table and jump cache, a scheduler for timed events
and a stats table. Several Machines live side by side in one process (lockstep runs need two).

Chaining (``link=True``, the default; ``docs/architecture.md``, "Exits"): once the run loop has
seen an exit, generated code takes it without Python -- direct exits are patched into jumps
(links), computed exits look the jump cache up, returns pop the return-stack buffer. Whatever
may change which region a guest pc selects unlinks what depends on it: ``invalidate(key)``,
``unlink(key)``, ``mapping_changed(start, end)`` (called by the address space on every
``add``/``remove``/``rebase``; an embedder calls it after changing a TLB or the mode word).

Self-modifying code (``docs/architecture.md``, "Self-modifying code"): every region records
the guest bytes it was translated from; the address space marks them in its code bitmap and
reports writes to them, and ``invalidate_range`` drops the regions there, keeping them for
revalidation: when execution reaches such a region's key again and its bytes compare equal,
it is put back (its code is still in the code cache) instead of compiled again. A store of
generated code that hits code stops the entry before it is made (``runtime.CodeModified``);
the run loop runs that instruction again as a single-instruction region, which makes the
store, and goes on in the new code.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import struct
import time
import zlib
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

from . import context as ctxabi
from . import perfmap
from .blocks import (BlockCache, CachedRegion, JumpCache, LinkTable, RegionKey,
                     clear_return_stack)
from .codecache import DEFAULT_SIZE, CodeCache
from .errors import CompileError, GuestFault
from .guest import Guest
from .host import CompileEnv, HelperImpl
from .ir.nodes import HelperSig, Module, Region
from .ir.printer import format_region
from .memory import AddressSpace
from .registry import load_guest, load_host
from .runtime import CodeModified, RunResult, run_loop
from .stats import Stats

_FLOAT_FMT = {32: "<f", 64: "<d"}

#: the chaining rows of the stats table; the hit counters move only with ``Machine(stats=True)``

#: invalidated versions of one region key kept for revalidation (the oldest goes first)
KEPT_VERSIONS = 4

#: the self-modifying-code rows of the stats table (``invalidations`` and ``links_restored``,
#: the unpatched links, are shared with breakpoints and mapping changes)
_SMC_COUNTERS = {
    "revalidations": "regions revalidated by checksum",
    "recompiles": "invalidated regions compiled again",
    "exits_code_write": "exits: store to code (instruction run again alone)",
}


class Registers:
    """Typed access to guest state: ``regs["gpr[3]"]``, ``regs["pc"] = 0x400``.

    Integer slots read and write Python ints (written values are masked to the slot width);
    float slots read and write Python floats. ``raw(ref)``/``set_raw(ref, bits)`` give the bit
    pattern of any slot. Unknown references raise ``KeyError``.
    """

    def __init__(self, machine: "Machine"):
        self._m = machine
        self._refs: dict = {}           # ref -> (context offset, Type): run loops ask often

    def _addr(self, ref: str):
        found = self._refs.get(ref)
        if found is None:
            layout = self._m.guest.state
            found = self._refs[ref] = (ctxabi.GUEST_STATE_OFFSET + layout.offset(ref),
                                       layout.type(ref))
        return found

    def raw(self, ref: str) -> int:
        off, t = self._addr(ref)
        return int.from_bytes(self._m._ctx_buf[off:off + t.bytes], "little") & t.mask

    def set_raw(self, ref: str, bits: int) -> None:
        off, t = self._addr(ref)
        self._m._ctx_buf[off:off + t.bytes] = (bits & t.mask).to_bytes(t.bytes, "little")

    def __getitem__(self, ref: str):
        off, t = self._addr(ref)
        bits = int.from_bytes(self._m._ctx_buf[off:off + t.bytes], "little") & t.mask
        if t.is_float:
            return struct.unpack(_FLOAT_FMT[t.bits], bits.to_bytes(t.bytes, "little"))[0]
        return bits

    def __setitem__(self, ref: str, value) -> None:
        off, t = self._addr(ref)
        if t.is_float:
            value = int.from_bytes(struct.pack(_FLOAT_FMT[t.bits], value), "little")
        self.set_raw(ref, int(value))

    def as_dict(self) -> dict:
        """Every register's raw bits, by reference."""
        return {ref: self.raw(ref) for ref in self._m.guest.state.refs()}


@dataclass(order=True)
class _Event:
    when: int
    seq: int
    callback: Callable = field(compare=False)


class Scheduler:
    """Timed events in guest cycles. ``add(when, callback)`` runs ``callback(machine)`` once
    the machine's cycle count reaches ``when`` (checked between regions: an event fires no
    later than the end of the region running when it falls due). ``cancel(handle)``."""

    def __init__(self):
        self._heap: list[_Event] = []
        self._seq = itertools.count()

    def add(self, when: int, callback: Callable) -> _Event:
        ev = _Event(int(when), next(self._seq), callback)
        heapq.heappush(self._heap, ev)
        return ev

    def cancel(self, event: _Event) -> None:
        event.callback = None

    def next_time(self) -> Optional[int]:
        while self._heap and self._heap[0].callback is None:
            heapq.heappop(self._heap)
        return self._heap[0].when if self._heap else None

    def fire_due(self, machine: "Machine") -> None:
        while True:
            t = self.next_time()
            if t is None or t > machine.cycles:
                return
            ev = heapq.heappop(self._heap)
            machine.stats["events_fired"] += 1
            ev.callback(machine)

    def pending(self) -> list:
        return sorted(e for e in self._heap if e.callback is not None)


@dataclass
class Snapshot:
    """A saved machine: guest state and header bytes, the contents of every host-memory
    mapping (by mapping name and base), the cycle count and the pending events."""

    context: bytes
    memory: dict
    cycles: int
    events: list


class Machine:
    """A guest running on a host.

    ``guest``: a registered guest name, a ``Guest`` subclass or instance. ``host``: a host name
    (default: ``$DYNAREC_HOST`` or the native one). ``code_cache_size`` in bytes.
    ``disabled_passes``: pass names to switch off. ``verify``: run the IR verifier on every
    region the frontend produces, before the passes (a malformed region raises ``VerifyError`` instead of compiling).
    ``keep_ir``: keep each region's IR text before and after passes on its ``CachedRegion``
    (for reports). ``link``: chain regions in generated code (module docstring; ignored by
    hosts that cannot); ``False`` returns to the run loop at every exit, as ``run`` with
    ``max_regions`` always does. ``stats``: also count jump-cache and return-stack-buffer hits
    in generated code (a few instructions on the hot path). Raises ``RegistryError`` for
    unknown names.
    """

    def __init__(self, guest, host: Optional[str] = None, *, code_cache_size: int = DEFAULT_SIZE,
                 disabled_passes: Iterable[str] = (), verify: bool = True,
                 keep_ir: bool = False, host_features: Optional[set] = None,
                 link: bool = True, stats: bool = False):
        if isinstance(guest, str):
            guest = load_guest(guest)
        if isinstance(guest, type):
            guest = guest()
        if not isinstance(guest, Guest):
            raise TypeError(f"guest must be a name, a Guest subclass or instance, not {guest!r}")
        self.guest = guest
        host_cls = load_host(host) if (host is None or isinstance(host, str)) else host
        self.host = host_cls(features=host_features)
        self.stats = Stats()
        for name, description in _SMC_COUNTERS.items():
            self.stats.declare(name, description)
        self.memory = AddressSpace(guest.addr_bits, guest.page_bits, guest.big_endian,
                                   guest.code_granularity)
        self._ctx_buf = (ctypes.c_char * (ctxabi.GUEST_STATE_OFFSET + guest.state.size))()
        self.context = ctxabi.ContextHeader.from_buffer(self._ctx_buf)
        self.context_address = ctypes.addressof(self._ctx_buf)
        self.regs = Registers(self)
        self.scheduler = Scheduler()
        self._cycles = 0               # run by entries that have returned (``account``)
        self._insns = 0
        self._entry_budget = None      # the budget of the entry in progress, if any
        self._entry_single = False     # the entry in progress runs one instruction
        self.rerun_single = False      # the next entry runs one instruction (CodeModified)
        self.end_requested = False     # end_entry was called: run returns after this entry
        from .passes import check_names
        self.disabled_passes = set(check_names(disabled_passes))
        self.verify = verify
        self.keep_ir = keep_ir
        self.cache = CodeCache(code_cache_size, self.host.sync_icache)
        self.dispatcher = self.host.build_dispatcher(self.cache)
        self.cache.pin()
        self.cache.on_flush(self._on_flush)
        self.blocks = BlockCache()
        self.link = link and self.host.can_link
        self.count_hits = stats
        self.links = LinkTable()
        self.jump_cache = JumpCache(self.dispatcher.miss_stub)
        self._chaining = False         # links and jump-cache fills allowed (run-loop state)
        self._reset_dispatch()
        self.memory.on_change(self.mapping_changed)
        self.memory.on_code_write(self._code_written)
        self._code_regions: dict[int, dict] = {}   # page -> {id(region): region} with code there
        self._kept: dict[RegionKey, list] = {}     # invalidated regions, for revalidation
        self._functions: dict[str, int] = {}
        self._stops: dict[int, str] = {}      # guest pc -> "halt" | "breakpoint"
        self._single = False                   # translating a single-instruction region
        self._single_blocks = BlockCache()     # region_at(single=True)
        self._step_over = BlockCache()         # region_at(single=True, over=True)
        self._keep_alive: list = []
        self.helpers: dict[str, HelperImpl] = {}
        self.perf_map = perfmap.enabled()
        guest.setup(self)

    # --- registers and time ---------------------------------------------------------------

    @property
    def pc(self) -> int:
        """The guest pc (the guest's ``pc_slot``)."""
        return self.regs.raw(self.guest.pc_slot)

    @pc.setter
    def pc(self, value: int) -> None:
        self.regs.set_raw(self.guest.pc_slot, value)

    @property
    def cycles(self) -> int:
        """Guest cycles run so far -- exact inside generated code too: a helper or device
        handler it calls sees every instruction retired before the call."""
        if self._entry_budget is None:
            return self._cycles
        return self._cycles + self._entry_budget - self.context.budget

    @cycles.setter
    def cycles(self, value: int) -> None:
        self._cycles = value

    @property
    def insns(self) -> int:
        """Guest instructions retired so far (exact inside generated code, as ``cycles``)."""
        if self._entry_budget is None:
            return self._insns
        return self._insns + self.context.insns

    @insns.setter
    def insns(self, value: int) -> None:
        self._insns = value

    def entering(self, budget: int, single: bool = False) -> None:
        """The run loop enters generated code with ``budget`` (and the insns counter at 0);
        ``single``: a single-instruction region."""
        self._entry_budget = budget
        self._entry_single = single

    def account(self, cycles: int, insns: int) -> None:
        """Add ``cycles``/``insns`` run by the entry that just returned to the totals."""
        self._entry_budget = None
        self._cycles += cycles
        self._insns += insns
        self.stats["cycles"] = self._cycles

    def account_entry(self) -> None:
        """The entry in progress returned: add what it ran (from the context's budget and
        instruction counters) to the totals."""
        self.account(self._entry_budget - self.context.budget, self.context.insns)

    def end_entry(self) -> None:
        """Make the generated code running now leave at its next budget check -- the end of
        the running region, or the next iteration of a loop inside it -- and ``run`` return
        there with reason BUDGET: for a device write handler whose store changes when the
        next event falls due (a timer started, an interrupt enabled), so the embedder sets a
        new budget (scheduled events that are due fire at the start of the next ``run``).
        Cycle counts stay exact (the budget taken away is taken from the entry's grant too).
        Does nothing outside generated code."""
        if self._entry_budget is None:
            return
        self.end_requested = True
        left = self.context.budget
        if left > 0:
            self.context.budget = 0
            self._entry_budget -= left

    # --- helpers --------------------------------------------------------------------------

    def add_helper(self, name: str, fn, params=(), results=(), pure: bool = False,
                   native: bool = False) -> None:
        """Register a helper translated code may ``call``: a Python callable (``native=False``)
        or the host address of a C function. ``params``/``results`` are IR Types."""
        self.helpers[name] = HelperImpl(HelperSig(name, tuple(params), tuple(results), pure),
                                        "native" if native else "python", fn)

    def _all_helpers(self) -> dict:
        out = dict(self.guest.helpers)
        out.update(self.helpers)
        return out

    # --- compiling ------------------------------------------------------------------------

    def halt_at(self, pc: int) -> None:
        """Make guest ``pc`` a halt point: reaching it ends ``run`` with HALT (the
        ``--until`` of the command-line tools). Regions that hold ``pc`` are invalidated,
        so none runs through it."""
        self._set_stop(pc, "halt")

    def add_breakpoint(self, pc: int) -> None:
        """Stop ``run`` with BREAKPOINT before the instruction at guest ``pc`` runs (a pc
        where an instruction starts; MIPS delay slots are not such pcs). The regions that
        hold ``pc`` are invalidated -- links into them are undone -- and compile again ending
        before it, so breakpoints work with linking on. ``run`` called at a breakpoint first
        steps over it (``step``)."""
        self._set_stop(pc, "breakpoint")

    def remove_breakpoint(self, pc: int) -> None:
        """Remove the breakpoint at ``pc`` (nothing happens if there is none)."""
        if self._stops.get(pc) == "breakpoint":
            del self._stops[pc]
            self._drop_regions_holding(pc)

    @property
    def breakpoints(self) -> frozenset:
        """The guest pcs with a breakpoint."""
        return frozenset(pc for pc, kind in self._stops.items() if kind == "breakpoint")

    def _set_stop(self, pc: int, kind: str) -> None:
        self._stops[pc] = kind
        self._drop_regions_holding(pc)

    def _drop_regions_holding(self, pc: int) -> None:
        for cache in (self.blocks, self._single_blocks):
            for region in list(cache):
                if pc in region.guest_pcs:
                    self.invalidate(region.key)
        for region in list(self._step_over):
            self._drop(region)
        for key, versions in list(self._kept.items()):
            versions[:] = [v for v in versions if pc not in v.guest_pcs]
            if not versions:
                del self._kept[key]

    def is_stop_point(self, pc: int) -> bool:
        """True if a region must end before guest ``pc``: a halt point or a breakpoint, or
        any pc while a single-instruction region is being translated. Frontends ask this for
        every instruction after a region's first."""
        return self._single or pc in self._stops

    def _stop_region(self, pc: int, module: Module) -> Region:
        kind = self._stops[pc]
        region = module.add(Region(f"{kind}_{pc:x}", pc=pc, attrs=self.guest.region_attrs()))
        from .ir.builder import Builder
        Builder(region, module).exit(kind=kind, pc=pc)
        return region

    def key(self, pc: int) -> RegionKey:
        """The block-cache key of guest code at ``pc``."""
        page = self.memory.page_identity(self.guest.code_address(self, pc))
        return RegionKey(pc, page, self.guest.mode(self))

    def _block_cache(self, single: bool, over: bool) -> BlockCache:
        """The block cache of regions compiled with ``single``/``over`` (``region_at``)."""
        return (self._step_over if over else self._single_blocks) if single else self.blocks

    def _block_caches(self) -> tuple:
        """Every block cache: normal, single-instruction, single-instruction over breakpoints."""
        return (self.blocks, self._single_blocks, self._step_over)

    def region_at(self, pc: int, single: bool = False, over: bool = False) -> CachedRegion:
        """The region at ``pc``, compiled on a block-cache miss (see ``compile``).
        ``single``: a region of one guest instruction (or of the smallest unit the guest
        cannot split, e.g. a MIPS branch with its delay slot) -- what the run loop uses to
        reach a cycle target exactly; ``over`` (with ``single``): that instruction even at a
        breakpoint (``step``). Single-instruction regions have block caches of their own and
        are never linked to."""
        key = self.key(pc)
        cache = self._block_cache(single, over)
        entry = cache.lookup(key)
        if entry is None and not single:
            entry = self._revalidate(key)
        if entry is None:
            entry = self.compile(pc, single=single, over=over)
        return entry

    def lookup_or_compile(self, pc: int) -> int:
        """Host entry address of the region at ``pc``, compiling it on a miss."""
        return self.region_at(pc).code.entry

    def compile(self, pc: int, single: bool = False, over: bool = False) -> CachedRegion:
        """Translate, optimise and compile the region at ``pc``; cache and return it
        (``single``/``over``: see ``region_at``). Raises ``GuestFault`` (code unmapped),
        ``VerifyError``, ``CompileError``."""
        t0 = time.perf_counter()
        code_address = self.guest.code_address(self, pc)
        key = RegionKey(pc, self.memory.page_identity(code_address), self.guest.mode(self))
        cache = self._block_cache(single, over)
        if cache.lookup(key) is not None:
            self.invalidate(key)                # compiled again: nothing may lead to the old
        module = self.guest.module()
        for name, h in self._all_helpers().items():
            module.helpers.setdefault(name, h.sig)
        fetched = []                            # a stop region reads no code
        if pc in self._stops and not over:
            region = self._stop_region(pc, module)
        else:
            self._single = single
            self.memory.begin_fetch()
            try:
                region = self.guest.translate(self, pc, module)
            finally:
                self._single = False
                fetched = self.memory.end_fetch()
        before = format_region(region) if self.keep_ir else None
        code = self._compile_region(region, module)
        starts = [i.attrs["pc"] for i in region.insts() if i.op == "insn_start"]
        chainable = (pc in self._stops and not over) or any(
            i.op == "check_budget" for i in region.blocks[0].insts)
        backing = self.memory.find(code_address)
        ranges = self._memory_ranges(fetched)
        code_bytes = b"".join(self.memory.read_bytes(s, e - s) for s, e in ranges)
        entry = CachedRegion(key, code, len(starts), code_address, chainable,
                             backing=backing and backing.buffer,
                             guest_pcs=frozenset(starts) | {pc}, code_ranges=ranges,
                             code_bytes=code_bytes, checksum=zlib.crc32(code_bytes))
        if self.keep_ir:
            entry.ir_before, entry.ir_after = before, format_region(region)
        cache.insert(entry)
        self._track(entry)
        if not single and key in self._kept:
            self.stats["recompiles"] += 1
        if self.perf_map:
            perfmap.record(code.entry, code.size, f"{self.guest.name}:{pc:#x}")
        st = self.stats
        st["regions_compiled"] += 1
        st["guest_insns_compiled"] += len(starts)
        st["ir_ops_compiled"] += sum(len(b.insts) for b in region.blocks)
        st["host_insns"] += code.host_insns
        st["host_bytes"] += code.size
        st["compile_time"] += time.perf_counter() - t0
        return entry

    def _compile_region(self, region: Region, module: Module):
        from .ir.verifier import verify_region
        from .passes import run_passes
        for callee in self._callees(region, module):
            if callee not in self._functions:
                self._functions[callee] = -1                # in progress: recursion guard
                fn = module.regions[callee]
                self._functions[callee] = self._compile_region(fn, module).entry
        if self.verify:
            verify_region(region, module)       # the frontend's output; passes keep it valid
        run_passes(region, module, disabled=self.disabled_passes)
        env = CompileEnv(state=module.state, memory=self.memory.abi(),
                         exit_stub=self.dispatcher.exit_stub, helpers=self._all_helpers(),
                         functions={n: a for n, a in self._functions.items() if a >= 0},
                         keep_alive=self._keep_alive, link=self.link,
                         counters=self.count_hits)
        flushes = self.cache.flushes
        code = self.host.compile(region, env, self.cache)
        if self.cache.flushes != flushes:
            self.stats["code_cache_flushes"] += self.cache.flushes - flushes
            if env.functions:
                # The flush dropped the callees this code calls: compile them again, then
                # this region against their new addresses (the cache is nearly empty now).
                for callee in env.functions:
                    self._functions.setdefault(callee, -1)
                    if self._functions[callee] < 0:
                        self._functions[callee] = self.host.compile(
                            module.regions[callee], env, self.cache).entry
                env.functions = dict(self._functions)
                code = self.host.compile(region, env, self.cache)
        return code

    @staticmethod
    def _callees(region: Region, module: Module) -> list:
        names = []
        for inst in region.insts():
            if inst.op == "call_fn" and inst.attrs["fn"] != region.name:
                if inst.attrs["fn"] not in module.regions:
                    raise CompileError(f"{region.name}: call_fn of unknown function "
                                       f"{inst.attrs['fn']!r}")
                names.append(inst.attrs["fn"])
        return names

    def _on_flush(self) -> None:
        # Restore the sites while their bytes are still there: code that is running when a
        # helper flushes then leaves at its next exit instead of chaining into dropped code.
        self._restore(self.links.take_all())
        for cache in self._block_caches():
            cache.clear()
        for page in self._code_regions:
            self.memory.set_code(page, 0)
        self._code_regions.clear()
        self._kept.clear()                  # their code went with the flush
        self._functions.clear()
        self._reset_dispatch()

    def flush(self) -> None:
        """Drop every compiled region (the next run recompiles on demand)."""
        self.cache.flush()

    # --- chaining: links, jump cache, return-stack buffer ---------------------------------

    def unlink(self, key: RegionKey) -> int:
        """Restore every exit site patched into or out of region ``key`` (the next run
        through one leaves with LINK again); return how many."""
        return self._restore(self.links.take(key))

    def invalidate(self, key: RegionKey) -> Optional[CachedRegion]:
        """Drop region ``key``: unlink it, remove it from the block caches, empty the jump
        cache and the return-stack buffer (the next run at its pc compiles it again: no
        version of it is kept for revalidation). Returns the dropped region (``None`` if
        there was none). Safe to call from a helper or handler while generated code runs;
        the running region's own code stays intact until it exits."""
        self.unlink(key)
        entry = self.blocks.lookup(key)
        for cache in self._block_caches():
            dropped = cache.lookup(key)
            if dropped is not None:
                self._drop(dropped)
        self._kept.pop(key, None)
        self._reset_dispatch()
        self.stats["invalidations"] += 1
        return entry

    # --- self-modifying code --------------------------------------------------------------

    def invalidate_range(self, start: int, end: int) -> int:
        """Guest bytes ``[start, end)`` of the address space changed, or are about to (a DMA
        engine, a debugger, a loader that wrote memory behind the address space's back):
        drop every region translated from them -- unlink it, remove it from the block
        caches, clear its code-bitmap bits, empty the jump cache and the return-stack
        buffer -- and keep it for revalidation (module docstring). The address space calls
        this on every write to code itself. Returns how many regions were dropped. Safe to
        call while generated code runs (as ``invalidate``)."""
        hit = self.memory.lines(start, end) if end > start else {}
        victims = {}
        for page, bits in hit.items():
            for entry in self._code_regions.get(page, {}).values():
                if self._lines(entry).get(page, 0) & bits:
                    victims[id(entry)] = entry
        for entry in victims.values():
            self.unlink(entry.key)
            if self.blocks.lookup(entry.key) is entry:
                versions = self._kept.setdefault(entry.key, [])
                versions.append(entry)
                del versions[:-KEPT_VERSIONS]
            self._drop(entry)
        if victims:
            self._reset_dispatch()
            self.stats["invalidations"] += len(victims)
        return len(victims)

    def _code_written(self, start: int, end: int, store: bool) -> None:
        """The address space's code-write listener: invalidate the regions translated from
        ``[start, end)``; then, for a ``store`` of generated code inside an entry of more
        than one instruction, raise ``CodeModified`` (the store is not made). A store in a
        delay slot (``exit_delay`` set: the instruction before it has retired) is made, and
        the region goes on to its branch, which guests end their region after (MIPS:
        ``translator``)."""
        self.invalidate_range(start, end)
        if store and self._entry_budget is not None and not self._entry_single and \
                not self.context.exit_delay:
            raise CodeModified(self.context.next_pc, start, end)

    def _drop(self, entry: CachedRegion) -> None:
        """Remove ``entry`` from whichever block cache holds it and clear its code bits."""
        for cache in self._block_caches():
            if cache.lookup(entry.key) is entry:
                cache.remove(entry.key)
        pages = self._lines(entry)
        for page in pages:
            regions = self._code_regions.get(page)
            if regions is None or regions.pop(id(entry), None) is None:
                continue
            bits = 0
            for other in regions.values():
                bits |= self._lines(other).get(page, 0)
            if not regions:
                del self._code_regions[page]
            self.memory.set_code(page, bits)

    def _track(self, entry: CachedRegion) -> None:
        """Mark the bytes ``entry`` was translated from in the code bitmap."""
        for page, bits in self._lines(entry).items():
            self._code_regions.setdefault(page, {})[id(entry)] = entry
            self.memory.set_code(page, self.memory.code_bits(page) | bits)

    def _lines(self, entry: CachedRegion) -> dict:
        """The code-bitmap bits of ``entry``'s bytes, by page."""
        out: dict = {}
        for start, end in entry.code_ranges:
            for page, bits in self.memory.lines(start, end).items():
                out[page] = out.get(page, 0) | bits
        return out

    def _memory_ranges(self, ranges: list) -> tuple:
        """The fetched ``ranges`` that lie in plain host memory (code read through a handler
        cannot be written behind the address space's back, nor read again without side
        effects)."""
        out = []
        for start, end in ranges:
            m = self.memory.find(start)
            if m is not None and m.buffer is not None and m.read is None and end <= m.end:
                out.append((start, end))
        return tuple(out)

    def _revalidate(self, key: RegionKey) -> Optional[CachedRegion]:
        """An invalidated version of region ``key`` whose guest bytes are unchanged, put
        back in the block cache (its code is still in the code cache: a flush forgets the
        kept versions), or ``None``. The checksum of the bytes now in memory picks the
        candidate, the kept bytes confirm it."""
        for entry in reversed(self._kept.get(key, ())):
            try:
                current = b"".join(self.memory.read_bytes(s, e - s)
                                   for s, e in entry.code_ranges)
            except GuestFault:              # unmapped since: not the same code
                continue
            if zlib.crc32(current) == entry.checksum and current == entry.code_bytes:
                self._kept[key].remove(entry)
                if not self._kept[key]:
                    del self._kept[key]
                self.blocks.insert(entry)
                self._track(entry)
                self.stats["revalidations"] += 1
                return entry
        return None

    def mapping_changed(self, start: Optional[int] = None, end: Optional[int] = None) -> None:
        """Which code the guest pcs whose code addresses lie in ``[start, end)`` select may
        have changed (``None``: any): unlink the regions there, empty the jump cache and the
        return-stack buffer. The address space calls it on every ``add``, ``remove`` and
        ``rebase``; an embedder calls it (without a range) after changing a TLB mapping code
        is fetched through or the guest's mode word."""
        if start is None or end is None:
            self._restore(self.links.take_all())
        else:
            page = self.memory.page_size
            for key in self.links.targets():
                first = self.blocks.lookup(key).code_address & -page
                if first < end and start < first + page:
                    self.unlink(key)
        self._reset_dispatch()

    def _restore(self, sites: list) -> int:
        for site, original in sites:
            self.cache.write(site, original)
        self.stats["links_restored"] += len(sites)
        return len(sites)

    def _reset_dispatch(self) -> None:
        """Empty the jump cache and the return-stack buffer (``dynarec.context``)."""
        self.jump_cache.clear()
        self.context.jump_cache = self.jump_cache.address
        clear_return_stack(self.context, self.dispatcher.miss_stub)

    def set_chaining(self, on: bool) -> bool:
        """Allow (``on``) or forbid links and jump-cache fills for the next run (the run loop
        forbids them for ``run(max_regions=...)``); forbidding unlinks everything and empties
        the jump cache and the return-stack buffer, so every exit returns to the run loop.
        Returns whether chaining is now on (never without ``link``)."""
        on = on and self.link
        if self._chaining and not on:
            self.mapping_changed()
        self._chaining = on
        return on

    def _linkable(self, source: CachedRegion, target: CachedRegion) -> bool:
        """May an exit site of ``source`` jump straight into ``target``? Only where the
        target's key cannot change underneath the link (QEMU's ``goto_tb`` rule): the same
        guest page and backing page as the source, or code the guest declares fixed
        (``Guest.fixed_code``); and the same mode word."""
        s, t = source.key, target.key
        if s.mode != t.mode:
            return False
        bits = self.memory.page_bits
        if s.page == t.page and s.pc >> bits == t.pc >> bits:
            return True
        return self.guest.fixed_code(self, t.pc)

    def chain_exit(self, reason: int, site: int, route: int, target: CachedRegion) -> None:
        """Act on a LINK or MISS exit whose next region is ``target`` (the run loop calls it
        once the target exists; ``site``/``route`` are the exit's ``exit_site``/
        ``exit_route``). LINK: patch the site to jump into ``target`` when it is linkable,
        else to its route (and fill the jump cache); MISS: fill the jump cache. Nothing
        happens for a target that does not check the cycle budget at entry (a chain of such
        regions could run forever), nor when chaining is off."""
        if not self._chaining or not target.chainable:
            return
        if reason == ctxabi.ExitReason.LINK:
            source = self.blocks.containing(site)
            if source is None:
                return                      # invalidated meanwhile
            if self._linkable(source, target):
                destination = target.code.entry
                self.stats["links_patched"] += 1
            else:
                destination = route
                self.stats["links_routed"] += 1
            patch = self.host.patch_jump(site, destination)
            original = self.cache.read(site, len(patch))
            self.cache.write(site, patch)
            self.links.add(site, original, source.key, target.key)
            if destination == target.code.entry:
                return
        self.jump_cache.fill(target.key.pc, target.code.entry)
        self.stats["jump_cache_fills"] += 1

    # --- running --------------------------------------------------------------------------

    def run(self, cycles: Optional[int] = None, *, errors: str = "raise",
            max_regions: Optional[int] = None, exact: bool = True) -> RunResult:
        """Run for ``cycles`` guest cycles (``None``: until HALT, BREAKPOINT, an exception or
        an error). Returns a ``RunResult``. A Python exception raised by a helper or MMIO
        handler is re-raised unchanged (``errors="return"``: returned as an ERROR result); in
        both cases the guest state is that at the start of the instruction that called it.
        ``max_regions``: also stop (reason NEXT) after that many regions have run; regions
        are not chained then (every exit returns to the run loop, see ``set_chaining``).
        ``exact=False``: the run may stop past ``cycles`` (and scheduled events fire late)
        by up to one region or loop iteration, always at a budget check -- a region's start
        -- instead of going on instruction by instruction up to it: for an embedder whose
        next event nothing in the guest can observe the exact time of (an interrupt the CPU
        has masked), so a later run starts where a region does."""
        return self._run(cycles, errors, max_regions, exact=exact)

    def _run(self, cycles: Optional[int], errors: str, max_regions: Optional[int],
             step: bool = False, exact: bool = True) -> RunResult:
        if errors not in ("raise", "return"):
            raise ValueError("errors must be 'raise' or 'return'")
        try:
            return run_loop(self, cycles, errors, max_regions, step, exact)
        finally:
            self.stats["slow_memory_accesses"] = self.memory.slow_accesses
            header = self.context
            self.stats["jump_cache_hits"] += header.jc_hits
            self.stats["rsb_hits"] += header.rsb_hits
            self.stats["rsb_misses"] += header.rsb_misses
            header.jc_hits = header.rsb_hits = header.rsb_misses = 0

    def step(self, *, errors: str = "raise") -> RunResult:
        """Run exactly one guest instruction -- the smallest unit the guest does not split
        (a MIPS branch with its delay slot) -- at ``pc``, even if it has a breakpoint, and
        return (reason NEXT, or why it stopped: HALT, EXCEPTION, ...). Scheduled events that
        fall due fire first, as in ``run``; ``errors`` as in ``run``."""
        return self._run(None, errors, max_regions=1, step=True)

    def schedule(self, delay: int, callback: Callable) -> object:
        """Call ``callback(machine)`` ``delay`` guest cycles from now; returns a handle for
        ``scheduler.cancel``."""
        return self.scheduler.add(self.cycles + delay, callback)

    # --- snapshots ------------------------------------------------------------------------

    def save(self) -> Snapshot:
        """The whole machine state (registers, memory contents, time, pending events)."""
        mem = {(m.name, m.base): bytes(m.buffer) for m in self.memory.ram_mappings()}
        return Snapshot(bytes(self._ctx_buf), mem, self.cycles, self.scheduler.pending())

    def restore(self, snap: Snapshot) -> None:
        """Return to a state from ``save``. Compiled code is dropped (memory may hold other
        code now). Raises ``ValueError`` if the memory map changed since the snapshot."""
        current = {(m.name, m.base): m for m in self.memory.ram_mappings()}
        if set(current) != set(snap.memory):
            raise ValueError("the memory map differs from the snapshot's")
        for k, data in snap.memory.items():
            ctypes.memmove(current[k].buffer, data, len(data))
        ctypes.memmove(self._ctx_buf, snap.context, len(snap.context))
        self.cycles = snap.cycles
        self.scheduler = Scheduler()
        for ev in snap.events:
            self.scheduler.add(ev.when, ev.callback)
        self.flush()

    def __repr__(self) -> str:
        return f"<Machine guest={self.guest.name} host={self.host.name} pc={self.pc:#x}>"
