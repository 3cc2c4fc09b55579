"""dynarec.ir.parser: reads exactly what the printer writes, and rejects bad text clearly."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings, strategies as st

from dynarec.errors import ParseError
from dynarec.ir import I64, OPS, Module, format_module, format_region
from dynarec.ir.parser import parse_module, parse_region

from ir_testlib import every_op_module, random_modules

SMALL = """\
state pc:i64 gpr:i64[32]
helper mix(i64, i64) -> (i64) pure

region r400 block pc=0x400 endian=big nan32=0x7fc00000 nan64=0x7ff8000000000000 rounding=rne {
block0:
    insn_start pc=0x400
    v0:i64 = get slot=gpr[4]
    v1:i64 = iconst value=1
    v2:i64 = add v0, v1
    v3:i1 = icmp v2, v1 cond=eq
    brif v3, block1(v2), block2
block1(v7:i64):
    exit pc=0x408
block2:
    exit v0 kind=indirect
}
"""


def test_every_op_round_trips():
    m = every_op_module()
    text = format_module(m)
    used = {line.split(" = ", 1)[-1].split()[0] for line in text.splitlines()
            if line.startswith("    ")}
    assert used == set(OPS)                      # the corpus really has every op
    assert format_module(parse_module(text)) == text


@settings(max_examples=150, deadline=None)
@given(random_modules())
def test_random_modules_round_trip(m):
    text = format_module(m)
    assert format_module(parse_module(text)) == text


def test_structure_is_rebuilt():
    m = parse_module(SMALL)
    assert [s.name for s in m.state.slots.values()] == ["pc", "gpr"]
    assert m.state.slots["gpr"].count == 32
    assert m.helpers["mix"].pure and m.helpers["mix"].params == (I64, I64)
    r = m.regions["r400"]
    assert (r.kind, r.pc, r.attrs["endian"]) == ("block", 0x400, "big")
    b0, b1, b2 = r.blocks
    brif = b0.insts[-1]
    assert brif.op == "brif" and [t.block for t in brif.targets] == [b1, b2]
    assert brif.targets[0].args == [b0.insts[3].result]
    # value numbers are kept, and the next fresh one comes after the largest
    assert b1.params[0].id == 7 and b1.params[0].block is b1
    assert r.next_value == 8
    assert b0.insts[1].result.defn is b0.insts[1]
    # attribute defaults are filled in
    assert b0.insts[0].attrs == {"pc": 0x400, "cost": 1, "delay": 0}
    assert b1.insts[0].attrs == {"kind": "jump", "pc": 0x408, "ret_pc": -1}


def test_use_before_definition_in_text_order():
    text = """region f function (i64) -> (i64) {
block0(v0:i64):
    br block2
block1:
    ret v5
block2:
    v5:i64 = add v0, v0
    br block1
}"""
    r = parse_region(text)
    assert r.blocks[1].insts[0].args[0] is r.blocks[2].insts[0].result


def test_parse_region_adds_to_module():
    m = Module()
    r = parse_region("region r block pc=0 {\nblock0:\n    exit pc=4\n}", m)
    assert m.regions["r"] is r
    assert format_region(r).startswith("region r block pc=0 endian=little")


def test_comments_and_blank_lines_are_skipped():
    text = "# a comment\n\n" + SMALL.replace("block1(v7:i64):", "\n; x\nblock1(v7:i64): ; y")
    assert format_module(parse_module(text)) == SMALL


def test_parse_region_wants_one_region():
    with pytest.raises(ParseError, match="a region starts with 'region NAME KIND'"):
        parse_region("regoin r block pc=0 {\nblock0:\n    exit pc=4\n}")
    with pytest.raises(ParseError, match="line 5: text after the region's closing brace"):
        parse_region("region r block pc=0 {\nblock0:\n    exit pc=4\n}\nregion")


@pytest.mark.parametrize("bad, line, message", [
    ("    v9:i64 = frob v0, v1", 8, "unknown op 'frob'"),
    ("    v9:i64 = add v0, v44", 8, "v44 is used but never defined"),
    ("    v9:i64 = add v0, v1 cond=eq", 8, "add has no attribute 'cond'"),
    ("    v9:i1 = icmp v0, v1 cond=less", 8, "expected one of eq, ne"),
    ("    v9:i1 = icmp v0, v1", 8, "icmp needs attribute cond="),
    ("    v9:i64 = iconst value=x", 8, "expected a number"),
    ("    v9:i128 = iconst value=1", 8, "unknown IR type 'i128'"),
    ("    v0:i64 = iconst value=1", 8, "v0 is defined twice"),
    ("    brif v3, block1(v2), block9", 8, "unknown block block9"),
    ("    brif v3, block1(v2)", 8, "brif needs 2 block target(s)"),
    ("    v9:i64 = add v0 v1", 8, "expected ','"),
    ("    v9:i64 = add v0, v1 %", 8, "unexpected character '%'"),
])
def test_errors_name_the_line_and_problem(bad, line, message):
    lines = SMALL.splitlines()
    lines.insert(7, bad)                          # after "v0:i64 = get ..." (line 7)
    with pytest.raises(ParseError, match=re.escape(message)) as info:
        parse_module("\n".join(lines))
    assert info.value.line == line
    assert str(info.value).startswith(f"line {line}: ")


@pytest.mark.parametrize("text, message", [
    ("region r block pc=0 {\nblock0:\n    exit pc=4\n", "no closing"),
    ("region r block {\nblock0:\n    exit pc=4\n}", "needs pc="),
    ("region r loop pc=0 {\nblock0:\n    exit pc=4\n}", "kind must be"),
    ("region r block pc=0 {\n    exit pc=4\n}", "before the first block label"),
    ("region r block pc=0 {\nblock0:\nblock0:\n    exit pc=4\n}", "block0 defined twice"),
    ("stuff\n", "expected 'state', 'helper' or 'region'"),
    ("helper h(i64) -> (i64) impure\n", "expected 'pure'"),
    ("state a:i64 a:i32\n", "duplicate state slot"),
    ("helper h() -> ()\nstate a:i64\n", "the state line must come first"),
])
def test_structural_errors(text, message):
    with pytest.raises(ParseError, match=re.escape(message)):
        parse_module(text)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_mangled_text_raises_parse_error_only(data):
    text = format_module(every_op_module())
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 12))
        insert = data.draw(st.sampled_from(["", "v", "(", ")", "[", "]", ",", "=", ":", "0",
                                            "007", "-", "{", "}", "\n", " ", "x", "i1",
                                            "block", "region r block pc=0 {\n"]))
        text = text[:pos] + insert + text[pos + cut:]
    try:
        parse_module(text)
    except ParseError:
        pass
