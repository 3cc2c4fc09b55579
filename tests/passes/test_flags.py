"""flags (dead-flag elimination): a put of the flags slot that every path overwrites before
anything reads it is deleted, and flag bits no one reads stop being computed; flags stay where
a later instruction reads them, on a path that leaves, and at every op where control can
leave. Property: random regions, with one of their integer slots declared the flags
register, behave exactly as without the pass (state, memory, counters, and the state seen at
every leave point)."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynarec.ir import I32
from dynarec.ir.interp import Interpreter
from dynarec.ir.verifier import verify_region
from dynarec.passes import run_passes

from passes_support import apply, body, new_region
from random_regions import SLOTS, random_region
from test_pass_properties import (Run, _check_observations, _reference, _retired, _setup,
                                   run_and_verify)

CLEANUP = ["constfold", "copyprop", "dce"]
Z, C = 0x80, 0x10


def flags_region():
    """``(module, region, builder)`` of a region whose flags register is ``r[0]``."""
    m, r, b = new_region()
    r.attrs["flags"] = "r[0]"
    return m, r, b


def set_flags(b, z, c):
    """``put r[0]``: Z (bit 7) and C (bit 4) from i1 values, as a guest computes flags."""
    seven, four = b.iconst(I32, 7), b.iconst(I32, 4)
    b.put(b.emit("or", [b.shl(b.zext(I32, z), seven), b.shl(b.zext(I32, c), four)]),
          slot="r[0]")


def compare(b, slot, cond):
    """An i1 comparing ``slot`` with 5 by ``cond`` (conds name the tests' flag values)."""
    return b.icmp(b.get(slot), b.iconst(I32, 5), cond=cond)


def carry_of(b, flags):
    """The i1 C flag of a flags value."""
    return b.icmp(b.emit("and", [flags, b.iconst(I32, C)]), b.iconst(I32, 0), cond="ne")


def flag_puts(region):
    return [i for i in region.insts() if i.op == "put" and i.attrs["slot"] == "r[0]"]


def conds(region):
    return sorted(i.attrs["cond"] for i in region.insts() if i.op == "icmp")


def optimise(m, r, passes):
    run_passes(r, m, names=passes)
    verify_region(r, m)


def test_flags_every_path_overwrites_are_not_computed():
    m, r, b = flags_region()
    b.insn_start(pc=0x1000)
    set_flags(b, compare(b, "r[1]", "slt"), compare(b, "r[1]", "ugt"))
    b.insn_start(pc=0x1004)
    set_flags(b, compare(b, "r[2]", "sle"), compare(b, "r[2]", "uge"))
    b.exit(pc=0x1008)
    assert apply("flags", r, m) > 0
    optimise(m, r, CLEANUP)
    assert len(flag_puts(r)) == 1
    assert conds(r) == ["sle", "uge"]


def test_a_flag_read_later_is_kept_and_its_siblings_are_not():
    m, r, b = flags_region()
    b.insn_start(pc=0x1000)
    set_flags(b, compare(b, "r[1]", "slt"), compare(b, "r[1]", "ugt"))   # Z dead, C read
    b.insn_start(pc=0x1004)                                           # an add with carry
    carry = carry_of(b, b.get("r[0]"))
    b.put(b.add(b.get("r[2]"), b.zext(I32, carry)), slot="r[2]")
    set_flags(b, compare(b, "r[2]", "sle"), compare(b, "r[2]", "uge"))
    b.exit(pc=0x1008)
    optimise(m, r, ["state_forwarding", "flags"] + CLEANUP)
    assert len(flag_puts(r)) == 1                   # the first is overwritten before the exit
    assert "slt" not in conds(r) and "ugt" in conds(r)


def test_without_forwarding_the_read_keeps_the_put_with_only_the_bit_it_reads():
    m, r, b = flags_region()
    b.insn_start(pc=0x1000)
    set_flags(b, compare(b, "r[1]", "slt"), compare(b, "r[1]", "ugt"))
    b.insn_start(pc=0x1004)
    b.put(b.zext(I32, carry_of(b, b.get("r[0]"))), slot="r[2]")
    set_flags(b, compare(b, "r[2]", "sle"), compare(b, "r[2]", "uge"))
    b.exit(pc=0x1008)
    optimise(m, r, ["flags"] + CLEANUP)
    assert len(flag_puts(r)) == 2
    assert "slt" not in conds(r) and "ugt" in conds(r)


@pytest.mark.parametrize("leave", ["load", "store", "call"])
def test_flags_are_complete_wherever_control_can_leave(leave):
    m, r, b = flags_region()
    b.insn_start(pc=0x1000)
    set_flags(b, compare(b, "r[1]", "slt"), compare(b, "r[1]", "ugt"))
    b.insn_start(pc=0x1004)
    address = b.get("r[3]")
    if leave == "load":
        b.put(b.load(I32, address), slot="r[2]")
    elif leave == "store":
        b.store(address, address)
    else:
        b.put(b.call(address, helper="mmio"), slot="r[2]")
    set_flags(b, compare(b, "r[2]", "sle"), compare(b, "r[2]", "uge"))
    b.exit(pc=0x1008)
    before = body(r)
    assert apply("flags", r, m) == 0
    assert body(r) == before


def test_flags_live_on_one_path_are_kept_and_dead_on_all_are_not():
    for exits_early in (True, False):
        m, r, b = flags_region()
        b.insn_start(pc=0x1000)
        set_flags(b, compare(b, "r[1]", "slt"), compare(b, "r[1]", "ugt"))
        left, right = b.new_block(), b.new_block()
        b.brif(compare(b, "r[3]", "eq"), left, right)
        for block, pc in ((left, 0x1004), (right, 0x1008)):
            b.switch_to(block)
            b.insn_start(pc=pc)
            if block is right and exits_early:
                b.exit(pc=0x2000)
            else:
                set_flags(b, compare(b, "r[2]", "sle"), compare(b, "r[2]", "uge"))
                b.exit(pc=pc + 4)
        optimise(m, r, ["flags"] + CLEANUP)
        first_kept = "slt" in conds(r) and "ugt" in conds(r)
        assert first_kept == exits_early


def test_a_flag_both_paths_read_is_the_only_one_kept_of_the_flags_before_them():
    m, r, b = flags_region()
    b.insn_start(pc=0x1000)
    set_flags(b, compare(b, "r[1]", "slt"), compare(b, "r[1]", "ugt"))
    left, right = b.new_block(), b.new_block()
    b.brif(compare(b, "r[3]", "eq"), left, right)
    for block, pc, addend in ((left, 0x1004, "r[4]"), (right, 0x1008, "r[5]")):
        b.switch_to(block)                          # an add with carry on either side
        b.insn_start(pc=pc)
        total = b.add(b.get(addend), b.zext(I32, carry_of(b, b.get("r[0]"))))
        b.put(total, slot="r[2]")
        set_flags(b, compare(b, "r[2]", "sle"), compare(b, "r[2]", "uge"))
        b.exit(pc=pc + 4)
    optimise(m, r, ["flags"] + CLEANUP)
    assert "slt" not in conds(r) and "ugt" in conds(r)
    assert len(flag_puts(r)) == 3


def test_flags_are_complete_where_a_loop_header_will_check_the_budget():
    m, r, b = flags_region()
    b.insn_start(pc=0x1000)
    head, body_, done = b.new_block(), b.new_block(), b.new_block()
    b.br(head)
    b.switch_to(head)                               # overwrites every flag, reads none
    b.insn_start(pc=0x1004)
    set_flags(b, compare(b, "r[1]", "slt"), compare(b, "r[1]", "ugt"))
    b.brif(compare(b, "r[7]", "eq"), done, body_)
    b.switch_to(body_)                              # its flags reach only the header...
    b.insn_start(pc=0x1008)
    set_flags(b, compare(b, "r[2]", "sle"), compare(b, "r[2]", "uge"))
    b.put(b.add(b.get("r[7]"), b.iconst(I32, 1)), slot="r[7]")
    b.br(head)                                      # ...whose budget check may exit there
    b.switch_to(done)
    b.exit(pc=0x100c)
    optimise(m, r, ["flags"] + CLEANUP)
    assert "sle" in conds(r) and "uge" in conds(r)
    assert len(flag_puts(r)) == 2


def test_an_and_of_a_value_with_itself_keeps_what_its_operand_cleared():
    # RES 5,A then AND A: the second and demands every bit of its operands, even the one
    # the first cleared, so the first is not replaced by its unmasked operand
    m, r, b = flags_region()
    b.insn_start(pc=0x1000)
    cleared = b.emit("and", [b.get("r[1]"), b.iconst(I32, ~0x20)])
    both = b.emit("and", [cleared, cleared])
    b.put(both, slot="r[2]")
    set_flags(b, b.icmp(both, b.iconst(I32, 0), cond="eq"), compare(b, "r[1]", "ult"))
    b.exit(pc=0x1004)
    optimise(m, r, ["flags"] + CLEANUP)
    interp = Interpreter(m, state={"r[1]": 0xFF})
    interp.run("r")
    assert interp.state["r[2]"] == 0xDF


def test_a_region_without_a_flags_register_is_left_alone():
    m, r, b = new_region()
    b.insn_start(pc=0x1000)
    set_flags(b, compare(b, "r[1]", "slt"), compare(b, "r[1]", "ugt"))
    set_flags(b, compare(b, "r[2]", "sle"), compare(b, "r[2]", "uge"))
    b.exit(pc=0x1004)
    before = body(r)
    assert apply("flags", r, m) == 0
    assert body(r) == before


def test_a_flags_attribute_naming_no_slot_is_an_error():
    m, r, b = new_region()
    r.attrs["flags"] = "nzcv"
    b.exit(pc=0x1000)
    with pytest.raises(KeyError, match="nzcv"):
        apply("flags", r, m)


# --- property: random regions --------------------------------------------------------------

FLAG_SLOTS = [ref for t, refs in SLOTS.items() if t.is_int for ref in refs]


def flags_module(seed, slot):
    """The random region of ``seed`` with ``slot`` as its flags register, through the
    pipeline with ``flags``; its module."""
    module, region = random_region(random.Random(seed))
    region.attrs["flags"] = slot
    run_and_verify(region, module, names=["state_forwarding", "flags"] + CLEANUP +
                   ["cycle_accounting"])
    return module


def check_flags_pass(seed, slot):
    """``flags_module`` against the unoptimised reference run."""
    state, memory = _setup(seed)
    module = flags_module(seed, slot)
    ref, costs = _reference(seed, state, memory)
    opt = Run(module, state, memory, 1 << 40)
    assert opt.outcome == ref.outcome
    assert opt.interp.state == ref.interp.state
    assert opt.ram.bytes == ref.ram.bytes
    assert len(opt.observed) == len(ref.observed)
    _check_observations(ref, opt, costs)
    n = len(ref.started)
    assert opt.counters() == _retired(ref, costs, n if opt.exit is not None
                                      and opt.exit.reason.name in ("NEXT", "HALT") else n - 1)


def check_flags_at_budget_exits(seed, slot, budget):
    """``flags_module`` run on a small budget: a BUDGET exit before instruction K leaves the
    reference's state at the start of instruction K, flags included."""
    state, memory = _setup(seed)
    module = flags_module(seed, slot)
    ref, costs = _reference(seed, state, memory)
    opt = Run(module, state, memory, budget)
    _check_observations(ref, opt, costs)
    if opt.exit is not None and opt.exit.reason.name == "BUDGET":
        pc, at_state, at_memory = ref.started[opt.interp.insns]
        assert (opt.exit.pc, opt.interp.state, bytes(opt.ram.bytes)) == \
            (pc, at_state, at_memory)
    else:
        assert (opt.outcome, opt.interp.state) == (ref.outcome, ref.interp.state)


@settings(max_examples=400, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), slot=st.sampled_from(FLAG_SLOTS))
def test_random_regions_behave_the_same_with_any_flags_register(seed, slot):
    check_flags_pass(seed, slot)


@pytest.mark.full
@settings(max_examples=10_000, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), slot=st.sampled_from(FLAG_SLOTS))
def test_random_regions_with_flags_long(seed, slot):
    check_flags_pass(seed, slot)


@settings(max_examples=400, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), slot=st.sampled_from(FLAG_SLOTS),
       budget=st.integers(0, 40))
def test_budget_exits_see_every_flag(seed, slot, budget):
    check_flags_at_budget_exits(seed, slot, budget)
