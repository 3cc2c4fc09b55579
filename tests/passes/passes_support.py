"""Shared set-up for the pass tests: a small guest module, a printer of a region's blocks, and
running one pass followed by the verifier."""

from __future__ import annotations

import textwrap

from dynarec.ir import I32, I64, F64, Builder, HelperSig, Module, Region, Slot, StateLayout
from dynarec.ir.printer import format_block
from dynarec.ir.verifier import verify_region
from dynarec.passes import PASSES

STATE = [Slot("pc", I64), Slot("r", I32, 8), Slot("x", I64), Slot("f", F64)]
HELPERS = [HelperSig("mmio", (I32,), (I32,)),            # has effects
           HelperSig("mix", (I32, I32), (I32,), pure=True)]


def new_module() -> Module:
    return Module(state=StateLayout(STATE), helpers={h.name: h for h in HELPERS})


def new_region(kind: str = "block", params=(), results=(), pc: int = 0x1000):
    """``(module, region, builder)`` for a fresh region named ``r``."""
    module = new_module()
    region = module.add(Region("r", kind=kind, pc=pc, params=list(params),
                               results=list(results)))
    return module, region, Builder(region, module)


def body(region: Region) -> str:
    """The region's blocks in the text form (no header line, no closing brace)."""
    return "\n".join(format_block(b) for b in region.blocks)


def expect(text: str) -> str:
    """Hand-written expected text, dedented and stripped."""
    return textwrap.dedent(text).strip("\n")


def apply(name: str, region: Region, module: Module) -> int:
    """Run pass ``name`` on ``region``, verify the result, return the pass's change count."""
    verify_region(region, module)
    changes = PASSES[name].run(region, module)
    verify_region(region, module)
    return changes
