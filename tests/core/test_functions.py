"""dynarec.functions: the function table of VM guests -- compile on call with callees first,
native recursion, cycles through the table, the hot-call threshold, re-entrant calls from
helpers, float parameters and results, guest memory, and errors."""

import pytest

from dynarec.errors import VerifyError
from dynarec.functions import MAX_ARGS, FunctionJit
from dynarec.ir.builder import Builder
from dynarec.ir.nodes import Slot
from dynarec.ir.types import F64, I32, I64
from dynarec.memory import AddressSpace


def _fib(region, jit):
    b = Builder(region, jit.module)
    (n,) = region.entry.params
    small, big = b.new_block(), b.new_block()
    b.brif(b.icmp(n, b.iconst(I64, 2), cond="ult"), small, big)
    b.switch_to(small)
    b.ret(n)
    b.switch_to(big)
    assert jit.callee("fib")                    # itself: always native
    x = b.call_fn("fib", b.sub(n, b.iconst(I64, 1)))
    y = b.call_fn("fib", b.sub(n, b.iconst(I64, 2)))
    b.ret(b.add(x, y))


def test_recursive_function_runs_natively():
    jit = FunctionJit([])
    jit.declare("fib", [I64], [I64], _fib)
    assert not jit.compiled("fib")
    assert jit.call("fib", 25) == (75025,)      # fib(25), OEIS A000045
    assert jit.compiled("fib")
    assert jit.stats["functions_compiled"] == 1 and jit.stats["native_entries"] == 1


def _parity(me, other, answer_at_zero):
    """``me(n)``: answer_at_zero if n == 0, else ``other(n - 1)``; a call ``other`` cannot
    make natively (a cycle) goes through the ``table`` helper."""
    def translate(region, jit):
        b = Builder(region, jit.module)
        (n,) = region.entry.params
        zero, more = b.new_block(), b.new_block()
        b.brif(b.icmp(n, b.iconst(I64, 0), cond="eq"), zero, more)
        b.switch_to(zero)
        b.ret(b.iconst(I64, answer_at_zero))
        b.switch_to(more)
        m = b.sub(n, b.iconst(I64, 1))
        if jit.callee(other):
            b.ret(b.call_fn(other, m))
        else:
            b.ret(b.call(f"table_{other}", m))
        translated.append((me, jit.compiled(other)))
    return translate


translated = []


def test_mutual_recursion_closes_its_cycle_through_the_table():
    translated.clear()
    jit = FunctionJit([])
    jit.declare("even", [I64], [I64], _parity("even", "odd", 1))
    jit.declare("odd", [I64], [I64], _parity("odd", "even", 0))
    for name in ("even", "odd"):
        jit.add_helper(f"table_{name}", lambda n, name=name: jit.call(name, n)[0], [I64], [I64])
    assert jit.call("even", 41) == (0,) and jit.call("odd", 41) == (1,)
    # even asked for odd, which was compiled first (callees before callers) and could not
    # call even natively: even was still being compiled
    assert translated == [("odd", False), ("even", True)]


def test_threshold_counts_calls():
    jit = FunctionJit([], threshold=3)
    jit.declare("fib", [I64], [I64], _fib)
    assert [jit.hot("fib") for _ in range(4)] == [False, False, True, True]
    with pytest.raises(ValueError):
        FunctionJit([], threshold=0)


def test_floats_state_and_memory():
    memory = AddressSpace(32, 16)
    ram = memory.map_ram(0x10000, 0x10000)
    jit = FunctionJit([Slot("acc", I64)], memory=memory)

    def scale(region, jit):
        b = Builder(region, jit.module)
        x, k, addr = region.entry.params
        b.put("acc", b.add(b.get("acc"), b.zext(I64, k)))
        word = b.load(I64, addr)
        b.store(addr, b.add(word, b.iconst(I64, 1)))
        b.ret(b.fmul(x, b.fcvt_from_sint(F64, k)), word)

    jit.declare("scale", [F64, I32, I64], [F64, I64], scale)
    ram.buffer[0:8] = (41).to_bytes(8, "little")
    jit.write("acc", 100)
    assert jit.call("scale", 1.5, 4, 0x10000) == (6.0, 41)
    assert jit.read("acc") == 104
    assert int.from_bytes(ram.buffer[0:8], "little") == 42


def test_helpers_may_call_back_in():
    jit = FunctionJit([])
    jit.declare("fib", [I64], [I64], _fib)

    def outer(region, jit):
        b = Builder(region, jit.module)
        (n,) = region.entry.params
        b.ret(b.add(b.call("via_python", n), b.iconst(I64, 1)))

    jit.declare("outer", [I64], [I64], outer)
    jit.add_helper("via_python", lambda n: jit.call("fib", n)[0], [I64], [I64])
    assert jit.call("outer", 20) == (6766,)


def test_errors():
    jit = FunctionJit([])
    jit.declare("fib", [I64], [I64], _fib)
    with pytest.raises(ValueError, match="declared already"):
        jit.declare("fib", [I64], [I64], _fib)
    with pytest.raises(ValueError, match="at most"):
        jit.declare("wide", [I64] * (MAX_ARGS + 1), [], _fib)
    with pytest.raises(ValueError, match="takes 1 arguments"):
        jit.call("fib")
    with pytest.raises(KeyError, match="nope"):
        jit.call("nope")

    def broken(region, jit):
        Builder(region, jit.module).ret()          # returns nothing, declared one i64

    jit.declare("broken", [], [I64], broken)
    with pytest.raises(VerifyError):
        jit.call("broken")
    assert not jit.compiled("broken") and "broken" not in jit.module.regions

    def raising(region, jit):
        b = Builder(region, jit.module)
        b.call("boom")
        b.ret()

    jit.add_helper("boom", lambda: 1 / 0)
    jit.declare("raising", [], [], raising)
    with pytest.raises(ZeroDivisionError):
        jit.call("raising")
    assert jit.call("fib", 10) == (55,)             # still usable afterwards
