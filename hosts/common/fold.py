"""Selection decisions taken before register allocation: which values need no location of
their own because every user absorbs them into its own instructions.

Three kinds, each decided from the users' rules (``codegen.Rule``) alone:

* an ``iconst`` whose every use is an operand position whose rule takes an immediate there
  (``Rule.imm``), with a value the instruction can encode (the host's ``fits(value, bits)``,
  or any value where ``Rule.wide``), or a branch argument (edge moves load any constant): it
  becomes an ``Imm`` and emits nothing;
* a ``trunc`` to 8 bits or more whose every use is a position whose rule reads only the low
  bits of its operand's type (``Rule.low``): it becomes a *view* of the value it truncates
  (chains resolve to the first non-view) and emits nothing;
* an ``icmp`` whose only use is operand 0 of a rule with ``Rule.cc`` (``brif``, ``select``) in
  the same block: the user emits the compare itself and consumes the flags (compare-and-branch
  fusion); the ``icmp``'s operands are read at the user.

Cranelift's lowering sinks an instruction into its only user in the same spirit (its
``put_input_in_regmem``/``sink_inst``); here the decision is per value and made up front so
that the allocator sees the real uses. Shared by every host: a host's ``Rule`` only needs the
attributes ``imm``, ``wide``, ``low`` and ``cc``.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing import Callable


@dataclass
class Selection:
    """The decisions for one region (keys are ``Value``/``Inst`` objects by identity).

    ``imm``: Value -> its bit pattern (an ``Imm`` operand). ``alias``: view Value -> the Value
    whose location holds it. ``fused``: icmp result -> the ``icmp`` Inst its user emits.
    ``folded``: ids of the instructions that emit nothing. ``replace``: every folded Value ->
    the Values with a location a use of it reads (none for a constant, the viewed value for a
    view, the operands for a fused compare).
    """

    imm: dict
    alias: dict
    fused: dict
    folded: set
    replace: dict

    def uses(self, inst) -> list:
        """The Values with a location ``inst`` reads: operands, then branch arguments, with
        folded ones replaced."""
        values = inst.args
        if inst.targets:
            values = values + [a for t in inst.targets for a in t.args]
        replace = self.replace
        if not replace:
            return values
        out = []
        for a in values:
            r = replace.get(a)
            if r is None:
                out.append(a)
            else:
                out.extend(r)
        return out


_CANDIDATES = frozenset({"iconst", "trunc", "icmp"})


def select(order: list, rules: dict, fits: Callable[[int, int], bool]) -> Selection:
    """Decide for the blocks ``order`` (emission order, definitions before uses) with
    ``rules`` (op name -> ``Rule``) and ``fits(value, bits)`` (whether the ``bits``-wide
    pattern ``value`` can be an immediate where a rule is not ``wide``). Ops without a rule
    are left alone (the code generator reports them)."""
    # candidate Value -> [defining Inst, its Block, every use fits so far, uses, last use]
    cands: dict = {}
    for block in order:
        for inst in block.insts:
            rule = rules.get(inst.op)
            for pos, a in enumerate(inst.args):
                c = cands.get(a)
                if c is not None:
                    c[3] += 1
                    c[4] = (inst, pos, block)
                    if c[2]:
                        c[2] = _fits(c[0], a, rule, pos, fits)
            for t in inst.targets:
                for a in t.args:
                    c = cands.get(a)
                    if c is not None:
                        c[3] += 1
                        c[4] = (inst, -1, block)
                        c[2] = c[2] and c[0].op == "iconst"   # edge moves load constants
            if inst.op in _CANDIDATES:
                cands[inst.results[0]] = [inst, block, True, 0, None]
    imm, alias, fused, folded = {}, {}, {}, set()
    replace: dict = {}            # folded Value -> the Values with a location it stands for
    for v, (inst, block, ok, count, last) in cands.items():
        op = inst.op
        if op == "iconst":
            if ok:
                imm[v] = inst.attrs["value"] & v.type.mask
                replace[v] = ()
        elif op == "trunc":
            if ok and v.type.bits >= 8:
                src = inst.args[0]
                alias[v] = alias.get(src, src)
                replace[v] = (alias[v],)
        elif count == 1 and last[1] == 0 and last[2] is block:     # icmp
            rule = rules.get(last[0].op)
            if rule is not None and rule.cc:
                fused[v] = inst
                replace[v] = tuple(w for a in inst.args for w in replace.get(a, (a,)))
        if v in replace:
            folded.add(id(inst))
    return Selection(imm, alias, fused, folded, replace)


def _fits(inst, v, rule, pos: int, fits) -> bool:
    """Whether the use of candidate ``v`` (defined by ``inst``) as operand ``pos`` of an op
    with ``rule`` lets it fold: an immediate the rule takes there, a low-bits read."""
    if rule is None:
        return False
    if inst.op == "iconst":
        return _takes_imm(rule, pos, inst.attrs["value"] & v.type.mask, v.type.bits, fits)
    if inst.op == "trunc":
        return pos in rule.low
    return True                   # icmp: decided from its only use


def _takes_imm(rule, pos: int, value: int, bits: int, fits) -> bool:
    if not (rule.imm == "all" or pos in rule.imm):
        return False
    return rule.wide or fits(value, bits)
