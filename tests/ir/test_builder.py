"""The IR builder's conveniences (``dynarec.ir.builder``)."""

from dynarec.ir import I32, I64, Builder, Module, Region, Slot, StateLayout
from dynarec.ir.verifier import verify_region


def test_iconst_is_emitted_once_per_block_type_and_value():
    module = Module(state=StateLayout([Slot("r", I64, 4)]))
    region = module.add(Region("r", pc=0))
    b = Builder(region, module)
    b.insn_start(pc=0)
    one = b.iconst(I64, 1)
    assert b.iconst(I64, 1) is one
    assert b.iconst(I32, 1) is not one                  # another type
    assert b.iconst(I64, 2) is not one                  # another value
    b.put("r[0]", b.add(one, b.iconst(I64, 1)))
    later = b.new_block()
    b.br(later)
    b.switch_to(later)
    again = b.iconst(I64, 1)
    assert again is not one                             # each block has its own
    b.put("r[1]", again)
    b.exit(pc=4)
    verify_region(region, module)
    consts = [i for blk in region.blocks for i in blk.insts if i.op == "iconst"]
    assert len(consts) == 4
