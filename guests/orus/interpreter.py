"""The reference interpreter of Orus bytecode: the oracle of the JIT and ``--interpreter``.

::

    interp = Interpreter(loader.load("fib25.json"), output=sys.stdout.buffer)
    result = interp.run()                  # RunResult(retired, halted, error)
    interp.run(max_insns=1000)             # or bounded: N instructions at most
    interp.call("fib", 10)                 # one function call, to completion -> 55

It reproduces what the real VM (jordyorel/orus-lang b99090f, computed-goto dispatcher) does
observably: what the program prints, runtime errors and their messages, integer wrap-around
where the VM wraps (``../shared/orus/README.md`` section 3 lists which ops wrap and which
raise), string concatenation through ``ADD_I32_R``, print formatting (``values``). Values
follow the strict boxed model of ``values``: a typed op checks its operands' type and raises
the VM's "Operands must be i32" (etc.) where the VM would read a stale unboxed slot. The
deviations from the real VM are listed in ``docs/guests/orus.md``.

Execution state is explicit: ``frames`` (a stack of ``Frame``; ``frames[0]`` is top-level
code, which has no call frame in the VM), each with its 256 ``regs``, its chunk's handlers and
its ``pc`` (byte offset). The registers every frame shares (``values.SHARED_REGISTERS``) are
kept in the active frame's list and copied into a callee at the call and back at the return.
Frames come from a pool reused by depth, so a callee's registers hold stale values of an
earlier call, as in the VM (the compiler writes every register before reading it).

Dispatch: every instruction of every chunk is turned into a Python closure once, when the
interpreter is built (``handler(regs) -> next pc``); the run loop indexes the current chunk's
handler list by pc. Calls, returns and the end of the program switch frames (the handler
returns ``SWITCH``). Opcodes without a handler here (enums, closures, try/catch, global
slots, native calls, frame/spill ops, bitwise ops, tail calls, ranges, array sorted/repeat/
slice, the parse/type/input/assert/time builtins: none occurs in the fixtures) make the
constructor raise ``OrusLoadError``.
"""

from __future__ import annotations

import operator
import sys
from dataclasses import dataclass
from math import isfinite
from typing import Callable, Optional

from .decoder import Insn
from .errors import OrusLoadError, OrusRuntimeError
from .loader import Chunk, Function, Program
from .values import (FRAME_LIMIT, I32_KIND, I64, I64_KIND, INT_KINDS, KIND_OF_CLASS,
                     REGISTER_COUNT, SHARED_REGISTERS, TEMP_REG_START, U32, U32_KIND, U64,
                     U64_KIND, Array, ArrayIterator, IntKind, RangeIterator, as_index, box,
                     c_div, c_fmod, c_rem, concat_text, f64_to_int, format_print, ieee_div,
                     parameter_base, to_string, truthy)

SWITCH = -1
"""What a handler returns after changing frames (call, return, end of program)."""

OVERFLOW = "Integer overflow"
DIVISION_BY_ZERO = "Division by zero"
SAME_TYPE = "Operands must be the same type. Use 'as' for explicit type conversion."
NUMERIC = "Operands must be numeric (i32, i64, u32, u64, or f64)"
FLOAT_OVERFLOW = "Floating-point overflow"
HOMOGENEOUS = "Operands must be homogeneous integers"
NOT_BOOLEAN = "Condition must be boolean"
NOT_ARRAY = "Value is not an array"
NOT_STRING = "Value is not a string"
NOT_NUMERIC_NEGATION = "Unary minus only works on numeric types (i32, i64, u32, u64, f64)"
STACK_OVERFLOW = "Stack overflow: more than {} nested calls"


class Frame:
    """One activation: ``function`` (``None`` for top-level code), ``regs`` (256 values),
    ``handlers`` (its chunk's, by offset), ``pc`` (offset of the next instruction to run:
    for a caller, where it resumes; kept up to date whenever the frame is not running) and
    ``result_reg`` (the caller's register for the return value; ``None`` for a call made by
    ``Interpreter.call``)."""

    __slots__ = ("function", "regs", "handlers", "pc", "result_reg")

    def __init__(self):
        self.function: Optional[Function] = None
        self.regs: list = [False] * REGISTER_COUNT
        self.handlers: list = []
        self.pc = 0
        self.result_reg: Optional[int] = None

    @property
    def name(self) -> Optional[str]:
        """The function's name, ``None`` at top level."""
        return None if self.function is None else self.function.name


@dataclass
class RunResult:
    """What ``Interpreter.run`` did: ``retired`` instructions completed, ``halted`` (the
    program has ended) and the ``error`` that stopped it (``None`` otherwise; the frame's
    ``pc`` is then the faulting instruction's, which has had no effect)."""

    retired: int
    halted: bool
    error: Optional[OrusRuntimeError] = None


class Interpreter:
    """Runs a loaded ``Program``; see the module doc. ``output``: a binary stream
    (``write(bytes)``) the program prints to, default ``sys.stdout.buffer``.
    ``frame_limit``: nested calls allowed (the VM's pool holds ``values.FRAME_LIMIT``).
    Raises ``OrusLoadError`` for a program using an opcode or constant this interpreter
    does not execute."""

    def __init__(self, program: Program, output=None, frame_limit: int = FRAME_LIMIT):
        self.program = program
        self.output = output if output is not None else sys.stdout.buffer
        self.frame_limit = frame_limit
        self.retired = 0
        self.calls = 0
        self.halted = False
        self._returned = None
        self._stop = False
        self._stop_depth = 0
        self._main_handlers = _build(self, program.main)
        self._function_handlers = []
        for function in program.functions:
            if function.specialized_chunk is not None:
                raise OrusLoadError(f"{function.chunk.label}: has a specialized chunk "
                                    f"(profile-guided tier), which is not supported")
            self._function_handlers.append(_build(self, function.chunk))
        root = Frame()
        root.handlers = self._main_handlers
        self.frames: list = [root]
        self._pool: list = [root]

    # --- state -------------------------------------------------------------------------

    @property
    def frame(self) -> Frame:
        """The active frame."""
        return self.frames[-1]

    def register(self, number: int):
        """The value of register ``number`` as the active frame sees it."""
        return self.frames[-1].regs[number]

    def set_register(self, number: int, value) -> None:
        """Write a runtime value (``values``) to register ``number`` of the active frame."""
        self.frames[-1].regs[number] = value

    # --- running -----------------------------------------------------------------------

    def run(self, max_insns: Optional[int] = None) -> RunResult:
        """Execute from the active frame's ``pc`` until the program ends, a runtime error,
        or ``max_insns`` instructions (unbounded if ``None``)."""
        if self.halted:
            return RunResult(0, True)
        self._stop = False
        retired, error = self._execute(sys.maxsize if max_insns is None else max_insns)
        return RunResult(retired, self.halted, error)

    def step(self) -> RunResult:
        """Execute one instruction."""
        return self.run(1)

    def call(self, function, *args):
        """Call ``function`` (a ``Function``, its index or its name) with runtime values
        ``args`` on top of the current state and run it to completion; returns its value
        (``None`` for ``RETURN_VOID``). Raises ``OrusRuntimeError`` from the callee (the
        frames are then left as they were at the error), ``KeyError``/``IndexError`` for an
        unknown function and ``ValueError`` for a wrong number of arguments."""
        if isinstance(function, str):
            function = self.program.function(function)
        elif isinstance(function, int):
            function = self.program.functions[function]
        if len(args) != function.arity:
            raise ValueError(f"{function.name} takes {function.arity} arguments, "
                             f"got {len(args)}")
        frames = self.frames
        caller = frames[-1]
        saved_depth = self._stop_depth
        self._enter(function, caller.regs, list(args), None, caller.pc)
        self._stop, self._stop_depth = False, len(frames)
        try:
            _, error = self._execute(sys.maxsize)
        finally:
            self._stop, self._stop_depth = False, saved_depth
        if error is not None:
            raise error
        value, self._returned = self._returned, None
        return value

    def _execute(self, limit: int):
        """The dispatch loop: at most ``limit`` instructions; returns ``(retired, error)``."""
        frames = self.frames
        frame = frames[-1]
        regs, handlers, pc = frame.regs, frame.handlers, frame.pc
        count = -1
        try:
            for count in range(limit):
                pc = handlers[pc](regs)
                if pc < 0:                      # SWITCH: a call, a return or the end
                    frame = frames[-1]
                    regs, handlers, pc = frame.regs, frame.handlers, frame.pc
                    if self._stop:
                        break
            else:
                count = limit - 1
        except OrusRuntimeError as exc:
            self.retired += count
            chunk = self.program.main if frame.function is None else frame.function.chunk
            if exc.offset is None:              # not located already (by generated code)
                exc.locate(frame.name, pc, chunk.lines[pc])
            return count, exc
        finally:
            frame.pc = pc
        self.retired += count + 1
        return count + 1, None

    # --- frames (called by the call/return handlers) -------------------------------------

    def _enter(self, function: Function, caller_regs: list, args: list,
               result_reg: Optional[int], return_pc: int) -> int:
        frames = self.frames
        depth = len(frames)
        if depth > self.frame_limit:
            raise OrusRuntimeError(STACK_OVERFLOW.format(self.frame_limit))
        if depth == len(self._pool):
            self._pool.append(Frame())
        frame = self._pool[depth]
        regs = frame.regs
        for shared in SHARED_REGISTERS:
            regs[shared] = caller_regs[shared]
        regs[parameter_base(len(args)):TEMP_REG_START] = args
        frame.function = function
        frame.handlers = self._function_handlers[function.index]
        frame.pc = function.start
        frame.result_reg = result_reg
        frames[-1].pc = return_pc
        frames.append(frame)
        self.calls += 1
        return SWITCH

    def _leave(self, value, has_value: bool) -> int:
        frames = self.frames
        frame = frames.pop()
        caller = frames[-1]
        caller_regs, regs = caller.regs, frame.regs
        for shared in SHARED_REGISTERS:
            caller_regs[shared] = regs[shared]
        if frame.result_reg is None:
            self._returned = value
        elif has_value:
            caller_regs[frame.result_reg] = value
        if len(frames) < self._stop_depth:
            self._stop = True
        return SWITCH

    def _end(self, offset: int) -> int:
        self.frames[-1].pc = offset
        self.halted = self._stop = True
        return SWITCH


# === handler factories ===================================================================
#
# ``_FACTORIES[mnemonic](insn, build) -> handler``. A handler reads its operands from the
# frame's register list, checks before it writes (an error leaves no trace), and returns the
# offset of the next instruction.

_FACTORIES: dict = {}


def _handles(*mnemonics):
    def register(factory):
        for mnemonic in mnemonics:
            _FACTORIES[mnemonic] = factory
        return factory
    return register


class _Build:
    """What a factory may use: the ``interp`` and the ``chunk`` being built."""

    def __init__(self, interp: Interpreter, chunk: Chunk):
        self.interp = interp
        self.chunk = chunk

    def constant(self, insn: Insn, index: int):
        constant = self.chunk.constants[index]
        try:
            return box(constant.tag, constant.value)
        except ValueError as exc:
            raise self.chunk.error(insn, f"loads constant {index}: {exc}") from None


def _build(interp: Interpreter, chunk: Chunk) -> list:
    """The handler list of ``chunk``: ``handlers[offset]`` for each instruction start."""
    build = _Build(interp, chunk)
    handlers: list = [None] * len(chunk.code)
    for insn in chunk.insns:
        factory = _FACTORIES.get(insn.mnemonic)
        if factory is None:
            raise chunk.error(insn, "is not supported by the reference interpreter")
        handlers[insn.offset] = factory(insn, build)
    return handlers


# --- constants and moves ---------------------------------------------------------------------

@_handles("LOAD_CONST", "LOAD_I32_CONST", "LOAD_I64_CONST", "LOAD_U32_CONST",
          "LOAD_U64_CONST", "LOAD_F64_CONST")
def _load_const(insn, build):
    d, k = insn.operands
    value, nxt = build.constant(insn, k), insn.next

    def load_const(R):
        R[d] = value
        return nxt
    return load_const


@_handles("LOAD_TRUE", "LOAD_FALSE")
def _load_bool(insn, build):
    (d,), value, nxt = insn.operands, insn.mnemonic == "LOAD_TRUE", insn.next

    def load_bool(R):
        R[d] = value
        return nxt
    return load_bool


@_handles("MOVE")
def _move(insn, build):
    (d, s), nxt = insn.operands, insn.next

    def move(R):
        R[d] = R[s]
        return nxt
    return move


@_handles("MOVE_I32", "MOVE_I64", "MOVE_F64")
def _move_typed(insn, build):
    """Typed moves copy a value of their type; any other source is an error (the VM's
    ``handle_move_i32``...)."""
    (d, s), nxt = insn.operands, insn.next
    name = insn.mnemonic[-3:].lower()
    cls = float if name == "f64" else INT_KINDS[name].cls
    message = f"Source register must contain {name} value"

    def move_typed(R):
        value = R[s]
        if type(value) is not cls:
            raise OrusRuntimeError(message)
        R[d] = value
        return nxt
    return move_typed


# --- typed arithmetic: *_TYPED and the i64/u32/u64/f64 *_R forms -----------------------------

_INT_OPS = {"ADD": operator.add, "SUB": operator.sub, "MUL": operator.mul}
_CHECKED = {op: OVERFLOW for op in _INT_OPS}
_U64_R_CHECKED = {"ADD": "u64 addition overflow", "SUB": "u64 subtraction underflow",
                  "MUL": "u64 multiplication overflow"}


def _int_arith(kind: IntKind, overflow: Optional[dict]):
    """ADD/SUB/MUL of ``kind``: with ``overflow`` (operation -> message) an exact result out
    of range raises that message; without, the result wraps around."""
    cls, lo, hi, wrap = kind.cls, kind.lo, kind.hi, kind.wrap
    unboxed = cls is int                    # an i32 result is already an int
    type_error = f"Operands must be {kind.name}"

    def factory(insn, build):
        (d, a, b), nxt = insn.operands, insn.next
        op = _INT_OPS[insn.mnemonic[:3]]
        if overflow is None:
            def wrapping(R):
                x, y = R[a], R[b]
                if type(x) is not cls or type(y) is not cls:
                    raise OrusRuntimeError(type_error)
                R[d] = wrap(op(x, y))
                return nxt
            return wrapping
        message = overflow[insn.mnemonic[:3]]

        def checked(R):
            x, y = R[a], R[b]
            if type(x) is not cls or type(y) is not cls:
                raise OrusRuntimeError(type_error)
            r = op(x, y)
            if lo <= r <= hi:
                R[d] = r if unboxed else cls(r)
                return nxt
            raise OrusRuntimeError(message)
        return checked
    return factory


def _int_divide(kind: IntKind):
    """DIV/MOD of ``kind`` (the *_TYPED forms and DIV/MOD_{I64,U32,U64}_R): C semantics
    (truncation, remainder with the dividend's sign); "Division by zero" for a zero divisor
    and "Integer overflow" for MIN / -1. The VM checks neither form for MIN / -1 and dies of
    SIGFPE there: a deviation."""
    cls, lo = kind.cls, kind.lo
    unboxed = cls is int
    type_error = f"Operands must be {kind.name}"

    def factory(insn, build):
        (d, a, b), nxt = insn.operands, insn.next
        op = c_div if insn.mnemonic.startswith("DIV") else c_rem

        def divide(R):
            x, y = R[a], R[b]
            if type(x) is not cls or type(y) is not cls:
                raise OrusRuntimeError(type_error)
            if y == 0:
                raise OrusRuntimeError(DIVISION_BY_ZERO)
            if y == -1 and x == lo:
                raise OrusRuntimeError(OVERFLOW)
            r = op(x, y)
            R[d] = r if unboxed else cls(r)
            return nxt
        return divide
    return factory


_F64_OPS = {"ADD": operator.add, "SUB": operator.sub, "MUL": operator.mul,
            "DIV": ieee_div, "MOD": c_fmod}


def _f64_arith(zero_divisor_raises: bool):
    """f64 arithmetic (IEEE binary64). DIV/MOD by 0.0 raise "Division by zero" in the typed
    forms and give IEEE inf/NaN in the *_R forms (README section 3)."""
    def factory(insn, build):
        (d, a, b), nxt = insn.operands, insn.next
        op = _F64_OPS[insn.mnemonic[:3]]
        checks_zero = zero_divisor_raises and insn.mnemonic[:3] in ("DIV", "MOD")

        def f64_arith(R):
            x, y = R[a], R[b]
            if type(x) is not float or type(y) is not float:
                raise OrusRuntimeError("Operands must be f64")
            if checks_zero and y == 0.0:
                raise OrusRuntimeError(DIVISION_BY_ZERO)
            R[d] = op(x, y)
            return nxt
        return f64_arith
    return factory


# --- the generic ADD/SUB/MUL/DIV/MOD_I32_R ---------------------------------------------------

@_handles("ADD_I32_R", "SUB_I32_R", "MUL_I32_R", "DIV_I32_R", "MOD_I32_R")
def _generic_arith(insn, build):
    """The untyped arithmetic ops (the compiler uses ADD_I32_R for every string ``+`` and
    some i32 index arithmetic). ``ADD_I32_R`` concatenates if either operand is a string,
    converting the other (``values.concat_text``). Otherwise both operands must have the same
    numeric type: ADD/SUB/MUL wrap in that type (unchecked in the VM's C); DIV/MOD raise
    "Division by zero" and, for MIN / -1, "Integer overflow"; an f64 DIV/MOD whose result is
    not finite raises "Floating-point overflow" (``vm_dispatch_goto.c``)."""
    (d, a, b), nxt = insn.operands, insn.next
    operation = insn.mnemonic[:3]
    concatenates = operation == "ADD"
    f64_op = _F64_OPS[operation]
    int_op = _INT_OPS.get(operation)
    divides = int_op is None
    if divides:
        int_op = c_div if operation == "DIV" else c_rem

    def generic_arith(R):
        x, y = R[a], R[b]
        if concatenates and (type(x) is bytes or type(y) is bytes):
            R[d] = concat_text(x) + concat_text(y)
            return nxt
        kind = type(x)
        if kind is not type(y):
            raise OrusRuntimeError(SAME_TYPE)
        if kind is float:
            if divides:
                if y == 0.0:
                    raise OrusRuntimeError(DIVISION_BY_ZERO)
                r = f64_op(x, y)
                if not isfinite(r):
                    raise OrusRuntimeError(FLOAT_OVERFLOW)
            else:
                r = f64_op(x, y)
            R[d] = r
            return nxt
        int_kind = KIND_OF_CLASS.get(kind)
        if int_kind is None:
            raise OrusRuntimeError(NUMERIC)
        if divides:
            if y == 0:
                raise OrusRuntimeError(DIVISION_BY_ZERO)
            if y == -1 and x == int_kind.lo:
                raise OrusRuntimeError(OVERFLOW)
        R[d] = int_kind.wrap(int_op(x, y))
        return nxt
    return generic_arith


# --- comparisons and logic -------------------------------------------------------------------

_COMPARISONS = {"LT": operator.lt, "LE": operator.le, "GT": operator.gt, "GE": operator.ge}


def _compare(cls: type, name: str):
    """LT/LE/GT/GE of one numeric type (the *_TYPED and *_R forms alike): a bool; unsigned
    types compare as unsigned, f64 per IEEE (false if either side is NaN)."""
    type_error = f"Operands must be {name}"

    def factory(insn, build):
        (d, a, b), nxt = insn.operands, insn.next
        op = _COMPARISONS[insn.mnemonic[:2]]

        def compare(R):
            x, y = R[a], R[b]
            if type(x) is not cls or type(y) is not cls:
                raise OrusRuntimeError(type_error)
            R[d] = op(x, y)
            return nxt
        return compare
    return factory


@_handles("EQ_R", "NE_R")
def _equality(insn, build):
    """EQ_R/NE_R (``valuesEqual``): equal when of the same type and value; strings by
    content, arrays and iterators by identity, f64 by ``==``."""
    (d, a, b), nxt = insn.operands, insn.next
    negate = insn.mnemonic == "NE_R"

    def equality(R):
        x, y = R[a], R[b]
        R[d] = (type(x) is type(y) and x == y) is not negate
        return nxt
    return equality


@_handles("AND_BOOL_R", "OR_BOOL_R")
def _logic(insn, build):
    """Eager ``and``/``or`` of the operands' truthiness (no short-circuit: README
    section 3)."""
    (d, a, b), nxt = insn.operands, insn.next
    op = operator.and_ if insn.mnemonic == "AND_BOOL_R" else operator.or_

    def logic(R):
        R[d] = op(truthy(R[a]), truthy(R[b]))
        return nxt
    return logic


@_handles("NOT_BOOL_R")
def _not(insn, build):
    (d, s), nxt = insn.operands, insn.next

    def not_bool(R):
        R[d] = not truthy(R[s])
        return nxt
    return not_bool


# --- fused and in-place integer ops ----------------------------------------------------------

_IMM_OPS = {"ADD_I32_IMM": operator.add, "SUB_I32_IMM": operator.sub,
            "MUL_I32_IMM": operator.mul}


@_handles(*_IMM_OPS)
def _immediate(insn, build):
    """R[d] = R[s] op imm32, checked: "Integer overflow" (README section 3)."""
    (d, s, imm), nxt = insn.operands, insn.next
    op = _IMM_OPS[insn.mnemonic]

    def immediate(R):
        x = R[s]
        if type(x) is not int:
            raise OrusRuntimeError("Operand must be i32")
        r = op(x, imm)
        if -0x8000_0000 <= r <= 0x7FFF_FFFF:
            R[d] = r
            return nxt
        raise OrusRuntimeError(OVERFLOW)
    return immediate


@_handles("CMP_I32_IMM")
def _compare_immediate(insn, build):
    """R[d] = R[s] < imm32 (signed i32)."""
    (d, s, imm), nxt = insn.operands, insn.next

    def compare_immediate(R):
        x = R[s]
        if type(x) is not int:
            raise OrusRuntimeError("Operand must be i32")
        R[d] = x < imm
        return nxt
    return compare_immediate


@_handles("MUL_ADD_I32")
def _mul_add(insn, build):
    """R[d] = R[a] * R[b] + R[c] in i32, wrapping (unchecked in the VM)."""
    (d, a, b, c), nxt = insn.operands, insn.next
    wrap = I32_KIND.wrap

    def mul_add(R):
        x, y, z = R[a], R[b], R[c]
        if type(x) is not int or type(y) is not int or type(z) is not int:
            raise OrusRuntimeError("Operands must be i32")
        R[d] = wrap(x * y + z)
        return nxt
    return mul_add


def _step(kind: IntKind, delta: int, checked: bool):
    """INC_*/DEC_I32_R: R[r] += delta, checked ("Integer overflow") or wrapping."""
    cls, lo, hi, wrap = kind.cls, kind.lo, kind.hi, kind.wrap
    type_error = f"Operands must be {kind.name}"

    def factory(insn, build):
        (r,), nxt = insn.operands, insn.next

        def step(R):
            x = R[r]
            if type(x) is not cls:
                raise OrusRuntimeError(type_error)
            x += delta
            if checked and not lo <= x <= hi:
                raise OrusRuntimeError(OVERFLOW)
            R[r] = wrap(x)
            return nxt
        return step
    return factory


def _counted_loop(delta: int):
    """INC_CMP_JMP / DEC_CMP_JMP c, l, j: R[c] += delta (checked for i32/i64, wrapping for
    u32/u64), then jump while R[c] < R[l] (> for DEC). Counter and limit must have the same
    integer type: "Operands must be homogeneous integers" (README section 3)."""
    forward = delta > 0

    def factory(insn, build):
        (c, l, _), nxt, target = insn.operands, insn.next, insn.target
        edge = 0x7FFF_FFFF if forward else -0x8000_0000

        def counted_loop(R):
            x, limit = R[c], R[l]
            if type(x) is int and type(limit) is int:          # the i32 loop, inline
                if x == edge:
                    raise OrusRuntimeError(OVERFLOW)
                x += delta
            else:
                kind = KIND_OF_CLASS.get(type(x))
                if kind is None or type(limit) is not kind.cls:
                    raise OrusRuntimeError(HOMOGENEOUS)
                x += delta
                if not kind.lo <= x <= kind.hi:
                    if kind.signed:
                        raise OrusRuntimeError(OVERFLOW)
                    x = kind.wrap(x)
                x = kind.cls(x)
            R[c] = x
            if (x < limit) if forward else (x > limit):
                return target
            return nxt
        return counted_loop
    return factory




@_handles("NEG_I32_R")
def _negate(insn, build):
    """Generic unary minus: i32 (INT32_MIN raises), i64 (wraps), f64; a u32 gives the i32
    and a u64 the i64 of the negated bits (``vm_dispatch_goto.c``)."""
    (d, s), nxt = insn.operands, insn.next

    def negate(R):
        x = R[s]
        kind = type(x)
        if kind is int:
            if x == -0x8000_0000:
                raise OrusRuntimeError("Integer overflow: cannot negate INT32_MIN")
            R[d] = -x
        elif kind is float:
            R[d] = -x
        elif kind is I64 or kind is U64:
            R[d] = I64_KIND.wrap(-x)
        elif kind is U32:
            R[d] = I32_KIND.wrap(-x)
        else:
            raise OrusRuntimeError(NOT_NUMERIC_NEGATION)
        return nxt
    return negate


# --- conversions -----------------------------------------------------------------------------

def _checked(convert: Callable, bad: Callable, message: str) -> Callable:
    def conversion(value):
        if bad(value):
            raise OrusRuntimeError(message)
        return convert(value)
    return conversion


_U64_LIMIT = 18446744073709551616.0     # 2**64: the first double too large for a u64

_CONVERSIONS = {
    # mnemonic: (source type, conversion) -- vm_dispatch_goto.c; README section 4
    "I32_TO_F64_R": (int, float),
    "I32_TO_I64_R": (int, I64),
    "I32_TO_U32_R": (int, U32_KIND.wrap),
    "I32_TO_U64_R": (int, _checked(U64, lambda v: v < 0, "Cannot convert negative i32 to u64")),
    "I32_TO_BOOL_R": (int, bool),
    "I64_TO_I32_R": (I64, I32_KIND.wrap),
    "I64_TO_F64_R": (I64, float),
    "I64_TO_U32_R": (I64, _checked(U32, lambda v: not 0 <= v <= 0xFFFF_FFFF,
                                   "i64 value out of u32 range")),
    "I64_TO_U64_R": (I64, _checked(U64, lambda v: v < 0, "Cannot convert negative i64 to u64")),
    "I64_TO_BOOL_R": (I64, bool),
    "U32_TO_I32_R": (U32, I32_KIND.wrap),
    "U32_TO_F64_R": (U32, float),
    "U32_TO_U64_R": (U32, U64),
    "U32_TO_BOOL_R": (U32, bool),
    "U64_TO_I32_R": (U64, _checked(int, lambda v: v > 0x7FFF_FFFF,
                                   "u64 value too large for i32")),
    "U64_TO_I64_R": (U64, _checked(I64, lambda v: v > 0x7FFF_FFFF_FFFF_FFFF,
                                   "u64 value too large for i64")),
    "U64_TO_U32_R": (U64, _checked(U32, lambda v: v > 0xFFFF_FFFF,
                                   "u64 value too large for u32")),
    "U64_TO_F64_R": (U64, float),
    "U64_TO_BOOL_R": (U64, bool),
    # f64 -> int: C truncation as x86-64 executes it; u32/u64 range-checked, and NaN or 2**64
    # (which pass the VM's check, then cast with undefined result) raise too: a deviation
    "F64_TO_I32_R": (float, lambda v: f64_to_int(v, I32_KIND)),
    "F64_TO_I64_R": (float, lambda v: I64(f64_to_int(v, I64_KIND))),
    "F64_TO_U32_R": (float, _checked(lambda v: U32(int(v)),
                                     lambda v: not 0.0 <= v <= 4294967295.0,
                                     "f64 value out of u32 range")),
    "F64_TO_U64_R": (float, _checked(lambda v: U64(int(v)), lambda v: not 0.0 <= v < _U64_LIMIT,
                                     "f64 value out of u64 range")),
    "F64_TO_BOOL_R": (float, bool),
    "BOOL_TO_I32_R": (bool, int),
    "BOOL_TO_I64_R": (bool, I64),
    "BOOL_TO_U32_R": (bool, U32),
    "BOOL_TO_U64_R": (bool, U64),
    "BOOL_TO_F64_R": (bool, float),
}


@_handles(*_CONVERSIONS)
def _convert(insn, build):
    """``X_TO_Y_R d, s, _``: the source must have type X ("Source must be x")."""
    (d, s), nxt = insn.operands, insn.next
    source, conversion = _CONVERSIONS[insn.mnemonic]
    type_error = f"Source must be {insn.mnemonic[:insn.mnemonic.index('_TO_')].lower()}"

    def convert(R):
        value = R[s]
        if type(value) is not source:
            raise OrusRuntimeError(type_error)
        R[d] = conversion(value)
        return nxt
    return convert


# --- strings ---------------------------------------------------------------------------------

@_handles("TO_STRING_R")
def _to_string(insn, build):
    (d, s), nxt = insn.operands, insn.next

    def to_string_r(R):
        R[d] = to_string(R[s])
        return nxt
    return to_string_r


@_handles("CONCAT_R")
def _concat(insn, build):
    (d, a, b), nxt = insn.operands, insn.next

    def concat(R):
        x, y = R[a], R[b]
        if type(x) is not bytes or type(y) is not bytes:
            raise OrusRuntimeError("Operands must be string")
        R[d] = x + y
        return nxt
    return concat


@_handles("STRING_INDEX_R", "STRING_GET_R")
def _string_index(insn, build):
    """``s[i]``: the byte at index ``i`` (any non-negative integer type) as a 1-byte
    string."""
    (d, s, i), nxt = insn.operands, insn.next

    def string_index(R):
        text = R[s]
        if type(text) is not bytes:
            raise OrusRuntimeError(NOT_STRING)
        index = as_index(R[i])
        if index < 0:
            raise OrusRuntimeError("String index must be a non-negative integer")
        if index >= len(text):
            raise OrusRuntimeError("String index out of bounds")
        R[d] = text[index:index + 1]
        return nxt
    return string_index


# --- arrays and iteration --------------------------------------------------------------------

@_handles("MAKE_ARRAY_R")
def _make_array(insn, build):
    (d, first, count), nxt = insn.operands, insn.next

    def make_array(R):
        R[d] = Array(R[first:first + count])
        return nxt
    return make_array


def _array_index(R, a: int, i: int):
    """``(array, index)`` of an ARRAY_GET_R/ARRAY_SET_R, with the VM's checks."""
    array = R[a]
    if type(array) is not Array:
        raise OrusRuntimeError(NOT_ARRAY)
    index = as_index(R[i])
    if index < 0:
        raise OrusRuntimeError("Array index must be a non-negative integer")
    if index >= len(array):
        raise OrusRuntimeError("Array index out of bounds")
    return array, index


@_handles("ARRAY_GET_R")
def _array_get(insn, build):
    (d, a, i), nxt = insn.operands, insn.next

    def array_get(R):
        array, index = _array_index(R, a, i)
        R[d] = array[index]
        return nxt
    return array_get


@_handles("ARRAY_SET_R")
def _array_set(insn, build):
    (a, i, v), nxt = insn.operands, insn.next

    def array_set(R):
        array, index = _array_index(R, a, i)
        array[index] = R[v]
        return nxt
    return array_set


@_handles("ARRAY_LEN_R")
def _array_len(insn, build):
    (d, a), nxt = insn.operands, insn.next

    def array_len(R):
        array = R[a]
        if type(array) is not Array:
            raise OrusRuntimeError(NOT_ARRAY)
        R[d] = len(array)
        return nxt
    return array_len


@_handles("ARRAY_PUSH_R")
def _array_push(insn, build):
    (a, v), nxt = insn.operands, insn.next

    def array_push(R):
        array = R[a]
        if type(array) is not Array:
            raise OrusRuntimeError(NOT_ARRAY)
        array.append(R[v])
        return nxt
    return array_push


@_handles("ARRAY_POP_R")
def _array_pop(insn, build):
    (d, a), nxt = insn.operands, insn.next

    def array_pop(R):
        array = R[a]
        if type(array) is not Array:
            raise OrusRuntimeError(NOT_ARRAY)
        if not array:
            raise OrusRuntimeError("Cannot pop from an empty array")
        R[d] = array.pop()
        return nxt
    return array_pop


@_handles("GET_ITER_R")
def _get_iter(insn, build):
    """An iterator over an array, or over 0 .. n-1 for a non-negative integer ``n``; an
    iterator passes through."""
    (d, s), nxt = insn.operands, insn.next

    def get_iter(R):
        value = R[s]
        kind = type(value)
        if kind is Array:
            R[d] = ArrayIterator(value)
        elif kind is ArrayIterator or kind is RangeIterator:
            R[d] = value
        elif kind in KIND_OF_CLASS:
            if value > 0x7FFF_FFFF_FFFF_FFFF:
                raise OrusRuntimeError("Integer too large to iterate")
            if value < 0:
                raise OrusRuntimeError("Cannot iterate negative integer")
            R[d] = RangeIterator(int(value))
        else:
            raise OrusRuntimeError("Value not iterable")
        return nxt
    return get_iter


@_handles("ITER_NEXT_R")
def _iter_next(insn, build):
    """R[has] = whether the iterator has a next value; if so R[x] = that value (an array
    element, or an i64 of a range) and the iterator advances. R[x] is untouched at the end."""
    (x, it, has), nxt = insn.operands, insn.next

    def iter_next(R):
        iterator = R[it]
        kind = type(iterator)
        if kind is ArrayIterator:
            if iterator.index < len(iterator.array):
                R[x] = iterator.array[iterator.index]
                iterator.index += 1
                R[has] = True
            else:
                R[has] = False
        elif kind is RangeIterator:
            current, step = iterator.current, iterator.step
            if (current < iterator.end) if step > 0 else (step < 0 and current > iterator.end):
                R[x] = I64(current)
                iterator.current = current + step
                R[has] = True
            else:
                R[has] = False
        else:
            raise OrusRuntimeError("Invalid iterator")
        return nxt
    return iter_next


# --- control flow ----------------------------------------------------------------------------

@_handles("JUMP", "JUMP_SHORT", "LOOP", "LOOP_SHORT", "JUMP_BACK_SHORT")
def _jump(insn, build):
    target = insn.target

    def jump(R):
        return target
    return jump


@_handles("JUMP_IF_NOT_R", "JUMP_IF_NOT_SHORT", "BRANCH_TYPED")
def _jump_if_not(insn, build):
    """Jump if the condition register holds ``false``; it must hold a bool ("Condition must
    be boolean"). BRANCH_TYPED's loop id is profiling only."""
    c = insn.operands[-2]
    nxt, target = insn.next, insn.target

    def jump_if_not(R):
        condition = R[c]
        if condition is False:
            return target
        if condition is True:
            return nxt
        raise OrusRuntimeError(NOT_BOOLEAN)
    return jump_if_not


@_handles("JUMP_IF_NOT_I32_TYPED")
def _jump_if_not_less(insn, build):
    """The guard of i32 loops: jump unless R[a] < R[b] (signed i32)."""
    (a, b, _), nxt, target = insn.operands, insn.next, insn.target

    def jump_if_not_less(R):
        x, y = R[a], R[b]
        if type(x) is not int or type(y) is not int:
            raise OrusRuntimeError("Operands must be i32")
        return nxt if x < y else target
    return jump_if_not_less


# --- calls -----------------------------------------------------------------------------------

@_handles("CALL_R")
def _call(insn, build):
    """``CALL_R f, a, n, d``: call function index R[f] with R[a..a+n-1]; the callee's
    parameters are its R(192-n)..R191 and its return value lands in the caller's R[d]. A
    callee that is not a function index, or an arity mismatch, silently stores ``false`` in
    R[d] (README section 3). Calls nested deeper than ``frame_limit`` raise (the VM would
    store ``false``: a deviation)."""
    (f, first, count, d), nxt = insn.operands, insn.next
    interp = build.interp
    functions = interp.program.functions

    def call(R):
        index = R[f]
        if type(index) is int and 0 <= index < len(functions):
            function = functions[index]
            if function.arity == count:
                return interp._enter(function, R, R[first:first + count], d, nxt)
        R[d] = False
        return nxt
    return call


@_handles("RETURN_R")
def _return(insn, build):
    """Return R[r] to the caller's result register; at top level, end the program."""
    (r,), offset = insn.operands, insn.offset
    interp = build.interp

    def return_value(R):
        if len(interp.frames) == 1:
            return interp._end(offset)
        return interp._leave(R[r], True)
    return return_value


@_handles("RETURN_VOID")
def _return_void(insn, build):
    offset = insn.offset
    interp = build.interp

    def return_void(R):
        if len(interp.frames) == 1:
            return interp._end(offset)
        return interp._leave(None, False)
    return return_void


@_handles("HALT")
def _halt(insn, build):
    offset = insn.offset
    interp = build.interp

    def halt(R):
        return interp._end(offset)
    return halt


# --- print -----------------------------------------------------------------------------------

@_handles("PRINT_R", "PRINT_MULTI_R")
def _print(insn, build):
    """Print R[first..first+n-1] (``values.format_print``); PRINT_R is one value and a
    newline."""
    if insn.mnemonic == "PRINT_R":
        (first,), count, newline = insn.operands, 1, True
    else:
        first, count, flag = insn.operands
        newline = flag != 0
    nxt = insn.next
    interp = build.interp

    def print_values(R):
        interp.output.write(format_print(R[first:first + count], newline))
        return nxt
    return print_values


def _register_families() -> None:
    """Register the factories of the op families (one factory per type)."""
    for op in _INT_OPS:
        _handles(f"{op}_I32_TYPED")(_int_arith(I32_KIND, _CHECKED))
        _handles(f"{op}_I64_TYPED", f"{op}_I64_R")(_int_arith(I64_KIND, _CHECKED))
        _handles(f"{op}_U32_TYPED", f"{op}_U32_R")(_int_arith(U32_KIND, None))
        _handles(f"{op}_U64_TYPED")(_int_arith(U64_KIND, None))
        _handles(f"{op}_U64_R")(_int_arith(U64_KIND, _U64_R_CHECKED))
    for kind in INT_KINDS.values():
        name = kind.name.upper()
        divisions = [f"{op}_{name}_{form}" for op in ("DIV", "MOD")
                     for form in (("TYPED",) if kind is I32_KIND else ("TYPED", "R"))]
        _handles(*divisions)(_int_divide(kind))
        _handles(f"INC_{name}_R", f"INC_{name}_CHECKED")(_step(kind, +1, kind.signed))
    _handles(*(f"{op}_F64_TYPED" for op in _F64_OPS))(_f64_arith(zero_divisor_raises=True))
    _handles(*(f"{op}_F64_R" for op in _F64_OPS))(_f64_arith(zero_divisor_raises=False))
    _handles("DEC_I32_R")(_step(I32_KIND, -1, True))
    for name, cls in (("i32", int), ("i64", I64), ("u32", U32), ("u64", U64), ("f64", float)):
        _handles(*(f"{op}_{name.upper()}_{form}" for op in _COMPARISONS
                   for form in ("TYPED", "R")))(_compare(cls, name))
    _handles("INC_CMP_JMP")(_counted_loop(+1))
    _handles("DEC_CMP_JMP")(_counted_loop(-1))


_register_families()
