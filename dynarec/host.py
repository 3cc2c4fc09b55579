"""The Host protocol: what a backend gives the core, and what the core gives a backend.

A host backend (``dynarec.hosts.<name>``) turns one IR ``Region`` into machine code in a
``CodeCache``. The core hands it a ``CompileEnv`` with everything position- or
machine-dependent; the backend never looks anything up elsewhere (so the AArch64 backend can
run under an executor that maps addresses differently).

Memory fast-path ABI (shared by every backend and ``dynarec.memory``):

* The page-table register holds ``page_table``: ``2 * num_pages`` little-endian u64 entries.
  ``read[i]`` is at ``page_table + 8*i``, ``write[i]`` at ``page_table + 8*(num_pages + i)``.
* Page ``i`` covers guest addresses ``i << page_bits`` up to the next page. An entry is the
  host address of the page's first byte, or 0: take the slow path.
* Generated code takes the slow path too when the address (read as unsigned) is
  ``>= 1 << addr_bits`` or the access crosses the end of its page.
* Guest memory holds guest byte order (``big_endian``); the fast path swaps on access.
* Code pages (``code_line_bits`` not ``None``; self-modifying code, ``dynarec.memory``): the
  write entry of a page that holds code is 0, and the third section of the table,
  ``code[i]`` at ``page_table + 8*(2*num_pages + i)``, holds the host address of its code
  bitmap (0: none): bit ``j`` (byte ``j >> 3``, bit ``j & 7``) marks the ``1 <<
  code_line_bits`` bytes of line ``j`` of the page as code. Before calling ``slow_store``,
  generated code tests the lines an in-page store touches: when none is marked, it stores
  into the host memory of the page's *read* entry (the same bytes for RAM) without leaving
  generated code. Only a store that hits code (or a page without a bitmap) calls Python.
* The slow path stores the current instruction's pc and delay flag into the context
  (``next_pc``/``exit_delay``), preserves every host register, and calls the Python callables
  ``slow_load(addr, size) -> int`` / ``slow_store(addr, size, value) -> None`` (values are
  the numeric value of the access, byte order already resolved). If the call raises, the
  region exits with ``ExitReason.ERROR`` and the exception stays pending for ``run``.

Helper calls: ``helpers[name]`` is a ``HelperImpl``; ``kind == "python"`` means ``target`` is a
Python callable invoked synchronously through the CPython C API with the GIL held (integers in
and out as Python ``int`` of the IR value's bits, floats as Python ``float``); ``kind ==
"native"`` means ``target`` is the address of a C function called per the host C ABI. A raising
Python helper makes the region exit with ``ExitReason.ERROR``; before the call the context's
``next_pc``/``exit_delay`` hold the current instruction's.

Exits to other regions (with ``CompileEnv.link``; the context layout is ``dynarec.context``):

* An ``exit`` to a constant pc (kinds jump, call, return, indirect) goes through a *site*: a
  patchable jump, initially to code that leaves with ``ExitReason.LINK``, ``next_pc``, the
  kind in ``exit_info``, the site's address in ``exit_site`` and in ``exit_route`` an address
  that looks ``next_pc`` up in the jump cache instead. The run loop rewrites the site's bytes
  with ``Host.patch_jump(site, target)`` -- to the target region's entry (a link) or to the
  route -- and restores the original bytes to unlink it.
* An ``exit`` to a computed pc looks it up in the jump cache (a hit jumps to the region, a
  miss leaves with ``ExitReason.MISS``); ``kind=return`` first pops the return-stack buffer
  and jumps to its host address when the popped pc is the target.
* ``kind=call`` with a ``ret_pc`` pushes (``ret_pc``, a site of this region that continues at
  ``ret_pc``) on the return-stack buffer before leaving.
* ``kind=halt`` leaves with HALT, and exits of function regions leave with NEXT, as without
  ``link``.

Without ``CompileEnv.link`` every ``exit`` leaves with ``ExitReason.NEXT`` (``HALT``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from .ir.nodes import HelperSig, Region, StateLayout


@dataclass
class HelperImpl:
    """A helper the IR may ``call``: its signature, ``kind`` (``"python"``/``"native"``) and
    ``target`` (a Python callable, or an int: the native function's host address)."""

    sig: HelperSig
    kind: str
    target: object


@dataclass
class MemoryABI:
    """The address space as generated code sees it (see the module docstring)."""

    page_bits: int
    addr_bits: int
    num_pages: int
    big_endian: bool
    slow_load: Callable[[int, int], int]
    slow_store: Callable[[int, int, int], None]
    code_line_bits: Optional[int] = None


@dataclass
class CompileEnv:
    """Everything a backend needs besides the region.

    ``state`` gives slot offsets (add ``context.GUEST_STATE_OFFSET``); ``memory`` the page-table
    ABI; ``helpers`` the helpers by name; ``functions`` the host entry addresses of already
    compiled function regions (``call_fn`` targets; a region calling itself uses its own
    entry); ``exit_stub`` the dispatcher's exit routine (jump there after filling the exit
    fields of the context); ``keep_alive`` collects Python objects generated code refers to
    by address (format strings, callables) so they outlive the code. ``link``: exits go
    through patchable sites, the jump cache and the return-stack buffer (module docstring);
    the context must then hold a valid jump cache. ``counters``: generated code also counts
    jump-cache and RSB hits in the context header (costs instructions on the hot path).
    """

    state: StateLayout
    memory: Optional[MemoryABI]
    exit_stub: int
    helpers: dict = field(default_factory=dict)
    functions: dict = field(default_factory=dict)
    keep_alive: list = field(default_factory=list)
    link: bool = False
    counters: bool = False


@dataclass
class CompiledRegion:
    """Result of ``Host.compile``: ``entry`` (RX host address), ``size`` (bytes), ``asm``
    (the assembly text handed to the assembler), ``host_insns`` (instruction count)."""

    name: str
    entry: int
    size: int
    asm: str
    host_insns: int


class Host:
    """Base class of host backends. Subclasses set ``name`` and implement the methods.

    ``Host(features=None)``: ``features`` is a set of CPU feature names to assume (tests force
    fallbacks this way); ``None`` detects the running CPU.
    """

    name = "abstract"
    can_link = False            #: compiles ``CompileEnv.link`` exits and implements ``patch_jump``

    def __init__(self, features: Optional[set] = None):
        self.features = features

    def build_dispatcher(self, cache) -> "Dispatcher":
        """Assemble the enter/exit stubs into ``cache`` once (the caller pins them)."""
        raise NotImplementedError

    def compile(self, region: Region, env: CompileEnv, cache) -> CompiledRegion:
        """Lower, allocate registers, assemble and commit ``region``; raises
        ``CompileError`` (never crashes) on anything it cannot handle."""
        raise NotImplementedError

    def patch_jump(self, site: int, target: int) -> bytes:
        """The bytes to write at the exit site at RX address ``site`` (``exit_site`` of a
        LINK exit) so that it jumps to RX address ``target``; as long as the site's original
        code. Raises ``ValueError`` if ``target`` is out of the jump's reach."""
        raise NotImplementedError

    def sync_icache(self, address: int, nbytes: int) -> None:
        """Make ``nbytes`` freshly written at RX ``address`` visible to instruction fetch."""

    def disassemble(self, code: bytes, address: int) -> list:
        """Capstone listing, one ``"0x...: mnemonic operands"`` string per instruction."""
        raise NotImplementedError


class Dispatcher:
    """The assembled enter/exit stubs of one host.

    ``enter(context, page_table, target) -> int``: run generated code at RX address ``target``
    with the context and page-table registers set; returns the ``ExitReason`` stored at exit.
    Called through a ``ctypes.PYFUNCTYPE`` prototype, so the GIL stays held and a pending
    Python exception is raised by ctypes when it returns. ``exit_stub`` is the address
    generated code jumps to after filling the exit fields. ``miss_stub`` (hosts that can link)
    leaves with MISS for the guest pc generated code is looking up: the host address of empty
    jump-cache and return-stack-buffer entries.
    """

    exit_stub: int = 0
    miss_stub: int = 0

    def enter(self, context: int, page_table: int, target: int) -> int:
        raise NotImplementedError
