"""Builder: the way frontends and tests write IR.

::

    m = Module(state=StateLayout([Slot("pc", I64), Slot("gpr", I64, 32)]))
    r = m.add(Region("r0", pc=0x1000))
    b = Builder(r, m)
    b.insn_start(pc=0x1000)
    x = b.get("gpr[4]")
    y = b.add(x, b.iconst(I64, 1))
    b.put("gpr[2]", y)
    b.exit(pc=0x1004)

Every op of the table is a method: ``b.<op>(*operands, **attrs)`` appends it at the current
block and returns its single result, a tuple of results, or ``None``. Result types follow from
the table; where they do not (constants, loads, conversions), pass the type first:
``b.iconst(I32, 7)``, ``b.load(I32, addr)``, ``b.sext(I64, v)``. Float arithmetic takes
``flags=True`` to add its optional exception-flags result. Terminators take targets as
``(block, [args])`` tuples or bare blocks. Errors in use raise ``IRError`` naming the op.
"""

from __future__ import annotations

from typing import Optional, Sequence

from ..errors import IRError
from .nodes import Block, BlockCall, Inst, Module, Region, Value
from .opcodes import OPS, TYPE_CLASSES
from .types import Type

_LEADING_TYPE_OPS = {"iconst", "fconst", "load", "sext", "zext", "trunc", "fcvt_from_sint",
                     "fcvt_from_uint", "fcvt_to_sint", "fcvt_to_uint", "fpromote", "fdemote",
                     "bitcast"}
_LEADING_ATTR = {"iconst": "value", "fconst": "bits", "icmp": "cond", "fcmp": "cond",
                 "get": "slot", "put": "slot", "call": "helper", "call_fn": "fn"}


class Builder:
    """Appends instructions to ``region`` (at ``self.block``); ``module`` supplies the state
    layout (types of ``get``) and the helper / function signatures (results of ``call`` /
    ``call_fn``)."""

    def __init__(self, region: Region, module: Optional[Module] = None):
        self.region = region
        self.module = module
        self.block: Optional[Block] = None
        self._names: set = set()            # block names of the region, as of _names_for
        self._names_for = -1                # ... blocks (new_block's O(1) name check)
        self._consts: dict = {}             # (block, type, value) -> its iconst Value
        if not region.blocks:
            params = list(region.params) if region.kind == "function" else []
            self.block = self.new_block(params)
        else:
            self.block = region.blocks[-1]

    # --- blocks ---------------------------------------------------------------------------

    def new_block(self, param_types: Sequence[Type] = ()) -> Block:
        """Append a new block with parameters of the given types (does not switch to it)."""
        blocks = self.region.blocks
        if self._names_for != len(blocks):         # blocks added or dropped elsewhere
            self._names = {b.name for b in blocks}
        n = len(blocks)
        while f"block{n}" in self._names:
            n += 1
        blk = Block(f"block{n}")
        blk.params = [self.region.new_value(t, block=blk) for t in param_types]
        blocks.append(blk)
        self._names.add(blk.name)
        self._names_for = len(blocks)
        return blk

    def switch_to(self, block: Block) -> None:
        """Make ``block`` the insertion point."""
        self.block = block

    @property
    def terminated(self) -> bool:
        return self.block is not None and self.block.terminator is not None

    # --- generic emission -----------------------------------------------------------------

    def emit(self, op: str, args: Sequence[Value] = (), attrs: Optional[dict] = None,
             result_types: Optional[Sequence[Type]] = None, targets: Sequence = ()):
        """Append ``op`` and return its result(s). ``result_types`` overrides inference."""
        row = OPS.get(op)
        if row is None:
            raise IRError(f"unknown op {op!r}")
        if self.block is None:
            raise IRError(f"{op}: no current block")
        if self.block.terminator is not None:
            raise IRError(f"{op}: block {self.block.name} is already terminated")
        for a in args:
            if not isinstance(a, Value):
                raise IRError(f"{op}: operand {a!r} is not a Value")
        attrs = dict(attrs or {})
        for a in row.attrs:
            if a.name not in attrs:
                if a.default is None:
                    raise IRError(f"{op}: missing attribute {a.name!r}")
                attrs[a.name] = a.default
        if result_types is None:
            result_types = self._infer(op, row, list(args), attrs)
        inst = Inst(op, list(args), [], attrs, [self._target(t) for t in targets], self.block)
        inst.results = [self.region.new_value(t, inst) for t in result_types]
        self.block.insts.append(inst)
        if not inst.results:
            return None
        return inst.results[0] if len(inst.results) == 1 else tuple(inst.results)

    def _target(self, t) -> BlockCall:
        if isinstance(t, BlockCall):
            return t
        if isinstance(t, Block):
            return BlockCall(t, [])
        block, args = t
        return BlockCall(block, list(args))

    def _infer(self, op, row, args, attrs, flags=False, explicit=None):
        tvar = explicit
        if tvar is None:
            for spec, a in zip(row.args, args):
                if spec == "T":
                    tvar = a.type
                    break
        if op == "get":
            if self.module is None:
                raise IRError("get: the builder needs a module to know slot types")
            return [self.module.state.type(attrs["slot"])]
        if op in ("call", "call_fn"):
            return list(self._callee_results(op, attrs))
        out = []
        for spec in row.results:
            if spec.startswith("?"):
                if flags:
                    out.append(Type.parse(spec[1:]))
                continue
            if spec == "T":
                if tvar is None:
                    raise IRError(f"{op}: give the result type first, e.g. b.{op}(I32, ...)")
                if tvar not in TYPE_CLASSES[row.types]:
                    raise IRError(f"{op}: type {tvar} is not allowed (needs {row.types})")
                out.append(tvar)
            elif spec in ("X", "I", "F", "*"):
                raise IRError(f"{op}: result type cannot be inferred")
            else:
                out.append(Type.parse(spec))
        return out

    def _callee_results(self, op, attrs):
        if self.module is None:
            raise IRError(f"{op}: the builder needs a module to know callee signatures")
        if op == "call":
            sig = self.module.helpers.get(attrs["helper"])
            if sig is None:
                raise IRError(f"call: no helper named {attrs['helper']!r} in the module")
            return sig.results
        fn = self.module.regions.get(attrs["fn"])
        if fn is None:
            raise IRError(f"call_fn: no function region named {attrs['fn']!r}")
        return fn.results

    def iconst(self, vtype: Type, value: int) -> Value:
        """The integer constant ``value`` of ``vtype``: one ``iconst`` per block for each
        (type, value), reused by later requests in the same block (constants are pure, and
        an earlier instruction of the block dominates the later ones), so frontends may ask
        freely without growing the region."""
        key = (self.block, vtype, value)
        found = self._consts.get(key)
        if found is None or self.block.terminator is not None:
            found = self._consts[key] = self._new_iconst(vtype, value)
        return found

    def __getattr__(self, op: str):
        """``b.<op>(...)`` for every op of the table: made on first use and kept on the class,
        so later calls are plain method calls."""
        if op not in OPS:
            raise AttributeError(op)
        method = self._op_method(op)
        setattr(type(self), op, method)
        return method.__get__(self)

    @staticmethod
    def _op_method(op: str):
        row = OPS[op]

        def method(self, *operands, flags: bool = False, **attrs):
            operands = list(operands)
            explicit = None
            if op in _LEADING_TYPE_OPS or (op == "load"):
                if not operands or not isinstance(operands[0], Type):
                    raise IRError(f"{op}: pass the result type first")
                explicit = operands.pop(0)
            if op in _LEADING_ATTR and operands and not isinstance(operands[0], Value):
                attrs[_LEADING_ATTR[op]] = operands.pop(0)
            targets = []
            if row.is_terminator:
                while operands and not isinstance(operands[-1], Value):
                    targets.insert(0, operands.pop())
                if op == "br_table" and len(targets) == 2 and isinstance(targets[1], list):
                    targets = [targets[0]] + list(targets[1])
            full = {}
            for a in row.attrs:
                full[a.name] = attrs.get(a.name, a.default)
            full.update(attrs)
            types = None if op in ("get", "call", "call_fn") else \
                self._infer(op, row, operands, full, flags, explicit)
            return self.emit(op, operands, attrs, types, targets)

        method.__name__ = op
        method.__doc__ = row.doc
        return method


#: the plain ``iconst`` emitter behind ``Builder.iconst``'s reuse
Builder._new_iconst = Builder._op_method("iconst")
