"""Constant folding and exact algebraic simplification ("constfold").

Walks the region in reverse postorder (definitions before uses), so what one instruction
folds to is known when its users are visited, and rewrites as it goes:

* A pure op whose operands are all ``iconst``/``fconst`` becomes constants, computed by
  ``dynarec.ir.semantics.evaluate`` -- the definition the interpreter and every backend are
  tested against, so folding cannot disagree with them. Every result is folded, the optional
  float exception-flags result included (``evaluate`` returns it too).
* Integer identities that hold for every input (nothing here touches floats: ``x + 0.0`` is
  not ``x`` for ``x = -0.0``): ``x+0``, ``x-0``, ``x*1``, ``x|0``, ``x^0``, ``x&-1``, ``x&x``,
  ``x|x``, shifts and rotates by 0, ``x/1`` give ``x``; ``x*0``, ``x&0``, ``x-x``, ``x^x``,
  ``x%1`` give 0; ``x|-1`` gives -1; ``icmp`` of a value with itself gives its truth value;
  ``not(not x)``, ``neg(neg x)`` and ``trunc(zext/sext x)`` back to ``x``'s type give ``x``;
  ``select`` on a constant condition gives the operand chosen.
* ``brif`` on a constant, or with two identical targets, and ``br_table`` on a constant become
  ``br``.

An instruction replaced by an existing value is deleted; one folded to constants is rewritten
into ``iconst``/``fconst`` defining the same result values.
"""

from __future__ import annotations

from typing import Optional

from ..ir.nodes import BlockCall, Inst, Module, Region, Value
from ..ir.opcodes import OPS
from ..ir.semantics import evaluate
from .analysis import CFG, CONST_OPS, PURE_OPS, Substitution, const_value

_FOLDABLE = PURE_OPS - CONST_OPS
_DEFAULTS = {name: {a.name: a.default for a in row.attrs if a.default is not None}
             for name, row in OPS.items() if row.attrs}
_SHIFTS = frozenset({"shl", "lshr", "ashr", "rotl", "rotr"})
_ICMP_REFLEXIVE = {"eq": 1, "ne": 0, "slt": 0, "sle": 1, "sgt": 0, "sge": 1,
                   "ult": 0, "ule": 1, "ugt": 0, "uge": 1}


def run(region: Region, module: Module) -> int:
    """Fold constants and simplify identities in ``region`` in place; return how many
    instructions were folded, simplified or turned into ``br``."""
    cfg = CFG(region)
    subst = Substitution()
    changes = 0
    for block in cfg.order:
        out = []
        for inst in block.insts:
            subst.rewrite(inst)
            op = inst.op
            if op in _FOLDABLE:
                consts = [const_value(a) for a in inst.args]
                if None not in consts:
                    out.extend(_fold(inst, consts, region))
                    changes += 1
                    continue
                simple = _simplify(inst, consts)
                if simple is not None:
                    changes += 1
                    if isinstance(simple, Value):
                        subst[inst.results[0]] = simple
                        continue
                    _make_const(inst, inst.results[0], simple)
            elif op == "brif" or op == "br_table":
                target = _branch_target(inst)
                if target is not None:
                    inst.op, inst.args, inst.targets, inst.attrs = "br", [], [target], {}
                    changes += 1
            out.append(inst)
        block.insts = out
    return changes


def _fold(inst: Inst, consts: list, region: Region) -> list:
    """Constant instructions defining ``inst``'s results (``inst`` itself is reused for the
    first)."""
    attrs = inst.attrs
    defaults = _DEFAULTS.get(inst.op)
    if defaults:
        attrs = {**defaults, **attrs}
    bits = evaluate(inst.op, consts, [a.type for a in inst.args],
                    [r.type for r in inst.results], attrs, region.attrs)
    results = inst.results
    out = [_make_const(inst, results[0], bits[0])]
    for value, pattern in zip(results[1:], bits[1:]):
        out.append(_make_const(Inst("iconst", [], [], block=inst.block), value, pattern))
    return out


def _make_const(inst: Inst, value: Value, pattern: int) -> Inst:
    """Turn ``inst`` into the constant ``pattern`` of ``value``'s type, defining ``value``."""
    if value.type.is_float:
        inst.op, inst.attrs = "fconst", {"bits": pattern}
    else:
        inst.op, inst.attrs = "iconst", {"value": pattern}
    inst.args, inst.results = [], [value]
    value.defn = inst
    return inst


def _simplify(inst: Inst, consts: list):
    """The Value ``inst``'s single result always equals, or the int constant it always equals,
    or ``None``. ``consts`` holds the operands' constant bit patterns (``None`` if not
    constant)."""
    op, args = inst.op, inst.args
    if op == "select":
        c = consts[0]
        return None if c is None else (args[1] if c else args[2])
    if len(args) == 1:
        inner = args[0].defn
        if inner is None:
            return None
        if op in ("not", "neg") and inner.op == op:
            return inner.args[0]
        if op == "trunc" and inner.op in ("zext", "sext") \
                and inner.args[0].type is inst.results[0].type:
            return inner.args[0]
        return None
    if len(args) != 2 or len(inst.results) != 1:
        return None
    a, b = args
    ca, cb = consts
    mask = inst.results[0].type.mask
    if op in ("add", "or", "xor"):
        if cb == 0:
            return a
        if ca == 0:
            return b
    if op in ("and", "or") and a is b:
        return a
    if op == "and":
        if cb == mask:
            return a
        if ca == mask:
            return b
        if ca == 0 or cb == 0:
            return 0
    elif op == "or":
        if ca == mask or cb == mask:
            return mask
    elif op == "xor":
        if a is b:
            return 0
    elif op == "sub":
        if a is b:
            return 0
        if cb == 0:
            return a
    elif op == "mul":
        if cb == 1:
            return a
        if ca == 1:
            return b
        if ca == 0 or cb == 0:
            return 0
    elif op in ("sdiv", "udiv"):
        if cb == 1:
            return a
    elif op in ("srem", "urem"):
        if cb == 1:
            return 0
    elif op in _SHIFTS:
        if cb == 0:
            return a
    elif op == "icmp":
        if a is b:
            return _ICMP_REFLEXIVE[inst.attrs["cond"]]
    return None


def _branch_target(inst: Inst) -> Optional[BlockCall]:
    """The one target a ``brif``/``br_table`` always takes, or ``None``."""
    targets = inst.targets
    c = const_value(inst.args[0])
    if inst.op == "brif":
        if c is not None:
            return targets[0] if c else targets[1]
        t, e = targets
        if t.block is e.block and len(t.args) == len(e.args) and \
                all(x is y for x, y in zip(t.args, e.args)):
            return t
        return None
    if c is None:
        return None
    cases = targets[1:]
    return cases[c] if c < len(cases) else targets[0]
