"""dce: unused pure ops, unreachable blocks, unused block parameters; effects always stay."""

from dynarec.ir import I32

from passes_support import apply, body, expect, new_region


def test_deletes_unused_pure_ops_and_keeps_every_effect():
    m, r, b = new_region()
    b.insn_start(pc=0x1000)
    x = b.get("r[0]")                       # v0
    b.get("r[1]")                           # v1: unused get
    a = b.add(x, x)                         # v2: dead chain
    b.mul(a, a)                             # v3
    b.load(I32, x)                          # v4: unused, but a load may trap
    b.call(x, x, helper="mix")              # v5: pure helper, unused
    b.call(x, helper="mmio")                # v6: helper with effects
    b.store(x, x)
    b.put("r[2]", x)
    b.exit(pc=0x1004)
    orphan = b.new_block()                  # block1: nothing branches here
    b.switch_to(orphan)
    b.put("r[3]", x)
    b.exit(pc=0x2000)
    assert apply("dce", r, m) == 5        # 1 block, 4 instructions
    assert body(r) == expect("""
        block0:
            insn_start pc=0x1000
            v0:i32 = get slot=r[0]
            v4:i32 = load v0
            v6:i32 = call v0 helper=mmio
            store v0, v0
            put v0 slot=r[2]
            exit pc=0x1004
        """)


def test_deletes_unused_parameters_with_their_arguments_and_dead_cycles():
    m, r, b = new_region()
    x = b.get("r[0]")                       # v0
    zero = b.iconst(I32, 0)                 # v1
    head, done = b.new_block([I32, I32]), b.new_block()     # block1(v2, v3), block2
    b.br((head, [x, zero]))
    b.switch_to(head)
    i, acc = head.params
    n = b.sub(i, b.iconst(I32, 1))          # v4, v5
    total = b.add(acc, i)                   # v6: only feeds acc, which only feeds v6
    c = b.icmp(n, zero, cond="eq")          # v7
    b.brif(c, done, (head, [n, total]))
    b.switch_to(done)
    b.put("r[0]", n)
    b.exit(pc=0x1004)
    assert apply("dce", r, m) == 2
    assert body(r) == expect("""
        block0:
            v0:i32 = get slot=r[0]
            v1:i32 = iconst value=0
            br block1(v0)
        block1(v2:i32):
            v4:i32 = iconst value=1
            v5:i32 = sub v2, v4
            v7:i1 = icmp v5, v1 cond=eq
            brif v7, block2, block1(v5)
        block2:
            put v5 slot=r[0]
            exit pc=0x1004
        """)


def test_keeps_function_arguments():
    m, r, b = new_region(kind="function", params=[I32, I32], results=[I32])
    b.ret(r.blocks[0].params[1])
    assert apply("dce", r, m) == 0
    assert body(r) == expect("""
        block0(v0:i32, v1:i32):
            ret v1
        """)
