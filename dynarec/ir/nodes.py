"""IR data structures: values, instructions, blocks with parameters, regions and modules,
plus the guest-state layout that ``get``/``put`` address.

Shapes:

* A ``Value`` is defined once: as an instruction result or a block parameter. ``v.type`` is
  its ``Type``; ``v.id`` its number within its region (printed ``v<id>``).
* An ``Inst`` has an ``op`` (a name in ``opcodes.OPS``), ``args`` (Values), ``results``
  (Values it defines), ``attrs`` (dict of immediates) and, for terminators, ``targets``
  (``BlockCall``\\ s: a block plus the Values passed to its parameters).
* A ``Block`` has ``params`` (Values) and ``insts``; the last inst is its terminator.
* A ``Region`` is what one compile produces: ``kind`` ``"block"`` (guest code from ``pc``; leaves
  through ``exit``/``trap``) or ``"function"`` (``params``/``results`` types; leaves through
  ``ret``). ``blocks[0]`` is the entry; for functions its params are the arguments.
* A ``Module`` groups regions that call each other, the helper signatures they use and the
  ``StateLayout``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional

from .opcodes import OPS
from .types import Type

DEFAULT_NAN32 = 0x7FC00000
DEFAULT_NAN64 = 0x7FF8000000000000


class Value:
    """An SSA value: ``type`` (Type), ``id`` (int, unique in its region), ``defn`` (the Inst
    that defines it, or ``None`` for a block parameter) and ``block`` (the Block whose
    parameter it is, or ``None``)."""

    __slots__ = ("id", "type", "defn", "block")

    def __init__(self, vid: int, vtype: Type, defn: "Optional[Inst]" = None,
                 block: "Optional[Block]" = None):
        self.id = vid
        self.type = vtype
        self.defn = defn
        self.block = block

    def __repr__(self) -> str:
        return f"v{self.id}:{self.type}"

    def __str__(self) -> str:
        return f"v{self.id}"


@dataclass(eq=False)
class BlockCall:
    """A branch target: ``block`` and the ``args`` (Values) bound to its parameters."""

    block: "Block"
    args: list = field(default_factory=list)

    def __repr__(self) -> str:
        return f"{self.block.name}({', '.join(map(str, self.args))})"


@dataclass(eq=False)
class Inst:
    """One operation; see the module docstring for the fields."""

    op: str
    args: list
    results: list
    attrs: dict = field(default_factory=dict)
    targets: list = field(default_factory=list)
    block: "Optional[Block]" = None

    @property
    def result(self) -> Value:
        """The first result (``IndexError`` if the op has none)."""
        return self.results[0]

    def __repr__(self) -> str:
        from .printer import format_inst
        return format_inst(self)


@dataclass(eq=False)
class Block:
    """A basic block: ``name``, ``params`` (Values), ``insts`` (terminator last)."""

    name: str
    params: list = field(default_factory=list)
    insts: list = field(default_factory=list)

    @property
    def terminator(self) -> Optional[Inst]:
        """The last instruction if it is a terminator (``br``, ``exit``, ...), else None."""
        if self.insts:
            last = self.insts[-1]
            row = OPS.get(last.op)
            if row is not None and row.is_terminator:
                return last
        return None

    def successors(self) -> list:
        """Blocks this block's terminator may branch to (in target order, duplicates kept)."""
        term = self.terminator
        return [t.block for t in term.targets] if term else []

    def __repr__(self) -> str:
        return f"<Block {self.name}>"


@dataclass(eq=False)
class Region:
    """A compile unit. ``attrs`` holds ``endian`` (``"big"``/``"little"``), ``nan32``/``nan64``
    (default NaN bit patterns), ``rounding`` (``rne``/``rtz``/``rup``/``rdn``) and guest extras
    (e.g. ``mode``)."""

    name: str
    kind: str = "block"                  # "block" | "function"
    pc: int = 0                          # guest pc of the entry (block regions)
    params: list = field(default_factory=list)    # function parameter Types
    results: list = field(default_factory=list)   # function result Types
    blocks: list = field(default_factory=list)
    attrs: dict = field(default_factory=dict)
    next_value: int = 0

    def __post_init__(self):
        self.attrs.setdefault("endian", "little")
        self.attrs.setdefault("nan32", DEFAULT_NAN32)
        self.attrs.setdefault("nan64", DEFAULT_NAN64)
        self.attrs.setdefault("rounding", "rne")

    @property
    def entry(self) -> Block:
        return self.blocks[0]

    def new_value(self, vtype: Type, defn: Optional[Inst] = None,
                  block: Optional[Block] = None) -> Value:
        """A fresh Value of ``vtype`` numbered after every existing one."""
        v = Value(self.next_value, vtype, defn, block)
        self.next_value += 1
        return v

    def block(self, name: str) -> Block:
        for b in self.blocks:
            if b.name == name:
                return b
        raise KeyError(name)

    def insts(self) -> Iterator[Inst]:
        for b in self.blocks:
            yield from b.insts

    def __repr__(self) -> str:
        return f"<Region {self.name} {self.kind} pc={self.pc:#x}>"

    def __str__(self) -> str:
        from .printer import format_region
        return format_region(self)


@dataclass(frozen=True)
class HelperSig:
    """Signature of a helper ``call`` may name: parameter and result Types, and whether it is
    ``pure`` (no side effect; passes may fold or delete it)."""

    name: str
    params: tuple
    results: tuple
    pure: bool = False


@dataclass(frozen=True)
class Slot:
    """A named, typed field of guest state: ``count`` elements of ``type`` (``count == 1`` is a
    scalar, addressed as ``name``; otherwise ``name[i]``)."""

    name: str
    type: Type
    count: int = 1


_SLOT_REF = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$")


class StateLayout:
    """The guest state struct: slots laid out in order, each aligned to its element size.

    ``offset(ref)``/``type(ref)`` take a slot reference ``"name"`` or ``"name[i]"`` and give the
    byte offset from the start of guest state and the element Type; both raise ``KeyError``
    naming the reference when it does not exist. ``size`` is the total in bytes (a multiple of 8).
    """

    def __init__(self, slots: Iterable[Slot]):
        self.slots: dict[str, Slot] = {}
        self._offsets: dict[str, int] = {}
        off = 0
        for s in slots:
            if s.name in self.slots:
                raise ValueError(f"duplicate state slot {s.name!r}")
            if s.count < 1:
                raise ValueError(f"state slot {s.name!r} needs count >= 1")
            align = s.type.bytes
            off = (off + align - 1) // align * align
            self.slots[s.name] = s
            self._offsets[s.name] = off
            off += align * s.count
        self.size = (off + 7) // 8 * 8

    def resolve(self, ref: str) -> tuple:
        """``(Slot, index)`` for a reference; ``KeyError`` if unknown or out of range."""
        m = _SLOT_REF.match(ref)
        if not m or m.group(1) not in self.slots:
            raise KeyError(f"no state slot {ref!r}")
        slot = self.slots[m.group(1)]
        if m.group(2) is None:
            if slot.count != 1:
                raise KeyError(f"state slot {slot.name!r} is an array: say {slot.name}[i]")
            return slot, 0
        index = int(m.group(2))
        if slot.count == 1 or index >= slot.count:
            raise KeyError(f"state slot reference {ref!r} out of range "
                           f"({slot.name} has {slot.count} element(s))")
        return slot, index

    def offset(self, ref: str) -> int:
        slot, index = self.resolve(ref)
        return self._offsets[slot.name] + index * slot.type.bytes

    def type(self, ref: str) -> Type:
        return self.resolve(ref)[0].type

    def refs(self) -> Iterator[str]:
        """Every addressable reference, in layout order."""
        for s in self.slots.values():
            if s.count == 1:
                yield s.name
            else:
                for i in range(s.count):
                    yield f"{s.name}[{i}]"

    def __eq__(self, other) -> bool:
        return isinstance(other, StateLayout) and list(self.slots.values()) == list(other.slots.values())

    def __repr__(self) -> str:
        return f"<StateLayout {len(self.slots)} slots, {self.size} bytes>"


@dataclass(eq=False)
class Module:
    """Regions compiled together: ``regions`` by name, ``helpers`` (HelperSig by name) and the
    ``state`` layout their ``get``/``put`` use."""

    state: StateLayout = field(default_factory=lambda: StateLayout([]))
    helpers: dict = field(default_factory=dict)
    regions: dict = field(default_factory=dict)

    def add(self, region: Region) -> Region:
        if region.name in self.regions:
            raise ValueError(f"duplicate region name {region.name!r}")
        self.regions[region.name] = region
        return region

    def __str__(self) -> str:
        from .printer import format_module
        return format_module(self)
