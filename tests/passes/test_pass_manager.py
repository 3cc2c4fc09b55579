"""The pass manager: registry, pipeline, switching passes off by name, counters."""

import pytest

from dynarec.ir import I32
from dynarec.ir.verifier import verify_region
from dynarec.passes import DEFAULT_PIPELINE, PASSES, run_passes

from passes_support import body, expect, new_region


def _guest_block():
    """li r1, 5 / addi r2, r1, 3 / beq r2, r1, 0x2000 / lw r3, 0(r2) -- as a frontend emits it."""
    m, r, b = new_region()
    b.insn_start(pc=0x1000)
    b.put("r[1]", b.iconst(I32, 5))                                   # v0
    b.insn_start(pc=0x1004)
    b.put("r[2]", b.add(b.get("r[1]"), b.iconst(I32, 3)))             # v1, v2, v3
    b.insn_start(pc=0x1008)
    taken, fall = b.new_block(), b.new_block()
    b.brif(b.icmp(b.get("r[2]"), b.get("r[1]"), cond="eq"), taken, fall)   # v4, v5, v6
    b.switch_to(taken)
    b.exit(pc=0x2000)
    b.switch_to(fall)
    b.insn_start(pc=0x100c)
    b.put("r[3]", b.load(I32, b.get("r[2]")))                         # v7, v8
    b.exit(pc=0x1010)
    return m, r


def test_default_pipeline_on_a_guest_block():
    m, r = _guest_block()
    stats = {}
    assert run_passes(r, m, stats=stats) is r
    verify_region(r, m)
    assert body(r) == expect("""
        block0:
            check_budget cycles=4 pc=0x1000
            insn_start pc=0x1000
            v0:i32 = iconst value=5
            put v0 slot=r[1]
            insn_start pc=0x1004
            v3:i32 = iconst value=8
            put v3 slot=r[2]
            insn_start pc=0x1008
            br block2
        block2:
            insn_start pc=0x100c
            charge cycles=3 insns=3
            v8:i32 = load v3
            put v8 slot=r[3]
            charge cycles=1 insns=1
            exit pc=0x1010
        """)
    assert stats == {"state_forwarding": 4, "flags": 0, "constfold": 3, "copyprop": 0,
                     "dce": 3, "cycle_accounting": 3}          # no flags= slot: flags is idle


def test_registry_and_pipeline_names():
    assert list(PASSES) == ["state_forwarding", "flags", "constfold", "copyprop", "dce",
                            "cycle_accounting"]
    assert set(DEFAULT_PIPELINE) <= set(PASSES)
    assert DEFAULT_PIPELINE[-1] == "cycle_accounting"


def test_disabled_passes_do_not_run():
    m, r = _guest_block()
    stats = {}
    run_passes(r, m, disabled=["constfold", "cycle_accounting"], stats=stats)
    verify_region(r, m)
    assert set(stats) == {"state_forwarding", "flags", "copyprop", "dce"}
    text = body(r)
    assert "add v0, v2" in text and "icmp v3, v0 cond=eq" in text    # not folded
    assert "charge" not in text and "check_budget" not in text


def test_explicit_pass_list():
    m, r = _guest_block()
    stats = {}
    run_passes(r, m, names=["dce", "dce"], stats=stats)
    assert stats == {"dce": 0}          # every instruction of the block is used or effectful


@pytest.mark.parametrize("kw", [{"disabled": ["constfold", "cse"]}, {"names": ["fold"]}])
def test_unknown_names_are_refused_with_the_valid_ones(kw):
    m, r = _guest_block()
    before = body(r)
    with pytest.raises(ValueError) as err:
        run_passes(r, m, **kw)
    message = str(err.value)
    assert "unknown pass" in message
    assert all(name in message for name in PASSES)
    assert body(r) == before            # refused before anything ran
