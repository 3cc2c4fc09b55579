"""The Guest protocol: what a frontend gives the core.

A guest names its state layout, its memory shape and how to translate guest code at a pc into
an IR region. The core never imports a particular guest; it finds them through the registry
(entry points ``dynarec.guests``). ``IRGuest`` is a complete guest whose "machine code" is IR
text: the core's own tests and the ``dynarec-ir`` command run on it.
"""

from __future__ import annotations

from typing import Optional

from .host import HelperImpl
from .ir.nodes import DEFAULT_NAN32, DEFAULT_NAN64, HelperSig, Module, Region, StateLayout


class Guest:
    """Base class of guest frontends. Subclasses set the class attributes and implement
    ``translate``.

    ``name``: registry name. ``state``: the ``StateLayout`` (must contain ``pc_slot``).
    ``addr_bits``/``page_bits``/``big_endian``: shape of the address space (guest addresses
    as the IR's ``load``/``store`` see them). ``code_granularity``: bytes per bit of the code
    bitmap (``dynarec.memory``; a power of two, e.g. the instruction size of a fixed-width
    ISA). ``nan32``/``nan64``: the default NaN bit patterns float results canonicalise to. ``helpers``: ``HelperImpl`` by name that translated code may
    call.
    """

    name = "abstract"
    state: StateLayout = StateLayout([])
    pc_slot = "pc"
    addr_bits = 32
    page_bits = 12
    big_endian = False
    code_granularity = 1
    nan32 = DEFAULT_NAN32
    nan64 = DEFAULT_NAN64

    def __init__(self):
        self.helpers: dict[str, HelperImpl] = {}

    def module(self) -> Module:
        """A fresh Module with this guest's state layout and helper signatures."""
        return Module(state=self.state, helpers={n: h.sig for n, h in self.helpers.items()})

    def region_attrs(self) -> dict:
        """Region attributes every translated region carries."""
        return {"endian": "big" if self.big_endian else "little",
                "nan32": self.nan32, "nan64": self.nan64, "rounding": "rne"}

    def mode(self, machine) -> int:
        """The mode word of the region key (processor mode bits that change decoding)."""
        return 0

    def code_address(self, machine, pc: int) -> int:
        """The address-space address the instruction at guest ``pc`` is fetched from (for
        guests whose pc is virtual: the physical address). Keys regions by what backs them.
        The default is ``pc`` itself."""
        return pc

    def fixed_code(self, machine, pc: int) -> bool:
        """True if ``code_address(machine, pc)`` can never change (no TLB or other mapping
        the machine does not see translates it): regions may then link to the region at
        ``pc`` from any page (QEMU's ``goto_tb`` rule allows links within a page, or to
        pages whose translation is fixed). The default, False, links only within a page."""
        return False

    def translate(self, machine, pc: int, module: Module) -> Region:
        """Decode guest code at ``pc`` into a block region added to ``module``. Reads guest
        code through ``machine.memory.fetch`` (so that writes to it invalidate the region).
        Raises ``GuestFault`` if the code is unmapped."""
        raise NotImplementedError

    def setup(self, machine) -> None:
        """Called once by ``Machine``: map default memory, register helpers, reset state."""

    # --- for the command-line tools (dynarec-run, dynarec-diff) --------------------------

    def load_program(self, machine, image, entry: Optional[int] = None):
        """Set ``machine`` up as this guest's simple system for a bare program (a
        ``dynarec.loader.Image``) and return an object with ``output`` (bytearray the program
        prints to) and ``entry``. Raises ``LoadError`` for an image that does not fit."""
        raise NotImplementedError(f"the {self.name} guest does not run bare program files")

    def pc_from_address(self, address: int) -> int:
        """The guest pc for an address as a program file states it (MIPS sign-extends)."""
        return address

    def oracle(self):
        """A fresh oracle (``dynarec.oracle.Oracle``) for lockstep runs."""
        raise NotImplementedError(f"the {self.name} guest has no oracle")

    def disassemble(self, code: bytes, address: int) -> list:
        """Lines of guest disassembly of ``code`` at guest ``address`` (for reports)."""
        return [f"{address + i:#x}: .byte {b:#04x}" for i, b in enumerate(code)]


class IRGuest(Guest):
    """A guest whose code is given as IR: ``IRGuest(module_text_or_module)``.

    Every block region of the module is guest code at its ``pc``; ``translate`` returns a copy
    (by re-parsing the text) so passes never alter the program. Helpers declared in the module
    are bound with ``bind(name, fn)`` (Python callables) before running. The state layout is
    the module's; it must contain a ``pc`` slot. Addresses are 32-bit, pages 4 KiB, byte order
    from ``big_endian``. Raises ``ValueError`` for a module without a ``pc`` slot.
    """

    name = "ir"

    def __init__(self, module, big_endian: bool = False):
        super().__init__()
        from .ir.parser import parse_module
        from .ir.printer import format_module
        text = module if isinstance(module, str) else format_module(module)
        self.text = text
        parsed = parse_module(text)
        if "pc" not in parsed.state.slots:
            raise ValueError("an IR guest needs a 'pc' slot in its state line")
        self.state = parsed.state
        self.big_endian = big_endian
        self._by_pc = {r.pc: r.name for r in parsed.regions.values() if r.kind == "block"}
        self._functions = [r.name for r in parsed.regions.values() if r.kind == "function"]
        self._sigs = dict(parsed.helpers)

    def bind(self, name: str, fn, native: bool = False) -> None:
        """Provide the implementation of helper ``name`` (declared in the module)."""
        if name not in self._sigs:
            raise KeyError(f"helper {name!r} is not declared in the IR module")
        self.helpers[name] = HelperImpl(self._sigs[name], "native" if native else "python", fn)

    def fixed_code(self, machine, pc: int) -> bool:
        """Always True: IR guests fetch code at its pc (no translation)."""
        return True

    def function_names(self) -> list:
        return list(self._functions)

    def translate(self, machine, pc: int, module: Module) -> Region:
        from .errors import GuestFault
        from .ir.parser import parse_module
        if pc not in self._by_pc:
            raise GuestFault(pc, 1, False, "no IR region at this pc")
        parsed = parse_module(self.text)
        for name in self._functions:          # callees travel with their callers
            if name not in module.regions:
                module.add(parsed.regions[name])
        region = parsed.regions[self._by_pc[pc]]
        region.attrs.update({k: v for k, v in self.region_attrs().items()
                             if k not in region.attrs or k == "endian"})
        return module.add(region)
