"""The Orus JIT's fast array and arithmetic paths: header words kept in registers across
loops (and dropped when another register or a call may have changed them), the heap's
in-place growth, the one-compare index check with the VM's two messages, and the
one-compare overflow checks of immediate and loop-counter arithmetic at their limits.
Expected values are worked out by hand and the interpreter (the oracle) must agree."""

import io

import pytest

from orus_testlib import build

from dynarec.guests.orus.heap import (DATA, ELEMENT_BYTES, FIRST_CHUNK, TAG_I32, Heap)
from dynarec.guests.orus.interpreter import Interpreter
from dynarec.guests.orus.jit import OrusJit

I32_MAX, I32_MIN = 2**31 - 1, -2**31


def _both(program):
    """``(stdout, error text)`` of the interpreter and of the JIT."""
    results = []
    for engine in (Interpreter, OrusJit):
        out = io.BytesIO()
        result = engine(program, output=out).run()
        results.append((out.getvalue(), None if result.error is None else str(result.error)))
    return results


def _counted(body, n, counter=64, limit=65):
    """``for R[counter] in 0..n: body`` (constants k0 = 0, k1 = n), as the compiler emits
    it: a guard, then the body and ``INC_CMP_JMP`` back to it."""
    return [("LOAD_CONST", counter, 0), ("LOAD_CONST", limit, 1),
            ("MOVE_I32", counter, counter), ("MOVE_I32", limit, limit),
            ("JUMP_IF_NOT_I32_TYPED", counter, limit, "end"), "top", *body,
            ("INC_CMP_JMP", counter, limit, "top"), "end"]


# --- header words in registers --------------------------------------------------------------

def test_push_through_one_register_is_seen_through_its_alias():
    """R66 holds the same array as R1 under its own loop parameter: after each push through
    R1, R66's length and last element must be the new ones (a stale cached length would
    fail the bounds check or read the wrong element)."""
    n = 300
    body = [("ARRAY_PUSH_R", 1, 64), ("ARRAY_LEN_R", 67, 66), ("ADD_I32_TYPED", 68, 68, 67),
            ("SUB_I32_IMM", 69, 67, 1), ("ARRAY_GET_R", 70, 66, 69),
            ("ADD_I32_TYPED", 71, 71, 70)]
    items = [("MAKE_ARRAY_R", 1, 0, 0), ("MOVE", 66, 1), ("LOAD_CONST", 68, 0),
             ("LOAD_CONST", 71, 0), *_counted(body, n),
             ("PRINT_MULTI_R", 67, 2, 1), ("PRINT_R", 71), ("HALT",)]
    program = build(items, [("i32", 0), ("i32", n)])
    interpreted, compiled = _both(program)
    expected = f"{n} {n * (n + 1) // 2}\n{n * (n - 1) // 2}\n".encode()
    assert compiled == interpreted == (expected, None)


def test_a_call_that_pushes_refreshes_the_callers_length():
    """fn0 pushes into the global array R1; the loop in main pushes too and reads the
    length through a frame-register alias after each call: 2 per iteration."""
    n = 50
    function = [("LOAD_CONST", 192, 2), ("ARRAY_PUSH_R", 1, 192), ("RETURN_VOID",)]
    body = [("ARRAY_PUSH_R", 66, 64), ("CALL_R", 2, 0, 0, 193), ("ARRAY_LEN_R", 67, 66),
            ("ADD_I32_TYPED", 68, 68, 67)]
    items = [("MAKE_ARRAY_R", 1, 0, 0), ("LOAD_I32_CONST", 2, 0), ("MOVE", 66, 1),
             ("LOAD_CONST", 68, 0), *_counted(body, n), ("PRINT_MULTI_R", 67, 2, 1),
             ("HALT",)]
    program = build(items, [("i32", 0), ("i32", n), ("i32", -9)], [("f", 0, function)])
    interpreted, compiled = _both(program)
    expected = f"{2 * n} {n * (n + 1)}\n".encode()     # sum of 2, 4, .., 2n
    assert compiled == interpreted == (expected, None)


@pytest.mark.parametrize("start, step, printed, message", [
    (0, 1, b"10\n11\n12\n13\n", "Array index out of bounds"),
    (3, -1, b"13\n12\n11\n10\n", "Array index must be a non-negative integer"),
])
def test_index_errors_inside_a_loop_name_the_vm_message(start, step, printed, message):
    """A loop walks an index off either end of a 4-element array: the loop's accesses use
    the cached length, and the one combined compare must still give the right message."""
    body = [("ARRAY_GET_R", 67, 1, 66), ("PRINT_R", 67), ("ADD_I32_IMM", 66, 66, step)]
    items = [("LOAD_CONST", 192, 2), ("LOAD_CONST", 193, 3), ("LOAD_CONST", 194, 4),
             ("LOAD_CONST", 195, 5), ("MAKE_ARRAY_R", 1, 192, 4), ("LOAD_CONST", 66, 6),
             *_counted(body, 10), ("HALT",)]
    program = build(items, [("i32", 0), ("i32", 10), ("i32", 10), ("i32", 11), ("i32", 12),
                            ("i32", 13), ("i32", start)])
    interpreted, compiled = _both(program)
    assert compiled == interpreted
    out, error = compiled
    assert out == printed
    assert error.startswith(message + " (top level, offset ")


# --- the heap ---------------------------------------------------------------------------------

def test_the_last_array_grows_in_place_and_others_move():
    heap = Heap()
    first = heap.new_array(0)
    heap.store(first, [(TAG_I32, i) for i in range(40)])
    data = heap.word(first + DATA)
    heap.grow(first)                                  # still the last allocation
    assert heap.word(first + DATA) == data
    second = heap.new_array(1)
    heap.grow(first)                                  # second lies after it now
    assert heap.word(first + DATA) != data
    assert heap.elements(first) == [(TAG_I32, i) for i in range(40)]
    assert heap.elements(second) == []


def test_the_heap_is_contiguous_past_its_first_piece():
    """Arrays larger than the first mapped piece are one range of host memory, so the
    helpers that copy whole arrays see every element."""
    heap = Heap()
    n = 3 * FIRST_CHUNK // ELEMENT_BYTES
    array = heap.new_array(0)
    pairs = [(TAG_I32, i * 7) for i in range(n)]
    heap.store(array, pairs)
    assert heap.elements(array) == pairs
    with pytest.raises(ValueError, match="not allocated"):
        heap.host(heap.alloc(8) + 64)


# --- one-compare overflow checks --------------------------------------------------------------

@pytest.mark.parametrize("mnemonic, value, imm", [
    ("ADD_I32_IMM", I32_MAX - 5, 5), ("ADD_I32_IMM", I32_MAX - 5, 6),
    ("ADD_I32_IMM", I32_MIN + 5, -5), ("ADD_I32_IMM", I32_MIN + 5, -6),
    ("ADD_I32_IMM", -1, I32_MIN), ("ADD_I32_IMM", 0, I32_MIN),
    ("SUB_I32_IMM", I32_MIN + 5, 5), ("SUB_I32_IMM", I32_MIN + 5, 6),
    ("SUB_I32_IMM", -1, I32_MIN), ("SUB_I32_IMM", 0, I32_MIN),
    ("SUB_I32_IMM", I32_MAX, -1), ("SUB_I32_IMM", I32_MAX - 1, -1),
])
def test_immediate_arithmetic_at_the_limits(mnemonic, value, imm):
    """x + imm / x - imm right at and one past the i32 range (x - MIN negates MIN, which
    has no single-compare form): the result, or the VM's overflow error."""
    program = build([("LOAD_CONST", 192, 0), (mnemonic, 193, 192, imm), ("PRINT_R", 193),
                     ("HALT",)], [("i32", value)])
    exact = value + imm if mnemonic == "ADD_I32_IMM" else value - imm
    expected = (f"{exact}\n".encode(), None) if I32_MIN <= exact <= I32_MAX else \
        (b"", "Integer overflow (top level, offset 0x0004, line 1)")
    interpreted, compiled = _both(program)
    assert compiled == interpreted == expected


@pytest.mark.parametrize("mnemonic, start, limit, expected", [
    ("INC_CMP_JMP", I32_MAX - 3, I32_MAX, (f"{I32_MAX} {I32_MAX - 1}\n".encode(), None)),
    ("DEC_CMP_JMP", I32_MIN + 3, I32_MIN, (f"{I32_MIN} {I32_MIN + 1}\n".encode(), None)),
    ("INC_CMP_JMP", I32_MAX, I32_MAX, (b"", "Integer overflow (top level, offset 0x0011, "
                                            "line 1)")),
    ("DEC_CMP_JMP", I32_MIN, I32_MIN, (b"", "Integer overflow (top level, offset 0x0011, "
                                            "line 1)")),
])
def test_counted_loops_at_the_i32_limits(mnemonic, start, limit, expected):
    """The loop counter's step by one right up to the limit, and past it (a body entered
    with the counter at the limit: the step overflows)."""
    program = build([("LOAD_CONST", 64, 0), ("LOAD_CONST", 65, 1), ("MOVE_I32", 64, 64),
                     ("MOVE_I32", 65, 65), "top", ("MOVE", 66, 64),
                     (mnemonic, 64, 65, "top"), ("PRINT_MULTI_R", 65, 2, 1), ("HALT",)],
                    [("i32", start), ("i32", limit)])
    interpreted, compiled = _both(program)
    assert compiled == interpreted == expected
