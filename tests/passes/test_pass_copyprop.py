"""copyprop: block parameters fed one value, select of one value; hand-written expectations."""

from dynarec.ir import I32

from passes_support import apply, body, expect, new_region


def test_parameter_fed_the_same_value_on_every_edge():
    m, r, b = new_region()
    x = b.get("r[0]")                                        # v0
    c = b.icmp(x, b.iconst(I32, 3), cond="ult")              # v1, v2
    join = b.new_block([I32, I32])                           # block1(v3, v4)
    t, e = b.new_block(), b.new_block()
    b.brif(c, t, e)
    b.switch_to(t)
    y = b.add(x, x)                                          # v5
    b.br((join, [x, y]))
    b.switch_to(e)
    b.br((join, [x, x]))
    b.switch_to(join)
    b.put("r[1]", join.params[0])
    b.put("r[2]", join.params[1])
    b.exit(pc=0x1004)
    assert apply("copyprop", r, m) == 1
    assert body(r) == expect("""
        block0:
            v0:i32 = get slot=r[0]
            v1:i32 = iconst value=3
            v2:i1 = icmp v0, v1 cond=ult
            brif v2, block2, block3
        block1(v3:i32, v4:i32):
            put v0 slot=r[1]
            put v4 slot=r[2]
            exit pc=0x1004
        block2:
            v5:i32 = add v0, v0
            br block1(v0, v5)
        block3:
            br block1(v0, v0)
        """)


def test_loop_invariant_parameter_and_select_of_one_value():
    m, r, b = new_region()
    x = b.get("r[0]")                                        # v0
    head = b.new_block([I32, I32])                           # block1(v1, v2)
    loop, done = b.new_block(), b.new_block()                # block2, block3
    b.br((head, [x, x]))
    b.switch_to(head)
    i, k = head.params
    n = b.add(i, k)                                          # v3
    c = b.icmp(n, b.iconst(I32, 100), cond="ult")            # v4, v5
    b.brif(c, loop, done)
    b.switch_to(loop)
    same = b.select(c, k, k)                                 # v6: a copy of k
    b.br((head, [n, same]))                                  # so k is a copy of x
    b.switch_to(done)
    b.put("r[1]", n)
    b.put("r[2]", k)
    b.exit(pc=0x1004)
    assert apply("copyprop", r, m) == 2
    assert body(r) == expect("""
        block0:
            v0:i32 = get slot=r[0]
            br block1(v0, v0)
        block1(v1:i32, v2:i32):
            v3:i32 = add v1, v0
            v4:i32 = iconst value=100
            v5:i1 = icmp v3, v4 cond=ult
            brif v5, block2, block3
        block2:
            br block1(v3, v0)
        block3:
            put v3 slot=r[1]
            put v0 slot=r[2]
            exit pc=0x1004
        """)


def test_function_arguments_are_never_copies():
    m, r, b = new_region(kind="function", params=[I32], results=[I32])
    arg = r.blocks[0].params[0]                              # v0
    loop = b.new_block([I32])                                # block1(v1)
    done = b.new_block()                                     # block2
    b.br((loop, [arg]))
    b.switch_to(loop)
    five = b.iconst(I32, 5)                                  # v2
    c = b.icmp(loop.params[0], five, cond="eq")              # v3
    b.brif(c, done, (r.blocks[0], [five]))                   # the entry's only edge passes 5
    b.switch_to(done)
    b.ret(loop.params[0])
    assert apply("copyprop", r, m) == 1
    assert body(r) == expect("""
        block0(v0:i32):
            br block1(v0)
        block1(v1:i32):
            v2:i32 = iconst value=5
            v3:i1 = icmp v0, v2 cond=eq
            brif v3, block2, block0(v2)
        block2:
            ret v0
        """)
