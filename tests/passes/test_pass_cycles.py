"""cycle_accounting: budget checks at the entry and loop headers with the largest stretch
cost, and charges that make the counters exact wherever control can leave: an instruction has
retired at the next insn_start or a normal exit, not at a trap, load, store or call inside it."""

import pytest

from dynarec.errors import IRError
from dynarec.ir import I32

from passes_support import apply, body, expect, new_region


def test_straight_line_one_check_one_charge():
    m, r, b = new_region()
    b.insn_start(pc=0x1000)
    x = b.get("r[0]")
    b.insn_start(pc=0x1004, cost=3)
    b.put("r[1]", x)
    b.insn_start(pc=0x1008, cost=2)
    b.exit(pc=0x100c)
    assert apply("cycle_accounting", r, m) == 2
    assert body(r) == expect("""
        block0:
            check_budget cycles=6 pc=0x1000
            insn_start pc=0x1000
            v0:i32 = get slot=r[0]
            insn_start pc=0x1004 cost=3
            put v0 slot=r[1]
            insn_start pc=0x1008 cost=2
            charge cycles=6 insns=3
            exit pc=0x100c
        """)


def test_an_instruction_has_not_retired_at_a_load_call_or_trap_inside_it():
    m, r, b = new_region()
    b.insn_start(pc=0x1000, cost=2)
    x = b.get("r[0]")                               # v0
    b.insn_start(pc=0x1004, cost=3)
    v = b.load(I32, x)                              # v1: sees 0x1000 retired only
    b.insn_start(pc=0x1008, cost=4)
    c = b.icmp(v, x, cond="eq")                     # v2
    t, e = b.new_block(), b.new_block()
    b.brif(c, t, e)
    b.switch_to(t)
    b.call(v, helper="mmio")                        # v3: inside 0x1008
    b.exit(pc=0x100c)                               # 0x1008 retires
    b.switch_to(e)
    b.trap(cause=5, pc=0x1008)                      # 0x1008 never retires
    apply("cycle_accounting", r, m)
    assert body(r) == expect("""
        block0:
            check_budget cycles=9 pc=0x1000
            insn_start pc=0x1000 cost=2
            v0:i32 = get slot=r[0]
            insn_start pc=0x1004 cost=3
            charge cycles=2 insns=1
            v1:i32 = load v0
            insn_start pc=0x1008 cost=4
            v2:i1 = icmp v1, v0 cond=eq
            brif v2, block1, block2
        block1:
            charge cycles=3 insns=1
            v3:i32 = call v1 helper=mmio
            charge cycles=4 insns=1
            exit pc=0x100c
        block2:
            charge cycles=3 insns=1
            trap cause=5 pc=0x1008
        """)


def test_loop_header_gets_a_check_and_the_back_edge_charges_the_iteration():
    m, r, b = new_region()
    b.insn_start(pc=0x1000)
    x = b.get("r[0]")                               # v0
    head, done = b.new_block([I32]), b.new_block()  # block1(v1), block2
    b.br((head, [x]))
    b.switch_to(head)
    b.insn_start(pc=0x1004, cost=2)
    one = b.iconst(I32, 1)                          # v2
    n = b.sub(head.params[0], one)                  # v3
    b.insn_start(pc=0x1008, cost=3)
    c = b.icmp(n, one, cond="eq")                   # v4
    b.brif(c, done, (head, [n]))
    b.switch_to(done)
    b.put("r[0]", n)
    b.exit(pc=0x100c)
    apply("cycle_accounting", r, m)
    assert body(r) == expect("""
        block0:
            check_budget cycles=1 pc=0x1000
            insn_start pc=0x1000
            v0:i32 = get slot=r[0]
            charge cycles=1 insns=1
            br block1(v0)
        block1(v1:i32):
            check_budget cycles=5 pc=0x1004
            insn_start pc=0x1004 cost=2
            v2:i32 = iconst value=1
            v3:i32 = sub v1, v2
            insn_start pc=0x1008 cost=3
            v4:i1 = icmp v3, v2 cond=eq
            charge cycles=5 insns=2
            brif v4, block2, block1(v3)
        block2:
            put v3 slot=r[0]
            exit pc=0x100c
        """)


def _diamond(cost_then, cost_else):
    m, r, b = new_region()
    b.insn_start(pc=0x1000)
    c = b.icmp(b.get("r[0]"), b.get("r[1]"), cond="eq")    # v0, v1, v2
    t, e, join = b.new_block(), b.new_block(), b.new_block()
    b.brif(c, t, e)
    b.switch_to(t)
    b.insn_start(pc=0x1004, cost=cost_then)
    b.br(join)
    b.switch_to(e)
    b.insn_start(pc=0x1008, cost=cost_else)
    b.br(join)
    b.switch_to(join)
    b.insn_start(pc=0x100c)
    b.exit(pc=0x1010)
    apply("cycle_accounting", r, m)
    return body(r)


def test_join_of_one_cost_charges_the_pending_instruction_in_the_join():
    assert _diamond(2, 2) == expect("""
        block0:
            check_budget cycles=4 pc=0x1000
            insn_start pc=0x1000
            v0:i32 = get slot=r[0]
            v1:i32 = get slot=r[1]
            v2:i1 = icmp v0, v1 cond=eq
            brif v2, block1, block2
        block1:
            insn_start pc=0x1004 cost=2
            charge cycles=1 insns=1
            br block3
        block2:
            insn_start pc=0x1008 cost=2
            charge cycles=1 insns=1
            br block3
        block3:
            insn_start pc=0x100c
            charge cycles=3 insns=2
            exit pc=0x1010
        """)


def test_join_of_different_costs_charges_on_the_incoming_edges():
    assert _diamond(2, 5) == expect("""
        block0:
            check_budget cycles=7 pc=0x1000
            insn_start pc=0x1000
            v0:i32 = get slot=r[0]
            v1:i32 = get slot=r[1]
            v2:i1 = icmp v0, v1 cond=eq
            brif v2, block1, block2
        block1:
            insn_start pc=0x1004 cost=2
            charge cycles=3 insns=2
            br block3
        block2:
            insn_start pc=0x1008 cost=5
            charge cycles=6 insns=2
            br block3
        block3:
            insn_start pc=0x100c
            charge cycles=1 insns=1
            exit pc=0x1010
        """)


def test_edge_is_split_when_a_sibling_is_still_inside_the_instruction():
    m, r, b = new_region()
    b.insn_start(pc=0x1000, cost=2)
    x = b.get("r[0]")                               # v0
    c = b.icmp(x, b.get("r[1]"), cond="ult")        # v1, v2
    inside, join = b.new_block(), b.new_block()     # block1, block2
    b.brif(c, inside, join)
    b.switch_to(inside)
    b.load(I32, x)                                  # v3: still 0x1000, not retired
    b.insn_start(pc=0x1004, cost=3)
    b.br(join)
    b.switch_to(join)                               # reached from 0x1000 and from 0x1004
    b.insn_start(pc=0x1008)
    b.exit(pc=0x100c)
    apply("cycle_accounting", r, m)
    assert body(r) == expect("""
        block0:
            check_budget cycles=6 pc=0x1000
            insn_start pc=0x1000 cost=2
            v0:i32 = get slot=r[0]
            v1:i32 = get slot=r[1]
            v2:i1 = icmp v0, v1 cond=ult
            brif v2, block1, block3
        block1:
            v3:i32 = load v0
            insn_start pc=0x1004 cost=3
            charge cycles=5 insns=2
            br block2
        block2:
            insn_start pc=0x1008
            charge cycles=1 insns=1
            exit pc=0x100c
        block3:
            charge cycles=2 insns=1
            br block2
        """)


def test_loop_inside_one_instruction_needs_no_check():
    m, r, b = new_region()
    b.insn_start(pc=0x1000, cost=4)
    x = b.get("r[0]")                               # v0
    loop, done = b.new_block([I32]), b.new_block()  # block1(v1), block2
    b.br((loop, [x]))
    b.switch_to(loop)                               # a string-move loop: no insn_start
    one = b.iconst(I32, 1)                          # v2
    n = b.sub(loop.params[0], one)                  # v3
    b.store(loop.params[0], loop.params[0])
    b.brif(b.icmp(n, one, cond="ugt"), (loop, [n]), done)    # v4
    b.switch_to(done)
    b.insn_start(pc=0x1004)
    b.exit(pc=0x1008)
    apply("cycle_accounting", r, m)
    assert body(r) == expect("""
        block0:
            check_budget cycles=5 pc=0x1000
            insn_start pc=0x1000 cost=4
            v0:i32 = get slot=r[0]
            br block1(v0)
        block1(v1:i32):
            v2:i32 = iconst value=1
            v3:i32 = sub v1, v2
            store v1, v1
            v4:i1 = icmp v3, v2 cond=ugt
            brif v4, block1(v3), block2
        block2:
            insn_start pc=0x1004
            charge cycles=5 insns=2
            exit pc=0x1008
        """)


def test_region_without_instructions_is_left_alone():
    m, r, b = new_region(kind="function", params=[I32], results=[I32])
    b.ret(b.add(r.blocks[0].params[0], r.blocks[0].params[0]))
    before = body(r)
    assert apply("cycle_accounting", r, m) == 0
    assert body(r) == before


def test_refuses_a_region_already_accounted():
    m, r, b = new_region()
    b.insn_start(pc=0x1000)
    b.exit(pc=0x1004)
    apply("cycle_accounting", r, m)
    with pytest.raises(IRError, match="already has cycle accounting"):
        apply("cycle_accounting", r, m)


def test_refuses_a_loop_of_instructions_whose_header_has_no_insn_start():
    m, r, b = new_region()
    b.insn_start(pc=0x1000)
    head, body_, done = b.new_block(), b.new_block(), b.new_block()
    b.br(head)
    b.switch_to(head)
    b.brif(b.icmp(b.get("r[0]"), b.get("r[1]"), cond="eq"), body_, done)
    b.switch_to(body_)
    b.insn_start(pc=0x1004)
    b.br(head)
    b.switch_to(done)
    b.exit(pc=0x1008)
    with pytest.raises(IRError, match="loop through block2 .*no insn_start"):
        apply("cycle_accounting", r, m)


def test_refuses_a_join_of_different_instructions_observed_before_its_insn_start():
    m, r, b = new_region()
    b.insn_start(pc=0x1000)
    x = b.get("r[0]")
    t, e, join = b.new_block(), b.new_block(), b.new_block()
    b.brif(b.icmp(x, x, cond="eq"), t, e)
    b.switch_to(t)
    b.insn_start(pc=0x1004, cost=2)
    b.br(join)
    b.switch_to(e)
    b.br(join)
    b.switch_to(join)
    b.load(I32, x)                                  # inside 0x1000 or 0x1004: unknowable
    b.insn_start(pc=0x1008)
    b.exit(pc=0x100c)
    with pytest.raises(IRError, match="block3 is reached in the middle of different"):
        apply("cycle_accounting", r, m)


# --- extra cycles on one path: a frontend's charge (a conditional branch taken) -------------

def test_taken_edge_charges_its_extra_cycles_with_the_instruction():
    m, r, b = new_region()
    b.insn_start(pc=0x1000, cost=2)                 # a branch: 2 not taken, 3 taken
    c = b.icmp(b.get("r[0]"), b.get("r[1]"), cond="eq")     # v0, v1, v2
    taken, not_taken = b.new_block(), b.new_block()
    b.brif(c, taken, not_taken)
    b.switch_to(taken)
    b.charge(cycles=1)
    b.exit(pc=0x2000)
    b.switch_to(not_taken)
    b.insn_start(pc=0x1002, cost=4)
    b.exit(pc=0x1004)
    apply("cycle_accounting", r, m)
    assert body(r) == expect("""
        block0:
            check_budget cycles=6 pc=0x1000
            insn_start pc=0x1000 cost=2
            v0:i32 = get slot=r[0]
            v1:i32 = get slot=r[1]
            v2:i1 = icmp v0, v1 cond=eq
            brif v2, block1, block2
        block1:
            charge cycles=3 insns=1
            exit pc=0x2000
        block2:
            insn_start pc=0x1002 cost=4
            charge cycles=6 insns=2
            exit pc=0x1004
        """)


def test_extra_cycles_stay_unretired_at_accesses_inside_the_instruction():
    m, r, b = new_region()
    b.insn_start(pc=0x1000)
    x = b.get("r[0]")                               # v0
    b.insn_start(pc=0x1001, cost=3)                 # a call: 3 not taken, 6 taken
    taken, not_taken = b.new_block(), b.new_block()
    b.brif(b.icmp(x, x, cond="ne"), taken, not_taken)       # v1
    b.switch_to(taken)
    b.charge(cycles=3)
    b.store(x, x)                                   # sees 0x1000 retired only
    b.exit(pc=0x2000, kind="call")
    b.switch_to(not_taken)
    b.exit(pc=0x1004)
    apply("cycle_accounting", r, m)
    assert body(r) == expect("""
        block0:
            check_budget cycles=7 pc=0x1000
            insn_start pc=0x1000
            v0:i32 = get slot=r[0]
            insn_start pc=0x1001 cost=3
            v1:i1 = icmp v0, v0 cond=ne
            brif v1, block1, block2
        block1:
            charge cycles=1 insns=1
            store v0, v0
            charge cycles=6 insns=1
            exit kind=call pc=0x2000
        block2:
            charge cycles=4 insns=2
            exit pc=0x1004
        """)


def test_back_edge_with_extra_cycles_charges_the_taken_cost_each_iteration():
    m, r, b = new_region()
    b.insn_start(pc=0x1000, cost=2)                 # a loop of one branch to itself
    c = b.icmp(b.get("r[0]"), b.get("r[1]"), cond="ne")     # v0, v1, v2
    taken, done = b.new_block(), b.new_block()
    b.brif(c, taken, done)
    b.switch_to(taken)
    b.charge(cycles=1)
    b.br(r.entry)
    b.switch_to(done)
    b.exit(pc=0x1002)
    apply("cycle_accounting", r, m)
    assert body(r) == expect("""
        block0:
            check_budget cycles=3 pc=0x1000
            insn_start pc=0x1000 cost=2
            v0:i32 = get slot=r[0]
            v1:i32 = get slot=r[1]
            v2:i1 = icmp v0, v1 cond=ne
            brif v2, block1, block2
        block1:
            charge cycles=3 insns=1
            br block0
        block2:
            charge cycles=2 insns=1
            exit pc=0x1002
        """)


def test_extra_cycles_without_an_instruction_in_progress_are_charged_as_they_are():
    m, r, b = new_region()
    b.charge(cycles=5)
    b.insn_start(pc=0x1000, cost=2)
    b.exit(pc=0x1004)
    apply("cycle_accounting", r, m)
    assert body(r) == expect("""
        block0:
            charge cycles=5
            check_budget cycles=7 pc=0x1000
            insn_start pc=0x1000 cost=2
            charge cycles=2 insns=1
            exit pc=0x1004
        """)


def test_refuses_a_frontend_charge_that_retires_instructions():
    m, r, b = new_region()
    b.insn_start(pc=0x1000)
    b.charge(cycles=1, insns=1)
    b.exit(pc=0x1004)
    with pytest.raises(IRError, match="cannot retire instructions"):
        apply("cycle_accounting", r, m)
