"""dynarec.ir.verifier: valid IR passes; each kind of malformed IR is reported, naming the
region, block, instruction and operand at fault."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from dynarec.errors import VerifyError
from dynarec.ir import I64, Builder, Module, Region, Slot, StateLayout, Value
from dynarec.ir.parser import parse_module, parse_region
from dynarec.ir.verifier import dominators, verify_module, verify_region

from ir_testlib import every_op_module, random_modules

HEAD = """state pc:i64 gpr:i64[4] fl:f64
helper mix(i64, f64) -> (i64)
region fn function (i64) -> (i64) {
block0(v0:i64):
    ret v0
}
"""


def problems_of(body: str, kind="block") -> list:
    """Verify a module made of HEAD plus one region ``r`` whose blocks are ``body``."""
    header = "region r block pc=0x100 {" if kind == "block" else \
        "region r function (i64) -> (i64) {"
    m = parse_module(HEAD + header + "\n" + body + "\n}\n")
    with pytest.raises(VerifyError) as info:
        verify_module(m)
    return info.value.problems


def only_problem(body: str, kind="block") -> str:
    problems = problems_of(body, kind)
    assert len(problems) == 1, problems
    return problems[0]


def test_valid_corpus_passes():
    verify_module(every_op_module())


@settings(max_examples=150, deadline=None)
@given(random_modules())
def test_random_well_typed_modules_pass(m):
    verify_module(m)


# --- one test per kind of problem ------------------------------------------------------------

def test_operand_type_mismatch():
    p = only_problem("""block0:
    v0:i64 = iconst value=1
    v1:i32 = iconst value=2
    v2:i64 = add v0, v1
    exit pc=4""")
    assert p.startswith("region r, block block0, `v2:i64 = add v0, v1`: ")
    assert "operand 2 (v1:i32) must have the same type as the other T positions (i64)" in p


def test_type_class():
    p = only_problem("""block0:
    v0:i64 = iconst value=1
    v1:i64 = fadd v0, v0
    exit pc=4""")
    assert "`v1:i64 = fadd v0, v0`" in p and "operand 1 (v0:i64): type i64 is not allowed" in p


def test_extra_rule_of_conversions():
    p = only_problem("""block0:
    v0:i64 = iconst value=1
    v1:i32 = sext v0
    exit pc=4""")
    assert "`v1:i32 = sext v0`" in p and "result i32 must be wider than operand i64" in p


def test_exact_result_type():
    p = only_problem("""block0:
    v0:i64 = iconst value=1
    v1:i8 = icmp v0, v0 cond=eq
    exit pc=4""")
    assert "`v1:i8 = icmp v0, v0 cond=eq`" in p and "result 1 (v1:i8) must be i1" in p


def test_operand_count():
    p = only_problem("""block0:
    v0:i64 = iconst value=1
    v1:i64 = add v0
    exit pc=4""")
    assert "`v1:i64 = add v0`" in p and "needs 2 operand(s), has 1" in p


def test_result_count():
    p = only_problem("""block0:
    v0:i64 = iconst value=1
    v1:i64, v2:i1 = add v0, v0
    exit pc=4""")
    assert "needs 1 result(s), has 2" in p


def test_optional_flags_result_is_allowed():
    m = parse_module(HEAD + """region r block pc=0 {
block0:
    v0:f64 = fconst bits=0
    v1:f64, v2:i8 = fadd v0, v0
    v3:f64 = fadd v1, v0
    exit pc=4
}""")
    verify_module(m)


def built_region(emit):
    """A region built with the Builder whose block body is ``emit(b)``, then exit."""
    m = Module(state=StateLayout([Slot("gpr", I64, 4)]))
    r = m.add(Region("r", pc=0))
    b = Builder(r, m)
    emit(b)
    b.exit(pc=4)
    return m, r


@pytest.mark.parametrize("attrs, message", [
    ({}, "missing attribute 'cond'"),
    ({"cond": "lt"}, "attribute cond='lt' must be one of eq, ne"),
    ({"cond": "eq", "speed": 3}, "unknown attribute 'speed'"),
])
def test_attributes(attrs, message):
    def emit(b):
        x = b.iconst(I64, 1)
        b.icmp("eq", x, x).defn.attrs = attrs
    m, r = built_region(emit)
    with pytest.raises(VerifyError) as info:
        verify_module(m)
    [problem] = info.value.problems
    assert problem.startswith("region r, block block0, `v1:i1 = icmp v0, v0")
    assert message in problem


def test_int_attribute_kind():
    def emit(b):
        b.iconst(I64, 1).defn.attrs["value"] = "one"
    m, _ = built_region(emit)
    with pytest.raises(VerifyError, match="attribute value='one' must be an integer"):
        verify_module(m)


def test_state_slots():
    problems = problems_of("""block0:
    v0:i64 = get slot=gpr[9]
    v1:i32 = iconst value=1
    put v1 slot=pc
    v2:i64 = get slot=nope
    exit pc=4""")
    assert len(problems) == 3
    assert "`v0:i64 = get slot=gpr[9]`: state slot reference 'gpr[9]' out of range" in \
        problems[0]
    assert "`put v1 slot=pc`: slot pc is i64, but v1 is i32" in problems[1]
    assert "no state slot 'nope'" in problems[2]


def test_helper_calls():
    problems = problems_of("""block0:
    v0:i64 = iconst value=1
    v1:i64 = call v0, v0 helper=mix
    v2:i64 = call v0 helper=ghost
    exit pc=4""")
    assert "`v1:i64 = call v0, v0 helper=mix`: operands (i64, i64) do not match " \
        "helper mix(i64, f64)" in problems[0]
    assert "`v2:i64 = call v0 helper=ghost`: no helper named 'ghost'" in problems[1]


def test_function_calls():
    problems = problems_of("""block0:
    v0:i64 = iconst value=1
    v1:i32 = call_fn v0 fn=fn
    v2:i64 = call_fn v0 fn=r
    exit pc=4""")
    assert "`v1:i32 = call_fn v0 fn=fn`: results (i32) do not match function fn -> (i64)" \
        in problems[0]
    assert "no function region named 'r'" in problems[1]


def test_missing_terminator():
    p = only_problem("""block0:
    v0:i64 = iconst value=1""")
    assert "region r, block block0, `v0:i64 = iconst value=1`: the block does not end in " \
        "a terminator" in p


def test_terminator_in_the_middle():
    p = only_problem("""block0:
    exit pc=8
    exit pc=4""")
    assert "`exit pc=8`: terminator in the middle of the block" in p


def test_empty_block_and_no_blocks():
    m = Module()
    r = m.add(Region("r", pc=0))
    with pytest.raises(VerifyError, match="region r: has no blocks"):
        verify_module(m)
    Builder(r, m)                                 # adds an empty entry block
    with pytest.raises(VerifyError, match="region r, block block0: is empty"):
        verify_module(m)


def test_branch_arguments_must_match_params():
    problems = problems_of("""block0:
    v0:i64 = iconst value=1
    v1:i1 = icmp v0, v0 cond=eq
    brif v1, block1(v0, v0), block1(v1)
block1(v2:i64):
    exit pc=4""")
    assert "`brif v1, block1(v0, v0), block1(v1)`: passes 2 argument(s) to block1, which " \
        "takes 1" in problems[0]
    assert "argument 1 to block1 (v1:i1) does not match parameter v2:i64" in problems[1]


def test_target_in_another_region():
    m, r = built_region(lambda b: None)
    other = Region("other", pc=0)
    Builder(other).exit(pc=0)
    r.entry.insts[-1:] = []
    b = Builder(r, m)
    b.br(other.entry)
    with pytest.raises(VerifyError, match="`br block0`: target block0 is not a block of "
                                          "this region"):
        verify_module(m)


def test_undefined_value():
    stranger = Value(99, I64)

    def emit(b):
        b.emit("add", [stranger, stranger], {}, [I64])
    m, _ = built_region(emit)
    with pytest.raises(VerifyError) as info:
        verify_module(m)
    assert info.value.problems == [
        "region r, block block0, `v0:i64 = add v99, v99`: operand v99 is not defined in this "
        "region"]


def test_use_before_definition():
    p = only_problem("""block0:
    v1:i64 = add v0, v0
    v0:i64 = iconst value=1
    exit pc=4""")
    assert "`v1:i64 = add v0, v0`: operand v0 is used before its definition" in p


def test_definition_must_dominate():
    problems = problems_of("""block0:
    v0:i64 = iconst value=1
    v1:i1 = icmp v0, v0 cond=eq
    brif v1, block1, block2
block1:
    v2:i64 = iconst value=2
    br block3
block2:
    br block3
block3:
    exit v2""")
    assert problems == ["region r, block block3, `exit v2`: operand v2 (defined in block1) "
                        "does not dominate this use"]


def test_loop_carried_values_through_params_are_fine():
    m = parse_module(HEAD + """region r block pc=0 {
block0:
    v0:i64 = iconst value=3
    br block1(v0)
block1(v1:i64):
    v2:i64 = iconst value=1
    v3:i64 = sub v1, v2
    v4:i1 = icmp v3, v2 cond=eq
    brif v4, block2, block1(v3)
block2:
    exit v3
}""")
    verify_module(m)


def test_ret_in_block_region_and_exit_in_function():
    p = only_problem("""block0:
    v0:i64 = iconst value=1
    ret v0""")
    assert "`ret v0`: ret in a block region" in p
    p = only_problem("""block0(v0:i64):
    exit pc=4""", kind="function")
    assert "`exit pc=4`: exit in a function region" in p


def test_ret_types():
    p = only_problem("""block0(v0:i64):
    v1:i32 = trunc v0
    ret v1""", kind="function")
    assert "`ret v1`: returns (i32), the function returns (i64)" in p


def test_exit_needs_a_pc():
    p = only_problem("""block0:
    exit kind=indirect""")
    assert "`exit kind=indirect`: needs a pc" in p
    p = only_problem("""block0:
    v0:f64 = fconst bits=0
    exit v0""")
    assert "the pc operand v0 must be an integer" in p


def test_entry_parameters():
    problems = problems_of("""block0(v0:i32):
    v1:i64 = zext v0
    ret v1""", kind="function")
    assert problems == ["region r, block block0: entry block parameters (i32) must be the "
                        "region's parameters (i64)"]


def test_value_defined_twice():
    def emit(b):
        x = b.iconst(I64, 1)
        b.iconst(I64, 2).defn.results[0].id = x.id
    m, _ = built_region(emit)
    with pytest.raises(VerifyError, match="`v0:i64 = iconst value=2`: v0 is defined more "
                                          "than once"):
        verify_module(m)


def test_result_must_record_its_definition():
    def emit(b):
        x = b.iconst(I64, 1)
        x.defn = None
    m, _ = built_region(emit)
    with pytest.raises(VerifyError, match="result v0 does not record this instruction"):
        verify_module(m)


def test_every_problem_is_listed():
    text = HEAD + """region r block pc=0 {
block0:
    v0:i64 = iconst value=1
    v1:i32 = add v0, v0
    v2:i64 = get slot=zz
    exit
}"""
    with pytest.raises(VerifyError) as info:
        verify_module(parse_module(text))
    assert len(info.value.problems) == 3
    assert str(info.value).startswith(
        "3 IR problem(s):\n  - region r, block block0, `v1:i32 = add v0, v0`: result 1")


def test_verify_region_alone():
    r = parse_region("region r block pc=0 {\nblock0:\n    v0:i64 = get slot=pc\n"
                     "    exit v0\n}")
    with pytest.raises(VerifyError, match="no state slot 'pc'"):
        verify_region(r)                          # no module: an empty state layout
    m = Module(state=StateLayout([Slot("pc", I64)]))
    verify_region(r, m)


def test_dominators():
    r = parse_region("""region r block pc=0 {
block0:
    v0:i1 = iconst value=1
    brif v0, block1, block2
block1:
    br block3
block2:
    br block3
block3:
    brif v0, block1, block4
block4:
    exit pc=0
block5:
    exit pc=0
}""")
    b = {blk.name: blk for blk in r.blocks}
    idom = dominators(r)
    assert idom == {b["block0"]: b["block0"], b["block1"]: b["block0"],
                    b["block2"]: b["block0"], b["block3"]: b["block0"],
                    b["block4"]: b["block3"]}       # block5 is unreachable
