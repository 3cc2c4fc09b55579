"""The shared, typed SSA IR: types, the opcode table, nodes, builder, printer, parser,
verifier and the reference interpreter."""

from .types import (ALL_TYPES, F32, F64, FLOAT_TYPES, I1, I8, I16, I32, I64, INT_TYPES,
                    Type, int_type, to_signed)
from .opcodes import OPS, OpDef, opdef
from .nodes import (Block, BlockCall, HelperSig, Inst, Module, Region, Slot, StateLayout,
                    Value, DEFAULT_NAN32, DEFAULT_NAN64)
from .builder import Builder
from .printer import format_inst, format_module, format_region
from .semantics import evaluate
from .parser import parse_module, parse_region
from .verifier import verify_module, verify_region
from .interp import Exit, Interpreter, InterpError, RegionExit

__all__ = [
    "ALL_TYPES", "F32", "F64", "FLOAT_TYPES", "I1", "I8", "I16", "I32", "I64", "INT_TYPES",
    "Type", "int_type", "to_signed", "OPS", "OpDef", "opdef", "Block", "BlockCall",
    "HelperSig", "Inst", "Module", "Region", "Slot", "StateLayout", "Value", "Builder",
    "format_inst", "format_module", "format_region", "DEFAULT_NAN32", "DEFAULT_NAN64",
    "evaluate", "parse_module", "parse_region", "verify_module", "verify_region", "Exit",
    "Interpreter", "InterpError", "RegionExit",
]
