"""The Orus JIT: bytecode functions compiled to native code through dynarec's IR.

::

    jit = OrusJit(loader.load("fib30.json"), output=sys.stdout.buffer)
    result = jit.run()                     # RunResult(retired=0, halted, error)
    print(jit.stats_table())

Regions (``dynarec.functions``): ``main`` and every function ``fn<index>`` become one IR
function region each. Callees are compiled before their callers, so ``CALL_R`` of a known
function is a native ``call_fn``; calls around a cycle of mutually recursive functions, and
calls through a register that does not always hold the same function, go through the
function table (a Python helper; see ``FunctionJit.callee``).

Values. Every Orus register is, at each point of the translated code, of a static *kind*
known to the translator: ``i32 i64 u32 u64 f64 bool arr`` (one SSA value of IR type ``i32
i64 i32 i64 f64 i1 i64``, living in a host register; ``arr``: an array's heap address) or
``any`` (two SSA values: a tag, ``TAG_*``, and a 64-bit payload: ``heap`` lists the
encodings). Kinds come from the ops (``ADD_I32_TYPED`` makes an i32). A typed op reading an
``any`` register checks its tag -- the interpreter's strict boxed model (``interpreter``),
with the same error message -- and the register is of the checked kind from there on. A
basic block reached with different kinds gets up to ``MAX_VERSIONS`` versions (block
versioning: a loop header reached with boxed parameters from outside and unboxed ones along
its back edge gets one of each, so the loop checks no tags), after that one version where
differing kinds are ``any``; the translator translates a function again until the versions
are stable. Parameters and results of functions are ``any`` pairs; a ``RETURN_VOID``
returns ``TAG_VOID`` and the caller keeps its result register.

Registers shared by all frames (R0-R63, R240-R255: ``values.SHARED_REGISTERS``) live in
the context as ``g_tag``/``g_val`` slots; a region loads the ones its chunk names at entry
and after each call and keeps them in SSA values, writing back the changed ones before
calls and returns. The call depth lives in the ``depth`` slot (``values.FRAME_LIMIT``, the
interpreter's "Stack overflow" error).

Native ops: constants, moves, the typed integer/f64 arithmetic, comparisons and conversions
(overflow, division by zero and range checks included), the generic ``*_I32_R`` arithmetic
and ``EQ_R``/``NE_R``/logic when the operand kinds are known, jumps and fused loop ops, calls
and returns, and ``ARRAY_GET_R``/``ARRAY_SET_R``/``ARRAY_LEN_R``/``ARRAY_PUSH_R`` on the
heap (``heap``), an array's header words (length, capacity, data) kept in SSA values from
its first access on, across loops, until a call or a push through another register may
change them (``_Translator._fields``). Every other op (print, strings, iterators,
``MAKE_ARRAY_R``, ``MOD_F64``, ...) calls a Python helper that runs the reference
interpreter's own handler for that instruction on the boxed operands (``_fallback``), so it
has exactly the interpreter's semantics. A failed check branches to the region's one raise
block with its error code; that calls ``orus_error``, which raises the interpreter's
``OrusRuntimeError`` with the same message and location; the error leaves generated code
and ``run`` returns it.

Mixed mode (``threshold`` above 1): the interpreter runs cold code; hot calls run function
regions and hot loops enter loop regions at their header (on-stack entry:
``_MixedInterpreter``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Optional

from dynarec.functions import FunctionJit
from dynarec.ir.builder import Builder
from dynarec.ir.nodes import Region, Slot, Value
from dynarec.ir.types import F64, I1, I32, I64, Type

from .errors import OrusLoadError, OrusRuntimeError
from .heap import (CAPACITY, DATA, ELEMENT_SHIFT, HEAP_ADDRESS_MASK, LENGTH, MUTATES_ARRAYS,
                   TAG_ARR, TAG_BOOL, TAG_F64, TAG_I32, TAG_I64, TAG_OBJ, TAG_U32, TAG_U64,
                   TAG_VOID, Runtime)
from .interpreter import (DIVISION_BY_ZERO, HOMOGENEOUS, NOT_ARRAY, NOT_BOOLEAN, OVERFLOW,
                          STACK_OVERFLOW, Interpreter, RunResult)
from .loader import Chunk, Program
from .values import (FRAME_LIMIT, FRAME_REG_START, MODULE_REG_START, REGISTER_COUNT,
                     parameter_base)

# --- kinds ------------------------------------------------------------------------------------

ANY = "any"
KIND_TAG = {"bool": TAG_BOOL, "i32": TAG_I32, "i64": TAG_I64, "u32": TAG_U32, "u64": TAG_U64,
            "f64": TAG_F64, "arr": TAG_ARR}
KIND_TYPE = {"bool": I1, "i32": I32, "i64": I64, "u32": I32, "u64": I64, "f64": F64,
             "arr": I64}
INT_BITS = {"i32": 32, "i64": 64, "u32": 32, "u64": 64}
SIGNED = {"i32": True, "i64": True, "u32": False, "u64": False}

SHARED = tuple(range(FRAME_REG_START)) + tuple(range(MODULE_REG_START, REGISTER_COUNT))
"""The shared registers, in ``g_tag``/``g_val`` slot order."""
SHARED_SLOT = {r: i for i, r in enumerate(SHARED)}

ARR_FIELDS = "arr+fields"
"""The block-entry kind of an ``arr`` register whose ``V.fields`` travel with it: four block
parameters (header, length, capacity, data), so a loop keeps an array's header words in
registers across iterations. It fits an ``arr`` entry (which drops the fields)."""

MAX_VERSIONS = 2
"""Versions of one bytecode block the translator makes for different entry kinds."""

NEGATIVE_INDEX = "Array index must be a non-negative integer"
OUT_OF_BOUNDS = "Array index out of bounds"
"""The interpreter's messages for a bad array index (``interpreter`` ``_array_index``)."""

X86_DEFAULT_NAN64 = 0xFFF8_0000_0000_0000
"""The NaN x86 SSE arithmetic produces (``values.X86_DEFAULT_NAN``): the regions' nan64."""


@dataclass
class V:
    """A register's value during translation: ``kind`` and its SSA value ``a`` (for ``any``:
    ``a`` the tag, ``b`` the payload). An ``arr`` value may carry its header's ``fields``:
    SSA values ``(length, capacity, data)`` known to equal the header's words (``heap``),
    so array ops need not load them (``_Translator._fields``)."""

    kind: str
    a: Value
    b: Optional[Value] = None
    fields: Optional[tuple] = None


# --- the bytecode's shape ------------------------------------------------------------------------

_JUMPS = {"JUMP", "JUMP_SHORT", "LOOP", "LOOP_SHORT", "JUMP_BACK_SHORT"}
_BRANCHES = {"JUMP_IF_NOT_R", "JUMP_IF_NOT_SHORT", "BRANCH_TYPED", "JUMP_IF_NOT_I32_TYPED",
             "INC_CMP_JMP", "DEC_CMP_JMP"}
_ENDS = {"RETURN_R", "RETURN_VOID", "HALT"}
_USE_ONLY = {"ARRAY_SET_R", "ARRAY_PUSH_R", "PRINT_R", "RETURN_R", "JUMP_IF_NOT_R",
             "JUMP_IF_NOT_SHORT", "BRANCH_TYPED", "JUMP_IF_NOT_I32_TYPED"}
_NO_FALLBACK = _JUMPS | _BRANCHES | _ENDS | {"CALL_R", "TAIL_CALL_R"}


def registers(insn) -> tuple:
    """``(uses, defs)``: the registers ``insn`` reads and writes (lists)."""
    m, ops = insn.mnemonic, insn.operands
    letters = [c for c in insn.row.format if c != "_"]
    regs = [v for letter, v in zip(letters, ops) if letter == "r"]
    if m == "MAKE_ARRAY_R":
        return list(range(ops[1], ops[1] + ops[2])), [ops[0]]
    if m == "PRINT_MULTI_R":
        return list(range(ops[0], ops[0] + ops[1])), []
    if m == "CALL_R":
        f, first, count, d = ops
        return [f, *range(first, first + count), d], [d]
    if m == "ITER_NEXT_R":
        return [ops[1], ops[0]], [ops[0], ops[2]]
    if m in ("INC_CMP_JMP", "DEC_CMP_JMP"):
        return regs, regs[:1]
    if m.startswith(("INC_", "DEC_")):
        return regs, regs
    if m in _USE_ONLY or not regs:
        return regs, []
    return regs[1:], regs[:1]


@dataclass
class _Block:
    """A bytecode basic block: ``index``, ``insns``, ``succs`` (block indices: fallthrough
    first), ``live_in`` (frame registers read before written), ``read_in`` (all registers,
    shared ones included, some op may read before they are written; the write-back of
    shared registers at calls and returns does not count)."""

    index: int
    insns: list
    succs: list
    live_in: frozenset = frozenset()
    read_in: frozenset = frozenset()


def basic_blocks(chunk: Chunk) -> list:
    """The chunk's basic blocks in code order, with successors and live-in registers.
    Raises ``OrusLoadError`` for code that runs off the end of its chunk."""
    insns = chunk.insns
    leaders = {0}
    for insn in insns:
        m = insn.mnemonic
        if m in _JUMPS or m in _BRANCHES or m in _ENDS or m == "TAIL_CALL_R":
            leaders.add(insn.next)
            if insn.target is not None:
                leaders.add(insn.target)
    starts = sorted(s for s in leaders if s < len(chunk.code))
    index = {s: i for i, s in enumerate(starts)}
    blocks, current = [], None
    for insn in insns:
        if insn.offset in index:
            current = _Block(index[insn.offset], [], [])
            blocks.append(current)
        current.insns.append(insn)
    for block in blocks:
        last = block.insns[-1]
        m = last.mnemonic
        if m in _ENDS:
            continue
        if m not in _JUMPS:
            if last.next >= len(chunk.code):
                raise chunk.error(last, "execution runs off the end of the chunk")
            block.succs.append(index[last.next])
        if last.target is not None and (m in _JUMPS or m in _BRANCHES):
            block.succs.append(index[last.target])
    _liveness(blocks)
    return blocks


def _liveness(blocks: list) -> None:
    """Set each block's ``live_in`` (frame registers only; shared ones are always kept) and
    ``read_in``."""
    for block, live in zip(blocks, _live_registers(blocks, shared=False)):
        block.live_in = live
    for block, live in zip(blocks, _live_registers(blocks, shared=True)):
        block.read_in = live


def _live_registers(blocks: list, shared: bool) -> list:
    """Per block, the registers read before written from its start (shared ones too with
    ``shared``): the classic backward dataflow."""
    gen, kill = [], []
    for block in blocks:
        g, k = set(), set()
        for insn in block.insns:
            uses, defs = registers(insn)
            g.update(r for r in uses if r not in k and (shared or r not in SHARED_SLOT))
            k.update(defs)
        gen.append(g)
        kill.append(k)
    live = [set() for _ in blocks]
    changed = True
    while changed:
        changed = False
        for block in reversed(blocks):
            out = set()
            for s in block.succs:
                out |= live[s]
            new = gen[block.index] | (out - kill[block.index])
            if new != live[block.index]:
                live[block.index] = new
                changed = True
    return [frozenset(regs) for regs in live]


def function_constants(program: Program) -> dict:
    """Shared register -> function index, for every shared register whose only writes in the
    whole program are ``LOAD_I32_CONST`` of one valid function index (how the compiler keeps
    ``fn`` declarations: README section 3)."""
    loads: dict = {}
    for _, chunk in program.chunks():
        for insn in chunk.insns:
            _, defs = registers(insn)
            for r in defs:
                if r not in SHARED_SLOT:
                    continue
                value = None
                if insn.mnemonic in ("LOAD_I32_CONST", "LOAD_CONST"):
                    constant = chunk.constants[insn.operands[1]]
                    if constant.tag == "i32":
                        value = constant.value
                loads.setdefault(r, set()).add(value)
    n = len(program.functions)
    return {r: next(iter(values)) for r, values in loads.items()
            if len(values) == 1 and None not in values and 0 <= next(iter(values)) < n}


# --- the JIT ------------------------------------------------------------------------------------

class OrusJit:
    """Runs a loaded ``Program`` on native code (module doc). ``output``: binary stream the
    program prints to (default ``sys.stdout.buffer``); ``frame_limit`` as the interpreter's;
    ``threshold``/``host``: see ``FunctionJit``. ``trace(function, tag, payload)``, if given,
    is called at every region exit -- each return of a function (``function``: its index +
    1) and the end of the program (``function`` 0) -- with the shared registers written back
    and the returned pair (``TAG_VOID`` for none): the lockstep runner's comparison points
    (``diff``). Raises ``OrusLoadError`` for a program the reference interpreter cannot run
    (the JIT runs the same opcodes)."""

    def __init__(self, program: Program, output=None, frame_limit: int = FRAME_LIMIT,
                 threshold: int = 1, host=None, trace=None):
        self.program = program
        self.trace = trace
        self.frame_limit = frame_limit
        self.runtime = Runtime()
        self.fn_constants = function_constants(program)
        n = len(SHARED)
        self.jit = FunctionJit([Slot("g_tag", I32, n), Slot("g_val", I64, n),
                                Slot("depth", I32)], host=host, threshold=threshold,
                               memory=self.runtime.heap.memory)
        self.interp = _MixedInterpreter(self, program, output, frame_limit)
        self._errors: list = []
        self._error_codes: dict = {}
        self._blocks: dict = {}
        self._scratch = [False] * REGISTER_COUNT
        self.jit.add_helper("orus_error", self._raise_error, [I32])
        self.jit.add_helper("orus_grow", self.runtime.heap.grow, [I64])
        if trace is not None:
            self.jit.add_helper("orus_trace", trace, [I32, I32, I64])
        self.jit.declare("main", [], [I32, I64], self._translator(None))
        for function in program.functions:
            self.jit.declare(self.region_name(function.index), [I32, I64] * function.arity,
                             [I32, I64], self._translator(function))
        for i in range(n):
            self.jit.write(f"g_tag[{i}]", TAG_BOOL)      # a register never written: false
        self.jit.write("depth", 1)
        self.jit.stats.declare("fallback_sites", "ops run by interpreter helpers (sites)")
        self.jit.stats.declare("table_calls", "calls through the function table")

    @staticmethod
    def region_name(index: int) -> str:
        """The function region of function ``index``."""
        return f"fn{index}"

    @staticmethod
    def loop_name(function, header: int) -> str:
        """The loop region entered at offset ``header`` of ``function`` (``None``: main)."""
        return f"{'main' if function is None else f'fn{function.index}'}_at_{header:x}"

    def blocks(self, function) -> list:
        """The basic blocks of ``function``'s chunk (``None``: main), computed once."""
        key = None if function is None else function.index
        blocks = self._blocks.get(key)
        if blocks is None:
            chunk = self.program.main if function is None else function.chunk
            blocks = self._blocks[key] = basic_blocks(chunk)
        return blocks

    # --- mixed mode: the interpreter runs code until it is hot ------------------------------

    def loop_inputs(self, function, header: int) -> list:
        """The registers live at the loop header: a loop region's parameters (pairs)."""
        for block in self.blocks(function):
            if block.insns[0].offset == header:
                return sorted(block.live_in)
        raise ValueError(f"no basic block starts at {header:#06x}")

    def loop_hot(self, function, header: int) -> bool:
        """Count a back edge to ``header``; True once its loop region should run."""
        name = self.loop_name(function, header)
        if name not in self.jit.table:
            inputs = self.loop_inputs(function, header)

            def translate(region, jit):
                _Translator(self, function, region, entry=header).translate()
            self.jit.declare(name, [I32, I64] * len(inputs), [I32, I64], translate, loop=True)
        return self.jit.hot(name)

    def enter_native(self, name: str, regs: list, values: list, depth: int) -> tuple:
        """Run region ``name`` from the interpreter: its arguments are ``values`` (runtime
        values), the shared registers come from and go back to ``regs`` (arrays are copied
        to the heap and back, ``Runtime.export``); ``depth``: the call depth it runs at.
        Returns the result pair and the headers of the arrays read back (for
        ``Runtime.import_`` of the result)."""
        runtime, jit = self.runtime, self.jit
        exported: set = set()
        for i, r in enumerate(SHARED):
            tag, payload = runtime.export(regs[r], exported)
            jit.write(f"g_tag[{i}]", tag)
            jit.write(f"g_val[{i}]", payload)
        words = [w for v in values for w in runtime.export(v, exported)]
        jit.write("depth", depth)
        tag, payload = jit.call(name, *words)
        imported: set = set()
        for header in exported:
            runtime.import_(TAG_ARR, header, imported)
        for i, r in enumerate(SHARED):
            regs[r] = runtime.import_(jit.read(f"g_tag[{i}]"), jit.read(f"g_val[{i}]"),
                                      imported)
        return tag, payload, imported

    @property
    def stats(self):
        """The counters (``dynarec.stats.Stats``) of the function table."""
        return self.jit.stats

    def stats_table(self) -> str:
        """The JIT's counters, one ``name: value`` line each (what ``--stats`` prints)."""
        st = self.jit.stats
        rows = [("functions compiled", st["functions_compiled"]),
                ("loop regions compiled", st["loop_entries_compiled"]),
                ("interpreter-helper sites", st["fallback_sites"]),
                ("calls through the function table", st["table_calls"]),
                ("IR ops after passes", st["ir_ops_compiled"]),
                ("host instructions", st["host_insns"]),
                ("host code bytes", st["host_bytes"])]
        lines = [f"{name}: {value:,}" for name, value in rows]
        lines.append(f"compile time: {st['compile_time']:.3f} s")
        return "\n".join(lines)

    def run(self) -> RunResult:
        """Run the program from the start of ``main`` to its end or a runtime error (which
        is returned, located, as the interpreter returns it). With ``threshold`` 1 all of
        it is generated code and ``retired`` is 0; above, the interpreter starts and
        ``retired`` counts the instructions it ran."""
        if self.jit.threshold > 1:
            return self.interp.run()
        try:
            self.jit.call("main")
        except OrusRuntimeError as exc:
            return RunResult(0, False, exc)
        return RunResult(0, True)

    def register(self, number: int):
        """The value of shared register ``number`` (globals), e.g. after ``run``."""
        i = SHARED_SLOT[number]
        return self.runtime.unbox(self.jit.read(f"g_tag[{i}]"), self.jit.read(f"g_val[{i}]"))

    # --- helpers ---------------------------------------------------------------------------

    def _raise_error(self, code: int) -> None:
        message, function, offset, line = self._errors[code]
        raise OrusRuntimeError(message).locate(function, offset, line)

    def error_code(self, message: str, function, insn, chunk: Chunk) -> int:
        """The ``orus_error`` code of ``message`` raised at ``insn``."""
        key = (message, None if function is None else function.index, insn.offset)
        code = self._error_codes.get(key)
        if code is None:
            code = self._error_codes[key] = len(self._errors)
            name = None if function is None else function.name
            self._errors.append((message, name, insn.offset, chunk.lines[insn.offset]))
        return code

    def fallback_helper(self, function, insn, chunk: Chunk) -> tuple:
        """Register the helper that runs ``insn`` with the interpreter's handler; returns
        ``(name, uses, defs)``. It takes the uses as (tag, payload) pairs and returns the
        defs' pairs."""
        name = f"op_{'main' if function is None else function.index}_{insn.offset:x}"
        uses, defs = registers(insn)
        if name in self.jit.helpers:
            return name, uses, defs
        handlers = (self.interp._main_handlers if function is None
                    else self.interp._function_handlers[function.index])
        handler = handlers[insn.offset]
        runtime, R = self.runtime, self._scratch
        where = (None if function is None else function.name, insn.offset,
                 chunk.lines[insn.offset])
        mutates = insn.mnemonic in MUTATES_ARRAYS

        def run_op(*words):
            out = []
            try:
                for i, r in enumerate(uses):
                    R[r] = runtime.unbox(words[2 * i], words[2 * i + 1])
                handler(R)
                for r in defs:
                    out.extend(runtime.box(R[r]))
            except OrusRuntimeError as exc:
                runtime.finish(False)
                raise exc.locate(*where) from None
            runtime.finish(mutates)
            return tuple(out) if out else None

        self.jit.add_helper(name, run_op, [I32, I64] * len(uses), [I32, I64] * len(defs))
        self.jit.stats["fallback_sites"] += 1
        return name, uses, defs

    def call_helper(self, function, insn, chunk: Chunk) -> str:
        """Register the helper of a ``CALL_R`` through the function table: arguments are the
        callee value's pair, the argument pairs and the result register's old pair; it
        returns the result register's new pair (README section 3: ``false`` for a callee
        that is not a function or an arity mismatch)."""
        name = f"call_{'main' if function is None else function.index}_{insn.offset:x}"
        if name in self.jit.helpers:
            return name
        count = insn.operands[2]
        runtime, jit, functions = self.runtime, self.jit, self.program.functions
        where = (None if function is None else function.name, insn.offset,
                 chunk.lines[insn.offset])

        def call(*words):
            index = runtime.unbox(words[0], words[1])
            if not (type(index) is int and 0 <= index < len(functions)
                    and functions[index].arity == count):
                return TAG_BOOL, 0
            depth = jit.read("depth")
            if depth > self.frame_limit:
                raise OrusRuntimeError(STACK_OVERFLOW.format(self.frame_limit)).locate(*where)
            jit.stats["table_calls"] += 1
            jit.write("depth", depth + 1)
            try:
                tag, payload = jit.call(self.region_name(index), *words[2:-2])
            finally:
                jit.write("depth", depth)
            return (words[-2], words[-1]) if tag == TAG_VOID else (tag, payload)

        self.jit.add_helper(name, call, [I32, I64] * (count + 2), [I32, I64])
        return name

    def _translator(self, function):
        def translate(region: Region, jit: FunctionJit) -> None:
            _Translator(self, function, region).translate()
        return translate


class _MixedInterpreter(Interpreter):
    """The reference interpreter as ``OrusJit`` runs cold code with it (``threshold`` above
    1): a call of a function that has become hot (``FunctionJit.hot``) runs its function
    region, and a back edge to a loop header that has become hot enters the function's loop
    region there (on-stack entry), which runs to the function's return; the interpreter then
    returns from the frame with that region's result. With ``threshold`` 1 it only lends
    its handlers to the JIT's helpers."""

    def __init__(self, owner: OrusJit, program: Program, output, frame_limit: int):
        super().__init__(program, output=output, frame_limit=frame_limit)
        self.owner = owner
        if owner.jit.threshold == 1:
            return
        chunks = [(None, program.main, self._main_handlers)]
        chunks += [(f, f.chunk, self._function_handlers[f.index]) for f in program.functions]
        for function, chunk, handlers in chunks:
            for insn in chunk.insns:
                if insn.target is not None and insn.target <= insn.offset:
                    handlers[insn.offset] = self._back_edge(function, insn.target,
                                                            handlers[insn.offset])

    def _back_edge(self, function, header: int, handler):
        owner = self.owner

        def back_edge(R):
            nxt = handler(R)
            if nxt == header and owner.loop_hot(function, header):
                return self._run_loop(function, header, R)
            return nxt
        return back_edge

    def _run_loop(self, function, header: int, R: list) -> int:
        owner = self.owner
        values = [R[r] for r in owner.loop_inputs(function, header)]
        tag, payload, imported = owner.enter_native(owner.loop_name(function, header), R,
                                                    values, len(self.frames))
        if function is None:
            return self._end(header)
        if tag == TAG_VOID:
            return self._leave(None, False)
        return self._leave(owner.runtime.import_(tag, payload, imported), True)

    def _enter(self, function, caller_regs: list, args: list, result_reg, return_pc: int):
        owner = self.owner
        if result_reg is None or owner.jit.threshold == 1 or \
                not owner.jit.hot(owner.region_name(function.index)):
            return super()._enter(function, caller_regs, args, result_reg, return_pc)
        if len(self.frames) > self.frame_limit:
            raise OrusRuntimeError(STACK_OVERFLOW.format(self.frame_limit))
        tag, payload, imported = owner.enter_native(owner.region_name(function.index),
                                                    caller_regs, args, len(self.frames) + 1)
        if tag != TAG_VOID:
            caller_regs[result_reg] = owner.runtime.import_(tag, payload, imported)
        self.calls += 1
        return return_pc


# --- translation --------------------------------------------------------------------------------

class _Translator:
    """Translates one chunk into its function region (module doc: kinds, shared registers).

    ``translate`` runs the translation until the block-entry kinds are stable: each pass
    builds the region anew in reverse postorder (then the block versions a back edge made
    after their block was translated), and an edge whose values do not fit its target's
    entry kinds widens them and asks for another pass."""

    def __init__(self, owner: OrusJit, function, region: Region, entry: Optional[int] = None):
        self.owner = owner
        self.function = function
        self.chunk = owner.program.main if function is None else function.chunk
        self.region = region
        region.attrs["nan64"] = X86_DEFAULT_NAN64
        self.blocks = owner.blocks(function)
        self.loop_entry = entry
        self.start = 0 if entry is None else self.blocks_at(entry)
        self.order = self._reverse_postorder()
        self.shared = sorted({r for insn in self.chunk.insns for r in _all_regs(insn)
                              if r in SHARED_SLOT})
        # block index -> its versions: [(kinds {reg: kind}, dirty shared regs: frozenset)]
        self.versions: dict = {}
        # block index -> the shared registers whose value there no op reads before writing
        # them: they enter boxed and dirty (written back as they are), so that their kinds
        # and dirtiness -- only write-backs see them -- make no extra block versions
        self.unread = [frozenset(self.shared) - block.read_in for block in self.blocks]

    def _reverse_postorder(self) -> list:
        seen, post = {self.start}, []
        stack = [(self.start, iter(self.blocks[self.start].succs))]
        while stack:
            node, it = stack[-1]
            for s in it:
                if s not in seen:
                    seen.add(s)
                    stack.append((s, iter(self.blocks[s].succs)))
                    break
            else:
                post.append(node)
                stack.pop()
        return post[::-1]

    # --- the fixpoint ------------------------------------------------------------------------

    def translate(self) -> None:
        for _ in range(64):
            self.changed = False
            self._build()
            if not self.changed:
                return
        raise OrusLoadError(f"{self.chunk.label}: register kinds do not settle")

    def _build(self) -> None:
        region = self.region
        region.blocks.clear()
        region.next_value = 0
        self.b = b = Builder(region, self.owner.jit.module)
        self.ir_blocks: dict = {}           # (block index, version) -> IR block
        self.raise_block = None
        for index, versions in self.versions.items():
            for version, (kinds, _) in enumerate(versions):
                self._make_block((index, version), kinds)
        # entry: parameters (a loop entry's: the registers live at the loop header) and the
        # shared registers the chunk names
        self.regs, self.dirty = {}, set()
        params = list(region.entry.params)
        if self.loop_entry is not None:
            inputs = sorted(self.blocks[self.start].live_in)
        elif self.function is not None:
            base = parameter_base(self.function.arity)
            inputs = range(base, base + self.function.arity)
        else:
            inputs = ()
        for i, r in enumerate(inputs):
            self.regs[r] = V(ANY, params[2 * i], params[2 * i + 1])
        self._load_shared()
        for r in self.blocks[self.start].live_in:
            self.regs.setdefault(r, V("bool", b.iconst(I1, 0)))
        b.br(self._edge(self.start))
        done: set = set()
        while True:                         # again for versions a back edge made
            todo = [(index, version) for index in self.order
                    for version in range(len(self.versions.get(index, ())))
                    if (index, version) not in done]
            if not todo:
                return
            for key in todo:
                done.add(key)
                self._translate_block(*key)

    def _translate_block(self, index: int, version: int) -> None:
        b = self.b
        self._start_block((index, version))
        block = self.blocks[index]
        for insn in block.insns:
            self.insn = insn
            self._emit(insn)
        if not b.terminated:
            b.br(self._edge(block.succs[0]))

    def _make_block(self, key: tuple, kinds: dict) -> None:
        self.ir_blocks[key] = self.b.new_block(self._types(kinds))

    def _start_block(self, key: tuple) -> None:
        index, version = key
        kinds, dirty = self.versions[index][version]
        if [p.type for p in self.ir_blocks[key].params] != self._types(kinds):
            self._make_block(key, kinds)        # widened since made: this pass is discarded
        blk = self.ir_blocks[key]
        self.b.switch_to(blk)
        params = iter(blk.params)
        self.regs = {}
        for r in sorted(kinds):
            if kinds[r] == ANY:
                self.regs[r] = V(ANY, next(params), next(params))
            elif kinds[r] == ARR_FIELDS:
                self.regs[r] = V("arr", next(params),
                                 fields=(next(params), next(params), next(params)))
            else:
                self.regs[r] = V(kinds[r], next(params))
        self.dirty = set(dirty)

    def _version(self, index: int, kinds: dict, dirty: frozenset) -> int:
        """The version of block ``index`` an edge with ``kinds``/``dirty`` goes to: the one
        made for exactly these kinds, else a new one (up to ``MAX_VERSIONS``: a loop header
        reached with boxed values from outside and unboxed ones along its back edge gets
        two), else the most specific one that fits (``_fits``), else the last one widened
        (``_widen``)."""
        versions = self.versions.setdefault(index, [])
        fitting = []
        for v, (have, have_dirty) in enumerate(versions):
            if dirty <= have_dirty and all(_fits(k, have[r]) for r, k in kinds.items()):
                if have == kinds:
                    return v
                fitting.append((sum(k == ANY for k in have.values()), v))
        if len(versions) < MAX_VERSIONS:
            versions.append((kinds, dirty))
            self._make_block((index, len(versions) - 1), kinds)
            return len(versions) - 1
        if fitting:
            return min(fitting)[1]
        have, have_dirty = versions[-1]
        versions[-1] = ({r: _widen(have.get(r), k) for r, k in kinds.items()},
                        have_dirty | dirty)
        self.changed = True
        return len(versions) - 1

    def _edge(self, index: int) -> tuple:
        """The branch target ``(IR block, args)`` from the current state to bytecode block
        ``index`` (``_version`` picks which of its versions)."""
        block = self.blocks[index]
        keep = block.live_in | set(self.shared)
        unread = self.unread[index]
        kinds = {r: ANY if r in unread else _entry_kind(self._read(r)) for r in keep}
        version = self._version(index, kinds, frozenset(self.dirty | unread))
        target_kinds = self.versions[index][version][0]
        blk = self.ir_blocks[(index, version)]
        args = []
        if self.changed and [p.type for p in blk.params] != self._types(target_kinds):
            args = [self._zero(p.type) for p in blk.params]      # this pass is discarded
        else:
            for r in sorted(target_kinds):
                args += self._as(self._read(r), target_kinds[r])
        return blk, args

    @staticmethod
    def _types(kinds: dict) -> list:
        out = []
        for r in sorted(kinds):
            out += _ENTRY_TYPES.get(kinds[r]) or [KIND_TYPE[kinds[r]]]
        return out

    def _zero(self, t: Type) -> Value:
        return self.b.fconst(t, 0) if t.is_float else self.b.iconst(t, 0)

    # --- values ------------------------------------------------------------------------------

    def _read(self, r: int) -> V:
        v = self.regs.get(r)
        if v is None:                       # never written here: the VM reads false
            v = self.regs[r] = V("bool", self.b.iconst(I1, 0))
        return v

    def _write(self, r: int, v: V) -> None:
        self.regs[r] = v
        if r in SHARED_SLOT:
            self.dirty.add(r)

    def _as(self, v: V, kind: str) -> list:
        """``v`` as SSA values of block-entry ``kind`` (same kind, ``arr`` with or without
        its fields, or boxed into ``any``)."""
        if kind == ARR_FIELDS and v.fields is not None:
            return [v.a, *v.fields]
        if v.kind == kind:
            return [v.a] if kind != ANY else [v.a, v.b]
        if kind != ANY:                     # only in a pass that will be discarded
            return [self._zero(t) for t in self._types({0: kind})]
        return list(self._box(v))

    def _box(self, v: V) -> tuple:
        b = self.b
        if v.kind == ANY:
            return v.a, v.b
        tag = b.iconst(I32, KIND_TAG[v.kind])
        if v.kind == "f64":
            return tag, b.bitcast(I64, v.a)
        if KIND_TYPE[v.kind] is I64:
            return tag, v.a
        return tag, b.zext(I64, v.a)

    def _unbox(self, payload: Value, kind: str) -> Value:
        b = self.b
        if kind == "f64":
            return b.bitcast(F64, payload)
        if kind == "bool":
            return b.icmp(payload, b.iconst(I64, 0), cond="ne")
        if kind in ("i32", "u32"):
            return b.trunc(I32, payload)
        return payload

    def want(self, r: int, kind: str, message: str) -> Value:
        """Register ``r`` as an SSA value of ``kind``, checking an ``any`` register's tag
        (``message`` if it is another type); the register is of ``kind`` afterwards."""
        v = self._read(r)
        if v.kind == kind:
            return v.a
        b = self.b
        if v.kind == ANY:
            self.check(b.icmp(v.a, b.iconst(I32, KIND_TAG[kind]), cond="eq"), message)
            value = self._unbox(v.b, kind)
        else:
            self.fail(message)
            value = self._zero(KIND_TYPE[kind])
        self.regs[r] = V(kind, value)       # same value: not a write of a shared register
        return value

    def _load_shared(self) -> None:
        b = self.b
        for r in self.shared:
            i = SHARED_SLOT[r]
            self.regs[r] = V(ANY, b.get(f"g_tag[{i}]"), b.get(f"g_val[{i}]"))
        self.dirty = set()

    def _flush_shared(self) -> None:
        b = self.b
        for r in sorted(self.dirty):
            tag, payload = self._box(self._read(r))
            i = SHARED_SLOT[r]
            b.put(f"g_tag[{i}]", tag)
            b.put(f"g_val[{i}]", payload)
        self.dirty = set()

    # --- checks ------------------------------------------------------------------------------

    def _fail_target(self, message: str) -> tuple:
        """The branch target raising ``message`` at the current instruction: the region's
        one raise block (made on first use: ``orus_error(code)``, then return), given the
        error's code (``OrusJit.error_code``) as its argument."""
        b = self.b
        if self.raise_block is None:
            here = b.block
            self.raise_block = b.new_block([I32])
            b.switch_to(self.raise_block)
            b.call("orus_error", self.raise_block.params[0])
            b.ret(b.iconst(I32, 0), b.iconst(I64, 0))
            b.switch_to(here)
        code = self.owner.error_code(message, self.function, self.insn, self.chunk)
        return self.raise_block, [b.iconst(I32, code)]

    def check(self, ok: Value, message: str) -> None:
        """Continue if ``ok``, else raise ``message`` at the current instruction. The
        branch tests the negated condition with the failure block as its first target,
        which the backends' block order (reverse postorder) places out of the hot path."""
        b = self.b
        cont = b.new_block()
        b.brif(self._not(ok), self._fail_target(message), cont)
        b.switch_to(cont)

    def _not(self, cond: Value) -> Value:
        """The negation of i1 ``cond``: an ``icmp`` with the opposite condition when
        ``cond`` is one (so the backend fuses it with its branch), else ``cond == 0``."""
        b, d = self.b, cond.defn
        if d is not None and d.op == "icmp":
            return b.icmp(*d.args, cond=_NEGATED[d.attrs["cond"]])
        return b.icmp(cond, b.iconst(I1, 0), cond="eq")

    def _add_checked(self, x: Value, y: Value, subtract: bool = False) -> tuple:
        """``(x + y or x - y, no signed overflow)`` for integers of one type: against a
        constant ``y`` one compare of ``x`` before the operation; otherwise the sign rule
        (an add overflows iff both operands' signs differ from the result's; a subtract
        iff the operands' signs differ and the result's differs from ``x``'s; Hacker's
        Delight, 2nd ed., section 2-13)."""
        b, t = self.b, x.type
        r = (b.sub if subtract else b.add)(x, y)
        d = y.defn
        if d is not None and d.op == "iconst":
            c = _signed(d.attrs["value"], t.bits)
            c = -c if subtract else c
            low, high = -(1 << (t.bits - 1)), (1 << (t.bits - 1)) - 1
            if low <= c <= high:
                if c >= 0:
                    return r, b.icmp(x, b.iconst(t, high - c), cond="sle")
                return r, b.icmp(x, b.iconst(t, low - c), cond="sge")
        if subtract:
            sign = b.emit("and", [b.xor(x, y), b.xor(x, r)])
        else:
            sign = b.emit("and", [b.xor(x, r), b.xor(y, r)])
        return r, b.icmp(sign, b.iconst(t, 0), cond="sge")

    def fail(self, message: str) -> None:
        """Raise ``message`` unconditionally; translation goes on in an unreachable block."""
        b = self.b
        b.br(self._fail_target(message))
        b.switch_to(b.new_block())

    # --- emission ----------------------------------------------------------------------------

    def _emit(self, insn) -> None:
        m = insn.mnemonic
        method = _NATIVE.get(m)
        if method is not None and method(self, insn) is not False:
            return
        if m in _NO_FALLBACK:
            raise self.chunk.error(insn, "is not supported by the JIT")
        self._fallback(insn)

    def _fallback(self, insn) -> None:
        out = self._fallback_values(insn)
        for i, r in enumerate(registers(insn)[1]):
            self._write(r, V(ANY, out[2 * i], out[2 * i + 1]))

    def _fallback_values(self, insn) -> list:
        """Call the interpreter's handler for ``insn``: the defs' pairs, flat."""
        name, uses, defs = self.owner.fallback_helper(self.function, insn, self.chunk)
        args = []
        for r in uses:
            args += self._box(self._read(r))
        out = self.b.call(name, *args)
        self._forget_arrays()
        if out is None:
            return []
        return list(out) if isinstance(out, tuple) else [out]

    def _const(self, r: int, constant) -> None:
        b, tag, value = self.b, constant.tag, constant.value
        if tag in INT_BITS:
            self._write(r, V(tag, b.iconst(KIND_TYPE[tag], value)))
        elif tag == "f64":
            bits = struct.unpack("<Q", struct.pack("<d", float(value)))[0]
            self._write(r, V("f64", b.fconst(F64, bits)))
        elif tag == "bool":
            self._write(r, V("bool", b.iconst(I1, int(value))))
        else:
            handle = self.owner.runtime.handle(value) if tag == "string" else None
            if handle is None:
                return False
            self._write(r, V(ANY, b.iconst(I32, TAG_OBJ), b.iconst(I64, handle)))

    def load_const(self, insn):
        r, k = insn.operands
        return self._const(r, self.chunk.constants[k])

    def load_bool(self, insn):
        value = int(insn.mnemonic == "LOAD_TRUE")
        self._write(insn.operands[0], V("bool", self.b.iconst(I1, value)))

    def move(self, insn):
        d, s = insn.operands
        self._write(d, self._read(s))

    def move_typed(self, insn):
        d, s = insn.operands
        kind = insn.mnemonic[-3:].lower()
        self.want(s, kind, f"Source register must contain {kind} value")
        self._write(d, self._read(s))

    # arithmetic

    def _operands(self, insn, kind: str, message: str) -> tuple:
        _, a, c = insn.operands[:3]
        x = self.want(a, kind, message)
        y = self.want(c, kind, message)
        return x, y

    def arith(self, insn, kind: str, wraps: bool, overflow_messages=None):
        """ADD/SUB/MUL/DIV/MOD of an integer ``kind``, wrapping or checked."""
        m = insn.mnemonic
        op = m[:3]
        x, y = self._operands(insn, kind, f"Operands must be {kind}")
        b, t, signed = self.b, KIND_TYPE[kind], SIGNED[kind]
        if op in ("DIV", "MOD"):
            self.check(b.icmp(y, b.iconst(t, 0), cond="ne"), DIVISION_BY_ZERO)
            if signed:
                lo = 1 << (INT_BITS[kind] - 1)
                edge = b.emit("and", [b.icmp(x, b.iconst(t, lo), cond="eq"),
                                      b.icmp(y, b.iconst(t, -1), cond="eq")])
                self.check(b.icmp(edge, b.iconst(I1, 0), cond="eq"), OVERFLOW)
                r = (b.sdiv if op == "DIV" else b.srem)(x, y)
            else:
                r = (b.udiv if op == "DIV" else b.urem)(x, y)
        elif wraps:
            r = {"ADD": b.add, "SUB": b.sub, "MUL": b.mul}[op](x, y)
        elif signed and op != "MUL":
            r, ok = self._add_checked(x, y, subtract=op == "SUB")
            self.check(ok, OVERFLOW)
        else:
            zero = b.iconst(I1, 0)
            if op == "ADD":
                r, carry, ovf = b.addc(x, y, zero)
            elif op == "SUB":
                r, carry, ovf = b.subb(x, y, zero)
            else:
                r, ovf = b.smul_ov(x, y) if signed else b.umul_ov(x, y)
                carry = ovf
            bad = ovf if signed else carry
            message = OVERFLOW if overflow_messages is None else overflow_messages[op]
            self.check(b.icmp(bad, zero, cond="eq"), message)
        self._write(insn.operands[0], V(kind, r))

    def f64_arith(self, insn, zero_divisor_raises: bool):
        op = insn.mnemonic[:3]
        if op == "MOD":
            return False                    # C fmod: the interpreter's helper
        x, y = self._operands(insn, "f64", "Operands must be f64")
        b = self.b
        if op == "DIV" and zero_divisor_raises:
            self.check(b.fcmp(y, b.fconst(F64, 0), cond="une"), DIVISION_BY_ZERO)
        r = {"ADD": b.fadd, "SUB": b.fsub, "MUL": b.fmul, "DIV": b.fdiv}[op](x, y)
        self._write(insn.operands[0], V("f64", r))

    def compare(self, insn, kind: str):
        x, y = self._operands(insn, kind, f"Operands must be {kind}")
        b, op = self.b, insn.mnemonic[:2].lower()
        if kind == "f64":
            r = b.fcmp(x, y, cond="o" + op)
        else:
            r = b.icmp(x, y, cond=("s" if SIGNED[kind] else "u") + op)
        self._write(insn.operands[0], V("bool", r))

    def generic_arith(self, insn):
        """ADD/SUB/MUL/DIV/MOD_I32_R: native when both operand kinds are known and equal;
        ADD/SUB/MUL with ``any`` operands try i32 first (the helper does strings and the
        other types)."""
        d, a, c = insn.operands
        kinds = {self._read(a).kind, self._read(c).kind}
        op = insn.mnemonic[:3]
        if len(kinds) == 1 and kinds <= set(INT_BITS):
            return self.arith(insn, kinds.pop(), wraps=True)
        if kinds == {"f64"} and op not in ("DIV", "MOD"):
            return self.f64_arith(insn, False)
        if ANY not in kinds or not kinds <= {ANY, "i32"} or op in ("DIV", "MOD"):
            return False
        b = self.b
        x, y = self._box(self._read(a)), self._box(self._read(c))
        tag = b.iconst(I32, TAG_I32)
        both = b.emit("and", [b.icmp(x[0], tag, cond="eq"), b.icmp(y[0], tag, cond="eq")])

        def native():
            r = {"ADD": b.add, "SUB": b.sub, "MUL": b.mul}[op](b.trunc(I32, x[1]),
                                                               b.trunc(I32, y[1]))
            return [tag, b.zext(I64, r)]

        self._write(d, V(ANY, *self._diamond(both, native, lambda: self._fallback_values(insn),
                                             [I32, I64])))

    def immediate(self, insn):
        d, s, imm = insn.operands
        x = self.want(s, "i32", "Operand must be i32")
        b = self.b
        y = b.iconst(I32, imm)
        op = insn.mnemonic[:3]
        if op == "MUL":
            r, ovf = b.smul_ov(x, y)
            ok = b.icmp(ovf, b.iconst(I1, 0), cond="eq")
        else:
            r, ok = self._add_checked(x, y, subtract=op == "SUB")
        self.check(ok, OVERFLOW)
        self._write(d, V("i32", r))

    def negate(self, insn):
        d, s = insn.operands
        v = self._read(s)
        b = self.b
        if v.kind == "i32":
            self.check(b.icmp(v.a, b.iconst(I32, 1 << 31), cond="ne"),
                       "Integer overflow: cannot negate INT32_MIN")
            self._write(d, V("i32", b.neg(v.a)))
        elif v.kind == "f64":
            self._write(d, V("f64", b.fneg(v.a)))
        elif v.kind in ("i64", "u64", "u32"):
            self._write(d, V("i32" if v.kind == "u32" else "i64", b.neg(v.a)))
        else:
            return False

    # conversions

    def convert(self, insn):
        d, s = insn.operands
        m = insn.mnemonic
        src, dst = m[:-2].lower().split("_to_")
        x = self.want(s, src, f"Source must be {src}")
        b = self.b
        check = _CONVERSION_CHECKS.get(m)
        if check is not None:
            self.check(check(b, x), _CONVERSION_MESSAGES[m])
        if dst == "bool":
            r = b.fcmp(x, b.fconst(F64, 0), cond="une") if src == "f64" else \
                b.icmp(x, b.iconst(x.type, 0), cond="ne")
        elif src == "bool":
            r = b.fcvt_from_sint(F64, b.zext(I32, x)) if dst == "f64" else \
                b.zext(KIND_TYPE[dst], x)
        elif dst == "f64":
            r = (b.fcvt_from_sint if SIGNED[src] else b.fcvt_from_uint)(F64, x)
        elif src == "f64":
            r = self._f64_to_int(x, dst)
        else:
            r = self._resize(x, src, dst)
        self._write(d, V(dst, r))

    def _resize(self, x: Value, src: str, dst: str) -> Value:
        b, have, need = self.b, INT_BITS[src], INT_BITS[dst]
        if have == need:
            return x
        if have > need:
            return b.trunc(KIND_TYPE[dst], x)
        return (b.sext if SIGNED[src] else b.zext)(KIND_TYPE[dst], x)

    def _f64_to_int(self, x: Value, dst: str) -> Value:
        """C's cast as x86-64 runs it: truncation; NaN and out-of-range give the type's MIN
        (i32/i64; ``values.f64_to_int``). u32/u64 are range-checked before."""
        b, t = self.b, KIND_TYPE[dst]
        if not SIGNED[dst]:
            return b.fcvt_to_uint(t, x)
        r = b.fcvt_to_sint(t, x)
        bits = INT_BITS[dst]
        low = -(2.0 ** (bits - 1)) - (1.0 if bits == 32 else 0.0)
        high = 2.0 ** (bits - 1)
        above = b.fcmp(x, b.fconst(F64, _f64_bits(low)), cond="ogt" if bits == 32 else "oge")
        below = b.fcmp(x, b.fconst(F64, _f64_bits(high)), cond="olt")
        inside = b.emit("and", [above, below])
        return b.select(inside, r, b.iconst(t, 1 << (bits - 1)))

    # logic and equality on known kinds

    def _truth(self, v: V) -> Optional[Value]:
        b = self.b
        if v.kind == "bool":
            return v.a
        if v.kind == "f64":
            return b.fcmp(v.a, b.fconst(F64, 0), cond="une")
        if v.kind in INT_BITS:
            return b.icmp(v.a, b.iconst(v.a.type, 0), cond="ne")
        return None

    def logic(self, insn):
        ops = insn.operands
        values = [self._truth(self._read(r)) for r in ops[1:]]
        if None in values:
            return False
        b = self.b
        if insn.mnemonic == "NOT_BOOL_R":
            r = b.icmp(values[0], b.iconst(I1, 0), cond="eq")
        else:
            r = b.emit("and" if insn.mnemonic == "AND_BOOL_R" else "or", values)
        self._write(ops[0], V("bool", r))

    def equality(self, insn):
        """EQ_R/NE_R when at least one operand's kind is known (``valuesEqual``: same type
        and value; f64 by ``==``)."""
        d, a, c = insn.operands
        x, y = self._read(a), self._read(c)
        if x.kind == ANY:
            x, y = y, x
        if x.kind == ANY:
            return False
        b = self.b
        if y.kind == ANY:
            same = b.icmp(y.a, b.iconst(I32, KIND_TAG[x.kind]), cond="eq")
            r = b.emit("and", [same, self._equal(x.kind, x.a, self._unbox(y.b, x.kind))])
        elif x.kind != y.kind:
            r = b.iconst(I1, 0)
        else:
            r = self._equal(x.kind, x.a, y.a)
        if insn.mnemonic == "NE_R":
            r = b.icmp(r, b.iconst(I1, 0), cond="eq")
        self._write(d, V("bool", r))

    def _equal(self, kind: str, x: Value, y: Value) -> Value:
        b = self.b
        return b.fcmp(x, y, cond="oeq") if kind == "f64" else b.icmp(x, y, cond="eq")

    # arrays (heap.py: header and element layout)

    def _fields(self, r: int) -> tuple:
        """``(header, length, capacity, data)`` of the array in register ``r`` (checked:
        "Value is not an array"; the register is of kind ``arr`` afterwards). The header
        words are loaded once, then travel with the register (``V.fields``, across loop
        back edges as ``ARR_FIELDS`` block parameters) until something may change them: a
        push through another register or any call (``_forget_arrays``)."""
        header = self.want(r, "arr", NOT_ARRAY)
        fields = self.regs[r].fields
        if fields is None:
            b = self.b
            fields = tuple(b.load(I64, self._field(header, offset))
                           for offset in (LENGTH, CAPACITY, DATA))
            self._cache(header, fields)
        return (header, *fields)

    def _cache(self, header: Value, fields: tuple) -> None:
        """Every register holding the array at ``header`` now carries ``fields``."""
        for r, v in self.regs.items():
            if v.kind == "arr" and v.a is header:
                self.regs[r] = V("arr", header, fields=fields)

    def _forget_arrays(self, keep: Optional[Value] = None) -> None:
        """Drop the fields of every array register except those holding ``keep``: their
        header words may have changed (a push through ``keep`` may have gone into the same
        array under another SSA value; a call may push into any array)."""
        for r, v in self.regs.items():
            if v.fields is not None and v.a is not keep:
                self.regs[r] = V("arr", v.a)

    def _field(self, base: Value, offset) -> Value:
        """Heap address ``base + offset`` (an int or a Value), masked to the 8-aligned heap
        addresses it always is: the backend then knows the access is in range and within
        its page and skips those checks (``hosts/x86_64/codegen.bound``)."""
        b = self.b
        if isinstance(offset, int):
            address = b.add(base, b.iconst(I64, offset)) if offset else base
        else:
            address = b.add(base, offset)
        return b.emit("and", [address, b.iconst(I64, HEAP_ADDRESS_MASK)])

    def _diamond(self, cond: Value, fast, slow, types: list) -> list:
        """``fast()`` if ``cond`` else ``slow()``, joined: each returns SSA values of
        ``types`` (the join's parameters, returned). Neither may change registers."""
        b = self.b
        join, fast_block, slow_block = b.new_block(types), b.new_block(), b.new_block()
        b.brif(cond, fast_block, slow_block)
        b.switch_to(fast_block)
        b.br((join, fast()))
        b.switch_to(slow_block)
        b.br((join, slow()))
        b.switch_to(join)
        return list(join.params)

    def _indexed(self, insn, a: int, i: int, native) -> Optional[bool]:
        """An array op on ``R[a]`` at index ``R[i]``: ``native(element address) -> result
        pair or []`` for an i32 index (checked as the VM does), tried first for an ``any``
        index, whose other types go to the interpreter's helper; ``False`` (the helper) for
        an index of another kind. Writes the result to ``R[d]``, the first operand, if there
        is one."""
        index = self._read(i)
        if index.kind not in ("i32", ANY):
            return False
        fields = self._fields(a)
        if index.kind == "i32":
            results = native(self._element(fields, index.a))
        else:
            b = self.b
            is_i32 = b.icmp(index.a, b.iconst(I32, TAG_I32), cond="eq")
            results = self._diamond(
                is_i32, lambda: native(self._element(fields, b.trunc(I32, index.b))),
                lambda: self._fallback_values(insn), [I32, I64] * len(registers(insn)[1]))
        if results:
            self._write(insn.operands[0], V(ANY, *results))
        return None

    def _element(self, fields: tuple, index: Value) -> Value:
        """The heap address of element ``index`` (i32) of the array with header words
        ``fields`` (``_fields``), after the VM's checks of the index: one unsigned compare
        of the sign-extended index with the length, whose failure path tells a negative
        index ("must be a non-negative integer") from one past the end."""
        b = self.b
        _, length, _, data = fields
        wide = b.sext(I64, index)
        outside, inside = b.new_block(), b.new_block()
        b.brif(b.icmp(wide, length, cond="uge"), outside, inside)
        b.switch_to(outside)
        b.brif(b.icmp(index, b.iconst(I32, 0), cond="slt"),
               self._fail_target(NEGATIVE_INDEX), self._fail_target(OUT_OF_BOUNDS))
        b.switch_to(inside)
        return self._field(data, b.shl(wide, b.iconst(I64, ELEMENT_SHIFT)))

    def array_get(self, insn):
        d, a, i = insn.operands
        if self._read(a).kind not in (ANY, "arr"):
            return False

        def native(address):
            b = self.b
            tag = b.trunc(I32, b.load(I64, address))
            return [tag, b.load(I64, self._field(address, 8))]
        return self._indexed(insn, a, i, native)

    def _store_element(self, address: Value, v: V) -> list:
        """Store ``v`` boxed at element ``address``; no results (``[]``)."""
        b = self.b
        tag, payload = self._box(v)
        b.store(address, b.zext(I64, tag))
        b.store(self._field(address, 8), payload)
        return []

    def array_set(self, insn):
        a, i, r = insn.operands
        if self._read(a).kind not in (ANY, "arr"):
            return False
        value = self._read(r)
        return self._indexed(insn, a, i, lambda address: self._store_element(address, value))

    def array_len(self, insn):
        d, a = insn.operands
        if self._read(a).kind not in (ANY, "arr"):
            return False
        length = self._fields(a)[1]
        self._write(d, V("i32", self.b.trunc(I32, length)))

    def array_push(self, insn):
        """Push with the header words in registers: a full array calls ``orus_grow`` and
        reloads capacity and data; the new length is stored to the header at once (code
        that does not carry the fields reads it there)."""
        a, r = insn.operands
        if self._read(a).kind not in (ANY, "arr"):
            return False
        header, length, capacity, data = self._fields(a)
        value = self._read(r)
        b = self.b
        grow, room = b.new_block(), b.new_block([I64, I64])
        b.brif(b.icmp(length, capacity, cond="eq"), grow, (room, [capacity, data]))
        b.switch_to(grow)
        b.call("orus_grow", header)
        b.br((room, [b.load(I64, self._field(header, offset)) for offset in (CAPACITY, DATA)]))
        b.switch_to(room)
        capacity, data = room.params
        self._store_element(self._field(data, b.shl(length, b.iconst(I64, ELEMENT_SHIFT))),
                            value)
        length = b.add(length, b.iconst(I64, 1))
        b.store(self._field(header, LENGTH), length)
        self._forget_arrays(keep=header)
        self._cache(header, (length, capacity, data))

    # control flow

    def _branch(self, cond: Value, insn) -> None:
        """``brif cond``: to the jump target when true, else fall through."""
        target = self.blocks_at(insn.target)
        fall = self.blocks_at(insn.next)
        t = self._edge(target)
        f = self._edge(fall)
        self.b.brif(cond, t, f)

    def blocks_at(self, offset: int) -> int:
        """The index of the basic block starting at ``offset``."""
        for block in self.blocks:
            if block.insns[0].offset == offset:
                return block.index
        raise OrusLoadError(f"{self.chunk.label}: no basic block starts at {offset:#06x}")

    def jump(self, insn):
        self.b.br(self._edge(self.blocks_at(insn.target)))

    def jump_if_not(self, insn):
        c = insn.operands[-2]
        self._branch(self._not(self.want(c, "bool", NOT_BOOLEAN)), insn)

    def jump_if_not_less(self, insn):
        a, c, _ = insn.operands
        x = self.want(a, "i32", "Operands must be i32")
        y = self.want(c, "i32", "Operands must be i32")
        self._branch(self.b.icmp(x, y, cond="sge"), insn)

    def counted_loop(self, insn):
        c, l, _ = insn.operands
        forward = insn.mnemonic == "INC_CMP_JMP"
        kind = next((v.kind for v in (self._read(c), self._read(l)) if v.kind != ANY), "i32")
        if kind not in INT_BITS:
            kind = "i32"
        x = self.want(c, kind, HOMOGENEOUS)
        limit = self.want(l, kind, HOMOGENEOUS)
        b, t = self.b, KIND_TYPE[kind]
        one = b.iconst(t, 1)
        if SIGNED[kind]:
            r, ok = self._add_checked(x, one, subtract=not forward)
            self.check(ok, OVERFLOW)
        else:
            r = (b.add if forward else b.sub)(x, one)
        self._write(c, V(kind, r))
        cond = ("s" if SIGNED[kind] else "u") + ("lt" if forward else "gt")
        self._branch(b.icmp(r, limit, cond=cond), insn)

    def call(self, insn):
        f, first, count, d = insn.operands
        b, owner = self.b, self.owner
        callee = owner.fn_constants.get(f)
        functions = owner.program.functions
        words = []
        for r in range(first, first + count):
            words += self._box(self._read(r))
        old = self._box(self._read(d))
        fv = self._box(self._read(f))
        self._flush_shared()
        cont = b.new_block([I32, I64])
        if callee is not None and functions[callee].arity == count and \
                owner.jit.callee(owner.region_name(callee)):
            native, slow = b.new_block(), b.new_block()
            ok = b.emit("and", [b.icmp(fv[0], b.iconst(I32, TAG_I32), cond="eq"),
                                b.icmp(fv[1], b.iconst(I64, callee), cond="eq")])
            b.brif(ok, native, slow)
            b.switch_to(native)
            depth = b.get("depth")
            self.check(b.icmp(depth, b.iconst(I32, owner.frame_limit), cond="sle"),
                       STACK_OVERFLOW.format(owner.frame_limit))
            b.put("depth", b.add(depth, b.iconst(I32, 1)))
            tag, payload = b.call_fn(owner.region_name(callee), *words)
            b.put("depth", depth)
            void = b.icmp(tag, b.iconst(I32, TAG_VOID), cond="eq")
            b.br((cont, [b.select(void, old[0], tag), b.select(void, old[1], payload)]))
            b.switch_to(slow)
        helper = owner.call_helper(self.function, insn, self.chunk)
        tag, payload = b.call(helper, *fv, *words, *old)
        b.br((cont, [tag, payload]))
        b.switch_to(cont)
        self._load_shared()
        self._forget_arrays()
        self._write(d, V(ANY, *cont.params))

    def _return(self, values: list) -> None:
        self._flush_shared()
        b = self.b
        if self.owner.trace is not None:
            where = 0 if self.function is None else self.function.index + 1
            b.call("orus_trace", b.iconst(I32, where), *values)
        b.ret(*values)

    def return_value(self, insn):
        self._return(list(self._box(self._read(insn.operands[0]))))

    def return_void(self, insn):
        b = self.b
        self._return([b.iconst(I32, TAG_VOID), b.iconst(I64, 0)])


_ENTRY_TYPES = {ANY: [I32, I64], ARR_FIELDS: [I64] * 4}
_NEGATED = {"eq": "ne", "ne": "eq", "slt": "sge", "sge": "slt", "sle": "sgt", "sgt": "sle",
            "ult": "uge", "uge": "ult", "ule": "ugt", "ugt": "ule"}


def _signed(value: int, bits: int) -> int:
    """``value``'s low ``bits`` bits as a two's-complement integer."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _entry_kind(v: V) -> str:
    """The block-entry kind of ``v``: its kind, or ``ARR_FIELDS`` for an array with fields."""
    return ARR_FIELDS if v.fields is not None else v.kind


def _fits(kind: str, have: str) -> bool:
    """Whether a value of entry kind ``kind`` can enter a block version expecting ``have``."""
    return have in (kind, ANY) or (kind, have) == (ARR_FIELDS, "arr")


def _widen(have: Optional[str], kind: str) -> str:
    """The entry kind a version expecting ``have`` widens to so that ``kind`` fits too."""
    if have == kind:
        return kind
    if {have, kind} == {ARR_FIELDS, "arr"}:
        return "arr"
    return ANY


def _all_regs(insn) -> set:
    uses, defs = registers(insn)
    return set(uses) | set(defs)


def _f64_bits(value: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", value))[0]


def _ucmp(limit: int, cond: str):
    def check(b, x):
        return b.icmp(x, b.iconst(x.type, limit), cond=cond)
    return check


def _f64_range(low: float, high: float, high_cond: str):
    def check(b, x):
        return b.emit("and", [b.fcmp(x, b.fconst(F64, _f64_bits(low)), cond="oge"),
                              b.fcmp(x, b.fconst(F64, _f64_bits(high)), cond=high_cond)])
    return check


_CONVERSION_CHECKS = {
    # mnemonic: (builder, x) -> i1 "conversion is allowed" (interpreter._CONVERSIONS)
    "I32_TO_U64_R": _ucmp(0, "sge"),
    "I64_TO_U64_R": _ucmp(0, "sge"),
    "I64_TO_U32_R": _ucmp(0xFFFF_FFFF, "ule"),
    "U64_TO_I32_R": _ucmp(0x7FFF_FFFF, "ule"),
    "U64_TO_I64_R": _ucmp(0x7FFF_FFFF_FFFF_FFFF, "ule"),
    "U64_TO_U32_R": _ucmp(0xFFFF_FFFF, "ule"),
    "F64_TO_U32_R": _f64_range(0.0, 4294967295.0, "ole"),
    "F64_TO_U64_R": _f64_range(0.0, 18446744073709551616.0, "olt"),
}
_CONVERSION_MESSAGES = {
    "I32_TO_U64_R": "Cannot convert negative i32 to u64",
    "I64_TO_U64_R": "Cannot convert negative i64 to u64",
    "I64_TO_U32_R": "i64 value out of u32 range",
    "U64_TO_I32_R": "u64 value too large for i32",
    "U64_TO_I64_R": "u64 value too large for i64",
    "U64_TO_U32_R": "u64 value too large for u32",
    "F64_TO_U32_R": "f64 value out of u32 range",
    "F64_TO_U64_R": "f64 value out of u64 range",
}
_U64_R_MESSAGES = {"ADD": "u64 addition overflow", "SUB": "u64 subtraction underflow",
                   "MUL": "u64 multiplication overflow"}


def _native_table() -> dict:
    """Mnemonic -> ``_Translator`` method for the ops translated natively; a method that
    returns ``False`` hands the instruction to the interpreter's helper."""
    t = _Translator
    table = {
        "LOAD_TRUE": t.load_bool, "LOAD_FALSE": t.load_bool, "MOVE": t.move,
        "MOVE_I32": t.move_typed, "MOVE_I64": t.move_typed, "MOVE_F64": t.move_typed,
        "ADD_I32_IMM": t.immediate, "SUB_I32_IMM": t.immediate, "MUL_I32_IMM": t.immediate,
        "NEG_I32_R": t.negate, "AND_BOOL_R": t.logic, "OR_BOOL_R": t.logic,
        "NOT_BOOL_R": t.logic, "EQ_R": t.equality, "NE_R": t.equality,
        "JUMP_IF_NOT_R": t.jump_if_not, "JUMP_IF_NOT_SHORT": t.jump_if_not,
        "BRANCH_TYPED": t.jump_if_not, "JUMP_IF_NOT_I32_TYPED": t.jump_if_not_less,
        "INC_CMP_JMP": t.counted_loop, "DEC_CMP_JMP": t.counted_loop, "CALL_R": t.call,
        "RETURN_R": t.return_value, "RETURN_VOID": t.return_void, "HALT": t.return_void,
        "ARRAY_GET_R": t.array_get, "ARRAY_SET_R": t.array_set, "ARRAY_LEN_R": t.array_len,
        "ARRAY_PUSH_R": t.array_push,
    }
    for m in _JUMPS:
        table[m] = t.jump
    for m in ("LOAD_CONST", "LOAD_I32_CONST", "LOAD_I64_CONST", "LOAD_U32_CONST",
              "LOAD_U64_CONST", "LOAD_F64_CONST"):
        table[m] = t.load_const
    for op in ("ADD", "SUB", "MUL", "DIV", "MOD"):
        table[f"{op}_I32_R"] = t.generic_arith
        table[f"{op}_F64_TYPED"] = lambda s, i: s.f64_arith(i, True)
        table[f"{op}_F64_R"] = lambda s, i: s.f64_arith(i, False)
        for kind, forms in (("i32", ("TYPED",)), ("i64", ("TYPED", "R")),
                            ("u32", ("TYPED", "R")), ("u64", ("TYPED", "R"))):
            for form in forms:
                wraps = kind in ("u32",) or (kind == "u64" and form == "TYPED")
                messages = _U64_R_MESSAGES if (kind == "u64" and form == "R") else None
                table[f"{op}_{kind.upper()}_{form}"] = (
                    lambda s, i, k=kind, w=wraps, msg=messages: s.arith(i, k, w, msg))
    for op in ("LT", "LE", "GT", "GE"):
        for kind in ("i32", "i64", "u32", "u64", "f64"):
            for form in ("TYPED", "R"):
                table[f"{op}_{kind.upper()}_{form}"] = lambda s, i, k=kind: s.compare(i, k)
    kinds = ("i32", "i64", "u32", "u64", "f64", "bool")
    for src in kinds:
        for dst in kinds:
            if src != dst:
                table[f"{src.upper()}_TO_{dst.upper()}_R"] = t.convert
    return table


_NATIVE = _native_table()
