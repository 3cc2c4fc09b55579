"""state_forwarding: get/put forwarding, overwritten puts, and PRECISE STATE -- a put is never
deleted when a point where control can leave generated code lies between it and the put that
overwrites it."""

import pytest

from dynarec.ir import I32, Builder, Region

from passes_support import apply, body, expect, new_region


def test_forwards_values_and_deletes_overwritten_and_redundant_puts():
    m, r, b = new_region()
    b.insn_start(pc=0x1000)
    x = b.get("r[0]")                       # v0
    y = b.get("r[0]")                       # v1 -> v0
    s = b.add(x, y)                         # v2
    b.put("r[1]", s)
    z = b.get("r[1]")                       # v3 -> v2
    b.put("r[0]", x)                        # r[0] already holds v0
    b.put("r[2]", z)                        # overwritten below, nothing observes it
    b.put("r[2]", x)
    b.exit(pc=0x1004)
    assert apply("state_forwarding", r, m) == 4
    assert body(r) == expect("""
        block0:
            insn_start pc=0x1000
            v0:i32 = get slot=r[0]
            v2:i32 = add v0, v0
            put v2 slot=r[1]
            put v0 slot=r[2]
            exit pc=0x1004
        """)


def test_precise_state_at_loads_stores_and_calls():
    m, r, b = new_region()
    b.insn_start(pc=0x1000)
    a = b.get("r[0]")                       # v0
    twice = b.add(a, a)                     # v1
    b.put("r[1]", a)                        # overwritten before anything can observe it
    b.put("r[1]", twice)
    b.insn_start(pc=0x1004)
    b.put("r[2]", a)                        # the load may fault: state must show this put
    v = b.load(I32, a)                      # v2
    b.put("r[2]", v)
    c = b.get("r[1]")                       # v3 -> v1: a load does not write guest state
    k = b.call(c, helper="mmio")            # v4: the helper sees r[2] = v2
    d = b.get("r[2]")                       # v5: not forwarded, the helper may write state
    b.put("r[3]", d)                        # overwritten below: no leave in between
    b.insn_start(pc=0x1008)
    b.put("r[3]", k)
    b.store(a, k)
    b.put("r[3]", a)                        # the store observed r[3] = v4: both stay
    b.exit(pc=0x100c)
    assert apply("state_forwarding", r, m) == 3
    assert body(r) == expect("""
        block0:
            insn_start pc=0x1000
            v0:i32 = get slot=r[0]
            v1:i32 = add v0, v0
            put v1 slot=r[1]
            insn_start pc=0x1004
            put v0 slot=r[2]
            v2:i32 = load v0
            put v2 slot=r[2]
            v4:i32 = call v1 helper=mmio
            v5:i32 = get slot=r[2]
            insn_start pc=0x1008
            put v4 slot=r[3]
            store v0, v4
            put v0 slot=r[3]
            exit pc=0x100c
        """)


def _with_callee(m):
    callee = m.add(Region("callee", kind="function"))
    Builder(callee, m).ret()


@pytest.mark.parametrize("leave", ["load", "store", "call", "call_fn", "check_budget"])
def test_no_put_is_deleted_across_a_leaving_op(leave):
    m, r, b = new_region()
    _with_callee(m)
    b.insn_start(pc=0x1000)
    a = b.get("r[0]")
    b.put("r[1]", a)
    {"load": lambda: b.load(I32, a),
     "store": lambda: b.store(a, a),
     "call": lambda: b.call(a, helper="mmio"),
     "call_fn": lambda: b.call_fn(fn="callee"),
     "check_budget": lambda: b.check_budget(cycles=1, pc=0x1000)}[leave]()
    b.put("r[1]", b.iconst(I32, 1))
    b.exit(pc=0x1004)
    before = body(r)
    assert apply("state_forwarding", r, m) == 0
    assert body(r) == before


def test_across_blocks_only_into_single_predecessor_successors():
    m, r, b = new_region()
    b.insn_start(pc=0x1000)
    x = b.get("r[0]")                       # v0
    one = b.iconst(I32, 1)                  # v1
    inc = b.add(x, one)                     # v2
    b.put("r[0]", inc)                      # overwritten in block1, its only successor
    nxt, t, e = b.new_block(), b.new_block(), b.new_block()
    b.br(nxt)
    b.switch_to(nxt)                        # block1
    b.insn_start(pc=0x1004)
    b.put("r[0]", x)
    y = b.get("r[0]")                       # v3 -> v0
    c = b.icmp(y, one, cond="eq")           # v4
    b.put("r[1]", inc)                      # stays: block3 can be reached and sees it
    b.brif(c, t, e)
    b.switch_to(t)                          # block2
    b.put("r[1]", one)
    b.put("r[2]", b.get("r[0]"))            # v5 -> v0: known values flow through brif
    b.trap(cause=1, pc=0x1004)
    b.switch_to(e)                          # block3
    b.exit(pc=0x1008)
    assert apply("state_forwarding", r, m) == 3
    assert body(r) == expect("""
        block0:
            insn_start pc=0x1000
            v0:i32 = get slot=r[0]
            v1:i32 = iconst value=1
            v2:i32 = add v0, v1
            br block1
        block1:
            insn_start pc=0x1004
            put v0 slot=r[0]
            v4:i1 = icmp v0, v1 cond=eq
            put v2 slot=r[1]
            brif v4, block2, block3
        block2:
            put v1 slot=r[1]
            put v0 slot=r[2]
            trap cause=1 pc=0x1004
        block3:
            exit pc=0x1008
        """)


def test_nothing_crosses_into_a_join():
    m, r, b = new_region()
    x = b.get("r[0]")                       # v0
    b.put("r[1]", x)
    head = b.new_block()
    b.br(head)
    b.switch_to(head)                       # block1: a loop header, two predecessors
    y = b.get("r[1]")                       # not forwarded: the back edge brings other state
    b.put("r[1]", b.add(y, y))
    b.brif(b.icmp(y, x, cond="eq"), head, b.new_block())
    b.switch_to(r.blocks[2])
    b.exit(pc=0x1004)
    before = body(r)
    assert apply("state_forwarding", r, m) == 0
    assert body(r) == before


def test_sibling_successors_do_not_share_pending_puts():
    m, r, b = new_region()
    x = b.get("r[0]")
    t, e = b.new_block(), b.new_block()
    b.brif(b.icmp(x, x, cond="eq"), t, e)
    b.switch_to(t)
    b.put("r[1]", x)                        # the trap observes it
    b.trap(cause=1, pc=0x1000)
    b.switch_to(e)
    b.put("r[1]", b.iconst(I32, 1))         # another path: overwrites nothing of block1's
    b.exit(pc=0x1004)
    before = body(r)
    assert apply("state_forwarding", r, m) == 0
    assert body(r) == before
