"""Read the IR text form that ``dynarec.ir.printer`` writes (see its docstring for the
grammar) back into nodes.

``parse_module(text) -> Module`` reads a state line, helper declarations and regions;
``parse_region(text, module=None) -> Region`` reads one region (and adds it to ``module`` when
given). Value numbers are kept (``v7`` stays ``v7``; ``region.next_value`` is set past the
largest), attributes get the table's defaults filled in, and uses may precede definitions in
the text (a loop header may use values of a block printed later). Comments run from ``;`` or
``#`` to the end of the line; blank lines are skipped.

Errors raise ``ParseError`` with the 1-based line number: unknown op, type or attribute,
attribute value of the wrong kind, missing required attribute, use of an undefined value,
value defined twice, unknown block, malformed syntax. Type rules are the verifier's job.
"""

from __future__ import annotations

import re
from typing import Optional

from ..errors import ParseError
from .nodes import Block, BlockCall, HelperSig, Inst, Module, Region, Slot, StateLayout, Value
from .opcodes import ATTR_KINDS, OPS
from .types import Type

__all__ = ["parse_module", "parse_region"]

_TOKEN = re.compile(r"\s*(?:(?P<num>-?0x[0-9a-fA-F]+|-?\d+)|(?P<name>[A-Za-z_][\w.]*)"
                    r"|(?P<punct>->|[,()\[\]=:{}]))")
_VALUE = re.compile(r"^v(\d+)$")
_COMMENT = re.compile(r"[;#].*")


class _Tokens:
    """The tokens of one line: ``(kind, text)`` with kind ``num``, ``name`` or ``punct``."""

    def __init__(self, text: str, line: int):
        self.line = line
        self.items: list = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise ParseError(f"unexpected character {text[pos:].strip()[:1]!r} in "
                                 f"{text.strip()!r}", line)
            kind = m.lastgroup
            self.items.append((kind, m.group(kind)))
            pos = m.end()
        self.pos = 0

    def error(self, message: str) -> ParseError:
        return ParseError(message, self.line)

    def peek(self, ahead: int = 0) -> tuple:
        i = self.pos + ahead
        return self.items[i] if i < len(self.items) else ("end", "")

    def at(self, text: str, ahead: int = 0) -> bool:
        return self.peek(ahead)[1] == text and self.peek(ahead)[0] == "punct"

    def next(self) -> tuple:
        tok = self.peek()
        self.pos += 1
        return tok

    def expect(self, text: str) -> None:
        kind, got = self.next()
        if got != text or kind != "punct":
            raise self.error(f"expected {text!r}, found {got or 'end of line'!r}")

    def name(self, what: str) -> str:
        kind, text = self.next()
        if kind != "name":
            raise self.error(f"expected {what}, found {text or 'end of line'!r}")
        return text

    def number(self, what: str) -> int:
        kind, text = self.next()
        if kind != "num":
            raise self.error(f"expected {what} (a number), found {text or 'end of line'!r}")
        return int(text, 16 if "x" in text else 10)

    def type(self) -> Type:
        text = self.name("a type")
        try:
            return Type.parse(text)
        except ValueError as e:
            raise self.error(str(e)) from None

    def done(self) -> bool:
        return self.pos >= len(self.items)

    def end(self) -> None:
        if not self.done():
            raise self.error(f"unexpected {self.peek()[1]!r} at the end of the line")

    def type_list(self) -> list:
        """``(t, t, ...)``"""
        self.expect("(")
        types = []
        while not self.at(")"):
            if types:
                self.expect(",")
            types.append(self.type())
        self.expect(")")
        return types

    def attr_value(self):
        """A number, or a name optionally indexed (``gpr[4]``)."""
        if self.peek()[0] == "num":
            return self.number("a value")
        text = self.name("an attribute value")
        if self.at("["):
            self.next()
            text += f"[{self.number('an index')}]"
            self.expect("]")
        return text

    def attrs(self) -> dict:
        """``name=value ...`` to the end of the line, in order."""
        out = {}
        while not self.done():
            key = self.name("an attribute name=value")
            self.expect("=")
            if key in out:
                raise self.error(f"attribute {key!r} given twice")
            out[key] = self.attr_value()
        return out


def _lines(text: str):
    """``(line number, text)`` of the lines that hold something, comments removed."""
    for n, raw in enumerate(text.splitlines(), 1):
        stripped = _COMMENT.sub("", raw).strip()
        if stripped:
            yield n, stripped


def parse_module(text: str) -> Module:
    """Parse a whole module; raises ``ParseError`` (with the line number) on bad input."""
    module = Module()
    lines = list(_lines(text))
    i = 0
    while i < len(lines):
        n, line = lines[i]
        keyword = line.split(None, 1)[0]
        if keyword == "state":
            if i != 0:
                raise ParseError("the state line must come first, once", n)
            try:
                module.state = StateLayout(_parse_state(_Tokens(line, n)))
            except ValueError as e:
                raise ParseError(str(e), n) from None
            i += 1
        elif keyword == "helper":
            sig = _parse_helper(_Tokens(line, n))
            if sig.name in module.helpers:
                raise ParseError(f"helper {sig.name} declared twice", n)
            module.helpers[sig.name] = sig
            i += 1
        elif keyword == "region":
            end = _region_end(lines, i)
            region = _RegionParser(lines[i:end + 1]).parse()
            if region.name in module.regions:
                raise ParseError(f"region {region.name} defined twice", n)
            module.add(region)
            i = end + 1
        else:
            raise ParseError(f"expected 'state', 'helper' or 'region', found {keyword!r}", n)
    return module


def parse_region(text: str, module: Optional[Module] = None) -> Region:
    """Parse one region (header line to closing brace). When ``module`` is given the region
    is added to it (``ParseError`` if the name is taken)."""
    lines = list(_lines(text))
    if not lines:
        raise ParseError("no region in the text")
    end = _region_end(lines, 0)
    if end != len(lines) - 1:
        raise ParseError("text after the region's closing brace", lines[end + 1][0])
    region = _RegionParser(lines).parse()
    if module is not None:
        if region.name in module.regions:
            raise ParseError(f"the module already has a region {region.name}", lines[0][0])
        module.add(region)
    return region


def _region_end(lines: list, start: int) -> int:
    for j in range(start, len(lines)):
        if lines[j][1] == "}":
            return j
    raise ParseError("region has no closing '}'", lines[start][0])


def _parse_state(tok: _Tokens) -> list:
    """``state name:type[count] ...``"""
    tok.name("'state'")
    slots = []
    while not tok.done():
        name = tok.name("a slot name")
        tok.expect(":")
        t = tok.type()
        count = 1
        if tok.at("["):
            tok.next()
            count = tok.number("a slot count")
            tok.expect("]")
        slots.append(Slot(name, t, count))
    return slots


def _parse_helper(tok: _Tokens) -> HelperSig:
    """``helper name(t, ...) -> (t, ...) [pure]``"""
    tok.name("'helper'")
    name = tok.name("a helper name")
    params = tok.type_list()
    tok.expect("->")
    results = tok.type_list()
    pure = False
    if not tok.done():
        if tok.name("'pure'") != "pure":
            raise tok.error("expected 'pure' or the end of the line after the results")
        pure = True
    tok.end()
    return HelperSig(name, tuple(params), tuple(results), pure)


class _RegionParser:
    """Parses the lines of one region; operand references are resolved after every line is
    read, so a use may precede its definition in the text."""

    def __init__(self, lines: list):
        self.lines = lines
        self.values: dict[int, Value] = {}
        self.blocks: dict[str, Block] = {}
        self.pending: list = []     # (line, Inst, raw operands, raw targets)

    def parse(self) -> Region:
        n, head = self.lines[0]
        region = self.parse_header(_Tokens(head, n))
        block = None
        for n, line in self.lines[1:-1]:
            tok = _Tokens(line, n)
            if tok.items[-1] == ("punct", ":"):
                block = self.parse_block_header(tok, region)
            elif block is None:
                raise ParseError("instruction before the first block label", n)
            else:
                self.parse_inst(tok, region, block)
        for n, inst, operands, targets in self.pending:
            inst.args = [self.value(v, n) for v in operands]
            inst.targets = [BlockCall(self.block(b, n), [self.value(v, n) for v in args])
                            for b, args in targets]
        region.next_value = max(self.values, default=-1) + 1
        return region

    def parse_header(self, tok: _Tokens) -> Region:
        """``region NAME block pc=N attrs... {`` or ``region NAME function (..) -> (..) ...{``"""
        if tok.name("'region'") != "region":
            raise tok.error("a region starts with 'region NAME KIND'")
        name = tok.name("a region name")
        kind = tok.name("'block' or 'function'")
        params, results, pc = [], [], 0
        if kind == "function":
            params = tok.type_list()
            tok.expect("->")
            results = tok.type_list()
        elif kind != "block":
            raise tok.error(f"region kind must be 'block' or 'function', not {kind!r}")
        if not tok.items or tok.items[-1] != ("punct", "{"):
            raise tok.error("the region header must end with '{'")
        tok.items.pop()
        attrs = tok.attrs()
        if kind == "block":
            if "pc" not in attrs or not isinstance(attrs["pc"], int):
                raise tok.error("a block region needs pc=<number>")
            pc = attrs.pop("pc")
        return Region(name, kind, pc, params, results, [], attrs)

    def parse_block_header(self, tok: _Tokens, region: Region) -> Block:
        """``name:`` or ``name(vN:t, ...):``"""
        name = tok.name("a block name")
        if name in self.blocks:
            raise tok.error(f"block {name} defined twice")
        block = self.blocks[name] = Block(name)
        if tok.at("("):
            tok.next()
            while not tok.at(")"):
                if block.params:
                    tok.expect(",")
                vid, t = self.typed_value(tok)
                block.params.append(self.define(vid, t, tok, block=block))
            tok.expect(")")
        tok.expect(":")
        tok.end()
        region.blocks.append(block)
        return block

    def parse_inst(self, tok: _Tokens, region: Region, block: Block) -> None:
        result_types = []
        if tok.at(":", 1):
            while True:
                result_types.append(self.typed_value(tok))
                if not tok.at(","):
                    break
                tok.next()
            tok.expect("=")
        op = tok.name("an op name")
        row = OPS.get(op)
        if row is None:
            raise tok.error(f"unknown op {op!r}")
        operands, targets = self.parse_operands(tok, row)
        attrs = self.parse_attrs(tok, op, row)
        inst = Inst(op, [], [], attrs, [], block)
        inst.results = [self.define(vid, t, tok, defn=inst) for vid, t in result_types]
        block.insts.append(inst)
        self.pending.append((tok.line, inst, operands, targets))

    def parse_operands(self, tok: _Tokens, row) -> tuple:
        """Values then targets, comma separated, up to the first ``name=``. Which items are
        targets follows from the row: a terminator with targets takes its fixed operands
        first; ``br_table`` puts its case list in brackets."""
        items = []
        while not tok.done() and not tok.at("=", 1):
            if items:
                tok.expect(",")
            if tok.at("["):
                tok.next()
                cases = []
                while not tok.at("]"):
                    if cases:
                        tok.expect(",")
                    cases.append(self.target(tok))
                tok.expect("]")
                items.append(("cases", cases))
            elif tok.at("(", 1):
                items.append(("target", self.target(tok)))
            else:
                items.append(("name", tok.name("an operand")))
        if row.targets == 0:
            n_values = len(items)
        else:
            n_values = len(row.args)
        values, rest = items[:n_values], items[n_values:]
        for kind, item in values:
            if kind != "name":
                raise tok.error(f"{row.name} takes value operands here, not a block target")
        targets = []
        for kind, item in rest:
            if kind == "cases":
                if row.targets != -1:
                    raise tok.error(f"{row.name} takes no bracketed case list")
                targets += item
            else:
                targets.append(item if kind == "target" else (item, []))
        if row.targets > 0 and len(targets) != row.targets:
            raise tok.error(f"{row.name} needs {row.targets} block target(s), "
                            f"found {len(targets)}")
        return [item for _, item in values], targets

    def target(self, tok: _Tokens) -> tuple:
        """``block`` or ``block(v1, v2)``"""
        name = tok.name("a block name")
        args = []
        if tok.at("("):
            tok.next()
            while not tok.at(")"):
                if args:
                    tok.expect(",")
                args.append(tok.name("a value"))
            tok.expect(")")
        return name, args

    def parse_attrs(self, tok: _Tokens, op: str, row) -> dict:
        given = tok.attrs()
        known = {a.name: a for a in row.attrs}
        for name in given:
            if name not in known:
                raise tok.error(f"{op} has no attribute {name!r} "
                                f"(it has: {', '.join(known) or 'none'})")
        attrs = {}
        for a in row.attrs:
            if a.name not in given:
                if a.default is None:
                    raise tok.error(f"{op} needs attribute {a.name}=")
                attrs[a.name] = a.default
                continue
            value, kind = given[a.name], ATTR_KINDS[a.kind]
            if isinstance(kind, tuple) and value not in kind:
                raise tok.error(f"{op} {a.name}={value}: expected one of {', '.join(kind)}")
            if kind is int and not isinstance(value, int):
                raise tok.error(f"{op} {a.name}={value}: expected a number")
            if kind is str and not isinstance(value, str):
                raise tok.error(f"{op} {a.name}={value}: expected a name")
            attrs[a.name] = value
        return attrs

    # --- values ---------------------------------------------------------------------------

    def typed_value(self, tok: _Tokens) -> tuple:
        """``vN:type`` -> ``(N, Type)``"""
        text = tok.name("a value vN")
        m = _VALUE.match(text)
        if m is None:
            raise tok.error(f"expected a value like v3, found {text!r}")
        tok.expect(":")
        return int(m.group(1)), tok.type()

    def define(self, vid: int, t: Type, tok: _Tokens, defn=None, block=None) -> Value:
        if vid in self.values:
            raise tok.error(f"v{vid} is defined twice")
        v = self.values[vid] = Value(vid, t, defn, block)
        return v

    def value(self, text: str, line: int) -> Value:
        m = _VALUE.match(text)
        if m is None:
            raise ParseError(f"expected a value like v3, found {text!r}", line)
        v = self.values.get(int(m.group(1)))
        if v is None:
            raise ParseError(f"{text} is used but never defined", line)
        return v

    def block(self, name: str, line: int) -> Block:
        b = self.blocks.get(name)
        if b is None:
            raise ParseError(f"unknown block {name}", line)
        return b
