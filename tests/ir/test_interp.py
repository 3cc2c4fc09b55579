"""dynarec.ir.interp: runs IR programs to results computed independently in Python."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given, settings, strategies as st

from dynarec.context import ExitReason
from dynarec.errors import DynarecError, GuestFault
from dynarec.ir.interp import Exit, InterpError, Interpreter, RegionExit
from dynarec.ir.parser import parse_module

from ir_testlib import d2b, every_op_module, random_modules

STATE = "state pc:i64 r:i64[4] f:f64[2] s:f32 b:i8\n"


class Memory:
    """Little byte-addressed memory with the numeric load/store contract; records accesses."""

    def __init__(self):
        self.bytes = {}
        self.log = []

    def load(self, addr, size):
        self.log.append(("load", addr, size))
        return int.from_bytes(bytes(self.bytes.get(addr + i, 0) for i in range(size)),
                              "little")

    def store(self, addr, size, value):
        self.log.append(("store", addr, size, value))
        for i, byte in enumerate(value.to_bytes(size, "little")):
            self.bytes[addr + i] = byte


def module(text):
    return parse_module(STATE + text)


SUM_LOOP = module("""
region sum block pc=0x100 {
block0:
    insn_start pc=0x100
    v0:i64 = get slot=r[1]
    v1:i64 = iconst value=0
    br block1(v0, v1)
block1(v2:i64, v3:i64):
    v4:i64 = iconst value=0
    v5:i1 = icmp v2, v4 cond=eq
    brif v5, block2, block3
block3:
    insn_start pc=0x104
    charge cycles=3 insns=1
    v6:i64 = add v3, v2
    v7:i64 = iconst value=1
    v8:i64 = sub v2, v7
    check_budget cycles=3 pc=0x104
    br block1(v8, v6)
block2:
    put v3 slot=r[2]
    exit pc=0x108
}
""")


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 200))
def test_sum_loop(n):
    interp = Interpreter(SUM_LOOP, state={"r[1]": n})
    assert interp.run("sum") == Exit(ExitReason.NEXT, 0x108, 0)
    assert interp.state["r[2]"] == n * (n + 1) // 2
    assert interp.insns == n
    assert interp.budget == (1 << 62) - 3 * n


def test_budget_exit():
    interp = Interpreter(SUM_LOOP, state={"r[1]": 100})
    interp.budget = 20
    # each iteration charges 3 and then needs 3 more: 20 -> 17 -> ... -> 2 (< 3) after 6
    assert interp.run("sum") == Exit(ExitReason.BUDGET, 0x104, 0)
    assert (interp.budget, interp.insns) == (2, 6)
    assert "r[2]" not in interp.state


FIB = module("""
region fib function (i64) -> (i64) {
block0(v0:i64):
    v1:i64 = iconst value=2
    v2:i1 = icmp v0, v1 cond=ult
    brif v2, block1, block2
block1:
    ret v0
block2:
    v3:i64 = iconst value=1
    v4:i64 = sub v0, v3
    v5:i64 = call_fn v4 fn=fib
    v6:i64 = sub v4, v3
    v7:i64 = call_fn v6 fn=fib
    v8:i64 = add v5, v7
    ret v8
}
""")


def test_recursive_function_calls():
    a, b = 0, 1
    for _ in range(15):
        a, b = b, a + b
    assert Interpreter(FIB).call("fib", [15]) == [a]


def test_call_checks_arguments_and_kind():
    interp = Interpreter(FIB)
    with pytest.raises(InterpError, match="fib takes 1 argument"):
        interp.call("fib", [])
    with pytest.raises(InterpError, match="fib is a function region, not a block region"):
        interp.run("fib")
    with pytest.raises(InterpError, match="no region named 'nope'"):
        interp.run("nope")


MEM = module("""
region mem block pc=0x200 {
block0:
    insn_start pc=0x200
    v0:i64 = iconst value=0x1000
    v1:i32 = iconst value=0x89abcdef
    store v0, v1
    insn_start pc=0x204 delay=1
    v2:i8 = load v0
    v3:i16 = load v0
    v4:i64 = sext v3
    put v4 slot=r[0]
    put v2 slot=b
    v5:i32 = iconst value=0xfffffff0
    v6:i32 = load v5
    exit pc=0x208
}
""")


def test_memory_contract():
    mem = Memory()
    mem.bytes[0xFFFFFFF0] = 0x5A
    interp = Interpreter(MEM, memory=mem)
    assert interp.run("mem") == Exit(ExitReason.NEXT, 0x208, 0)
    assert mem.log == [("store", 0x1000, 4, 0x89ABCDEF), ("load", 0x1000, 1),
                       ("load", 0x1000, 2), ("load", 0xFFFFFFF0, 4)]
    assert interp.state["r[0]"] == 0xFFFFFFFFFFFFCDEF
    assert interp.state["b"] == 0xEF


def test_memory_errors_propagate_with_the_faulting_instruction():
    class Faulting(Memory):
        def load(self, addr, size):
            raise GuestFault(addr, size, False)

    interp = Interpreter(MEM, memory=Faulting())
    with pytest.raises(GuestFault, match="0x1000"):
        interp.run("mem")
    assert (interp.next_pc, interp.delay) == (0x204, 1)


def test_no_memory_is_a_clear_error():
    with pytest.raises(InterpError, match="store at pc=0x200: the interpreter was given no "
                                          "memory"):
        Interpreter(MEM).run("mem")


HELPERS = parse_module(STATE + """helper scale(f64, f32, i8) -> (f64)
helper split(i64) -> (i32, i32)
helper note(i64) -> ()
helper wide() -> (i8)

region h block pc=0 {
block0:
    insn_start pc=0x300
    v0:f64 = get slot=f[0]
    v1:f32 = get slot=s
    v2:i8 = get slot=b
    v3:f64 = call v0, v1, v2 helper=scale
    put v3 slot=f[1]
    v4:i64 = get slot=r[0]
    v5:i32, v6:i32 = call v4 helper=split
    v7:i64 = zext v5
    v8:i64 = zext v6
    put v7 slot=r[1]
    put v8 slot=r[2]
    call v4 helper=note
    v9:i8 = call helper=wide
    put v9 slot=b
    exit pc=0x304
}
""")


def test_helper_calls_convert_values():
    seen = []
    helpers = {
        "scale": lambda x, y, k: seen.append((x, y, k)) or x * y * k,
        "split": lambda v: (v >> 32, v & 0xFFFFFFFF),
        "note": lambda v: seen.append(v),
        "wide": lambda: 0x1FF,                    # results are wrapped to the type
    }
    state = {"f[0]": d2b(1.5), "s": struct.unpack("<I", struct.pack("<f", 0.25))[0],
             "b": 3, "r[0]": 0x1234567890ABCDEF}
    interp = Interpreter(HELPERS, state=state, helpers=helpers)
    assert interp.run("h") == Exit(ExitReason.NEXT, 0x304, 0)
    assert seen == [(1.5, 0.25, 3), 0x1234567890ABCDEF]
    assert state["f[1]"] == d2b(1.125)
    assert (state["r[1]"], state["r[2]"]) == (0x12345678, 0x90ABCDEF)
    assert state["b"] == 0xFF


def test_helper_errors():
    def boom(*args):
        raise ValueError("helper failed")

    interp = Interpreter(HELPERS, helpers={"scale": boom})
    with pytest.raises(ValueError, match="helper failed"):
        interp.run("h")
    assert interp.next_pc == 0x300
    bad = Interpreter(HELPERS, helpers={"scale": lambda *a: 1.0, "split": lambda v: 7})
    with pytest.raises(InterpError, match=r"helper split returned 7; its signature has 2"):
        bad.run("h")
    with pytest.raises(InterpError, match="no Python callable given for helper 'scale'"):
        Interpreter(HELPERS).run("h")


EXITS = module("""
region sw block pc=0x400 {
block0:
    v0:i64 = get slot=r[0]
    v1:i8 = trunc v0
    br_table v1, block4, [block1, block2, block3(v0)]
block1:
    exit kind=call pc=0x1000
block2:
    trap cause=9 pc=0x404
block3(v2:i64):
    exit v2 kind=return
block4:
    exit kind=halt pc=0x408
}
""")


@pytest.mark.parametrize("index, expected", [
    (0, Exit(ExitReason.NEXT, 0x1000, 1)),
    (1, Exit(ExitReason.EXCEPTION, 0x404, 9)),
    (2, Exit(ExitReason.NEXT, 2, 2)),
    (3, Exit(ExitReason.HALT, 0x408, 4)),         # past the case list: the default
    (0x103, Exit(ExitReason.HALT, 0x408, 4)),     # truncated to i8 = 3
    (0x102, Exit(ExitReason.NEXT, 0x102, 2)),
])
def test_br_table_and_exit_kinds(index, expected):
    assert Interpreter(EXITS, state={"r[0]": index}).run("sw") == expected


def test_trap_inside_a_call_leaves_the_whole_run():
    m = module("""
region t function (i64) -> (i64) {
block0(v0:i64):
    trap cause=3 pc=0x50
}

region main block pc=0x40 {
block0:
    v0:i64 = iconst value=1
    v1:i64 = call_fn v0 fn=t
    exit pc=0x44
}
""")
    assert Interpreter(m).run("main") == Exit(ExitReason.EXCEPTION, 0x50, 3)
    with pytest.raises(RegionExit) as info:
        Interpreter(m).call("t", [1])
    assert info.value.exit == Exit(ExitReason.EXCEPTION, 0x50, 3)


def test_max_steps():
    m = module("""
region spin block pc=0 {
block0:
    br block1
block1:
    br block1
}
""")
    with pytest.raises(InterpError, match="region spin: max_steps exceeded in block block1"):
        Interpreter(m).run("spin", max_steps=1000)


def test_missing_state_reads_zero_and_floats_follow_the_region():
    m = parse_module(STATE + """
region fp block pc=0 rounding=rup nan64=0x7ff4000000000000 {
block0:
    v0:f64 = get slot=f[0]
    v1:f64 = fconst bits=0x3ff0000000000000
    v2:f64 = fconst bits=0x3c30000000000000
    v3:f64 = fadd v1, v2
    put v3 slot=f[1]
    v4:f64 = fdiv v0, v0
    put v4 slot=f[0]
    exit pc=0
}
""")
    state = {}
    Interpreter(m, state=state).run("fp")
    assert state["f[1]"] == d2b(math.nextafter(1.0, 2.0))    # 1 + 2**-60 rounded up
    assert state["f[0]"] == 0x7FF4000000000000                 # 0/0: the region's NaN


def test_every_op_corpus_runs():
    mem = Memory()
    logged = []
    helpers = {"mix": lambda a, f: a ^ int(f) if math.isfinite(f) else a,
               "log": logged.append}
    interp = Interpreter(every_op_module(), memory=mem,
                         state={"gpr[1]": 7, "gpr[2]": 3, "fpr[0]": d2b(2.0)}, helpers=helpers)
    ex = interp.run("r1000", max_steps=10_000)
    assert ex.reason in (ExitReason.NEXT, ExitReason.EXCEPTION)
    assert interp.insns == 1 and interp.budget == (1 << 62) - 2
    assert len(logged) == 1 and mem.log[0][0] == "load"
    assert Interpreter(every_op_module()).run("r2000") == Exit(ExitReason.HALT, 0x2000, 4)


@settings(max_examples=100, deadline=None)
@given(random_modules(), st.integers(0, 2 ** 64 - 1))
def test_random_modules_run_or_fail_cleanly(m, seed):
    state = {ref: (seed * (i + 1)) & m.state.type(ref).mask
             for i, ref in enumerate(m.state.refs())}
    helpers = {"h2": lambda a, f: a + 1, "h0": lambda: None}
    interp = Interpreter(m, state=state, memory=Memory(), helpers=helpers)
    region = next(r for r in m.regions.values() if r.kind == "block")
    try:
        ex = interp.run(region.name, max_steps=2000)
    except DynarecError as e:                     # only ever "ran too long"
        assert "max_steps" in str(e)
    else:
        assert isinstance(ex.reason, ExitReason)
