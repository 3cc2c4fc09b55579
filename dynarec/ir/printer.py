"""The IR text form. ``dynarec.ir.parser`` reads exactly what this writes.

::

    state pc:i64 gpr:i64[32] hi:i64 lo:i64
    helper putc(i64) -> ()
    helper mix(i64, i64) -> (i64) pure

    region r80000400 block pc=0x80000400 endian=big nan32=0x7fc00000 nan64=0x7ff8000000000000 rounding=rne {
    block0:
        insn_start pc=0x80000400
        v0:i64 = get slot=gpr[4]
        v1:i64 = iconst value=1
        v2:i64 = add v0, v1
        v3:i1 = icmp v2, v1 cond=eq
        brif v3, block1(v2), block2
    block1(v4:i64):
        exit kind=jump pc=0x80000408
    block2:
        exit v0 kind=indirect
    }

An instruction is ``[results =] op [operands][, targets] [attr=value ...]``: results carry
their types, targets are ``blockN(args)`` (``br_table`` puts its case list in brackets after
the default), attributes appear in the table's order and are printed when they differ from
the table's default. Integers of 256 and over print in hex.
"""

from __future__ import annotations

from .opcodes import OPS
from .nodes import Block, BlockCall, Inst, Module, Region, StateLayout

INDENT = "    "


def format_int(v: int) -> str:
    """Decimal below 256 in magnitude, hex above (``-0x10`` for negatives)."""
    if -256 < v < 256:
        return str(v)
    return f"-{-v:#x}" if v < 0 else f"{v:#x}"


def format_attrs(op: str, attrs: dict) -> str:
    row = OPS.get(op)
    parts = []
    if row is None:
        items = list(attrs.items())
    else:
        items = []
        for a in row.attrs:
            if a.name in attrs and (a.default is None or attrs[a.name] != a.default):
                items.append((a.name, attrs[a.name]))
        items += [(k, v) for k, v in attrs.items() if k not in {a.name for a in row.attrs}]
    for k, v in items:
        parts.append(f"{k}={format_int(v) if isinstance(v, int) else v}")
    return " ".join(parts)


def _target(t: BlockCall) -> str:
    if not t.args:
        return t.block.name
    return f"{t.block.name}({', '.join(str(a) for a in t.args)})"


def format_inst(inst: Inst) -> str:
    """One instruction in the text form (no indentation)."""
    text = ""
    if inst.results:
        text = ", ".join(f"v{r.id}:{r.type}" for r in inst.results) + " = "
    text += inst.op
    operands = [str(a) for a in inst.args]
    if inst.op == "br_table" and inst.targets:
        operands.append(_target(inst.targets[0]))
        operands.append("[" + ", ".join(_target(t) for t in inst.targets[1:]) + "]")
    else:
        operands += [_target(t) for t in inst.targets]
    if operands:
        text += " " + ", ".join(operands)
    attrs = format_attrs(inst.op, inst.attrs)
    if attrs:
        text += " " + attrs
    return text


def format_block(block: Block) -> str:
    head = block.name
    if block.params:
        head += "(" + ", ".join(f"v{p.id}:{p.type}" for p in block.params) + ")"
    lines = [head + ":"]
    lines += [INDENT + format_inst(i) for i in block.insts]
    return "\n".join(lines)


def format_region(region: Region) -> str:
    """The whole region, header line to closing brace."""
    head = f"region {region.name} {region.kind}"
    if region.kind == "function":
        head += " (" + ", ".join(map(str, region.params)) + ") -> (" + \
            ", ".join(map(str, region.results)) + ")"
    else:
        head += f" pc={format_int(region.pc)}"
    for k, v in region.attrs.items():
        head += f" {k}={format_int(v) if isinstance(v, int) else v}"
    return "\n".join([head + " {"] + [format_block(b) for b in region.blocks] + ["}"])


def format_state(state: StateLayout) -> str:
    parts = []
    for s in state.slots.values():
        parts.append(f"{s.name}:{s.type}" + (f"[{s.count}]" if s.count != 1 else ""))
    return "state " + " ".join(parts)


def format_module(module: Module) -> str:
    """State line, helper declarations, then every region, separated by blank lines."""
    lines = []
    if module.state.slots:
        lines.append(format_state(module.state))
    for h in module.helpers.values():
        lines.append(f"helper {h.name}(" + ", ".join(map(str, h.params)) + ") -> (" +
                     ", ".join(map(str, h.results)) + ")" + (" pure" if h.pure else ""))
    out = "\n".join(lines)
    for r in module.regions.values():
        out += ("\n\n" if out else "") + format_region(r)
    return out + "\n"
