"""The Orus JIT: every fixture prints exactly what the real VM printed; random typed programs
(straight-line, with branches, in loops) print and fail exactly as on the reference
interpreter (the oracle), overflow and type errors included; calls, recursion, the call
depth limit and the command line."""

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from orus_testlib import build, dump, fixture, fixture_names

from dynarec.guests.orus import cli, loader
from dynarec.guests.orus.interpreter import _CONVERSIONS, Interpreter
from dynarec.guests.orus.jit import OrusJit


def _both(program, threshold=1):
    """Run ``program`` on the interpreter and on the JIT: two ``(stdout, error text)``."""
    results = []
    for run in (lambda out: Interpreter(program, output=out).run(),
                lambda out: OrusJit(program, output=out, threshold=threshold).run()):
        out = io.BytesIO()
        result = run(out)
        results.append((out.getvalue(), None if result.error is None else str(result.error)))
    return results


def _run_fixture(folder, name, threshold=1):
    path, expected = fixture(folder, name)
    out = io.BytesIO()
    jit = OrusJit(loader.load(path), output=out, threshold=threshold)
    result = jit.run()
    assert result.error is None and result.halted
    assert out.getvalue() == expected
    return jit


@pytest.mark.parametrize("name", fixture_names("programs"))
def test_fixture_prints_what_the_vm_printed(name):
    jit = _run_fixture("programs", name)
    assert jit.stats["functions_compiled"] >= 1 and jit.stats["loop_entries_compiled"] == 0


@pytest.mark.parametrize("name", fixture_names("programs"))
def test_fixture_with_a_threshold_runs_mixed(name):
    """Threshold 3: the interpreter runs each function's first two calls and each loop's
    first two back edges; then the function region runs, or the loop region is entered in
    the middle of the function (on-stack entry) with the interpreter's registers."""
    _run_fixture("programs", name, threshold=3)


def test_on_stack_entry_compiles_loop_regions():
    jit = _run_fixture("programs", "nested_loops", threshold=3)
    assert jit.stats["loop_entries_compiled"] >= 1
    assert jit.stats["functions_compiled"] == 0          # main itself never got hot


@pytest.mark.full
@pytest.mark.parametrize("name", fixture_names("bench"))
def test_benchmark_prints_what_the_vm_printed(name):
    _run_fixture("bench", name)


# --- random programs -------------------------------------------------------------------------

I32 = (-2**31, 2**31 - 1)
RANGES = {"i32": I32, "i64": (-2**63, 2**63 - 1), "u32": (0, 2**32 - 1),
          "u64": (0, 2**64 - 1)}
POOL = [192, 193, 194, 195, 196, 197, 0, 1]     # temporaries and two shared registers
INT_KINDS = sorted(RANGES)


def _int_values(kind):
    lo, hi = RANGES[kind]
    edges = [0, 1, 2, 3, 7, lo, hi, lo + 1, hi - 1] + ([-1, -2] if lo < 0 else [])
    return st.one_of(st.integers(lo, hi), st.sampled_from(edges))


def _f64_values():
    return st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                     st.sampled_from([0.0, -0.0, 1.0, -1.5, 2.5e9, 4294967295.0, 1e19, -1e19,
                                      2147483647.9, -2147483648.5, 9.3e18]))


def _ops():
    """(mnemonic, operand kinds, result kind) of the ops the generator uses."""
    ops = []
    for kind in INT_KINDS + ["f64"]:
        up = kind.upper()
        for op in ("ADD", "SUB", "MUL", "DIV", "MOD"):
            ops.append((f"{op}_{up}_TYPED", (kind, kind), kind))
            if kind != "i32":
                ops.append((f"{op}_{up}_R", (kind, kind), kind))
            ops.append((f"{op}_I32_R", (kind, kind), kind))      # generic: any numeric
        for op in ("LT", "LE", "GT", "GE"):
            ops.append((f"{op}_{up}_TYPED", (kind, kind), "bool"))
    for mnemonic, (source, _) in _CONVERSIONS.items():
        src, dst = mnemonic[:-2].lower().split("_to_")
        ops.append((mnemonic, (src,), dst))
    ops += [("NEG_I32_R", ("i32",), "i32"), ("NEG_I32_R", ("f64",), "f64"),
            ("NEG_I32_R", ("i64",), "i64"), ("EQ_R", (None, None), "bool"),
            ("NE_R", (None, None), "bool"), ("AND_BOOL_R", (None, None), "bool"),
            ("OR_BOOL_R", (None, None), "bool"), ("NOT_BOOL_R", (None,), "bool"),
            ("MOVE", (None,), None), ("MOVE_I32", ("i32",), "i32")]
    return ops


OPS = _ops()
KIND_TAG = {"i32": "i32", "i64": "i64", "u32": "u32", "u64": "u64", "f64": "f64", "bool": "bool"}


@st.composite
def programs(draw, loop: bool):
    """A program of typed ops over ``POOL`` (ops on one or two kinds, so that each
    program exercises few ops densely) with an optional forward branch (on a bool),
    optionally inside a counted loop; it prints every register of the pool at the end.
    Mostly well typed: operands are drawn from the registers known to hold the op's kind
    and results mostly go to a register of the result's kind (so kinds stay the same from
    one loop iteration to the next); one operand in 50 and one destination in 12 are any
    register (type errors, and kinds that differ where control flow joins)."""
    constants, items, kinds = [], [], {}

    def constant(tag, value):
        constants.append((tag, value))
        return len(constants) - 1

    def register(want, one_in):
        fitting = [r for r in POOL if want is None or kinds.get(r) == want]
        if not fitting or draw(st.integers(1, one_in)) == 1:
            fitting = POOL
        return draw(st.sampled_from(fitting))

    focus = sorted(draw(st.sets(st.sampled_from(INT_KINDS + ["f64"]), min_size=1,
                                max_size=2)))
    ops = [op for op in OPS if set(op[1]) <= set(focus) | {None}]
    for r in POOL:
        kind = draw(st.sampled_from(focus + ["bool"]))
        if kind == "bool":
            items.append(("LOAD_TRUE" if draw(st.booleans()) else "LOAD_FALSE", r))
        else:
            value = draw(_f64_values() if kind == "f64" else _int_values(kind))
            items.append(("LOAD_CONST", r, constant(KIND_TAG[kind], value)))
        kinds[r] = kind
    length = draw(st.integers(1, 14))
    skip = sorted(draw(st.lists(st.integers(0, length), min_size=2, max_size=2, unique=True)))
    body, before = [], None
    for k in range(length + 1):
        if k == skip[0] and "bool" in kinds.values() and draw(st.booleans()):
            body.append(("JUMP_IF_NOT_R", register("bool", 1000), "skip"))
            before = dict(kinds)
        if k == skip[1] and before is not None:
            body.append("skip")
            kinds = {r: kind if before.get(r) == kind else None for r, kind in kinds.items()}
        if k == length:
            break
        mnemonic, operand_kinds, result = draw(st.sampled_from(ops))
        operands = [register(want, 50) for want in operand_kinds]
        result = result if result is not None else kinds.get(operands[0])
        d = register(result, 12)
        if "_TO_" in mnemonic:
            body.append((mnemonic, d, operands[0]))
        else:
            body.append((mnemonic, d, *operands))
        kinds[d] = result
    if loop:
        limit = constant("i32", draw(st.integers(0, 5)))
        items += [("LOAD_CONST", 64, constant("i32", 0)), ("LOAD_CONST", 65, limit),
                  ("MOVE_I32", 64, 64), ("MOVE_I32", 65, 65),
                  ("JUMP_IF_NOT_I32_TYPED", 64, 65, "end"), "top", *body,
                  ("INC_CMP_JMP", 64, 65, "top"), "end"]
    else:
        items += body
    items += [("PRINT_R", r) for r in POOL] + [("HALT",)]
    return build(items, constants)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=programs(loop=False))
def test_straight_line_programs_agree_with_the_interpreter(program):
    interpreted, compiled = _both(program)
    assert compiled == interpreted


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=programs(loop=True))
def test_loop_programs_agree_with_the_interpreter(program):
    interpreted, compiled = _both(program)
    assert compiled == interpreted


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=programs(loop=True))
def test_loop_programs_entered_in_the_middle_agree_with_the_interpreter(program):
    # threshold 2: the loop region is entered at its header after the second back edge
    interpreted, compiled = _both(program, threshold=2)
    assert compiled == interpreted


EDGES = {"i32": [0, 1, -1, 7, -7, 2**31 - 1, -2**31, 46341, -46341],
         "i64": [0, 1, -1, 7, -7, 2**63 - 1, -2**63, 2**32, 3037000500, -3037000500],
         "u32": [0, 1, 7, 2**31, 2**32 - 1, 65536, 3000000000],
         "u64": [0, 1, 7, 2**63, 2**64 - 1, 2**32, 2**63 - 1, 4294967296],
         "bool": [False, True],
         "f64": [0.0, -0.0, 1.5, -2.5, 7.0, 2147483647.5, -2147483648.5, 2147483648.0,
                 4294967295.0, 4294967296.0, 9.3e18, 1.8446744073709552e19, -1e300, 1e300]}


def _single(mnemonic, values):
    """``mnemonic`` on constants ``values`` (R192...), result in R200, printed."""
    constants = [(KIND_TAG[kind], value) for kind, value in values]
    items = [("LOAD_CONST", 192 + i, i) for i in range(len(values))]
    operands = [192 + i for i in range(len(values))]
    items += [(mnemonic, 200, *operands), ("PRINT_R", 200)]
    return items, constants


@pytest.mark.parametrize("mnemonic, operand_kinds",
                         sorted({(m, k) for m, k, _ in OPS if None not in k}))
def test_typed_ops_on_edge_values_agree_with_the_interpreter(mnemonic, operand_kinds):
    """Every typed arithmetic, comparison and conversion op on every pair of edge values
    (README section 3: overflow, wrap-around, range checks): the pairs the interpreter runs
    without error in one program, and each error in a program of its own."""
    cases = [[]]
    for kind in operand_kinds:
        cases = [case + [(kind, value)] for case in cases for value in EDGES[kind]]
    good_items, good_constants, failing = [], [], {}
    for case in cases:
        items, constants = _single(mnemonic, case)
        _, result = _both_interpreter(build(items + [("HALT",)], constants))
        if result is None:
            base = len(good_constants)
            good_items += [(m, *(a + base if m == "LOAD_CONST" and j == 1 else a
                                 for j, a in enumerate(args)))
                           for m, *args in items]
            good_constants += constants
        else:
            failing.setdefault(result.split(" (")[0], (items, constants))
    programs = [build(good_items + [("HALT",)], good_constants)]
    programs += [build(items + [("HALT",)], constants) for items, constants in failing.values()]
    for program in programs:
        interpreted, compiled = _both(program)
        assert compiled == interpreted


def _both_interpreter(program):
    out = io.BytesIO()
    result = Interpreter(program, output=out).run()
    return out.getvalue(), None if result.error is None else str(result.error)


# --- specific behaviour ----------------------------------------------------------------------

def test_overflow_leaves_native_code_with_the_vm_error():
    program = build([("LOAD_I32_CONST", 192, 0), ("PRINT_R", 192),
                     ("ADD_I32_TYPED", 193, 192, 192), ("PRINT_R", 193), ("HALT",)],
                    [("i32", 2**30)])
    out = io.BytesIO()
    result = OrusJit(program, output=out).run()
    assert out.getvalue() == b"1073741824\n"
    assert str(result.error) == "Integer overflow (top level, offset 0x0006, line 1)"


def _calls_program(depth_arg: int):
    """main calls ``down(n)`` (recursing to 0, which returns 0) and ``nothing()`` (a
    RETURN_VOID: the result register keeps its value); ``even``/``odd`` recurse mutually."""
    down = [("LOAD_I32_CONST", 192, 1), ("LT_I32_TYPED", 193, 191, 192),
            ("JUMP_IF_NOT_R", 193, "deeper"), ("LOAD_I32_CONST", 194, 2),
            ("ADD_I32_TYPED", 194, 194, 191), ("RETURN_R", 194), "deeper",
            ("SUB_I32_TYPED", 195, 191, 192), ("CALL_R", 0, 195, 1, 196),
            ("RETURN_R", 196)]
    even = [("LOAD_I32_CONST", 192, 1), ("LT_I32_TYPED", 193, 191, 192),
            ("JUMP_IF_NOT_R", 193, "more"), ("LOAD_TRUE", 194), ("RETURN_R", 194), "more",
            ("SUB_I32_TYPED", 195, 191, 192), ("CALL_R", 3, 195, 1, 196), ("RETURN_R", 196)]
    odd = [("LOAD_I32_CONST", 192, 1), ("LT_I32_TYPED", 193, 191, 192),
           ("JUMP_IF_NOT_R", 193, "more"), ("LOAD_FALSE", 194), ("RETURN_R", 194), "more",
           ("SUB_I32_TYPED", 195, 191, 192), ("CALL_R", 2, 195, 1, 196), ("RETURN_R", 196)]
    main = [("CALL_R", 0, 192, 0, 197),                    # before the declaration: false
            ("PRINT_R", 197),
            ("LOAD_I32_CONST", 0, 2), ("LOAD_I32_CONST", 1, 3), ("LOAD_I32_CONST", 2, 4),
            ("LOAD_I32_CONST", 3, 5),
            ("LOAD_I32_CONST", 192, 0), ("CALL_R", 0, 192, 1, 193), ("PRINT_R", 193),
            ("LOAD_I32_CONST", 194, 6), ("CALL_R", 1, 0, 0, 194), ("PRINT_R", 194),
            ("LOAD_I32_CONST", 192, 7), ("CALL_R", 2, 192, 1, 195), ("PRINT_R", 195),
            ("CALL_R", 0, 192, 2, 196), ("PRINT_R", 196),      # arity mismatch: false
            ("HALT",)]
    constants = [("i32", depth_arg), ("i32", 1), ("i32", 0), ("i32", 1), ("i32", 2),
                 ("i32", 3), ("i32", 42), ("i32", 77)]
    return build(main, constants, [("down", 1, down), ("nothing", 0, [("RETURN_VOID",)]),
                                   ("even", 1, even), ("odd", 1, odd)])


def test_calls_void_returns_mutual_recursion_and_bad_calls():
    program = _calls_program(10)
    interpreted, compiled = _both(program)
    assert compiled == interpreted == (b"false\n0\n42\nfalse\nfalse\n", None)
    jit = OrusJit(program, output=io.BytesIO())
    jit.run()
    assert jit.stats["functions_compiled"] == 5          # main, down, nothing, even, odd
    assert jit.stats["table_calls"] > 0                  # even <-> odd closes a cycle


def test_call_depth_limit_raises_as_the_interpreter():
    # README section 3: 256 frames; ours raises "Stack overflow" (docs/guests/orus.md)
    interpreted, compiled = _both(_calls_program(300))
    assert compiled == interpreted
    assert compiled[1].startswith("Stack overflow: more than 256 nested calls")


def test_shared_registers_survive_calls():
    bump = [("LOAD_I32_CONST", 192, 1), ("ADD_I32_TYPED", 1, 1, 192), ("RETURN_VOID",)]
    main = [("LOAD_I32_CONST", 0, 0), ("LOAD_I32_CONST", 1, 1),
            ("LOAD_I32_CONST", 64, 1), ("LOAD_I32_CONST", 65, 2), ("MOVE_I32", 64, 64),
            ("MOVE_I32", 65, 65), ("JUMP_IF_NOT_I32_TYPED", 64, 65, "end"), "top",
            ("ADD_I32_TYPED", 1, 1, 1), ("CALL_R", 0, 0, 0, 192),
            ("INC_CMP_JMP", 64, 65, "top"), "end", ("PRINT_R", 1), ("HALT",)]
    program = build(main, [("i32", 0), ("i32", 5), ("i32", 10)], [("bump", 0, bump)])
    interpreted, compiled = _both(program)
    assert compiled == interpreted == (b"315\n", None)     # 5 -> 15 -> 35 -> 75 -> 155 -> 315


# --- the command -----------------------------------------------------------------------------

def test_cli_runs_the_jit_by_default(capsysbinary):
    path, expected = fixture("programs", "recursion")
    assert cli.main([str(path), "--stats"]) == 0
    captured = capsysbinary.readouterr()
    assert captured.out == expected
    assert b"functions compiled: " in captured.err
    assert b"instructions retired" not in captured.err       # that is the interpreter's
    compiled = int(captured.err.split(b"functions compiled: ")[1].split(b"\n")[0])
    assert compiled == 1 + len(json.loads(path.read_text())["functions"])


def test_cli_jit_runtime_error_exits_with_70(tmp_path, capsysbinary):
    path = tmp_path / "prog.json"
    path.write_text(json.dumps(dump([("LOAD_I32_CONST", 192, 0), ("PRINT_R", 192),
                                     ("ADD_I32_TYPED", 193, 192, 192), ("HALT",)],
                                    [("i32", 2**30)])))
    assert cli.main([str(path)]) == 70
    captured = capsysbinary.readouterr()
    assert captured.out == b"1073741824\n"
    assert captured.err == (b"Runtime error: Integer overflow (top level, offset 0x0006, "
                            b"line 1)\n")


# --- arrays on the native heap ---------------------------------------------------------------

def _array_program(tail):
    """R1 = [7, "s", 2.5, true, [1, 2]] built with MAKE_ARRAY_R and ARRAY_PUSH_R, then
    ``tail`` (items); constants: i32 7, string "s", f64 2.5, i32 1, i32 2, i64 1, i32 -1,
    i32 5, i32 4."""
    constants = [("i32", 7), ("string", "s"), ("f64", 2.5), ("i32", 1), ("i32", 2),
                 ("i64", 1), ("i32", -1), ("i32", 5), ("i32", 4)]
    items = [("LOAD_CONST", 192, 0), ("LOAD_CONST", 193, 1), ("MAKE_ARRAY_R", 1, 192, 2),
             ("LOAD_CONST", 194, 2), ("ARRAY_PUSH_R", 1, 194), ("LOAD_TRUE", 194),
             ("ARRAY_PUSH_R", 1, 194), ("LOAD_CONST", 195, 3), ("LOAD_CONST", 196, 4),
             ("MAKE_ARRAY_R", 197, 195, 2), ("ARRAY_PUSH_R", 1, 197), *tail, ("HALT",)]
    return build(items, constants)


@pytest.mark.parametrize("tail", [
    [("PRINT_R", 1), ("ARRAY_LEN_R", 198, 1), ("PRINT_R", 198)],
    [("ARRAY_GET_R", 198, 1, 195), ("PRINT_R", 198),                 # i32 index: native
     ("LOAD_CONST", 199, 5), ("ARRAY_GET_R", 198, 1, 199), ("PRINT_R", 198)],   # i64 index
    [("ARRAY_SET_R", 1, 195, 1), ("LOAD_CONST", 199, 5), ("ARRAY_SET_R", 1, 199, 197),
     ("PRINT_R", 1), ("ARRAY_POP_R", 198, 1), ("PRINT_R", 198), ("PRINT_R", 1)],
    [("LOAD_CONST", 199, 8), ("ARRAY_GET_R", 198, 1, 199),         # nested, aliasing
     ("ARRAY_PUSH_R", 198, 192), ("EQ_R", 199, 198, 197), ("PRINT_R", 199), ("PRINT_R", 1)],
    [("GET_ITER_R", 198, 1), "next", ("ITER_NEXT_R", 199, 198, 200),
     ("JUMP_IF_NOT_R", 200, "done"), ("PRINT_R", 199), ("ARRAY_LEN_R", 201, 1),
     ("LOAD_CONST", 202, 0), ("LT_I32_TYPED", 203, 201, 202),
     ("JUMP_IF_NOT_R", 203, "next"), ("ARRAY_PUSH_R", 1, 201), ("JUMP", "next"), "done",
     ("PRINT_R", 1)],                                                # pushes seen by the loop
    [("LOAD_CONST", 198, 6), ("ARRAY_GET_R", 199, 1, 198)],          # negative index
    [("LOAD_CONST", 198, 7), ("ARRAY_SET_R", 1, 198, 198)],          # out of bounds
    [("ARRAY_GET_R", 199, 195, 195)],                                # not an array
    [("MAKE_ARRAY_R", 198, 0, 0), ("ARRAY_POP_R", 199, 198)],        # pop from empty
], ids=["print-len", "get", "set-pop", "nested", "iterate", "negative", "bounds",
        "not-array", "pop-empty"])
def test_array_ops_agree_with_the_interpreter(tail):
    interpreted, compiled = _both(_array_program(tail))
    assert compiled == interpreted


def test_pushes_grow_native_arrays():
    n = 5000
    items = [("MAKE_ARRAY_R", 1, 0, 0), ("LOAD_CONST", 64, 0), ("LOAD_CONST", 65, 1),
             ("MOVE_I32", 64, 64), ("MOVE_I32", 65, 65),
             ("JUMP_IF_NOT_I32_TYPED", 64, 65, "end"), "top", ("ARRAY_PUSH_R", 1, 64),
             ("INC_CMP_JMP", 64, 65, "top"), "end", ("ARRAY_LEN_R", 192, 1),
             ("LOAD_CONST", 193, 2), ("ARRAY_GET_R", 194, 1, 193),
             ("PRINT_MULTI_R", 192, 3, 1), ("HALT",)]
    program = build(items, [("i32", 0), ("i32", n), ("i32", n - 1)])
    interpreted, compiled = _both(program)
    assert compiled == interpreted == (f"{n} {n - 1} {n - 1}\n".encode(), None)


def test_cli_threshold(capsysbinary):
    path, expected = fixture("programs", "nested_loops")
    assert cli.main([str(path), "--threshold", "3", "--stats"]) == 0
    captured = capsysbinary.readouterr()
    assert captured.out == expected
    assert b"loop regions compiled: 0" not in captured.err
    with pytest.raises(SystemExit):
        cli.main([str(path), "--threshold", "0"])
