"""The IR verifier: checks a region against the opcode table and the SSA rules.

``verify_region(region, module)`` / ``verify_module(module)`` return ``None`` or raise
``VerifyError`` whose ``.problems`` lists every problem found, each naming the region, the
block, the instruction (in its text form) and the operand at fault.

Rules checked:

* structure: at least one block; every block ends in exactly one terminator and has none
  before it; block names are unique; the entry's parameters are the function's parameters
  (none for block regions); block regions never ``ret``, function regions never ``exit``;
* each instruction against its ``OpDef``: operand and result counts, signature letters
  (``T`` one type of the row's class, ``I``/``F``/``X``, exact types, ``*``, optional ``?``
  results), the row's ``extra`` rule, attributes (required ones present, known names, values of
  the attribute's kind), targets (count, blocks of this region, arguments matching the target
  block's parameters);
* context: ``get``/``put`` name a slot of the module's ``StateLayout`` of the value's type;
  ``call`` a declared ``HelperSig`` and ``call_fn`` a function region, with matching operand
  and result types; ``ret`` operands match the region's result types; ``exit`` takes at most
  one integer operand (the pc) and otherwise a ``pc`` attribute;
* SSA: every value is defined once (ids unique in the region), each result records its
  defining instruction, and every use is dominated by its definition (dominators computed
  with the Cooper-Harvey-Kennedy iterative algorithm; uses in unreachable blocks only need a
  definition somewhere in the region).
"""

from __future__ import annotations

from typing import Optional

from ..errors import VerifyError
from .nodes import Block, BlockCall, Inst, Module, Region, Value
from .opcodes import ATTR_KINDS, OPS, TYPE_CLASSES, OpDef
from .printer import format_inst
from .types import Type

__all__ = ["verify_region", "verify_module", "region_problems", "dominators"]


def verify_region(region: Region, module: Optional[Module] = None) -> None:
    """Raise ``VerifyError`` listing every problem of ``region``; ``module`` (default: an
    empty one) supplies the state layout, helpers and function regions it refers to."""
    problems = region_problems(region, module if module is not None else Module())
    if problems:
        raise VerifyError(_summary(problems), problems)


def verify_module(module: Module) -> None:
    """Verify every region of ``module``; one ``VerifyError`` lists all their problems."""
    problems = []
    for region in module.regions.values():
        problems += region_problems(region, module)
    if problems:
        raise VerifyError(_summary(problems), problems)


def _summary(problems: list) -> str:
    return f"{len(problems)} IR problem(s):\n" + "\n".join(f"  - {p}" for p in problems)


def region_problems(region: Region, module: Module) -> list:
    """Every problem of ``region`` as a list of messages (empty: the region is valid)."""
    return _RegionChecker(region, module).run()


def dominators(region: Region) -> dict:
    """Immediate dominators of the blocks reachable from the entry: ``{block: idom}`` (the
    entry maps to itself). Cooper, Harvey & Kennedy, "A Simple, Fast Dominance Algorithm"
    (2001): iterate over reverse postorder until nothing changes."""
    if not region.blocks:
        return {}
    order = _reverse_postorder(region)
    index = {id(b): i for i, b in enumerate(order)}
    preds: dict = {id(b): [] for b in order}
    for b in order:
        for s in _successors(b):
            if id(s) in preds:
                preds[id(s)].append(b)
    entry = order[0]
    idom = {id(entry): entry}

    def intersect(a: Block, b: Block) -> Block:
        while a is not b:
            while index[id(a)] > index[id(b)]:
                a = idom[id(a)]
            while index[id(b)] > index[id(a)]:
                b = idom[id(b)]
        return a

    changed = True
    while changed:
        changed = False
        for b in order[1:]:
            done = [p for p in preds[id(b)] if id(p) in idom]
            new = done[0]
            for p in done[1:]:
                new = intersect(p, new)
            if idom.get(id(b)) is not new:
                idom[id(b)] = new
                changed = True
    return {b: idom[id(b)] for b in order}


def _successors(block: Block) -> list:
    term = block.insts[-1] if block.insts else None
    if term is None or not isinstance(term, Inst):
        return []
    return [t.block for t in term.targets if isinstance(t, BlockCall)]


def _reverse_postorder(region: Region) -> list:
    seen, post = set(), []
    stack = [(region.entry, iter(_successors(region.entry)))]
    seen.add(id(region.entry))
    while stack:
        block, succs = stack[-1]
        for s in succs:
            if id(s) not in seen:
                seen.add(id(s))
                stack.append((s, iter(_successors(s))))
                break
        else:
            stack.pop()
            post.append(block)
    return post[::-1]


class _RowInfo:
    """What checking an instruction against one ``OpDef`` needs, computed once per row:
    operand specs (without a trailing ``*``), result specs (without ``?``), the attributes by
    name and the context check."""

    __slots__ = ("row", "args", "variadic", "results", "required", "attrs", "known",
                 "allowed", "exact", "terminator", "context", "valid")

    def __init__(self, row: OpDef):
        self.row = row
        self.variadic = row.variadic
        self.args = row.args[:-1] if self.variadic else row.args
        self.results = tuple(s.lstrip("?") for s in row.results)
        self.required = sum(1 for s in row.results if not s.startswith("?"))
        self.attrs = tuple((a, ATTR_KINDS[a.kind]) for a in row.attrs)
        self.known = {a.name: a for a in row.attrs}
        self.allowed = TYPE_CLASSES[row.types]
        self.exact = {s: Type.parse(s) for s in self.args + self.results
                      if s not in ("T", "I", "F", "X", "*")}
        self.terminator = row.is_terminator
        self.context = _CONTEXT_CHECKS.get(row.name)
        self.valid: set = set()          # (operand types, result types) that passed


_ROW_INFO: dict = {}


def _row_info(row: OpDef) -> _RowInfo:
    info = _ROW_INFO.get(row.name)
    if info is None or info.row is not row:
        info = _ROW_INFO[row.name] = _RowInfo(row)
    return info


class _RegionChecker:
    """One verification run over one region; ``problems`` collects the messages."""

    def __init__(self, region: Region, module: Module):
        self.region = region
        self.module = module
        self.problems: list = []
        self.slot_types: dict = {}       # slot reference -> Type, or the KeyError's message

    # --- reporting ------------------------------------------------------------------------

    def report(self, block: Optional[Block], inst: Optional[Inst], message: str) -> None:
        where = f"region {self.region.name}"
        if block is not None:
            where += f", block {block.name}"
        if inst is not None:
            where += f", `{_text(inst)}`"
        self.problems.append(f"{where}: {message}")

    # --- driver ---------------------------------------------------------------------------

    def run(self) -> list:
        region = self.region
        if region.kind not in ("block", "function"):
            self.report(None, None, f"kind must be 'block' or 'function', not {region.kind!r}")
        if not region.blocks:
            self.report(None, None, "has no blocks")
            return self.problems
        names = set()
        for b in region.blocks:
            if b.name in names:
                self.report(b, None, "block name used twice")
            names.add(b.name)
        self.block_ids = {id(b) for b in region.blocks}
        self.check_entry()
        self.defs = self.collect_definitions()
        for block in region.blocks:
            self.check_block(block)
        self.check_dominance()
        return self.problems

    def check_entry(self) -> None:
        entry = self.region.entry
        want = list(self.region.params) if self.region.kind == "function" else []
        got = [p.type for p in entry.params]
        if got != want:
            self.report(entry, None, f"entry block parameters ({_types(got)}) must be "
                        f"the region's parameters ({_types(want)})")

    def collect_definitions(self) -> dict:
        """``{value id: (Value, Block, position)}``; position -1 for block parameters."""
        defs: dict = {}

        def define(v, block, pos, inst):
            if not isinstance(v, Value):
                self.report(block, inst, f"defines {v!r}, which is not a Value")
                return
            if v.id in defs:
                self.report(block, inst, f"v{v.id} is defined more than once")
                return
            defs[v.id] = (v, block, pos)

        for block in self.region.blocks:
            for p in block.params:
                define(p, block, -1, None)
            for pos, inst in enumerate(block.insts):
                for r in inst.results:
                    define(r, block, pos, inst)
                    if isinstance(r, Value) and r.defn is not inst:
                        self.report(block, inst, f"result v{r.id} does not record this "
                                    f"instruction as its definition")
        return defs

    # --- per block and instruction --------------------------------------------------------

    def check_block(self, block: Block) -> None:
        if not block.insts:
            self.report(block, None, "is empty (a block needs a terminator)")
            return
        last = len(block.insts) - 1
        for pos, inst in enumerate(block.insts):
            row = OPS.get(inst.op)
            if row is None:
                self.report(block, inst, f"unknown op {inst.op!r}")
                continue
            info = _ROW_INFO.get(inst.op)
            if info is None or info.row is not row:
                info = _row_info(row)
            if info.terminator and pos != last:
                self.report(block, inst, "terminator in the middle of the block")
            if pos == last and not info.terminator:
                self.report(block, inst, "the block does not end in a terminator")
            self.check_inst(block, inst, info)

    def check_inst(self, block: Block, inst: Inst, info: _RowInfo) -> None:
        operands_ok = self.check_values(block, inst, inst.args, "operand")
        results_ok = self.check_values(block, inst, inst.results, "result")
        if inst.attrs or info.attrs:
            self.check_attrs(block, inst, info)
        if operands_ok and results_ok:
            self.check_signature(block, inst, info)
            if info.context is not None:
                info.context(self, block, inst)
        if inst.targets or info.row.targets:
            self.check_targets(block, inst, info.row)

    def check_values(self, block, inst, values, what) -> bool:
        for v in values:
            if not isinstance(v, Value) or v.type.__class__ is not Type:
                break
        else:
            return True
        ok = True
        for i, v in enumerate(values):
            if not isinstance(v, Value) or not isinstance(v.type, Type):
                self.report(block, inst, f"{what} {i + 1} is {v!r}, not a typed Value")
                ok = False
        return ok

    def check_signature(self, block: Block, inst: Inst, info: _RowInfo) -> None:
        args, results = inst.args, inst.results
        key = (tuple([a.type.text for a in args]), tuple([r.type.text for r in results]))
        if key in info.valid:            # the outcome depends on the types alone
            return
        before = len(self.problems)
        self.check_types(block, inst, info)
        if len(self.problems) == before:
            info.valid.add(key)

    def check_types(self, block: Block, inst: Inst, info: _RowInfo) -> None:
        args, results = inst.args, inst.results
        arg_specs = info.args
        if info.variadic:
            if len(args) < len(arg_specs):
                self.report(block, inst, f"needs at least {len(arg_specs)} operand(s), "
                            f"has {len(args)}")
                return
        elif len(args) != len(arg_specs):
            self.report(block, inst, f"needs {len(arg_specs)} operand(s), has {len(args)}")
            return
        if inst.op in ("call", "call_fn"):
            return                                # the callee's signature decides
        required, total = info.required, len(info.results)
        if not required <= len(results) <= total:
            want = str(required) if required == total else f"{required} to {total}"
            self.report(block, inst, f"needs {want} result(s), has {len(results)}")
            return
        before = len(self.problems)
        tvar = None
        exact = info.exact
        for what, specs, values in (("operand", arg_specs, args),
                                    ("result", info.results, results)):
            for i, (spec, v) in enumerate(zip(specs, values)):
                vt = v.type
                if spec == "T":
                    if tvar is None:
                        tvar = vt
                        if tvar not in info.allowed:
                            self.report(block, inst, f"{_slot(what, i, v)}: type {tvar} is not "
                                        f"allowed (the op takes {info.row.types} types)")
                    elif vt is not tvar:
                        self.report(block, inst, f"{_slot(what, i, v)} must have the same type "
                                    f"as the other T positions ({tvar})")
                elif spec == "I":
                    if not vt.is_int:
                        self.report(block, inst, f"{_slot(what, i, v)} must be an integer")
                elif spec == "F":
                    if not vt.is_float:
                        self.report(block, inst, f"{_slot(what, i, v)} must be a float")
                elif spec != "X" and vt is not exact[spec]:
                    self.report(block, inst, f"{_slot(what, i, v)} must be {spec}")
        if info.row.extra is not None and len(self.problems) == before:
            message = info.row.extra([a.type for a in args], [r.type for r in results])
            if message:
                self.report(block, inst, message)

    def check_attrs(self, block: Block, inst: Inst, info: _RowInfo) -> None:
        attrs, known = inst.attrs, info.known
        for name in attrs:
            if name not in known:
                self.report(block, inst, f"unknown attribute {name!r} "
                            f"(the op has: {', '.join(known) or 'none'})")
        for a, kind in info.attrs:
            if a.name not in attrs:
                if a.default is None:
                    self.report(block, inst, f"missing attribute {a.name!r}")
                continue
            value = attrs[a.name]
            if isinstance(kind, tuple):
                if value not in kind:
                    self.report(block, inst, f"attribute {a.name}={value!r} must be one of "
                                f"{', '.join(kind)}")
            elif kind is int:
                if not isinstance(value, int) or isinstance(value, bool):
                    self.report(block, inst, f"attribute {a.name}={value!r} must be an "
                                f"integer")
            elif not isinstance(value, str) or not value:
                self.report(block, inst, f"attribute {a.name}={value!r} must be a name")

    def check_targets(self, block: Block, inst: Inst, row: OpDef) -> None:
        targets = inst.targets
        if row.targets == -1:
            if not targets:
                self.report(block, inst, "needs a default target")
        elif len(targets) != row.targets:
            self.report(block, inst, f"needs {row.targets} target(s), has {len(targets)}")
        for t in targets:
            if not isinstance(t, BlockCall) or not isinstance(t.block, Block):
                self.report(block, inst, f"target {t!r} is not a block call")
                continue
            if id(t.block) not in self.block_ids:
                self.report(block, inst, f"target {t.block.name} is not a block of this "
                            f"region")
                continue
            if not self.check_values(block, inst, t.args, f"argument to {t.block.name}"):
                continue
            params = t.block.params
            if len(t.args) != len(params):
                self.report(block, inst, f"passes {len(t.args)} argument(s) to "
                            f"{t.block.name}, which takes {len(params)}")
                continue
            for i, (a, p) in enumerate(zip(t.args, params)):
                if a.type is not p.type:
                    self.report(block, inst, f"argument {i + 1} to {t.block.name} "
                                f"(v{a.id}:{a.type}) does not match parameter "
                                f"v{p.id}:{p.type}")

    # --- context-dependent rules (table: op -> check) -------------------------------------

    def check_slot(self, block: Block, inst: Inst) -> None:
        ref = inst.attrs.get("slot")
        if not isinstance(ref, str):
            return
        slot_type = self.slot_types.get(ref)
        if slot_type is None:
            try:
                slot_type = self.module.state.type(ref)
            except KeyError as e:
                slot_type = e.args[0]
            self.slot_types[ref] = slot_type
        if not isinstance(slot_type, Type):
            self.report(block, inst, f"{slot_type} in the module's state layout")
            return
        v = inst.results[0] if inst.op == "get" else inst.args[0]
        if v.type is not slot_type:
            self.report(block, inst, f"slot {ref} is {slot_type}, but v{v.id} is {v.type}")

    def check_call(self, block: Block, inst: Inst) -> None:
        name = inst.attrs.get("helper")
        sig = self.module.helpers.get(name)
        if sig is None:
            self.report(block, inst, f"no helper named {name!r} is declared in the module")
            return
        self.match_callee(block, inst, f"helper {name}", sig.params, sig.results)

    def check_call_fn(self, block: Block, inst: Inst) -> None:
        name = inst.attrs.get("fn")
        fn = self.module.regions.get(name)
        if fn is None or fn.kind != "function":
            self.report(block, inst, f"no function region named {name!r} in the module")
            return
        self.match_callee(block, inst, f"function {name}", fn.params, fn.results)

    def match_callee(self, block, inst, callee, params, results) -> None:
        got_args = [a.type for a in inst.args]
        got_results = [r.type for r in inst.results]
        if got_args != list(params):
            self.report(block, inst, f"operands ({_types(got_args)}) do not match {callee}"
                        f"({_types(params)})")
        if got_results != list(results):
            self.report(block, inst, f"results ({_types(got_results)}) do not match "
                        f"{callee} -> ({_types(results)})")

    def check_ret(self, block: Block, inst: Inst) -> None:
        if self.region.kind != "function":
            self.report(block, inst, "ret in a block region (block regions leave through "
                        "exit or trap)")
            return
        got = [a.type for a in inst.args]
        if got != list(self.region.results):
            self.report(block, inst, f"returns ({_types(got)}), the function returns "
                        f"({_types(self.region.results)})")

    def check_exit(self, block: Block, inst: Inst) -> None:
        if self.region.kind == "function":
            self.report(block, inst, "exit in a function region (functions return with ret)")
        if len(inst.args) > 1:
            self.report(block, inst, f"takes at most one operand (the pc), has "
                        f"{len(inst.args)}")
        elif inst.args and not inst.args[0].type.is_int:
            self.report(block, inst, f"the pc operand v{inst.args[0].id} must be an integer")
        elif not inst.args and inst.attrs.get("pc", -1) == -1:
            self.report(block, inst, "needs a pc: an attribute pc= or one operand")

    # --- SSA dominance --------------------------------------------------------------------

    def check_dominance(self) -> None:
        idom = dominators(self.region)
        above: dict = {}                 # id(block) -> ids of the blocks dominating it
        for b, up in idom.items():       # reverse postorder: a block's idom comes first
            above[id(b)] = {id(b)} if up is b else above[id(up)] | {id(b)}
        for block in self.region.blocks:
            dominating = above.get(id(block))
            for pos, inst in enumerate(block.insts):
                if not self.uses_dominated(block, pos, inst, dominating):
                    self.report_uses(block, pos, inst, dominating)

    def uses_dominated(self, block: Block, pos: int, inst: Inst, dominating) -> bool:
        """True if every use of ``inst`` is of a value of this region defined where it
        dominates the use (``dominating``: ids of the blocks dominating ``block``; ``None``
        when ``block`` is unreachable, where a definition anywhere will do)."""
        defs = self.defs
        values = inst.args
        if inst.targets:
            values = list(values)
            for t in inst.targets:
                if not isinstance(t, BlockCall):
                    return False
                values += t.args
        for v in values:
            if not isinstance(v, Value):
                continue
            d = defs.get(v.id)
            if d is None or d[0] is not v:
                return False
            if dominating is None:
                continue
            dblock = d[1]
            if dblock is block:
                if d[2] >= pos:
                    return False
            elif id(dblock) not in dominating:
                return False
        return True

    def report_uses(self, block: Block, pos: int, inst: Inst, dominating) -> None:
        """Report every use of ``inst`` that ``uses_dominated`` refused, each distinct
        (value, role) pair once."""
        uses = {(id(v), "operand"): v for v in inst.args}
        uses.update(((id(v), f"argument to {t.block.name}"), v) for t in inst.targets
                    if isinstance(t, BlockCall) for v in t.args)
        for (_, what), v in uses.items():
            if not isinstance(v, Value):
                continue
            d = self.defs.get(v.id)
            if d is None or d[0] is not v:
                self.report(block, inst, f"{what} v{v.id} is not defined in this region")
                continue
            if dominating is None:
                continue
            _, dblock, dpos = d
            if dblock is block:
                if dpos >= pos:
                    self.report(block, inst, f"{what} v{v.id} is used before its "
                                f"definition")
            elif id(dblock) not in dominating:
                self.report(block, inst, f"{what} v{v.id} (defined in {dblock.name}) does "
                            f"not dominate this use")


_CONTEXT_CHECKS = {
    "get": _RegionChecker.check_slot,
    "put": _RegionChecker.check_slot,
    "call": _RegionChecker.check_call,
    "call_fn": _RegionChecker.check_call_fn,
    "ret": _RegionChecker.check_ret,
    "exit": _RegionChecker.check_exit,
}


def _slot(what: str, i: int, v: Value) -> str:
    """How a message names operand or result ``i``: ``operand 2 (v7:i32)``."""
    return f"{what} {i + 1} (v{v.id}:{v.type})"


def _types(types) -> str:
    return ", ".join(map(str, types))


def _text(inst: Inst) -> str:
    try:
        return format_inst(inst)
    except (AttributeError, TypeError):          # malformed beyond printing
        return f"{inst.op} ..."
