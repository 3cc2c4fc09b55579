"""Function regions for VM guests: a function table, compile on call, native calls between
compiled functions, on-stack entry.

ISA guests run through ``Machine``'s pc-keyed run loop; a language VM (Orus, Haxe) thinks
in functions instead. ``FunctionJit`` compiles IR regions of kind ``"function"`` (DESIGN.md
section 3) and runs them::

    jit = FunctionJit([Slot("g", I64, 8)])                 # the VM's own state slots
    jit.declare("fib", [I64], [I64], translate_fib)         # translate(region, jit) fills it
    jit.call("fib", 30)                                     # -> (832040,)

Policy, per function name:

* ``call(name, *args)`` counts the call; a function is compiled once it has been asked for
  ``threshold`` times (``hot``), or when a function being compiled wants to call it
  natively (``callee``). A guest whose interpreter runs cold code asks ``hot(name)`` at each
  call and calls ``call`` once it answers ``True``.
* ``callee(name)`` is what a translator asks before emitting ``call_fn name``: it compiles
  ``name`` first (depth-first, so callees exist before their callers and ``call_fn`` is a
  direct native call) and answers ``True``; it answers ``False`` when ``name`` is being
  compiled further up the stack (a cycle of mutually recursive functions -- a function
  calling itself is fine), and the translator then calls through a helper that ends in
  ``call`` (the function table): one Python round trip per such call.
* On-stack entry: a loop region is just another function region, declared by the guest
  under a name of its own (e.g. ``"main@0x2e"``) with the live values at the loop header as
  parameters; ``hot(key)`` counts back edges the same way.

Generated code runs with one context block (``dynarec.context``) whose guest state is the
guest's slots plus ``fn_args``/``fn_results`` (``MAX_ARGS``/``MAX_RESULTS`` i64 words): a
small block region per function (its *trampoline*) reads the arguments there, ``call_fn``\\ s
the function and stores its results, so Python enters any function through the dispatcher.
``call`` may run while generated code is running (from a helper): the dispatcher's ``enter``
is re-entrant. Errors: a helper's exception propagates out of ``call`` unchanged;
``CompileError``/``VerifyError``/``IRError`` for a region the backend or verifier rejects
(the region is dropped from the table); ``KeyError`` for an undeclared name; ``ValueError``
for a wrong argument count; ``RuntimeError`` if the code cache fills up (it is never
flushed: running code could be returning into it).
"""

from __future__ import annotations

import ctypes
import struct
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence

from . import context as ctxabi
from .codecache import CodeCache
from .host import CompileEnv, HelperImpl
from .ir.builder import Builder
from .ir.nodes import HelperSig, Module, Region, Slot, StateLayout
from .ir.types import F32, F64, I64, Type
from .ir.verifier import verify_region
from .passes import run_passes
from .registry import load_host
from .stats import Stats

MAX_ARGS = 32
MAX_RESULTS = 4
DEFAULT_CODE_CACHE = 64 << 20

_PACK = {32: "<f", 64: "<d"}

COUNTERS = {
    "functions_compiled": "function regions compiled",
    "loop_entries_compiled": "on-stack-entry (loop) regions compiled",
    "native_entries": "entries into generated code from Python",
}


def to_bits(value, vtype: Type) -> int:
    """``value`` (int, or float for a float type) as the raw bits of an ``vtype`` word."""
    if vtype.is_float:
        return int.from_bytes(struct.pack(_PACK[vtype.bits], value), "little")
    return int(value) & vtype.mask


def from_bits(bits: int, vtype: Type):
    """The raw bits of a ``vtype`` word as a Python int (unsigned) or float."""
    if vtype.is_float:
        return struct.unpack(_PACK[vtype.bits], (bits & vtype.mask).to_bytes(vtype.bits // 8,
                                                                           "little"))[0]
    return bits & vtype.mask


@dataclass
class FunctionEntry:
    """One row of the function table: the declared signature (``params``/``results``, IR
    Types), the ``translate(region, jit)`` callback that fills an empty function region,
    ``loop``: an on-stack-entry region (counted apart in the stats), ``calls`` so far, and
    once compiled ``entry``/``trampoline`` (host addresses) and ``size`` (bytes)."""

    name: str
    params: tuple
    results: tuple
    translate: Callable
    loop: bool = False
    calls: int = 0
    entry: Optional[int] = None
    trampoline: Optional[int] = None
    size: int = 0


class FunctionJit:
    """A function table with its code cache, dispatcher and context block (module doc).

    ``slots``: the guest's state slots (``ir.Slot``); ``host``: a host name or class
    (default: the native one); ``threshold``: calls (or back edges) before ``hot`` answers
    ``True`` (1: compile on the first call); ``disabled_passes``: pass names not to run
    (``cycle_accounting`` never runs: function regions have no cycle budget); ``verify``:
    check every translated region with the IR verifier before the passes; ``memory``: the
    ``dynarec.memory.AddressSpace`` the regions' ``load``/``store`` address (e.g. the VM's
    heap), or ``None`` for none.
    """

    def __init__(self, slots: Sequence[Slot], *, host=None, threshold: int = 1,
                 code_cache_size: int = DEFAULT_CODE_CACHE, verify: bool = True,
                 disabled_passes: Iterable[str] = (), memory=None):
        if threshold < 1:
            raise ValueError(f"threshold must be at least 1, not {threshold}")
        self.threshold = threshold
        self.verify = verify
        self.disabled_passes = set(disabled_passes) | {"cycle_accounting"}
        self.state = StateLayout([*slots, Slot("fn_args", I64, MAX_ARGS),
                                  Slot("fn_results", I64, MAX_RESULTS)])
        self.module = Module(state=self.state)
        self.memory = memory
        host_cls = load_host(host) if host is None or isinstance(host, str) else host
        self.host = host_cls()
        self.cache = CodeCache(code_cache_size, self.host.sync_icache)
        self.dispatcher = self.host.build_dispatcher(self.cache)
        self.cache.pin()
        self.cache.on_flush(self._flushed)
        self._context = (ctypes.c_char * (ctxabi.GUEST_STATE_OFFSET + self.state.size))()
        self.context = ctxabi.ContextHeader.from_buffer(self._context)
        self.helpers: dict[str, HelperImpl] = {}
        self.table: dict[str, FunctionEntry] = {}
        self._compiling: list[str] = []
        self._keep_alive: list = []
        self.stats = Stats()
        for name, description in COUNTERS.items():
            self.stats.declare(name, description)

    # --- declarations -----------------------------------------------------------------------

    def add_helper(self, name: str, fn, params: Sequence[Type] = (),
                   results: Sequence[Type] = (), pure: bool = False,
                   native: bool = False) -> None:
        """Register a helper regions may ``call`` (as ``Machine.add_helper``): a Python
        callable, or with ``native`` the host address of a C-ABI function. Registering a
        name again replaces it for regions compiled later."""
        sig = HelperSig(name, tuple(params), tuple(results), pure)
        self.helpers[name] = HelperImpl(sig, "native" if native else "python", fn)
        self.module.helpers[name] = sig

    def declare(self, name: str, params: Sequence[Type], results: Sequence[Type],
                translate: Callable[[Region, "FunctionJit"], None], loop: bool = False) -> None:
        """Add ``name`` to the function table (not compiled yet). ``translate(region, jit)``
        fills the empty function region (``Builder(region, jit.module)``). ``ValueError``
        for a name declared twice or more than ``MAX_ARGS`` parameters / ``MAX_RESULTS``
        results."""
        if name in self.table:
            raise ValueError(f"function {name!r} is declared already")
        if len(params) > MAX_ARGS or len(results) > MAX_RESULTS:
            raise ValueError(f"function {name!r}: at most {MAX_ARGS} parameters and "
                             f"{MAX_RESULTS} results")
        self.table[name] = FunctionEntry(name, tuple(params), tuple(results), translate, loop)

    def entry(self, name: str) -> FunctionEntry:
        """The table row of ``name``; ``KeyError`` naming it if it was never declared."""
        try:
            return self.table[name]
        except KeyError:
            raise KeyError(f"no function {name!r} in the function table") from None

    # --- policy ------------------------------------------------------------------------------

    def compiled(self, name: str) -> bool:
        """True once ``name`` has native code."""
        return self.entry(name).entry is not None

    def hot(self, name: str) -> bool:
        """Count one call of (or back edge into) ``name``; True once it has been counted
        ``threshold`` times or is compiled already."""
        row = self.entry(name)
        row.calls += 1
        return row.entry is not None or row.calls >= self.threshold

    def callee(self, name: str) -> bool:
        """May the function being translated ``call_fn name``? Compiles ``name`` first if
        needed; False while ``name`` is being compiled further up (a cycle: call it through
        ``call`` instead). A function may always call itself."""
        row = self.entry(name)
        if row.entry is not None or (self._compiling and self._compiling[-1] == name):
            return True
        if name in self._compiling:
            return False
        self.compile(name)
        return True

    # --- compiling -----------------------------------------------------------------------------

    def compile(self, name: str) -> int:
        """Translate, optimise and compile ``name`` (and, through ``callee``, the functions
        it calls); returns its entry address. Compiling a compiled function again is a
        no-op."""
        row = self.entry(name)
        if row.entry is not None:
            return row.entry
        t0 = time.perf_counter()
        self._compiling.append(name)
        self.module.regions.pop(name, None)
        region = self.module.add(Region(name, kind="function", params=list(row.params),
                                        results=list(row.results)))
        try:
            row.translate(region, self)
            if self.verify:
                verify_region(region, self.module)
            run_passes(region, self.module, disabled=self.disabled_passes)
            code = self._compile(region)
            row.entry, row.size = code.entry, code.size
            row.trampoline = self._compile(self._trampoline(row)).entry
        except BaseException:
            del self.module.regions[name]
            row.entry = None
            raise
        finally:
            self._compiling.pop()
        st = self.stats
        st["loop_entries_compiled" if row.loop else "functions_compiled"] += 1
        st["regions_compiled"] += 1
        st["ir_ops_compiled"] += sum(len(b.insts) for b in region.blocks)
        st["host_insns"] += code.host_insns
        st["host_bytes"] += code.size
        st["compile_time"] += time.perf_counter() - t0
        return row.entry

    def _env(self) -> CompileEnv:
        functions = {n: r.entry for n, r in self.table.items() if r.entry is not None}
        memory = None if self.memory is None else self.memory.abi()
        return CompileEnv(state=self.state, memory=memory, exit_stub=self.dispatcher.exit_stub,
                          helpers=self.helpers, functions=functions,
                          keep_alive=self._keep_alive)

    def _compile(self, region: Region):
        return self.host.compile(region, self._env(), self.cache)

    def _trampoline(self, row: FunctionEntry) -> Region:
        """The block region Python enters ``row`` through (module doc)."""
        region = Region(f"enter_{row.name}", attrs={"trampoline": row.name})
        b = Builder(region, self.module)
        args = []
        for i, t in enumerate(row.params):
            word = b.get(f"fn_args[{i}]")
            if t.is_float:
                word = b.bitcast(F64, word) if t is F64 else b.bitcast(F32, b.trunc(Type.I32, word))
            elif t is not I64:
                word = b.trunc(t, word)
            args.append(word)
        results = b.call_fn(row.name, *args)
        if len(row.results) == 1:
            results = (results,)
        for i, (value, t) in enumerate(zip(results or (), row.results)):
            if t.is_float:
                value = b.bitcast(Type.I64, value) if t is F64 else \
                    b.zext(I64, b.bitcast(Type.I32, value))
            elif t is not I64:
                value = b.zext(I64, value)
            b.put(f"fn_results[{i}]", value)
        b.exit(pc=0)
        return region

    def _flushed(self) -> None:
        raise RuntimeError("the code cache is full: give FunctionJit a larger "
                           "code_cache_size")

    # --- running ----------------------------------------------------------------------------

    def call(self, name: str, *args) -> tuple:
        """Run ``name`` natively (compiling it if needed) with ``args`` (ints, or floats for
        float parameters); returns its results as a tuple (ints unsigned, floats as
        float). Exceptions of helpers propagate unchanged."""
        row = self.entry(name)
        if len(args) != len(row.params):
            raise ValueError(f"{name} takes {len(row.params)} arguments, got {len(args)}")
        if row.entry is None:
            self.compile(name)
        self.stats["native_entries"] += 1
        base = ctxabi.GUEST_STATE_OFFSET + self.state.offset("fn_args[0]")
        for i, (value, t) in enumerate(zip(args, row.params)):
            struct.pack_into("<Q", self._context, base + 8 * i, to_bits(value, t))
        table = 0 if self.memory is None else self.memory.page_table_address
        reason = self.dispatcher.enter(ctypes.addressof(self._context), table, row.trampoline)
        if reason != ctxabi.ExitReason.NEXT:
            raise RuntimeError(f"{name}: generated code left with "
                               f"{ctxabi.ExitReason(reason).name}")
        base = ctxabi.GUEST_STATE_OFFSET + self.state.offset("fn_results[0]")
        return tuple(from_bits(struct.unpack_from("<Q", self._context, base + 8 * i)[0], t)
                     for i, t in enumerate(row.results))

    # --- guest state ------------------------------------------------------------------------

    def read(self, ref: str) -> int:
        """Raw bits of state slot ``ref`` (``"g[3]"``); ``KeyError`` for an unknown one."""
        off = ctxabi.GUEST_STATE_OFFSET + self.state.offset(ref)
        t = self.state.type(ref)
        return int.from_bytes(self._context[off:off + t.bytes], "little")

    def write(self, ref: str, bits: int) -> None:
        """Store raw ``bits`` (masked to the slot's width) in state slot ``ref``."""
        off = ctxabi.GUEST_STATE_OFFSET + self.state.offset(ref)
        t = self.state.type(ref)
        self._context[off:off + t.bytes] = (bits & t.mask).to_bytes(t.bytes, "little")

    def close(self) -> None:
        """Release the code cache (no function may run afterwards)."""
        self.cache.close()
