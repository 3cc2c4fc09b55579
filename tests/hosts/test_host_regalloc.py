"""Register allocation on the x86-64 host (and the AArch64 one, under Unicorn): pressure
beyond the register file (spills), loops with block parameters (parallel moves with cycles),
values live across calls."""

from __future__ import annotations

import struct

import pytest

from dynarec.context import ExitReason
from dynarec.hosts.x86_64 import X86_64Host
from dynarec.hosts.common.regalloc import allocate, block_order
from dynarec.hosts.x86_64 import regs
from dynarec.hosts.x86_64.regs import ALLOC_CALLEE_SAVED, Mem, Reg
from dynarec.host import HelperImpl
from dynarec.ir import F64, I1, I32, I64, Builder, HelperSig, Module, Region, Slot

from harness import HOSTS, Harness

M64 = (1 << 64) - 1


def f64(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


#: the hosts every allocation test runs on (the AArch64 one under Unicorn)


@pytest.fixture(params=list(HOSTS))
def h(request):
    return Harness(HOSTS[request.param](),
                   [Slot("a", I64, 48), Slot("f", F64, 24), Slot("r", I64, 8),
                    Slot("fr", F64, 2)])


def region(h, name="r", **kw):
    m = Module(state=h.layout)
    r = m.add(Region(name, pc=0x100, **kw))
    return m, r, Builder(r, m)


def test_more_live_values_than_registers(h):
    m, r, b = region(h)
    vals = [b.get(f"a[{i}]") for i in range(40)]
    fvals = [b.get(f"f[{i}]") for i in range(20)]
    # use them in reverse order so all are live at once
    acc = b.iconst(I64, 0)
    for i, v in reversed(list(enumerate(vals))):
        acc = b.add(b.mul(acc, b.iconst(I64, 3)), b.xor(v, b.iconst(I64, i)))
    facc = b.fconst(F64, f64(0.0))
    for v in reversed(fvals):
        facc = b.fsub(b.fmul(facc, b.fconst(F64, f64(0.5))), v)
    b.put("r[0]", acc)
    b.put("fr[0]", facc)
    b.exit(pc=0x104)
    if not h.host.spill_all:
        alloc = allocate(r, regs.REGISTER_FILE, 0)
        assert any(isinstance(loc, Mem) for loc in alloc.loc.values())
    xs = [(i * 0x9E3779B97F4A7C15 + 12345) & M64 for i in range(40)]
    fs = [i * 1.25 - 7 for i in range(20)]
    for i, x in enumerate(xs):
        h.state[f"a[{i}]"] = x
    for i, x in enumerate(fs):
        h.state[f"f[{i}]"] = f64(x)
    assert h.run(h.compile(r)) == ExitReason.NEXT
    want, fwant = 0, 0.0
    for i in reversed(range(40)):
        want = (want * 3 + (xs[i] ^ i)) & M64
    for x in reversed(fs):
        fwant = fwant * 0.5 - x
    assert h.state["r[0]"] == want
    assert h.state["fr[0]"] == f64(fwant)


def test_loop_sums_with_block_params(h):
    m, r, b = region(h)
    n = b.get("a[0]")
    loop = b.new_block([I64, I64])
    done = b.new_block([I64])
    b.br((loop, [n, b.iconst(I64, 0)]))
    b.switch_to(loop)
    i, acc = loop.params
    b.brif(b.icmp(i, b.iconst(I64, 0), cond="eq"), (done, [acc]),
           (loop, [b.sub(i, b.iconst(I64, 1)), b.add(acc, i)]))
    b.switch_to(done)
    b.put("r[0]", done.params[0])
    b.exit(pc=0x104)
    code = h.compile(r)
    for n in (0, 1, 10, 1000):
        h.state["a[0]"] = n
        assert h.run(code) == ExitReason.NEXT
        assert h.state["r[0]"] == n * (n + 1) // 2


def test_swaps_and_rotations_on_back_edges(h):
    """Block arguments that permute the parameters: parallel moves with 2- and 3-cycles,
    integer and float, plus a value live through the loop."""
    m, r, b = region(h)
    x, y, p, q, s = (b.get(f"a[{i}]") for i in range(5))
    fx, fy = b.get("f[0]"), b.get("f[1]")
    keep = b.get("a[5]")
    loop = b.new_block([I64, I64, I64, I64, I64, F64, F64, I32])
    out = b.new_block()
    b.br((loop, [x, y, p, q, s, fx, fy, b.iconst(I32, 7)]))
    b.switch_to(loop)
    lx, ly, lp, lq, ls, lfx, lfy, k = loop.params
    more = b.icmp(k, b.iconst(I32, 0), cond="ne")
    b.brif(more, (loop, [ly, lx, lq, ls, lp, lfy, lfx, b.sub(k, b.iconst(I32, 1))]), out)
    b.switch_to(out)
    for i, v in enumerate((lx, ly, lp, lq, ls, keep)):
        b.put(f"r[{i}]", v)
    b.put("fr[0]", lfx)
    b.put("fr[1]", lfy)
    b.exit(pc=0x104)
    code = h.compile(r)
    vals = [11, 22, 33, 44, 55, 66]
    for i, v in enumerate(vals):
        h.state[f"a[{i}]"] = v
    h.state["f[0]"], h.state["f[1]"] = f64(1.5), f64(-2.5)
    assert h.run(code) == ExitReason.NEXT
    # 7 iterations: the pair swaps 7 times, the triple rotates 7 = 1 (mod 3) times
    assert [h.state[f"r[{i}]"] for i in range(6)] == [22, 11, 44, 55, 33, 66]
    assert (h.state["fr[0]"], h.state["fr[1]"]) == (f64(-2.5), f64(1.5))


def test_values_live_across_helper_calls(h):
    seen = []
    h.helpers["note"] = HelperImpl(HelperSig("note", (I64,), (I64,)), "python",
                                   lambda v: seen.append(v) or v + 1)
    m, r, b = region(h)
    m.helpers["note"] = h.helpers["note"].sig
    vals = [b.get(f"a[{i}]") for i in range(12)]
    fvals = [b.get(f"f[{i}]") for i in range(3)]
    got = b.call("note", vals[0])
    got = b.call("note", got)
    acc = got
    for v in vals:
        acc = b.add(b.mul(acc, b.iconst(I64, 5)), v)
    facc = b.fadd(b.fadd(fvals[0], fvals[1]), fvals[2])
    b.put("r[0]", acc)
    b.put("fr[0]", facc)
    b.exit(pc=0x104)
    if not h.host.spill_all:
        alloc = allocate(r, regs.REGISTER_FILE, 0)
        across = [alloc.loc[v] for v in vals[1:]]
        assert all(isinstance(l, Mem) or l.name in ALLOC_CALLEE_SAVED for l in across)
    xs = [i * 1000003 + 7 for i in range(12)]
    for i, x in enumerate(xs):
        h.state[f"a[{i}]"] = x
    for i, x in enumerate((0.25, 1.5, -4.0)):
        h.state[f"f[{i}]"] = f64(x)
    assert h.run(h.compile(r)) == ExitReason.NEXT
    assert seen == [xs[0], xs[0] + 1]
    want = xs[0] + 2
    for x in xs:
        want = (want * 5 + x) & M64
    assert h.state["r[0]"] == want
    assert h.state["fr[0]"] == f64(0.25 + 1.5 - 4.0)


def test_block_order_is_reverse_postorder_and_drops_unreachable():
    m = Module()
    r = m.add(Region("r"))
    b = Builder(r, m)
    b1, b2, dead = b.new_block(), b.new_block(), b.new_block()
    b.brif(b.iconst(I1, 1), b2, b1)
    b.switch_to(b1)
    b.br(b2)
    b.switch_to(b2)
    b.exit(pc=0)
    b.switch_to(dead)
    b.exit(pc=4)
    assert [blk.name for blk in block_order(r)] == [r.entry.name, b1.name, b2.name]


def test_interference_free_assignment():
    """No two intervals that overlap share a register (checked on a random-ish region)."""
    m = Module(state=Harness(X86_64Host(), [Slot("a", I64, 30)]).layout)
    r = m.add(Region("r"))
    b = Builder(r, m)
    vals = [b.get(f"a[{i}]") for i in range(30)]
    for i in range(60):
        vals.append(b.add(vals[(i * 7) % len(vals)], vals[(i * 13 + 5) % len(vals)]))
    for i, v in enumerate(vals[-30:]):
        b.put(f"a[{i}]", v)
    b.exit(pc=0)
    alloc = allocate(r, regs.REGISTER_FILE, 0)
    ivs = [iv for iv in alloc.intervals.values() if isinstance(iv.loc, Reg)]
    for i, x in enumerate(ivs):
        for y in ivs[i + 1:]:
            if x.loc == y.loc:
                assert x.end < y.start or y.end < x.start, (x, y)


def test_register_roles_partition_the_register_file():
    gprs = ([regs.CTX, regs.PAGE_TABLE, "rsp"] + list(regs.SCRATCH) +
            list(regs.ALLOC_CALLER_SAVED) + list(regs.ALLOC_CALLEE_SAVED))
    assert sorted(gprs) == sorted(regs.GPRS)
    assert sorted(regs.XSCRATCH + regs.ALLOC_XMM) == sorted(f"xmm{i}" for i in range(16))
    # the fixed registers survive helper calls (System V callee-saved)
    assert {regs.CTX, regs.PAGE_TABLE} <= {"rbx", "rbp", "r12", "r13", "r14", "r15"}
