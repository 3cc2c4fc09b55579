"""The loader: every fixture loads with its functions and typed constants, and each class of
malformed dump (built here from a real one) raises one OrusLoadError naming the function and
the offset."""

import copy
import json

import pytest

from orus_testlib import fixture, shared_dir

from dynarec.guests.orus import loader
from dynarec.guests.orus.errors import OrusLoadError


def _fib30() -> dict:
    path, _ = fixture("bench", "fib30")
    return json.loads(path.read_text())


def _load(obj) -> loader.Program:
    return loader.from_json(obj, "fib30.json")


def _with_code(obj: dict, where: str, hexcode: str) -> dict:
    """A copy of ``obj`` with the code of ``where`` (``"main"`` or a function index) replaced;
    ``lines`` follows the new length."""
    obj = copy.deepcopy(obj)
    chunk = obj["main"] if where == "main" else obj["functions"][where]["chunk"]
    chunk["code"] = hexcode
    chunk["lines"] = [7] * (len(hexcode) // 2)
    return obj


def test_every_fixture_loads():
    paths = sorted(shared_dir().glob("*/*.json"))
    assert len(paths) == 36
    for path in paths:
        program = loader.load(path)
        assert program.name == "main" and program.globals == 0
        assert program.source == path.name
        for function, chunk in program.chunks():
            assert len(chunk.lines) == len(chunk.code)


def test_functions_follow_the_source():
    # programs/functions.orus declares these functions, in this order, with these arities
    path, _ = fixture("programs", "functions")
    program = loader.load(path)
    assert [(f.index, f.name, f.arity, f.start) for f in program.functions] == [
        (0, "clamp", 3, 0), (1, "lerp", 3, 0), (2, "weighted", 5, 0), (3, "describe", 4, 0),
        (4, "mul_add", 3, 0), (5, "square", 1, 0), (6, "sum_of_squares", 2, 0),
        (7, "hyp2", 2, 0), (8, "pick", 3, 0), (9, "report", 0, 0)]
    assert program.function("pick").index == 8
    assert all(f.specialized_chunk is None and f.deopt_stub_chunk is None
               for f in program.functions)
    with pytest.raises(KeyError):
        program.function("nope")


def test_constants_are_typed_by_their_tag():
    # README section 1: the pools hold i32 (427), string (265), f64 (125), i64 (51), u32 (12)
    # and u64 (11) entries over all 36 dumps; integral f64 values come without a decimal point
    counts = {}
    for path in sorted(shared_dir().glob("*/*.json")):
        for constant in loader.load(path).main.constants:
            counts[constant.tag] = counts.get(constant.tag, 0) + 1
            expected = {"i32": int, "i64": int, "u32": int, "u64": int, "f64": float,
                        "string": bytes}[constant.tag]
            assert type(constant.value) is expected
    assert counts == {"i32": 427, "string": 265, "f64": 125, "i64": 51, "u32": 12, "u64": 11}
    raw = json.loads(fixture("programs", "functions")[0].read_text())
    integral = [c for c in raw["main"]["constants"] if c["t"] == "f64" and type(c["v"]) is int]
    assert integral, "functions.json has integral f64 constants such as 10"
    program = loader.load(fixture("programs", "functions")[0])
    assert all(type(c.value) is float for c in program.main.constants if c.tag == "f64")


def test_every_chunk_carries_the_same_pool():
    program = loader.load(fixture("programs", "functions")[0])
    assert all(chunk.constants == program.main.constants for _, chunk in program.chunks())


def test_strings_keep_their_bytes():
    # a raw byte that is not UTF-8, an escaped backslash and a control byte as the shim
    # writes it (README section 1)
    obj = _fib30()
    obj["main"]["constants"].append({"t": "string", "v": "PLACEHOLDER"})
    text = json.dumps(obj).encode().replace(b"PLACEHOLDER", b"caf\xff \\\\ \\u0001")
    program = loader.loads(text, "raw.json")
    assert program.main.constants[-1] == loader.Constant("string", b"caf\xff \\ \x01")


def test_load_reports_unreadable_files(tmp_path):
    with pytest.raises(OrusLoadError, match="missing.json: cannot read"):
        loader.load(tmp_path / "missing.json")


def test_the_error_is_a_value_error():
    assert issubclass(OrusLoadError, ValueError)


# --- malformed dumps: one test per class, each built from bench/fib30.json -------------------
#
# fib30's main chunk: LOAD_I32_CONST R0,k2 | LOAD_I32_CONST R193,k3 | MOVE R192,R193 |
# CALL_R R0,R192,1,R193 | PRINT_R R193 | HALT;  its function 0 "fib" starts with
# LOAD_I32_CONST R192,k0 | LT_I32_TYPED R193,R191,R192 | JUMP_IF_NOT_R R193,+2 | RETURN_R R191

FIB_MAIN = "cf000002" "cfc10003" "03c0c1" "7d00c001c1" "9bc1" "ea"


@pytest.mark.parametrize("mutate, message", [
    (lambda o: "{not json", r"^fib30.json: not JSON"),
    (lambda o: [], r"the dump: expected a JSON object"),
    (lambda o: {k: v for k, v in o.items() if k != "main"}, r"the dump: missing field 'main'"),
    (lambda o: {**o, "functions": {}}, r"field 'functions' must be a JSON list"),
    (lambda o: {**o, "globals": True}, r"field 'globals' must be a JSON int"),
    (lambda o: {**o, "globals": -1}, r"globals must not be negative"),
])
def test_malformed_structure(mutate, message):
    obj = mutate(_fib30())
    with pytest.raises(OrusLoadError, match=message):
        if isinstance(obj, str):
            loader.loads(obj, "fib30.json")
        else:
            _load(obj)


def test_bad_hex():
    obj = _with_code(_fib30(), 0, "cfc0000zbbc1")
    with pytest.raises(OrusLoadError, match=r"function 'fib': bad hex in code: 'z' at "
                                            r"character 7 \(byte offset 0x0003\)"):
        _load(obj)
    obj = _with_code(_fib30(), "main", FIB_MAIN + "e")
    obj["main"]["lines"] = [0] * 20
    with pytest.raises(OrusLoadError, match=r"main: bad hex in code: odd number of digits"):
        _load(obj)


def test_lines_must_match_the_code():
    obj = _fib30()
    obj["functions"][0]["chunk"]["lines"].pop()
    with pytest.raises(OrusLoadError, match=r"function 'fib': lines must hold one integer per "
                                            r"code byte \(54 entries for 55 bytes\)"):
        _load(obj)


def test_truncated_instruction():
    # cut PRINT_R's register byte and the HALT
    obj = _with_code(_fib30(), "main", FIB_MAIN[:-4])
    with pytest.raises(OrusLoadError, match=r"fib30.json, main, offset 0x0010: truncated "
                                            r"OP_PRINT_R: needs 2 bytes, 1 left"):
        _load(obj)


def test_jump_outside_the_chunk():
    fib = _fib30()["functions"][0]["chunk"]["code"]
    assert fib[16:24] == "78c10002"                        # JUMP_IF_NOT_R R193, +2
    obj = _with_code(_fib30(), 0, fib[:16] + "78c10100" + fib[24:])
    with pytest.raises(OrusLoadError, match=r"function 'fib', offset 0x0008: OP_JUMP_IF_NOT_R "
                                            r"jumps to 0x010c, outside the chunk \(length 55\)"):
        _load(obj)
    obj = _with_code(_fib30(), 0, fib[:16] + "78c1fff0" + fib[24:])
    with pytest.raises(OrusLoadError, match=r"offset 0x0008: OP_JUMP_IF_NOT_R jumps to -0x004"):
        _load(obj)


def test_jump_into_an_instruction():
    fib = _fib30()["functions"][0]["chunk"]["code"]
    obj = _with_code(_fib30(), 0, fib[:16] + "78c10001" + fib[24:])    # to 0x000d, mid-RETURN_R
    with pytest.raises(OrusLoadError, match=r"function 'fib', offset 0x0008: OP_JUMP_IF_NOT_R "
                                            r"jumps to 0x000d, inside another instruction"):
        _load(obj)


@pytest.mark.parametrize("byte, message", [
    ("eb", r"unknown opcode 0xeb"),
    ("8a", r"OP_LOAD_MODULE \(138\) has no handler"),
    ("e6", r"OP_LOAD_CONST_EXT \(230\) has no handler"),
    ("77", r"OP_JUMP_IF_R \(119\) has no handler"),
])
def test_unknown_and_handlerless_opcodes(byte, message):
    obj = _with_code(_fib30(), "main", FIB_MAIN[:-2] + byte + "00000000")
    with pytest.raises(OrusLoadError, match=rf"fib30.json, main, offset 0x0012: {message}"):
        _load(obj)


def test_constant_index_out_of_range():
    obj = _with_code(_fib30(), "main", "cf0003e7" + FIB_MAIN[8:])     # k999, the pool has 4
    with pytest.raises(OrusLoadError, match=r"main, offset 0x0000: OP_LOAD_I32_CONST: constant "
                                            r"index 999 out of range \(the pool has 4\)"):
        _load(obj)


def test_typed_constant_load_of_another_type():
    obj = _fib30()
    obj["main"]["constants"][3] = {"t": "f64", "v": 30}
    with pytest.raises(OrusLoadError, match=r"main, offset 0x0004: OP_LOAD_I32_CONST constant 3 "
                                            r"is f64, not i32"):
        _load(obj)


@pytest.mark.parametrize("constant, message", [
    ({"t": "i32", "v": 2**31}, r"i32 value 2147483648 out of range"),
    ({"t": "u64", "v": -1}, r"u64 value -1 out of range"),
    ({"t": "i64", "v": 1.5}, r"field 'v' must be a JSON int"),
    ({"t": "f64", "v": "nan"}, r"f64 value must be a JSON number, not 'nan'"),
    ({"t": "f64", "v": 10**400}, r"f64 value 1000.* out of range"),
    ({"t": "string", "v": 5}, r"field 'v' must be a JSON str"),
    ({"v": 5}, r"missing field 't'"),
])
def test_bad_constants(constant, message):
    obj = _fib30()
    obj["functions"][0]["chunk"]["constants"][1] = constant
    with pytest.raises(OrusLoadError, match=rf"function 'fib', constant 1: {message}"):
        _load(obj)


@pytest.mark.parametrize("field, value, message", [
    ("index", 3, r"functions\[0\]: index 3 does not match its position"),
    ("arity", 129, r"functions\[0\]: arity 129: parameters must fit R64..R191"),
    ("name", None, r"functions\[0\]: field 'name' must be a JSON str"),
    ("start", 2, r"function 'fib': start offset 2 is not an instruction start"),
])
def test_bad_function_entries(field, value, message):
    obj = _fib30()
    obj["functions"][0][field] = value
    with pytest.raises(OrusLoadError, match=message):
        _load(obj)


def test_register_window_past_r255():
    # PRINT_MULTI_R R250, 8, 1
    obj = _with_code(_fib30(), "main", FIB_MAIN[:-2] + "9afa0801" + "ea")
    with pytest.raises(OrusLoadError, match=r"main, offset 0x0012: OP_PRINT_MULTI_R: registers "
                                            r"R250..R257 run past R255"):
        _load(obj)
