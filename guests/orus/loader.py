"""The loader: an Orus dump file (``../shared/orus/README.md`` section 1) as a ``Program``.

::

    program = load("programs/fib25.json")       # or loads(text) / from_json(obj)
    program.main                                 # Chunk: code, lines, constants, insns
    program.functions[0].name, .arity, .chunk

A dump is one JSON object: ``name``, ``main`` (the top-level chunk), ``globals`` (named global
slots, 0 in every fixture) and ``functions`` (``index``, ``name``, ``arity``, ``start``,
``chunk``, ``specialized_chunk``, ``deopt_stub_chunk``). A chunk has ``code`` (hex, two digits
per byte), ``lines`` (one source line per code byte) and ``constants`` (``{"t": tag, "v":
value}``; every chunk carries a copy of the module-wide pool).

Every chunk is decoded whole at load (``decoder.decode`` over the chunk, instruction after
instruction), so a program that loads is well formed: valid hex, one line per byte, every
instruction complete and with a handler, every jump inside its chunk and landing on an
instruction start, every constant index in range and every typed constant load
(``LOAD_I32_CONST`` ...) naming a constant of its own type. Anything else raises one
``OrusLoadError`` (a ``ValueError``) naming the file, the function and the offset.

Constant values by tag: ``i32``/``i64``/``u32``/``u64`` -> ``int`` (range-checked),
``f64`` -> ``float`` (the dump writes integral values without a decimal point), ``string`` ->
``bytes`` (Orus strings are byte strings: the file is read with ``surrogateescape`` so bytes
that are not UTF-8 come back unchanged), ``bool`` -> ``bool``; ``number`` and ``otherN`` are
kept with their raw JSON value (no fixture has one).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Optional

from .decoder import Insn, decode
from .errors import OrusLoadError

INT_RANGES = {"i32": (-(1 << 31), (1 << 31) - 1), "i64": (-(1 << 63), (1 << 63) - 1),
              "u32": (0, (1 << 32) - 1), "u64": (0, (1 << 64) - 1)}
"""Tag -> inclusive value range of the integer constant tags."""

TYPED_CONSTANT_LOADS = {"LOAD_I32_CONST": "i32", "LOAD_I64_CONST": "i64",
                        "LOAD_U32_CONST": "u32", "LOAD_U64_CONST": "u64",
                        "LOAD_F64_CONST": "f64"}
"""Typed constant loads and the tag their constant must have (the VM reads the constant's
payload as that type without checking)."""

_NOT_HEX = re.compile(r"[^0-9a-fA-F]")


@dataclass(frozen=True)
class Constant:
    """One pool entry: ``tag`` as the dump names it and ``value`` (see the module doc)."""

    tag: str
    value: object


@dataclass
class Chunk:
    """A code buffer: ``code`` (bytes), ``lines`` (source line per byte, -1 = none),
    ``constants`` (tuple of ``Constant``), ``label`` (names it in messages, e.g.
    ``"fib30.json, function 'fib'"``) and, after ``decode_all``, ``insns`` (the decoded
    instructions in order) and ``starts`` (their offsets)."""

    code: bytes
    lines: tuple
    constants: tuple
    label: str
    insns: tuple = ()
    starts: frozenset = field(default_factory=frozenset)

    def decode_all(self) -> None:
        """Decode the whole chunk and check it (module doc); raises ``OrusLoadError``."""
        insns, offset = [], 0
        while offset < len(self.code):
            insn = decode(self, offset)
            insns.append(insn)
            offset = insn.next
        self.insns, self.starts = tuple(insns), frozenset(i.offset for i in insns)
        for insn in insns:
            if insn.target is not None and insn.target not in self.starts:
                raise self.error(insn, f"jumps to {insn.target:#06x}, inside another "
                                       f"instruction")
            tag = TYPED_CONSTANT_LOADS.get(insn.mnemonic)
            if tag is not None and self.constants[insn.operands[1]].tag != tag:
                constant = self.constants[insn.operands[1]]
                raise self.error(insn, f"constant {insn.operands[1]} is {constant.tag}, "
                                       f"not {tag}")

    def error(self, insn: Insn, message: str) -> OrusLoadError:
        """An ``OrusLoadError`` about ``insn`` of this chunk."""
        return OrusLoadError(f"{self.label}, offset {insn.offset:#06x}: {insn.row.name} "
                             f"{message}")


@dataclass
class Function:
    """A compiled function: ``index`` (its position in ``Program.functions``, the value a
    function register holds), ``name``, ``arity``, ``start`` (entry offset, 0 in practice),
    ``chunk`` and the profile-guided ``specialized_chunk``/``deopt_stub_chunk`` (``None`` in
    every fixture)."""

    index: int
    name: str
    arity: int
    start: int
    chunk: Chunk
    specialized_chunk: Optional[Chunk] = None
    deopt_stub_chunk: Optional[Chunk] = None


@dataclass
class Program:
    """A loaded dump: ``main`` (top-level chunk, run from offset 0), ``functions`` (tuple of
    ``Function`` in ``vm.functions`` order), ``globals`` (named global slots), ``name`` (the
    dump's name field) and ``source`` (file name for messages)."""

    main: Chunk
    functions: tuple
    globals: int = 0
    name: str = "main"
    source: str = "<dump>"

    def function(self, name: str) -> Function:
        """The function called ``name``; raises ``KeyError``."""
        for function in self.functions:
            if function.name == name:
                return function
        raise KeyError(f"no function {name!r} in {self.source}")

    def chunks(self):
        """Every chunk with its function (``None`` for main), main first."""
        yield None, self.main
        for function in self.functions:
            for chunk in (function.chunk, function.specialized_chunk,
                          function.deopt_stub_chunk):
                if chunk is not None:
                    yield function, chunk


def load(path) -> Program:
    """Load the dump file at ``path``. Raises ``OrusLoadError`` (also for an unreadable
    file: the message carries the OS error)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise OrusLoadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return loads(data, source=os.path.basename(os.fspath(path)))


def loads(text, source: str = "<dump>") -> Program:
    """Load a dump from its text (``str`` or ``bytes``); ``source`` names it in messages."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OrusLoadError(f"{source}: not JSON: {exc}") from None
    return from_json(obj, source)


def from_json(obj, source: str = "<dump>") -> Program:
    """Build and check a ``Program`` from the parsed JSON object of a dump."""
    reader = _Reader(source)
    top = reader.object(obj, "the dump")
    main = reader.chunk(reader.field(top, "main", dict, "the dump"), "main")
    functions = []
    for i, entry in enumerate(reader.field(top, "functions", list, "the dump")):
        functions.append(reader.function(entry, i))
    program = Program(main, tuple(functions), reader.field(top, "globals", int, "the dump"),
                      reader.field(top, "name", str, "the dump"), source)
    if program.globals < 0:
        raise OrusLoadError(f"{source}: globals must not be negative")
    for function in program.functions:
        if function.start not in function.chunk.starts:
            raise OrusLoadError(f"{function.chunk.label}: start offset {function.start} is "
                                f"not an instruction start")
    return program


class _Reader:
    """Field-by-field reading of the JSON object, with messages that say where."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, message: str) -> OrusLoadError:
        return OrusLoadError(f"{self.source}, {where}: {message}")

    def object(self, value, where: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, "expected a JSON object")
        return value

    def field(self, obj: dict, name: str, kind: type, where: str):
        if name not in obj:
            raise self.fail(where, f"missing field {name!r}")
        value = obj[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(where, f"field {name!r} must be a JSON {kind.__name__}")
        return value

    def function(self, entry, position: int) -> Function:
        where = f"functions[{position}]"
        entry = self.object(entry, where)
        name = self.field(entry, "name", str, where)
        index = self.field(entry, "index", int, where)
        if index != position:
            raise self.fail(where, f"index {index} does not match its position")
        arity = self.field(entry, "arity", int, where)
        if not 0 <= arity <= 128:
            raise self.fail(where, f"arity {arity}: parameters must fit R64..R191")
        label = f"function {name!r}"
        chunks = [self.chunk(self.field(entry, "chunk", dict, where), label)]
        for extra in ("specialized_chunk", "deopt_stub_chunk"):
            value = entry.get(extra)
            chunks.append(None if value is None
                          else self.chunk(self.object(value, f"{where}.{extra}"),
                                          f"{label} ({extra})"))
        return Function(index, name, arity, self.field(entry, "start", int, where), *chunks)

    def chunk(self, obj: dict, label: str) -> Chunk:
        hexcode = self.field(obj, "code", str, label)
        bad = _NOT_HEX.search(hexcode)
        if bad is not None:
            raise self.fail(label, f"bad hex in code: {bad.group()!r} at character "
                                   f"{bad.start()} (byte offset {bad.start() // 2:#06x})")
        if len(hexcode) % 2:
            raise self.fail(label, f"bad hex in code: odd number of digits ({len(hexcode)})")
        code = bytes.fromhex(hexcode)
        lines = self.field(obj, "lines", list, label)
        if len(lines) != len(code) or not all(type(x) is int for x in lines):
            raise self.fail(label, f"lines must hold one integer per code byte "
                                   f"({len(lines)} entries for {len(code)} bytes)")
        constants = tuple(self.constant(c, f"{label}, constant {i}")
                          for i, c in enumerate(self.field(obj, "constants", list, label)))
        chunk = Chunk(code, tuple(lines), constants, f"{self.source}, {label}")
        chunk.decode_all()
        return chunk

    def constant(self, entry, where: str) -> Constant:
        entry = self.object(entry, where)
        tag = self.field(entry, "t", str, where)
        if tag in INT_RANGES:
            value = self.field(entry, "v", int, where)
            low, high = INT_RANGES[tag]
            if not low <= value <= high:
                raise self.fail(where, f"{tag} value {value} out of range")
            return Constant(tag, value)
        if tag == "f64":
            value = entry.get("v")
            if type(value) not in (int, float):
                raise self.fail(where, f"f64 value must be a JSON number, not {value!r}")
            try:
                return Constant(tag, float(value))
            except OverflowError:
                raise self.fail(where, f"f64 value {value} out of range") from None
        if tag == "string":
            return Constant(tag, self.field(entry, "v", str, where)
                            .encode("utf-8", "surrogateescape"))
        if tag == "bool":
            return Constant(tag, self.field(entry, "v", bool, where))
        return Constant(tag, entry.get("v"))
