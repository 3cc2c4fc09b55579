"""The reference interpreter: every fixture prints exactly what the real VM printed, and the
semantics of ../shared/orus/README.md (sections 3 and 4) hold op by op -- which ops wrap and
which raise, with the VM's messages, string concatenation, print formatting, calls -- as do
the deviations listed in docs/guests/orus.md and the run/step/call API."""

import contextlib
import io
import json

import pytest
from hypothesis import given, settings, strategies as st

from orus_testlib import build, dump, execute, fixture, fixture_names

from dynarec.guests.orus import cli, loader
from dynarec.guests.orus.errors import OrusLoadError, OrusRuntimeError
from dynarec.guests.orus.interpreter import Interpreter
from dynarec.guests.orus.values import I64, U32, U64, Array, format_f64, format_print

I32_MIN, I32_MAX = -2**31, 2**31 - 1
I64_MIN, I64_MAX = -2**63, 2**63 - 1


def _run_fixture(folder, name):
    path, expected = fixture(folder, name)
    out = io.BytesIO()
    result = Interpreter(loader.load(path), output=out).run()
    assert result.error is None and result.halted
    assert out.getvalue() == expected


@pytest.mark.parametrize("name", fixture_names("programs"))
def test_fixture_prints_what_the_vm_printed(name):
    _run_fixture("programs", name)


@pytest.mark.full
@pytest.mark.parametrize("name", fixture_names("bench"))
def test_benchmark_prints_what_the_vm_printed(name):
    _run_fixture("bench", name)


# --- helpers: one op on prepared registers ---------------------------------------------------

def _const_items(values):
    """Items loading runtime ``values`` into R192, R193, ... and the constant pool."""
    tags = {int: "i32", I64: "i64", U32: "u32", U64: "u64", float: "f64", bytes: "string"}
    constants, items = [], []
    for i, value in enumerate(values):
        if type(value) is bool:
            items.append(("LOAD_TRUE" if value else "LOAD_FALSE", 192 + i))
            continue
        constants.append((tags[type(value)], value.decode() if type(value) is bytes
                          else int(value) if type(value) is not float else value))
        items.append(("LOAD_CONST", 192 + i, len(constants) - 1))
    return items, constants


@contextlib.contextmanager
def orus_error(message: str):
    """Expect an ``OrusRuntimeError`` with exactly the VM's ``message``."""
    with pytest.raises(OrusRuntimeError) as info:
        yield
    assert info.value.message == message


def op(mnemonic, *values, operands=None, result=200):
    """Run ``mnemonic R200, R192, R193 ...`` (or ``operands``) on ``values`` loaded into
    R192...; returns register ``result``, or raises the ``OrusRuntimeError``."""
    items, constants = _const_items(values)
    operands = operands if operands is not None else (200, *range(192, 192 + len(values)))
    _, run, interp = execute(items + [(mnemonic, *operands), ("HALT",)], constants)
    if run.error is not None:
        raise run.error
    return interp.register(result)


def printed(*values) -> bytes:
    """What ``print(values...)`` writes, through PRINT_MULTI_R."""
    items, constants = _const_items(values)
    out, result, _ = execute(items + [("PRINT_MULTI_R", 192, len(values), 1), ("HALT",)],
                             constants)
    assert result.error is None
    return out


# --- integer arithmetic: where the VM raises and where it wraps (README section 3) -----------

@pytest.mark.parametrize("mnemonic, a, b, expected", [
    ("ADD_I32_TYPED", I32_MAX, -1, I32_MAX - 1),
    ("SUB_I32_TYPED", I32_MIN, -1, I32_MIN + 1),
    ("MUL_I32_TYPED", -46341, 46340, -2147441940),
    ("DIV_I32_TYPED", -17, 5, -3), ("MOD_I32_TYPED", -17, 5, -2),
    ("MOD_I32_TYPED", 17, -5, 2),
    ("ADD_I64_TYPED", I64(I64_MAX), I64(-5), I64(I64_MAX - 5)),
    ("DIV_I64_TYPED", I64(-7), I64(2), I64(-3)), ("MOD_I64_TYPED", I64(-7), I64(2), I64(-1)),
    ("MUL_U32_TYPED", U32(3_000_000_000), U32(2), U32(1_705_032_704)),
    ("ADD_U32_TYPED", U32(2**32 - 1), U32(2), U32(1)),
    ("SUB_U32_TYPED", U32(1), U32(2), U32(2**32 - 1)),
    ("MUL_U64_TYPED", U64(2**63), U64(2), U64(0)),
    ("SUB_U64_TYPED", U64(0), U64(1), U64(2**64 - 1)),
    ("DIV_U64_TYPED", U64(2**64 - 1), U64(2**32), U64(2**32 - 1)),
    ("MOD_U32_TYPED", U32(4_000_000_000), U32(7), U32(4_000_000_000 % 7)),
    ("ADD_U32_R", U32(2**32 - 1), U32(1), U32(0)),
    ("ADD_I32_R", I32_MAX, 1, I32_MIN),                 # the generic ops wrap, every type
    ("MUL_I32_R", I64(2**62), I64(4), I64(0)),
    ("SUB_I32_R", U64(0), U64(1), U64(2**64 - 1)),
    ("DIV_I32_R", -17, 5, -3), ("MOD_I32_R", I64(-17), I64(5), I64(-2)),
])
def test_integer_results(mnemonic, a, b, expected):
    result = op(mnemonic, a, b)
    assert type(result) is type(expected) and result == expected


def test_fused_ops():
    assert op("MUL_ADD_I32", I32_MAX, 2, 3) == 1                 # wraps: 2 * MAX + 3
    assert op("ADD_I32_IMM", 5, operands=(200, 192, -7)) == -2
    assert op("CMP_I32_IMM", 5, operands=(200, 192, 6)) is True
    with orus_error("Integer overflow"):
        op("SUB_I32_IMM", I32_MIN, operands=(200, 192, 1))
    assert op("INC_U64_R", U64(2**64 - 1), operands=(192,), result=192) == U64(0)
    assert op("INC_I64_CHECKED", I64(-1), operands=(192,), result=192) == I64(0)
    assert op("DEC_I32_R", 0, operands=(192,), result=192) == -1
    with orus_error("Integer overflow"):
        op("INC_I32_R", I32_MAX, operands=(192,), result=192)


@pytest.mark.parametrize("mnemonic, a, b, message", [
    ("ADD_I32_TYPED", I32_MAX, 1, "Integer overflow"),
    ("SUB_I32_TYPED", I32_MIN, 1, "Integer overflow"),
    ("MUL_I32_TYPED", 65536, 32768, "Integer overflow"),
    ("ADD_I64_TYPED", I64(I64_MAX), I64(1), "Integer overflow"),
    ("MUL_I64_TYPED", I64(2**32), I64(2**31), "Integer overflow"),
    ("ADD_I64_R", I64(I64_MIN), I64(-1), "Integer overflow"),
    ("ADD_U64_R", U64(2**64 - 1), U64(1), "u64 addition overflow"),
    ("SUB_U64_R", U64(1), U64(2), "u64 subtraction underflow"),
    ("MUL_U64_R", U64(2**32), U64(2**32), "u64 multiplication overflow"),
    ("DIV_I32_TYPED", 1, 0, "Division by zero"), ("MOD_U64_TYPED", U64(1), U64(0),
                                                  "Division by zero"),
    ("DIV_I32_R", I32_MIN, -1, "Integer overflow"),   # the generic op checks MIN / -1
    ("DIV_I32_R", 2.5, 0.0, "Division by zero"),
    ("DIV_I32_R", 1e308, 1e-308, "Floating-point overflow"),
    ("ADD_I32_R", 1, I64(1), "Operands must be the same type. Use 'as' for explicit type "
                             "conversion."),
    ("SUB_I32_R", True, True, "Operands must be numeric (i32, i64, u32, u64, or f64)"),
    ("DIV_F64_TYPED", 1.0, 0.0, "Division by zero"),
    ("MOD_F64_TYPED", 1.0, -0.0, "Division by zero"),
    ("ADD_U32_TYPED", 1, U32(1), "Operands must be u32"),
    ("LT_I64_TYPED", I64(1), 1, "Operands must be i64"),
    ("CONCAT_R", b"a", 1, "Operands must be string"),
])
def test_integer_errors(mnemonic, a, b, message):
    with pytest.raises(OrusRuntimeError) as info:
        op(mnemonic, a, b)
    assert info.value.message == message


@pytest.mark.parametrize("mnemonic, a, b", [
    ("DIV_I32_TYPED", I32_MIN, -1), ("MOD_I32_TYPED", I32_MIN, -1),
    ("DIV_I64_TYPED", I64(I64_MIN), I64(-1)), ("MOD_I64_R", I64(I64_MIN), I64(-1)),
])
def test_min_divided_by_minus_one_raises(mnemonic, a, b):
    # a deviation: the VM does not check and dies of SIGFPE (README section 3)
    with orus_error("Integer overflow"):
        op(mnemonic, a, b)


def test_typed_op_on_another_type_raises():
    # a deviation: the VM reads a stale unboxed slot (README section 5, item 2)
    with orus_error("Operands must be i64"):
        op("MUL_I64_TYPED", 1, I64(2))


def test_f64_arithmetic_follows_ieee():
    assert op("ADD_F64_TYPED", 0.1, 0.2) == 0.30000000000000004
    assert op("DIV_F64_R", 1.0, 0.0) == float("inf")
    assert op("DIV_F64_R", -1.0, 0.0) == float("-inf")
    assert op("DIV_F64_R", 0.0, 0.0) != op("DIV_F64_R", 0.0, 0.0)      # NaN
    assert op("MOD_F64_TYPED", -7.5, 2.0) == -1.5                       # C fmod
    assert op("MUL_F64_TYPED", 1e308, 10.0) == float("inf")
    assert op("LT_F64_TYPED", float("nan"), 1.0) is False


@pytest.mark.parametrize("mnemonic, a, b, expected", [
    ("LT_I32_TYPED", -1, 0, True), ("GE_I32_R", 3, 3, True), ("GT_U32_TYPED", U32(2**31),
                                                                 U32(1), True),
    ("LE_U64_TYPED", U64(2**64 - 1), U64(0), False), ("GT_I64_TYPED", I64(-1), I64(-2), True),
    ("EQ_R", b"ab", b"ab", True), ("EQ_R", 1, I64(1), False), ("NE_R", 2.5, 2.5, False),
    ("EQ_R", float("nan"), float("nan"), False), ("EQ_R", True, True, True),
    ("AND_BOOL_R", 5, 0.0, False), ("OR_BOOL_R", 0, b"", True), ("AND_BOOL_R", True, -1, True),
])
def test_comparisons_and_logic(mnemonic, a, b, expected):
    assert op(mnemonic, a, b) is expected


def test_arrays_compare_by_identity():
    items = [("MAKE_ARRAY_R", 194, 0, 0), ("MAKE_ARRAY_R", 195, 0, 0), ("MOVE", 196, 194),
             ("EQ_R", 197, 194, 195), ("EQ_R", 198, 194, 196), ("HALT",)]
    _, _, interp = execute(items)
    assert (interp.register(197), interp.register(198)) == (False, True)


@pytest.mark.parametrize("mnemonic, value, expected", [
    ("I64_TO_I32_R", I64(5_000_000_000), 705_032_704),          # README section 4
    ("U32_TO_I32_R", U32(4_000_000_000), -294_967_296),
    ("I32_TO_U32_R", -1, U32(2**32 - 1)),
    ("I32_TO_I64_R", -5, I64(-5)), ("U32_TO_U64_R", U32(7), U64(7)),
    ("U64_TO_I64_R", U64(2**63 - 1), I64(2**63 - 1)),
    ("F64_TO_I32_R", -2.9, -2), ("F64_TO_I64_R", 1e18 + 0.5, I64(10**18)),
    ("F64_TO_I32_R", float("nan"), I32_MIN),            # x86 cvttsd2si: integer indefinite
    ("F64_TO_I32_R", 3e9, I32_MIN),
    ("F64_TO_U32_R", 4294967295.0, U32(2**32 - 1)), ("F64_TO_U64_R", 1.5e19, U64(15 * 10**18)),
    ("U64_TO_F64_R", U64(2**64 - 1), 18446744073709551616.0),
    ("I64_TO_F64_R", I64(2**53 + 1), 9007199254740992.0),
    ("BOOL_TO_I32_R", True, 1), ("I32_TO_BOOL_R", -3, True), ("F64_TO_BOOL_R", 0.0, False),
    ("NEG_I32_R", 5, -5), ("NEG_I32_R", I64(I64_MIN), I64(I64_MIN)), ("NEG_I32_R", U32(1), -1),
    ("NEG_I32_R", U64(1), I64(-1)), ("NEG_I32_R", 0.0, -0.0),
])
def test_conversions(mnemonic, value, expected):
    result = op(mnemonic, value, operands=(200, 192))
    assert type(result) is type(expected) and result == expected


@pytest.mark.parametrize("mnemonic, value, message", [
    ("I64_TO_U32_R", I64(-1), "i64 value out of u32 range"),
    ("I64_TO_U32_R", I64(2**32), "i64 value out of u32 range"),
    ("I32_TO_U64_R", -1, "Cannot convert negative i32 to u64"),
    ("I64_TO_U64_R", I64(-1), "Cannot convert negative i64 to u64"),
    ("U64_TO_I32_R", U64(2**31), "u64 value too large for i32"),
    ("U64_TO_I64_R", U64(2**63), "u64 value too large for i64"),
    ("U64_TO_U32_R", U64(2**32), "u64 value too large for u32"),
    ("F64_TO_U32_R", -0.5, "f64 value out of u32 range"),
    ("F64_TO_U32_R", 4294967295.5, "f64 value out of u32 range"),
    ("F64_TO_U64_R", 18446744073709551616.0, "f64 value out of u64 range"),
    ("F64_TO_U64_R", float("nan"), "f64 value out of u64 range"),
    ("I32_TO_F64_R", I64(1), "Source must be i32"),
    ("NEG_I32_R", I32_MIN, "Integer overflow: cannot negate INT32_MIN"),
    ("NEG_I32_R", b"x", "Unary minus only works on numeric types (i32, i64, u32, u64, f64)"),
    ("MOVE_I32", I64(1), "Source register must contain i32 value"),
])
def test_conversion_errors(mnemonic, value, message):
    with pytest.raises(OrusRuntimeError) as info:
        op(mnemonic, value, operands=(200, 192))
    assert info.value.message == message


# --- strings and print -----------------------------------------------------------------------

def test_add_concatenates_strings():
    # README section 3: %.6g for f64, decimal for integers, true/false for bools
    assert op("ADD_I32_R", b"n=", 1234567.875) == b"n=1.23457e+06"
    assert op("ADD_I32_R", I64(-40), b"!") == b"-40!"
    assert op("ADD_I32_R", b"", U64(2**64 - 1)) == b"18446744073709551615"
    assert op("ADD_I32_R", True, b"") == b"true"
    assert op("ADD_I32_R", b"x", 0.1) == b"x0.1"


def test_to_string_and_index():
    assert op("TO_STRING_R", 1234567.875, operands=(200, 192)) == b"1.23457e+06"
    assert op("TO_STRING_R", U32(4_000_000_000), operands=(200, 192)) == b"4000000000"
    assert op("TO_STRING_R", False, operands=(200, 192)) == b"false"
    assert op("STRING_INDEX_R", b"Orus", U64(3)) == b"s"
    with orus_error("String index out of bounds"):
        op("STRING_INDEX_R", b"Orus", 4)
    with orus_error("String index must be a non-negative integer"):
        op("STRING_INDEX_R", b"Orus", -1)


@pytest.mark.parametrize("value, text", [
    # README section 3 ("print")
    (0.1, b"0.10000000000000001"), (2.5, b"2.5"), (1.0, b"1"), (-0.0, b"0"),
    (1e-7, b"9.9999999999999995e-08"),
    (float("nan"), b"nan"), (float("-inf"), b"-inf"), (-1234.5, b"-1234.5"),
    (2**53 * 1.0, b"9007199254740992"),
])
def test_f64_print_format(value, text):
    assert format_f64(value) == text


def test_f64_print_of_a_power_of_ten():
    x = 1.0
    for _ in range(25):
        x *= 10.0
    assert format_f64(x) == b"9999999999999998758486016"             # README section 3


def test_print_of_every_value_type():
    assert printed(7, I64(-40_000_000_000), U32(3_000_000_000), U64(2**64 - 1), 2.5, False) \
        == b"7 -40000000000 3000000000 18446744073709551615 2.5 false\n"
    nested = Array([1, Array([2.5, b"s"]), True])
    assert format_print([nested, b"tail"]) == b"1, 2.5, s, true tail\n"
    assert format_print([]) == b"\n"
    assert format_print([b"no newline"], newline=False) == b"no newline"


@pytest.mark.parametrize("values, text", [
    # README section 3: a leading string is a format string
    ((b"sum of @ and @ is @", 7, 35, 42), b"sum of 7 and 35 is 42"),
    ((b"pi ~ @.2f, e ~ @.4f", 3.14159265, 2.71828182), b"pi ~ 3.14, e ~ 2.7183"),
    ((b"hex @x HEX @X bin @b oct @o", 255, 255, 10, 64), b"hex ff HEX FF bin 1010 oct 100"),
    ((b"wide hex @x", I64(-40_000_000_000)), b"wide hex fffffff6afd07000"),
    ((b"@x", -1), b"ffffffffffffffff"),
    ((b"not enough args: @ @", 1), b"not enough args: 1 @"),
    ((b"no value for @.3f or @x", ), b"no value for @.3f or @x"),
    ((b"extra", 7, 2.5), b"extra 7 2.5"),
    ((b"one\\ntwo \\t \\\" \\\\ \\q",), b"one\ntwo \t \" \\ q"),
    ((b"@.2f of an int, @x of a float", 5, 2.5), b"5 of an int, 2.5 of a float"),
    ((b"@", b"not a format"), b"not a format"),
])
def test_print_format_strings(values, text):
    assert format_print(list(values)) == text + b"\n"


# --- arrays and iteration --------------------------------------------------------------------

def test_array_operations():
    items = [("LOAD_I32_CONST", 192, 0), ("LOAD_I32_CONST", 193, 1),
             ("MAKE_ARRAY_R", 194, 192, 2),                   # [10, 20]
             ("ARRAY_PUSH_R", 194, 192),                      # [10, 20, 10]
             ("LOAD_CONST", 195, 2), ("ARRAY_SET_R", 194, 195, 193),   # a[u64 0] = 20
             ("ARRAY_POP_R", 196, 194), ("ARRAY_LEN_R", 197, 194),
             ("PRINT_MULTI_R", 194, 4, 1), ("HALT",)]
    out, result, _ = execute(items, [("i32", 10), ("i32", 20), ("u64", 0)])
    assert result.error is None
    assert out == b"20, 20 0 10 2\n"


@pytest.mark.parametrize("items, message", [
    ([("MAKE_ARRAY_R", 194, 0, 0), ("ARRAY_POP_R", 195, 194)], "Cannot pop from an empty array"),
    ([("MAKE_ARRAY_R", 194, 192, 1), ("ARRAY_GET_R", 195, 194, 192)], "Array index out of bounds"),
    ([("MAKE_ARRAY_R", 194, 192, 1), ("LOAD_CONST", 193, 1), ("ARRAY_SET_R", 194, 193, 192)],
     "Array index must be a non-negative integer"),
    ([("ARRAY_LEN_R", 195, 192)], "Value is not an array"),
    ([("GET_ITER_R", 195, 193)], "Cannot iterate negative integer"),
    ([("ITER_NEXT_R", 195, 192, 196)], "Invalid iterator"),
    ([("JUMP_IF_NOT_R", 192, 0)], "Condition must be boolean"),
])
def test_array_and_control_errors(items, message):
    setup = [("LOAD_I32_CONST", 192, 0), ("LOAD_I32_CONST", 193, 1)]
    _, result, _ = execute(setup + items + [("HALT",)], [("i32", 5), ("i32", -1)])
    assert result.error is not None and result.error.message == message


def test_iteration_over_arrays_and_ranges():
    # for x in arr, pushing while len < 3: the iterator sees the current length; at the end
    # ITER_NEXT_R leaves x alone. Then GET_ITER_R over the i32 4: the i64 values 0..3.
    items = [("LOAD_I32_CONST", 192, 0), ("LOAD_I32_CONST", 193, 1),
             ("LOAD_I32_CONST", 199, 2), ("MAKE_ARRAY_R", 194, 192, 1), ("GET_ITER_R", 195, 194),
             "next", ("ITER_NEXT_R", 196, 195, 197), ("BRANCH_TYPED", 0, 197, "end"),
             ("PRINT_R", 196), ("ARRAY_LEN_R", 198, 194), ("LT_I32_TYPED", 200, 198, 199),
             ("JUMP_IF_NOT_R", 200, "next"), ("ARRAY_PUSH_R", 194, 193), ("JUMP", "next"),
             "end", ("PRINT_R", 196),
             ("GET_ITER_R", 195, 193), "again", ("ITER_NEXT_R", 196, 195, 197),
             ("BRANCH_TYPED", 0, 197, "done"), ("PRINT_R", 196), ("JUMP", "again"),
             "done", ("HALT",)]
    out, result, interp = execute(items, [("i32", 3), ("i32", 4), ("i32", 3)])
    assert result.error is None
    assert out == b"3\n4\n4\n4\n0\n1\n2\n3\n"
    assert type(interp.register(196)) is I64


# --- control flow ----------------------------------------------------------------------------

def test_counted_loops():
    # for i in 0..5 (fused loop, README section 3 shape 1) summing i, and a u32 counter that
    # wraps at 2**32 - 1
    items = [("LOAD_I32_CONST", 192, 0), ("LOAD_I32_CONST", 193, 1), ("LOAD_I32_CONST", 194, 0),
             ("JUMP_IF_NOT_I32_TYPED", 192, 193, "out"),
             "body", ("ADD_I32_TYPED", 194, 194, 192), ("INC_CMP_JMP", 192, 193, "body"),
             "out", ("PRINT_R", 194),
             ("LOAD_CONST", 195, 2), ("LOAD_CONST", 196, 3), ("INC_CMP_JMP", 195, 196, "out2"),
             "out2", ("PRINT_R", 195),
             ("LOAD_I32_CONST", 197, 1), ("LOAD_I32_CONST", 198, 0),
             "down", ("DEC_CMP_JMP", 197, 198, "down"), ("PRINT_R", 197), ("HALT",)]
    out, result, _ = execute(items, [("i32", 0), ("i32", 5), ("u32", 2**32 - 1), ("u32", 9)])
    assert result.error is None
    assert out == b"10\n0\n0\n"


def test_counted_loop_errors():
    items = [("LOAD_I32_CONST", 192, 0), ("LOAD_CONST", 193, 1), ("INC_CMP_JMP", 192, 193, "x"),
             "x", ("HALT",)]
    _, result, _ = execute(items, [("i32", 0), ("i64", 5)])
    assert result.error.message == "Operands must be homogeneous integers"
    items = [("LOAD_I32_CONST", 192, 0), ("LOAD_I32_CONST", 193, 0),
             ("INC_CMP_JMP", 192, 193, "x"), "x", ("HALT",)]
    _, result, _ = execute(items, [("i32", I32_MAX)])
    assert result.error.message == "Integer overflow"


# --- calls -----------------------------------------------------------------------------------

ADD3 = ("add3", 3, [("ADD_I32_TYPED", 192, 189, 190), ("ADD_I32_TYPED", 192, 192, 191),
                    ("MOVE", 5, 192), ("RETURN_R", 192)])


def test_call_convention():
    # parameters at R(192-n)..R191, result in the caller's R[d], globals shared, the
    # caller's temporaries survive the call (README section 3)
    items = [("LOAD_I32_CONST", 0, 0),
             ("LOAD_I32_CONST", 193, 1), ("LOAD_I32_CONST", 194, 2), ("LOAD_I32_CONST", 195, 3),
             ("LOAD_I32_CONST", 200, 4),
             ("CALL_R", 0, 193, 3, 196), ("PRINT_MULTI_R", 196, 5, 1),
             ("PRINT_R", 5), ("HALT",)]
    out, result, interp = execute(items, [("i32", 0), ("i32", 1), ("i32", 20), ("i32", 300),
                                          ("i32", 9)], [ADD3])
    assert result.error is None and interp.calls == 1
    # R197..R199 were never written: they read as false
    assert out == b"321 false false false 9\n321\n"
    assert [interp.register(r) for r in (193, 194, 195)] == [1, 20, 300]


def test_bad_calls_store_false():
    items = [("LOAD_I32_CONST", 0, 0), ("LOAD_I32_CONST", 1, 1),
             ("CALL_R", 0, 0, 2, 192),            # arity mismatch
             ("CALL_R", 1, 0, 3, 193),            # function index out of range
             ("CALL_R", 194, 0, 3, 195),          # not a function value
             ("PRINT_MULTI_R", 192, 2, 1), ("PRINT_R", 195), ("HALT",)]
    out, result, interp = execute(items, [("i32", 0), ("i32", 7)], [ADD3])
    assert result.error is None and interp.calls == 0
    assert out == b"false false\nfalse\n"


DEEP = ("deep", 1, [("LOAD_I32_CONST", 192, 0), ("LE_I32_TYPED", 193, 191, 192),
                    ("JUMP_IF_NOT_R", 193, "recurse"), ("RETURN_R", 192),
                    "recurse", ("LOAD_I32_CONST", 194, 1), ("SUB_I32_TYPED", 195, 191, 194),
                    ("CALL_R", 0, 195, 1, 196), ("ADD_I32_TYPED", 196, 196, 194),
                    ("RETURN_R", 196)])


@pytest.mark.parametrize("depth, expected", [(255, b"255\n"), (256, None)])
def test_recursion_limit(depth, expected):
    # deep(n) nests n + 1 calls: 256 work, one more raises (a deviation: the VM stores false)
    items = [("LOAD_I32_CONST", 0, 0), ("LOAD_I32_CONST", 192, 2),
             ("CALL_R", 0, 192, 1, 193), ("PRINT_R", 193), ("HALT",)]
    out, result, interp = execute(items, [("i32", 0), ("i32", 1), ("i32", depth)], [DEEP])
    if expected is not None:
        assert result.error is None and out == expected
        return
    assert result.error.message == "Stack overflow: more than 256 nested calls"
    assert len(interp.frames) == 257 and interp.frame.name == "deep"


def test_error_location_and_state():
    # the error names the function, the offset and the line; the faulting op had no effect
    items = [("LOAD_I32_CONST", 0, 0), ("LOAD_I32_CONST", 192, 1), ("LOAD_I32_CONST", 193, 2),
             ("LOAD_I32_CONST", 194, 2), ("CALL_R", 0, 192, 3, 196), ("HALT",)]
    out, result, interp = execute(items, [("i32", 0), ("i32", I32_MAX), ("i32", 1)], [ADD3])
    error = result.error
    assert (error.message, error.function, error.offset, error.line) == \
        ("Integer overflow", "add3", 0, 1)
    assert str(error) == "Integer overflow (function 'add3', offset 0x0000, line 1)"
    assert interp.frame.pc == 0 and interp.register(192) is False
    assert result.retired == 5 and not result.halted


# --- the run / step / call API ---------------------------------------------------------------

def test_bounded_runs_and_steps_retire_exactly():
    path, expected = fixture("programs", "dp_tables")
    program = loader.load(path)
    whole = Interpreter(program, output=io.BytesIO())
    total = whole.run().retired
    out = io.BytesIO()
    chunked = Interpreter(program, output=out)
    retired = 0
    while not chunked.halted:
        result = chunked.run(max_insns=9_973)
        assert result.retired <= 9_973 and result.error is None
        retired += result.retired
    assert retired == total == chunked.retired and out.getvalue() == expected
    single = Interpreter(program, output=io.BytesIO())
    for _ in range(25):
        assert single.step().retired == 1
    assert single.retired == 25 and single.run(0).retired == 0
    assert whole.run().retired == 0 and whole.run().halted


def test_call_one_function():
    # programs/functions.orus: square, hyp2 (calls sum_of_squares, which calls square),
    # mul_add on i64, lerp on f64, a void function
    path, expected = fixture("programs", "functions")
    out = io.BytesIO()
    interp = Interpreter(loader.load(path), output=out)
    interp.run()
    assert interp.call("square", 12) == 144 and interp.call(7, 5, 12) == 169
    assert interp.call("mul_add", I64(100000), I64(300000), I64(7)) == I64(30000000007)
    assert interp.call(interp.program.function("lerp"), 0.0, 10.0, 0.25) == 2.5
    assert interp.call("report") is None and out.getvalue() == expected + b"report called\n"
    assert len(interp.frames) == 1 and interp.halted
    with pytest.raises(ValueError, match="square takes 1 arguments, got 2"):
        interp.call("square", 1, 2)
    with pytest.raises(OrusRuntimeError, match="Operands must be i32"):
        interp.call("square", I64(3))


def test_unsupported_opcodes_are_refused_at_load():
    with pytest.raises(OrusLoadError, match=r"offset 0x0000: OP_ENUM_TAG_EQ_R is not supported "
                                            r"by the reference interpreter"):
        Interpreter(build([("ENUM_TAG_EQ_R", 1, 2, 3), ("HALT",)]))


# --- property: typed integer arithmetic against its definition -------------------------------

KINDS = {"I32": (int, -2**31, 2**31 - 1), "I64": (I64, -2**63, 2**63 - 1),
         "U32": (U32, 0, 2**32 - 1), "U64": (U64, 0, 2**64 - 1)}
PYTHON_OPS = {"ADD": lambda a, b: a + b, "SUB": lambda a, b: a - b, "MUL": lambda a, b: a * b}


@settings(max_examples=150)
@given(kind=st.sampled_from(sorted(KINDS)), operation=st.sampled_from(sorted(PYTHON_OPS)),
       data=st.data())
def test_typed_arithmetic_matches_its_definition(kind, operation, data):
    # README section 3: signed typed ops raise "Integer overflow" when the exact result is
    # out of range; unsigned typed ops wrap modulo 2**bits
    cls, lo, hi = KINDS[kind]
    a = data.draw(st.integers(lo, hi))
    b = data.draw(st.integers(lo, hi))
    exact = PYTHON_OPS[operation](a, b)
    mnemonic = f"{operation}_{kind}_TYPED"
    if lo < 0 and not lo <= exact <= hi:
        with orus_error("Integer overflow"):
            op(mnemonic, cls(a), cls(b))
        return
    expected = exact % (hi + 1) if lo == 0 else exact
    result = op(mnemonic, cls(a), cls(b))
    assert type(result) is cls and result == expected


# --- the command: dynarec-orus FILE.json --interpreter ---------------------------------------

def _dump_file(tmp_path, main, constants=()):
    path = tmp_path / "prog.json"
    path.write_text(json.dumps(dump(main, constants)))
    return path


def test_cli_prints_what_the_vm_printed(capsysbinary):
    path, expected = fixture("programs", "print_multi")
    assert cli.main([str(path), "--interpreter"]) == 0
    captured = capsysbinary.readouterr()
    assert (captured.out, captured.err) == (expected, b"")


def test_cli_runtime_error_exits_with_70(tmp_path, capsysbinary):
    # README section 3: an uncaught runtime error: a diagnostic on stderr, exit status 70
    path = _dump_file(tmp_path, [("LOAD_I32_CONST", 192, 0), ("PRINT_R", 192),
                                 ("ADD_I32_TYPED", 193, 192, 192), ("HALT",)],
                      [("i32", 2**30)])
    assert cli.main([str(path), "--interpreter", "--stats"]) == 70
    captured = capsysbinary.readouterr()
    assert captured.out == b"1073741824\n"
    assert captured.err.endswith(b"Runtime error: Integer overflow (top level, offset 0x0006, "
                                 b"line 1)\n")
    assert b"instructions retired: 2\n" in captured.err


def test_cli_bad_input(tmp_path, capsysbinary):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(dump([("HALT",)])).replace('"ea"', '"eb"'))
    assert cli.main([str(bad), "--interpreter"]) == 65
    assert capsysbinary.readouterr().err == (f"dynarec-orus: {bad}, main, offset 0x0000: unknown "
                                            f"opcode 0xeb (the table ends at 234)\n").encode()
    assert cli.main([str(tmp_path / "none.json"), "--interpreter"]) == 74
    assert b"cannot read" in capsysbinary.readouterr().err
    assert cli.main([str(bad)]) == 65                   # the JIT (the default) loads alike
    with pytest.raises(SystemExit) as info:
        cli.main([])
    assert info.value.code == 2


def test_cli_listing(capsysbinary):
    path, _ = fixture("bench", "fib30")
    assert cli.main([str(path), "--disasm"]) == 0
    listing = capsysbinary.readouterr().out.decode().splitlines()
    assert listing[0] == f"== main ({path}) =="
    assert listing[1].split()[2:5] == ["LOAD_I32_CONST", "R0,", "k2"]
    assert "== function 0 fib (arity 1) ==" in listing
