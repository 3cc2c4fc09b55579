"""Translators of the ``jump`` and ``branch`` classes of the decoder table.

Each returns a ``Branch`` plan; the translator loop emits the delay slot, the taken edge
and the not-taken path. Conditions and targets are computed here, before the slot runs (the
slot may change the registers they read), and link registers are written here too, so the
slot sees them (VR4300 manual chapter 16: the link address is the address after the delay
slot, PC + 8). Branch targets are PC + 4 + (sign-extended offset << 2); J/JAL keep the upper
four bits of the delay slot's address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

from dynarec.ir.nodes import Value

from .arch import MASK64, RA


@dataclass
class Branch:
    """What a branch or jump translator decided (the loop then emits the slot and exits):
    ``cond`` (i1 Value, ``None``: always taken), ``target`` (a constant pc or an i64 Value),
    ``kind`` of the taken exit, ``likely`` (the slot runs only when taken)."""

    cond: Optional[Value]
    target: Union[int, Value]
    kind: str = "jump"
    likely: bool = False


def _link(e, n=RA):
    e.set_gpr(n, e.const(e.pc + 8))


def _target(e, i) -> int:
    return (e.pc + 4 + (i.simm << 2)) & MASK64


def _jump_target(e, i) -> int:
    return ((e.pc + 4) & ~0x0FFF_FFFF | i.target << 2) & MASK64


def J(e, i): return Branch(None, _jump_target(e, i))


def JAL(e, i):
    _link(e)
    return Branch(None, _jump_target(e, i), "call")


def JR(e, i): return Branch(None, e.gpr(i.rs), "return" if i.rs == RA else "indirect")


def JALR(e, i):
    target = e.gpr(i.rs)                 # read before the link write: rd may equal rs
    _link(e, i.rd)
    return Branch(None, target, "call")


def _compare(e, i, cond, kind="jump"):
    """Branch on ``icmp cond`` of rs against rt (two-register forms) or against zero. A
    register compared with itself for ``eq``/``sle``/``sge`` always holds (the assembler's
    ``b`` is ``beq $0, $0``, its ``bal`` is ``bgezal $0``): that branch is unconditional --
    and a likely form then always runs its slot -- so the region ends there instead of
    going on along a path never taken."""
    two_registers = i.mnemonic.startswith(("BEQ", "BNE"))
    if cond in ("eq", "sle", "sge") and i.rs == (i.rt if two_registers else 0):
        return Branch(None, _target(e, i), kind)
    other = e.gpr(i.rt) if two_registers else e.const(0)
    return Branch(e.b.icmp(e.gpr(i.rs), other, cond=cond), _target(e, i), kind, i.row.likely)


def BEQ(e, i): return _compare(e, i, "eq")
def BNE(e, i): return _compare(e, i, "ne")
def BLEZ(e, i): return _compare(e, i, "sle")
def BGTZ(e, i): return _compare(e, i, "sgt")
def BLTZ(e, i): return _compare(e, i, "slt")
def BGEZ(e, i): return _compare(e, i, "sge")


BEQL, BNEL, BLEZL, BGTZL, BLTZL, BGEZL = BEQ, BNE, BLEZ, BGTZ, BLTZ, BGEZ


def BLTZAL(e, i):
    plan = _compare(e, i, "slt", "call")     # the condition reads rs before $ra is written
    _link(e)
    return plan


def BGEZAL(e, i):
    plan = _compare(e, i, "sge", "call")
    _link(e)
    return plan


BLTZALL, BGEZALL = BLTZAL, BGEZAL

TRANSLATE = {name: fn for name, fn in globals().items() if name.isupper() and callable(fn)}
