"""The IR opcode table: one row per operation.

Everything that knows about operations reads this table: the builder (result types), the
verifier (operand and result types, attributes), the printer and parser (attribute order and
kinds), the IR interpreter (``dynarec.ir.interp`` implements each row's semantics) and every
backend (each host's lowering rules cover every row; a test checks that). Adding an operation
is one row here plus its semantics in the interpreter and one lowering rule per host.

Signature letters (operands and results):

``T``   the row's controlling type; all ``T`` positions have the same type, drawn from the
        row's ``types`` class (``INT``, ``FLOAT`` or ``ANY``).
``I``   any integer type, independent of ``T``;  ``F`` any float type;  ``X`` any type.
``i1`` .. ``f64``  exactly that type.
``*``   (last position only) any number of values of any type.
``?``   prefix on a result: optional (e.g. the FP exception flags of float arithmetic).

Semantics that hold on every host (the interpreter is the definition):

* Integer division by zero: ``udiv x, 0 = all ones``, ``sdiv x, 0 = -1``, ``urem x, 0 = x``,
  ``srem x, 0 = x``; ``sdiv MIN, -1 = MIN`` and ``srem MIN, -1 = 0`` (the RISC-V choices, RISC-V
  ISA manual vol. I, "M" extension, table 7.1). Division truncates toward zero.
* Shifts read their count (any integer type) as unsigned; ``shl``/``lshr`` by a count ``>=``
  the width give 0, ``ashr`` gives the sign fill; ``rotl``/``rotr`` rotate by ``count mod width``.
* ``clz``/``ctz`` of 0 give the width.
* Float results that are NaN are the region's default NaN (``nan32``/``nan64`` region
  attributes, declared by the guest) -- except ``fabs``, ``fneg``, ``bitcast``, ``select`` and
  moves, which are bit operations (IEEE 754-2019 section 5.5.1) and keep payloads.
* ``fmin``/``fmax``: NaN if either operand is NaN; otherwise -0.0 < +0.0 (IEEE 754-2019
  ``minimum``/``maximum``, section 9.6).
* Float -> int conversions saturate: NaN gives 0, out-of-range values give the type's MIN or
  MAX. They round as their ``rounding`` attribute says (default ``rtz``).
* Float arithmetic rounds per the region's ``rounding`` attribute (``rne``, ``rtz``, ``rup``,
  ``rdn``); subnormals are kept (no flush to zero).
* The optional ``flags`` result of float arithmetic is an ``i8`` of IEEE exception flags:
  bit 0 invalid, bit 1 divide-by-zero, bit 2 overflow, bit 3 underflow (tiny after rounding and
  inexact), bit 4 inexact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from .types import FLOAT_TYPES, INT_TYPES, ALL_TYPES, Type

# --- flags -----------------------------------------------------------------------------------

PURE = "pure"                # no side effect: may be folded, deduplicated, deleted when unused
TERMINATOR = "terminator"    # ends a block
READS_STATE = "reads_state"
WRITES_STATE = "writes_state"
READS_MEM = "reads_mem"
WRITES_MEM = "writes_mem"
LEAVES = "leaves"            # control may leave generated code here: a precise-state point
MAY_TRAP = "may_trap"        # may end the region with a guest exception
MARKER = "marker"            # bookkeeping only (insn_start)
CALL = "call"                # clobbers the host's caller-saved registers
# (load/store are not CALL: their slow path lives in far code that preserves every register)

INT = "int"
FLOAT = "float"
ANY = "any"
INT_WIDE = "int_wide"        # integer types of 8 bits or more

TYPE_CLASSES = {
    INT: INT_TYPES,
    FLOAT: FLOAT_TYPES,
    ANY: ALL_TYPES,
    INT_WIDE: tuple(t for t in INT_TYPES if t.bits >= 8),
}

# --- attribute kinds -------------------------------------------------------------------------

ICMP_CONDS = ("eq", "ne", "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge")
FCMP_CONDS = ("oeq", "one", "olt", "ole", "ogt", "oge", "ord",
              "ueq", "une", "ult", "ule", "ugt", "uge", "uno")
ROUNDING_MODES = ("rne", "rtz", "rup", "rdn")
#: ``exit`` kinds. The first four lead to other code; ``halt`` (a halt point, e.g. the
#: command-line tools' ``--until``) and ``breakpoint`` stop the run (``dynarec.context.
#: exit_reason``).
EXIT_KINDS = ("jump", "call", "return", "indirect", "halt", "breakpoint")

# attribute kind -> allowed values (a tuple) or the Python type of the value
ATTR_KINDS: dict[str, object] = {
    "int": int,          # any integer (printed in decimal, or hex when large)
    "name": str,         # an identifier: helper, function region, state slot
    "icmp": ICMP_CONDS,
    "fcmp": FCMP_CONDS,
    "rounding": ROUNDING_MODES,
    "exit": EXIT_KINDS,
}

FP_FLAG_INVALID = 1
FP_FLAG_DIVZERO = 2
FP_FLAG_OVERFLOW = 4
FP_FLAG_UNDERFLOW = 8
FP_FLAG_INEXACT = 16


@dataclass(frozen=True)
class Attr:
    """One immediate attribute of an op: ``name``, ``kind`` (key of ``ATTR_KINDS``) and a
    default (``None``: required)."""

    name: str
    kind: str
    default: object = None


@dataclass(frozen=True)
class OpDef:
    """One row of the opcode table.

    ``args``/``results`` are signature letters (see the module docstring); ``types`` is the
    class ``T`` is drawn from; ``attrs`` are the immediate attributes in print order;
    ``targets`` is how many block targets a terminator takes (``-1``: a list, for
    ``br_table``); ``extra`` is an additional type rule ``(arg_types, result_types) -> error
    message or None`` for conversions; ``doc`` is one line of semantics.
    """

    name: str
    args: tuple[str, ...]
    results: tuple[str, ...]
    types: str = ANY
    flags: frozenset = frozenset()
    attrs: tuple[Attr, ...] = ()
    targets: int = 0
    extra: Optional[Callable[[list, list], Optional[str]]] = None
    doc: str = ""

    def has(self, flag: str) -> bool:
        """True if the row carries ``flag``."""
        return flag in self.flags

    @property
    def is_terminator(self) -> bool:
        return TERMINATOR in self.flags

    @property
    def is_pure(self) -> bool:
        return PURE in self.flags

    @property
    def variadic(self) -> bool:
        return bool(self.args) and self.args[-1] == "*"

    def attr(self, name: str) -> Attr:
        for a in self.attrs:
            if a.name == name:
                return a
        raise KeyError(name)


# --- extra type rules for conversions --------------------------------------------------------

def _wider(args, results):
    if results[0].bits <= args[0].bits:
        return f"result {results[0]} must be wider than operand {args[0]}"
    return None


def _narrower(args, results):
    if results[0].bits >= args[0].bits:
        return f"result {results[0]} must be narrower than operand {args[0]}"
    return None


def _same_width(args, results):
    a, r = args[0], results[0]
    if a.bits != r.bits or a.is_float == r.is_float or a.bits < 32:
        return f"bitcast needs i32<->f32 or i64<->f64, not {a} -> {r}"
    return None


def _f32_to_f64(args, results):
    if args[0] is not Type.F32 or results[0] is not Type.F64:
        return f"fpromote takes f32 to f64, not {args[0]} -> {results[0]}"
    return None


def _f64_to_f32(args, results):
    if args[0] is not Type.F64 or results[0] is not Type.F32:
        return f"fdemote takes f64 to f32, not {args[0]} -> {results[0]}"
    return None


def _wide_int_arg(args, results):
    if args[0].bits < 8:
        return f"operand must be i8..i64, not {args[0]}"
    return None


def _wide_int_result(args, results):
    if results[0].bits < 8:
        return f"result must be i8..i64, not {results[0]}"
    return None


def _bswap_type(args, results):
    if args[0].bits < 16:
        return f"bswap takes i16, i32 or i64, not {args[0]}"
    return None


# --- the table -------------------------------------------------------------------------------

_P = frozenset({PURE})
_T = frozenset({TERMINATOR})
_R = (Attr("rounding", "rounding", "rtz"),)


def _sig(spec) -> tuple:
    """``"TT"`` -> ``("T", "T")``; ``"i1"`` -> ``("i1",)``; lists pass through."""
    if isinstance(spec, str):
        return (spec,) if spec[:1].islower() or spec[:1] == "?" else tuple(spec)
    return tuple(spec)


def _row(name, args, results, types=ANY, flags=_P, attrs=(), targets=0, extra=None, doc=""):
    return OpDef(name, _sig(args), _sig(results), types, frozenset(flags), tuple(attrs),
                 targets, extra, doc)


def _binary(names, types, doc):
    return [_row(n, "TT", "T", types, doc=f"{n}: {doc}") for n in names]


def _unary(names, types, doc, results="T", extra=None):
    return [_row(n, "T", results, types, extra=extra, doc=f"{n}: {doc}") for n in names]


ROWS: list[OpDef] = [
    # constants
    _row("iconst", "", "T", INT, attrs=[Attr("value", "int")],
         doc="integer constant; value is taken modulo 2**bits"),
    _row("fconst", "", "T", FLOAT, attrs=[Attr("bits", "int")],
         doc="float constant given by its raw IEEE 754 bit pattern"),
    # guest state
    _row("get", "", "X", flags=[READS_STATE], attrs=[Attr("slot", "name")],
         doc="read a typed slot of the guest state struct"),
    _row("put", "X", "", flags=[WRITES_STATE], attrs=[Attr("slot", "name")],
         doc="write a typed slot of the guest state struct"),
    # guest memory
    _row("load", "I", "T", INT_WIDE, flags=[READS_MEM, LEAVES, MAY_TRAP],
         doc="read 1/2/4/8 bytes (the result width) at a guest address, guest byte order"),
    _row("store", "IT", "", INT_WIDE, flags=[WRITES_MEM, LEAVES, MAY_TRAP],
         doc="write the value's width at a guest address, guest byte order"),
    # bookkeeping
    _row("insn_start", "", "", flags=[MARKER],
         attrs=[Attr("pc", "int"), Attr("cost", "int", 1), Attr("delay", "int", 0)],
         doc="a guest instruction starts here: pc, cost in guest cycles, delay-slot flag"),
    _row("charge", "", "", flags=[WRITES_STATE],
         attrs=[Attr("cycles", "int"), Attr("insns", "int", 0)],
         doc="subtract cycles from the cycle budget; add insns to the retired count"),
    _row("check_budget", "", "", flags=[LEAVES, READS_STATE],
         attrs=[Attr("cycles", "int"), Attr("pc", "int")],
         doc="if the budget is below cycles, exit with BUDGET at guest pc"),
    # integer arithmetic
    *_binary(["add", "sub", "mul"], INT, "wrapping arithmetic"),
    _row("smul_ov", "TT", ["T", "i1"], INT, doc="smul_ov: product and signed overflow"),
    _row("umul_ov", "TT", ["T", "i1"], INT, doc="umul_ov: product and unsigned overflow"),
    *_binary(["smulhi", "umulhi"], INT, "high half of the double-width product"),
    *_binary(["sdiv", "udiv", "srem", "urem"], INT, "division; see module doc for /0"),
    *_binary(["and", "or", "xor"], INT, "bitwise"),
    *_unary(["not", "neg"], INT, "bitwise not / two's complement negation"),
    *[_row(n, "TI", "T", INT, doc=f"{n}: shift/rotate; see module doc for large counts")
      for n in ("shl", "lshr", "ashr", "rotl", "rotr")],
    *_unary(["clz", "ctz", "popcount"], INT, "bit counts; clz/ctz of 0 is the width"),
    *_unary(["bswap"], INT, "reverse byte order", extra=_bswap_type),
    _row("sext", "I", "T", INT, extra=_wider, doc="sign-extend to a wider type"),
    _row("zext", "I", "T", INT, extra=_wider, doc="zero-extend to a wider type"),
    _row("trunc", "I", "T", INT, extra=_narrower, doc="keep the low bits"),
    _row("icmp", "TT", "i1", INT, attrs=[Attr("cond", "icmp")], doc="integer compare"),
    _row("select", ["i1", "T", "T"], "T", doc="select c, a, b: a if c else b"),
    _row("addc", ["T", "T", "i1"], ["T", "i1", "i1"], INT,
         doc="a + b + carry_in: sum, unsigned carry out, signed overflow"),
    _row("subb", ["T", "T", "i1"], ["T", "i1", "i1"], INT,
         doc="a - b - borrow_in: difference, unsigned borrow out, signed overflow"),
    # float arithmetic
    *[_row(n, "TT", ["T", "?i8"], FLOAT, doc=f"{n}: IEEE arithmetic, region rounding")
      for n in ("fadd", "fsub", "fmul", "fdiv")],
    _row("fsqrt", "T", ["T", "?i8"], FLOAT, doc="fsqrt: IEEE square root"),
    *_unary(["fabs", "fneg"], FLOAT, "sign-bit operations (keep NaN payloads)"),
    *_binary(["fmin", "fmax"], FLOAT, "IEEE 754-2019 minimum/maximum"),
    _row("fcmp", "TT", "i1", FLOAT, attrs=[Attr("cond", "fcmp")], doc="float compare"),
    _row("fcvt_from_sint", "I", ["T", "?i8"], FLOAT, extra=_wide_int_arg,
         doc="signed integer to float, region rounding"),
    _row("fcvt_from_uint", "I", ["T", "?i8"], FLOAT, extra=_wide_int_arg,
         doc="unsigned integer to float, region rounding"),
    _row("fcvt_to_sint", "F", ["T", "?i8"], INT, attrs=_R, extra=_wide_int_result,
         doc="float to signed integer, saturating, NaN -> 0"),
    _row("fcvt_to_uint", "F", ["T", "?i8"], INT, attrs=_R, extra=_wide_int_result,
         doc="float to unsigned integer, saturating, NaN -> 0"),
    _row("fpromote", "F", ["T", "?i8"], FLOAT, extra=_f32_to_f64, doc="f32 -> f64"),
    _row("fdemote", "F", ["T", "?i8"], FLOAT, extra=_f64_to_f32,
         doc="f64 -> f32, region rounding"),
    _row("bitcast", "X", "T", ANY, extra=_same_width, doc="reinterpret the bits"),
    # calls
    _row("call", "*", "*", flags=[LEAVES, CALL], attrs=[Attr("helper", "name")],
         doc="call a registered helper (Python or native) synchronously"),
    _row("call_fn", "*", "*", flags=[LEAVES, CALL], attrs=[Attr("fn", "name")],
         doc="native call of a compiled function region"),
    # terminators
    _row("br", "", "", flags=_T, targets=1, doc="jump to a block with arguments"),
    _row("brif", "i1", "", flags=_T, targets=2,
         doc="brif c, then(args), else(args)"),
    _row("br_table", "I", "", flags=_T, targets=-1,
         doc="br_table i, default(args), [t0(args), t1(args), ...]"),
    _row("exit", "*", "", flags=[TERMINATOR, LEAVES],
         attrs=[Attr("kind", "exit", "jump"), Attr("pc", "int", -1),
                Attr("ret_pc", "int", -1)],
         doc="leave the region for guest pc (the attribute, or the one operand); "
             "ret_pc: where a kind=call returns to (-1: none), for the return-stack buffer"),
    _row("ret", "*", "", flags=_T, doc="return from a function region"),
    _row("trap", "", "", flags=[TERMINATOR, LEAVES],
         attrs=[Attr("cause", "int"), Attr("pc", "int")],
         doc="raise guest exception cause at guest pc"),
]

OPS: dict[str, OpDef] = {row.name: row for row in ROWS}
assert len(OPS) == len(ROWS), "duplicate opcode name"


def opdef(name: str) -> OpDef:
    """The row for ``name``; ``KeyError`` with the known names listed if there is none."""
    try:
        return OPS[name]
    except KeyError:
        raise KeyError(f"unknown IR op {name!r}") from None
