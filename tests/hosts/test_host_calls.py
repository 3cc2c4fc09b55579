"""Calls on the x86-64 host: Python and native helpers, ``call_fn`` of function regions
(recursion, stack arguments, exits from inside), the dispatcher (exit fields, budget,
re-entrant ``enter``, MXCSR), and compile errors."""

from __future__ import annotations

import ctypes
import ctypes.util
import struct

import pytest

from dynarec.context import ExitReason
from dynarec.errors import CodeCacheFull, CompileError
from dynarec.host import HelperImpl
from dynarec.hosts.x86_64 import X86_64Host
from dynarec.hosts.x86_64 import features
from dynarec.ir import F32, F64, I8, I16, I32, I64, Builder, HelperSig, Module, Region, Slot
from dynarec.ir.opcodes import EXIT_KINDS

from harness import HOSTS, Harness, x86_only

SLOTS = [Slot("a", I64, 16), Slot("f", F64, 8), Slot("s", F32, 4), Slot("r", I64, 8),
         Slot("fr", F64, 4), Slot("sr", F32, 2)]


def f64(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def from_f64(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def f32(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


#: the hosts every test here runs on (the AArch64 one under Unicorn)


@pytest.fixture(params=list(HOSTS))
def h(request):
    return Harness(HOSTS[request.param](), SLOTS)


def helper(h, name, params, results, fn, kind="python"):
    h.helpers[name] = HelperImpl(HelperSig(name, tuple(params), tuple(results)), kind, fn)


def module(h):
    m = Module(state=h.layout)
    m.helpers = {name: impl.sig for name, impl in h.helpers.items()}
    return m


def block(m, name="blk", pc=0x100):
    r = m.add(Region(name, pc=pc))
    return r, Builder(r, m)


# --- Python helpers --------------------------------------------------------------------------

def test_python_helper_int_args_and_masked_results(h):
    calls = []

    def mix(a, b, c):
        calls.append((a, b, c))
        return -1 - a                     # negative and too wide: masked to the result type
    helper(h, "mix", (I8, I32, I64), (I16,), mix)
    m = module(h)
    r, b = block(m)
    b.insn_start(pc=0x100)
    x = b.call("mix", b.trunc(I8, b.get("a[0]")), b.trunc(I32, b.get("a[1]")), b.get("a[2]"))
    b.put("r[0]", b.zext(I64, x))
    b.exit(pc=0x104)
    code = h.compile(r)
    h.state["a[0]"], h.state["a[1]"], h.state["a[2]"] = 0x1FF, 0x1_8000_0001, 2 ** 64 - 1
    assert h.run(code) == ExitReason.NEXT
    assert calls == [(0xFF, 0x8000_0001, 2 ** 64 - 1)]
    assert h.state["r[0]"] == (-1 - 0xFF) & 0xFFFF


def test_python_helper_floats_many_args_and_tuple_results(h):
    def many(*args):
        many.args = args
        ints = sum(a for a in args if isinstance(a, int))
        floats = sum(a for a in args if isinstance(a, float))
        return (floats, ints, floats / 4)
    ptypes = [I64] * 7 + [F64] * 6 + [F32] * 4
    helper(h, "many", ptypes, (F64, I64, F32), many)
    m = module(h)
    r, b = block(m)
    ints = [b.get(f"a[{i}]") for i in range(7)]
    doubles = [b.get(f"f[{i}]") for i in range(6)]
    singles = [b.get(f"s[{i}]") for i in range(4)]
    fsum, isum, quarter = b.call("many", *ints, *doubles, *singles)
    b.put("fr[0]", fsum)
    b.put("r[0]", isum)
    b.put("sr[0]", quarter)
    b.exit(pc=0x104)
    code = h.compile(r)
    for i in range(7):
        h.state[f"a[{i}]"] = 10 ** i
    for i in range(6):
        h.state[f"f[{i}]"] = f64(i + 0.5)
    for i in range(4):
        h.state[f"s[{i}]"] = f32(-i - 0.25)
    assert h.run(code) == ExitReason.NEXT
    assert many.args == tuple([10 ** i for i in range(7)] + [i + 0.5 for i in range(6)] +
                              [-i - 0.25 for i in range(4)])
    total = sum(i + 0.5 for i in range(6)) + sum(-i - 0.25 for i in range(4))
    assert h.state["fr[0]"] == f64(total)
    assert h.state["r[0]"] == 1111111
    assert h.state["sr[0]"] == f32(total / 4)


def test_python_helper_exception_surfaces_from_enter_unchanged(h):
    class Boom(Exception):
        pass
    error = Boom("from the helper")

    def explode(x):
        raise error
    helper(h, "explode", (I64,), (), explode)
    m = module(h)
    r, b = block(m)
    b.insn_start(pc=0x100)
    b.put("r[0]", b.iconst(I64, 1))
    b.insn_start(pc=0x104, delay=1)
    b.call("explode", b.get("a[0]"))
    b.put("r[0]", b.iconst(I64, 2))
    b.exit(pc=0x108)
    code = h.compile(r)
    with pytest.raises(Boom) as info:
        h.run(code)
    assert info.value is error
    assert h.header.exit_reason == ExitReason.ERROR
    assert (h.header.next_pc, h.header.exit_delay) == (0x104, 1)
    assert h.state["r[0]"] == 1
    # the dispatcher state is intact: the region runs again
    with pytest.raises(Boom):
        h.run(code)


@pytest.mark.parametrize("result, exc", [("not an int", TypeError), ((1, 2), TypeError)])
def test_python_helper_bad_result_is_an_error(h, result, exc):
    helper(h, "bad", (), (I64,), lambda: result)
    m = module(h)
    r, b = block(m)
    b.put("r[0]", b.call("bad"))
    b.exit(pc=0x104)
    with pytest.raises(exc):
        h.run(h.compile(r))
    assert h.header.exit_reason == ExitReason.ERROR


def test_python_helper_tuple_too_short_is_an_error(h):
    helper(h, "pair", (), (I64, I64), lambda: (1,))
    m = module(h)
    r, b = block(m)
    x, y = b.call("pair")
    b.put("r[0]", x)
    b.exit(pc=0x104)
    with pytest.raises(IndexError):
        h.run(h.compile(r))


# --- native helpers --------------------------------------------------------------------------

def test_native_helpers(h):
    libc = ctypes.CDLL(None)
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    addr = lambda fn: ctypes.cast(fn, ctypes.c_void_p).value
    helper(h, "labs", (I64,), (I64,), addr(libc.labs), kind="native")
    helper(h, "pow", (F64, F64), (F64,), addr(libm.pow), kind="native")
    helper(h, "sqrtf", (F32,), (F32,), addr(libm.sqrtf), kind="native")
    m = module(h)
    r, b = block(m)
    keep = b.get("a[1]")
    b.put("r[0]", b.call("labs", b.get("a[0]")))
    b.put("fr[0]", b.call("pow", b.get("f[0]"), b.get("f[1]")))
    b.put("sr[0]", b.call("sqrtf", b.get("s[0]")))
    b.put("r[1]", keep)
    b.exit(pc=0x104)
    code = h.compile(r)
    h.state["a[0]"], h.state["a[1]"] = (-12345) & (2 ** 64 - 1), 77
    h.state["f[0]"], h.state["f[1]"] = f64(2.0), f64(10.0)
    h.state["s[0]"] = f32(2.25)
    assert h.run(code) == ExitReason.NEXT
    assert h.state["r[0]"] == 12345 and h.state["r[1]"] == 77
    assert h.state["fr[0]"] == f64(1024.0)
    assert h.state["sr[0]"] == f32(1.5)


# --- function regions ------------------------------------------------------------------------

def fib_module(h):
    m = module(h)
    fn = m.add(Region("fib", kind="function", params=[I64], results=[I64]))
    b = Builder(fn, m)
    (n,) = fn.entry.params
    small, big = b.new_block(), b.new_block()
    b.brif(b.icmp(n, b.iconst(I64, 2), cond="ult"), small, big)
    b.switch_to(small)
    b.ret(n)
    b.switch_to(big)
    x = b.call_fn("fib", b.sub(n, b.iconst(I64, 1)))
    y = b.call_fn("fib", b.sub(n, b.iconst(I64, 2)))
    b.ret(b.add(x, y))
    return m, fn


def test_call_fn_recursion_fib(h):
    m, fn = fib_module(h)
    h.compile(fn)
    r, b = block(m)
    b.put("r[0]", b.call_fn("fib", b.get("a[0]")))
    b.exit(pc=0x104)
    code = h.compile(r)
    for n, want in ((0, 0), (1, 1), (10, 55), (20, 6765)):
        h.state["a[0]"] = n
        assert h.run(code) == ExitReason.NEXT
        assert h.state["r[0]"] == want


def test_call_fn_stack_arguments_floats_and_two_results(h):
    m = module(h)
    params = [I64] * 8 + [F64] * 9 + [I32]
    fn = m.add(Region("wide", kind="function", params=params, results=[I64, F64]))
    b = Builder(fn, m)
    ps = fn.entry.params
    isum = ps[0]
    for i, p in enumerate(ps[1:8]):
        isum = b.add(b.mul(isum, b.iconst(I64, 10)), p)
    isum = b.add(isum, b.zext(I64, ps[17]))
    fsum = ps[8]
    for p in ps[9:17]:
        fsum = b.fadd(b.fmul(fsum, b.fconst(F64, f64(2.0))), p)
    b.ret(isum, fsum)
    h.compile(fn)
    r, b = block(m)
    ints = [b.iconst(I64, i + 1) for i in range(8)]
    floats = [b.fconst(F64, f64(i * 0.5)) for i in range(9)]
    x, y = b.call_fn("wide", *ints, *floats, b.iconst(I32, 1000000000))
    b.put("r[0]", x)
    b.put("fr[0]", y)
    b.exit(pc=0x104)
    assert h.run(h.compile(r)) == ExitReason.NEXT
    assert h.state["r[0]"] == 12345678 + 1000000000
    want = 0.0
    for i in range(9):
        want = want * 2 + i * 0.5
    assert h.state["fr[0]"] == f64(want)


@pytest.mark.parametrize("leave", ["trap", "exit"])
def test_leaving_from_a_nested_function(h, leave):
    """A function that recurses to depth n and then traps (or exits): the exit stub unwinds
    every frame; the dispatcher still works afterwards."""
    m = module(h)
    fn = m.add(Region("down", kind="function", params=[I64], results=[I64]))
    b = Builder(fn, m)
    (n,) = fn.entry.params
    bottom, deeper = b.new_block(), b.new_block()
    b.brif(b.icmp(n, b.iconst(I64, 0), cond="eq"), bottom, deeper)
    b.switch_to(bottom)
    b.insn_start(pc=0x900, delay=1)
    if leave == "trap":
        b.trap(cause=13, pc=0x900)
    else:
        b.exit(b.iconst(I64, 0x900), kind="return")
    b.switch_to(deeper)
    b.ret(b.call_fn("down", b.sub(n, b.iconst(I64, 1))))
    h.compile(fn)
    r, b = block(m)
    b.put("r[0]", b.call_fn("down", b.get("a[0]")))
    b.exit(pc=0x104)
    code = h.compile(r)
    for depth in (0, 5, 50):
        h.state["a[0]"] = depth
        reason = h.run(code)
        assert h.header.next_pc == 0x900
        if leave == "trap":
            assert reason == ExitReason.EXCEPTION
            assert (h.header.exit_info, h.header.exit_delay) == (13, 1)
        else:
            assert reason == ExitReason.NEXT
            assert h.header.exit_info == EXIT_KINDS.index("return")
    r2, b = block(m, "plain")
    b.put("r[1]", b.iconst(I64, 99))
    b.exit(pc=0x200)
    assert h.run(h.compile(r2)) == ExitReason.NEXT and h.state["r[1]"] == 99


# --- exits, budget, dispatcher ---------------------------------------------------------------

def test_exit_fields(h):
    m = module(h)
    r, b = block(m)
    sel = b.get("a[0]")
    blocks = [b.new_block() for _ in range(4)]
    b.br_table(sel, blocks[0], [(blk, []) for blk in blocks[1:]])
    b.switch_to(blocks[0])
    b.exit(pc=0xFFFF_FFFF_8000_0000, kind="jump")
    b.switch_to(blocks[1])
    b.exit(b.get("a[1]"), kind="indirect")
    b.switch_to(blocks[2])
    b.exit(pc=0x1234_5678_9ABC, kind="halt")
    b.switch_to(blocks[3])
    b.insn_start(pc=0x300, delay=1)
    b.trap(cause=7, pc=0x300)
    code = h.compile(r)
    h.state["a[1]"] = 0xDEAD_BEEF_0000_0001
    expect = {0: (ExitReason.NEXT, 0xDEAD_BEEF_0000_0001, EXIT_KINDS.index("indirect")),
              1: (ExitReason.HALT, 0x1234_5678_9ABC, EXIT_KINDS.index("halt")),
              2: (ExitReason.EXCEPTION, 0x300, 7),
              3: (ExitReason.NEXT, 0xFFFF_FFFF_8000_0000, 0),
              2 ** 40: (ExitReason.NEXT, 0xFFFF_FFFF_8000_0000, 0)}
    for sel_value, (reason, pc, info) in expect.items():
        h.state["a[0]"] = sel_value
        h.header.exit_delay = 0
        assert h.run(code) == reason
        assert (h.header.next_pc, h.header.exit_info) == (pc, info)
        assert h.header.exit_delay == (reason == ExitReason.EXCEPTION)


def test_a_block_continues_the_guest_instruction_of_its_predecessor(h):
    """The pc and delay flag a trap (or a slow path, a helper call) reports come from the
    path to it, not from whatever block was laid out before it: here the trap's block comes
    after one that starts a delay-slot instruction."""
    x86_only(h, "reads the order of x86-64 stores in the listing")
    m = module(h)
    r, b = block(m)
    b.insn_start(pc=0x100)
    trap, slot = b.new_block(), b.new_block()
    b.brif(b.icmp(b.get("a[0]"), b.iconst(I64, 0), cond="ne"), trap, slot)
    b.switch_to(slot)
    b.insn_start(pc=0x104, delay=1)
    b.exit(pc=0x108)
    b.switch_to(trap)
    b.trap(cause=9, pc=0x100)
    code = h.compile(r)
    assert code.asm.index(f"+ 8], {0x108}") < code.asm.index("+ 56], 0")   # trap after slot
    h.state["a[0]"] = 1
    assert h.run(code) == ExitReason.EXCEPTION
    assert (h.header.next_pc, h.header.exit_info, h.header.exit_delay) == (0x100, 9, 0)


def test_charge_and_check_budget(h):
    m = module(h)
    r, b = block(m)
    b.check_budget(cycles=10, pc=0x100)
    b.charge(cycles=4, insns=2)
    b.charge(cycles=3_000_000_000)
    b.charge(cycles=0, insns=1)
    b.exit(pc=0x104)
    code = h.compile(r)
    h.header.insns = 5
    assert h.run(code, budget=9) == ExitReason.BUDGET
    assert (h.header.next_pc, h.header.exit_info, h.header.budget) == (0x100, 10, 9)
    assert h.header.insns == 5
    assert h.run(code, budget=10) == ExitReason.NEXT
    assert h.header.budget == 10 - 4 - 3_000_000_000
    assert h.header.insns == 8
    assert h.run(code, budget=-5) == ExitReason.BUDGET


def test_reentrant_enter_from_a_helper(h):
    x86_only(h, "the Unicorn executor cannot nest emu_start (docs/hosts/aarch64.md)")
    inner_r = Region("inner", pc=0x500)
    m = module(h)
    m.add(inner_r)
    b = Builder(inner_r, m)
    b.put("r[1]", b.add(b.get("a[1]"), b.iconst(I64, 1)))
    b.exit(pc=0x504)
    inner = h.compile(inner_r)

    def nested():
        assert h.run(inner) == ExitReason.NEXT
        return 40
    helper(h, "nested", (), (I64,), nested)
    m.helpers["nested"] = h.helpers["nested"].sig
    r, b = block(m)
    keep = b.get("a[0]")
    b.put("r[0]", b.add(b.call("nested"), keep))
    b.exit(pc=0x104)
    outer = h.compile(r)
    h.state["a[0]"], h.state["a[1]"] = 2, 6
    saved_sp = h.header.saved_sp
    assert h.run(outer) == ExitReason.NEXT
    assert (h.state["r[0]"], h.state["r[1]"], h.header.next_pc) == (42, 7, 0x104)
    assert h.header.saved_sp == saved_sp


def test_rounding_mode_does_not_leak_into_python(h):
    seen, one = [], [1.0]                      # a runtime division, not a folded constant
    helper(h, "third", (), (F64,), lambda: seen.append(one[0] / 3.0) or one[0] / 3.0)
    m = module(h)
    r = m.add(Region("rtz", pc=0x100, attrs={"rounding": "rup"}))
    b = Builder(r, m)
    x = b.fdiv(b.get("f[0]"), b.get("f[1]"))
    b.put("fr[0]", x)
    b.put("fr[1]", b.call("third"))
    b.put("fr[2]", b.fdiv(b.get("f[0]"), b.get("f[1]")))
    b.exit(pc=0x104)
    code = h.compile(r)
    h.state["f[0]"], h.state["f[1]"] = f64(1.0), f64(3.0)
    assert h.run(code) == ExitReason.NEXT
    nearest = f64(1.0 / 3.0)
    assert h.state["fr[0]"] == h.state["fr[2]"] == nearest + 1      # rounded up
    assert seen == [from_f64(nearest)] and h.state["fr[1]"] == nearest
    assert 1.0 / 3.0 == from_f64(nearest)                             # Python is unaffected


def test_function_rounding_mode_does_not_leak_into_helpers(h):
    """A function region with its own rounding returns to a region without float ops, which
    then calls Python: Python must see the caller's MXCSR again."""
    m = module(h)
    fn = m.add(Region("updiv", kind="function", params=[F64, F64], results=[F64],
                      attrs={"rounding": "rup"}))
    b = Builder(fn, m)
    b.ret(b.fdiv(*fn.entry.params))
    h.compile(fn)
    one = [1.0]                                # a runtime division, not a folded constant
    helper(h, "third", (), (F64,), lambda: one[0] / 3.0)
    m.helpers["third"] = h.helpers["third"].sig
    r, b = block(m)
    b.put("fr[0]", b.call_fn("updiv", b.get("f[0]"), b.get("f[1]")))
    b.put("fr[1]", b.call("third"))
    b.exit(pc=0x104)
    h.state["f[0]"], h.state["f[1]"] = f64(1.0), f64(3.0)
    assert h.run(h.compile(r)) == ExitReason.NEXT
    assert h.state["fr[0]"] == f64(1.0 / 3.0) + 1
    assert h.state["fr[1]"] == f64(1.0 / 3.0)


# --- errors and reporting --------------------------------------------------------------------

def test_compile_errors_name_the_problem(h):
    m = module(h)
    r, b = block(m, "bad")
    m.helpers["ghost"] = HelperSig("ghost", (), ())
    b.call("ghost")
    b.exit(pc=0)
    with pytest.raises(CompileError, match="bad.*ghost"):
        h.compile(r)
    r2, b = block(m, "nofn")
    m.add(Region("later", kind="function"))
    b.call_fn("later")
    b.exit(pc=0)
    with pytest.raises(CompileError, match="later"):
        h.compile(r2)
    r3, b = block(m, "unterminated")
    b.put("r[0]", b.iconst(I64, 1))
    with pytest.raises(CompileError, match="unterminated"):
        h.compile(r3)
    for slot, t, message in (("nope", I64, "no state slot 'nope'"),
                             ("a[1]", I32, "state slot a\\[1\\] is i64, the op uses i32")):
        r4, b = block(m, f"slot_{t}")
        b.emit("get", [], {"slot": slot}, [t])
        b.exit(pc=0)
        with pytest.raises(CompileError, match=message):
            h.compile(r4)


def test_full_code_cache_flushes_and_reassembles():
    h = Harness(X86_64Host(), SLOTS, cache_size=8192)
    m = module(h)
    entries = []
    for i in range(12):
        r, b = block(m, f"r{i}")
        acc = b.get("a[0]")
        for k in range(150):
            acc = b.add(b.mul(acc, b.iconst(I64, 3)), b.iconst(I64, k + i))
        b.put("r[0]", acc)
        b.exit(pc=0x104)
        compiled = h.compile(r)
        entries.append(compiled.entry)
        h.state["a[0]"] = 1
        assert h.run(compiled) == ExitReason.NEXT
        want = 1
        for k in range(150):
            want = (want * 3 + k + i) % 2 ** 64
        assert h.state["r[0]"] == want
    assert h.cache.flushes > 0 and len(set(entries)) < len(entries)
    r, b = block(m, "huge")
    acc = b.get("a[0]")
    for k in range(3000):
        acc = b.add(acc, b.iconst(I64, k))
    b.put("r[0]", acc)
    b.exit(pc=0)
    with pytest.raises(CodeCacheFull):
        h.compile(r)


def test_a_region_that_fits_only_without_the_shared_stubs_is_refused():
    """The shared stubs go back into a flushed cache first, so a region needing nearly the
    whole cache cannot fit: CodeCacheFull after one flush, not a flush loop."""
    def adds(n):
        m = module(h)
        r, b = block(m, f"adds{n}")
        acc = b.get("a[0]")
        for k in range(n):
            acc = b.add(acc, b.iconst(I64, (k + 1) << 20))     # 7 bytes each
        b.put("r[0]", acc)
        b.exit(pc=0)
        return r

    h = Harness(X86_64Host(), SLOTS, cache_size=8192)
    tiny = h.compile(adds(0))                             # places the stubs first
    room = h.cache.size - h.cache._pinned                 # what a flush leaves
    stubs = h.cache.used - h.cache._pinned - (tiny.size + 15) // 16 * 16
    assert stubs > 0
    n = (room - stubs // 2 - tiny.size) // 7              # fits without the stubs only
    flushes = h.cache.flushes
    with pytest.raises(CodeCacheFull):
        h.compile(adds(n))
    assert h.cache.flushes == flushes + 1
    assert h.run(h.compile(adds(3))) == ExitReason.NEXT   # still usable


def test_keystone_rejection_names_the_line():
    host = X86_64Host()
    with pytest.raises(CompileError, match=r"line 2: 'frobnicate rax'"):
        host.assemble(["    nop", "    frobnicate rax", "L1:", "    jmp L1"], 0x1000, "t")
    far = 0x7F00_0000_0000                  # absolute targets are fine near the code
    with pytest.raises(CompileError, match=r"line 3: 'frobnicate rax'"):
        host.assemble([f"jmp {far + 64:#x}", f"call {far:#x}", "frobnicate rax"], far, "t")
    assert host.assemble(["L1:", "    jmp L1"], 0x1000, "t") == b"\xeb\xfe"


def test_disassemble_lists_instructions(h):
    x86_only(h, "disassembles x86-64 bytes")
    listing = h.host.disassemble(b"\x48\x01\xc8\xc3", 0x1000)
    assert listing == ["0x1000: add rax, rcx", "0x1003: ret"]


def test_features(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor : 0\nflags : fpu sse2 movbe abm bmi1 sse4_1\n")
    assert features.detect(str(info)) == {"movbe", "lzcnt", "bmi1", "sse4_1"}
    assert features.detect(str(tmp_path / "missing")) == frozenset()
    assert X86_64Host(features=set()).features == frozenset()
    with pytest.raises(ValueError, match="avx9"):
        X86_64Host(features={"avx9"})
