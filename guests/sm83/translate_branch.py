"""Translators of the ``jump``, ``call``, ``ret`` and ``rst`` classes of the decoder table.

Each returns a ``Branch`` plan; the translator loop emits the control flow (``translator.
_branch``): the taken path -- which charges the extra cycles of a taken conditional branch --
and the not-taken one. The condition reads F before anything else of the instruction. CALL
and RST push the address of the next instruction, high byte first; RET and RETI pop the
target, low byte first; RETI also sets IME at once (Pan Docs "Interrupts": RETI is EI
followed by RET without EI's delay). JP HL jumps to HL (an ``indirect`` exit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from dynarec.ir.nodes import Value

from .arch import FLAGS


@dataclass
class Branch:
    """What a jump, call, return or RST translator decided. ``cond``: i1 Value (``None``:
    always taken). ``taken(e)``: emits the taken path's work (a call's pushes, a return's
    pops) and returns the target, a constant pc or an i16 Value. ``kind``: the exit kind;
    ``ret_pc``: where a call returns to."""

    cond: Optional[Value]
    taken: Callable
    kind: str = "jump"
    ret_pc: Optional[int] = None


def _condition(e, i) -> Optional[Value]:
    """The i1 condition of a conditional branch (NZ Z NC C), ``None`` for an unconditional
    one."""
    cond = i.row.cond
    if cond is None:
        return None
    flag = e.and_(e.get("f"), e.const(FLAGS[cond[-1]]))
    return e.is_zero(flag) if cond[0] == "N" else e.nonzero(flag)


def JP(e, i):
    if i.row.operands == ("HL",):
        return Branch(None, lambda e: e.pair("HL"), "indirect")
    return Branch(_condition(e, i), lambda e: i.imm)


def JR(e, i): return Branch(_condition(e, i), lambda e: i.target)


def _call(e, i, target: int) -> Branch:
    """Push the next instruction's address, then go to ``target``."""
    ret = i.next_pc

    def taken(e):
        e.push(e.const(ret >> 8), e.const(ret))
        return target

    return Branch(_condition(e, i), taken, "call", ret)


def CALL(e, i): return _call(e, i, i.imm)
def RST(e, i): return _call(e, i, i.row.vector)


def _pop_target(e):
    high, low = e.pop()
    return e.word(high, low)


def RET(e, i): return Branch(_condition(e, i), _pop_target, "return")


def RETI(e, i):
    def taken(e):
        e.sets_ime = True
        e.put("ime", e.const(1))
        return _pop_target(e)

    return Branch(None, taken, "return")


TRANSLATE = {name: fn for name, fn in globals().items() if name.isupper() and callable(fn)}
