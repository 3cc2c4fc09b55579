"""dynarec-diff on small raw programs: agreement, divergences made on purpose (a broken
translator rule, a broken pass), oracle quirks, device reads replayed, the ways a run ends;
and the same programs through dynarec-run."""

import re

from cli_testlib import count_in, put, summary_line

from dynarec.cli import diff, run
from dynarec.guests.mips import translate_alu, translator
from dynarec.passes import PASSES, Pass

EXCLUSIVE_OR = f"""
ori $2, $0, 0xff
xori $3, $2, 0x0f
lui $9, 0x8000
sw $3, 0x1000($9)
{put(3)}
"""


def test_an_agreeing_run(run_cli, raw_program):
    prog = raw_program(EXCLUSIVE_OR)
    out = run_cli(diff.main, prog.args())
    assert out.status == 0 and out.out == bytes([0xF0])
    summary = summary_line(out.err)
    assert count_in(summary, "instructions") == 6 and count_in(summary, "divergences") == 0
    assert count_in(summary, "oracle quirks") == 0 and f"halted at pc=0xffffffff{prog.halt:x}" \
        in summary
    assert run_cli(run.main, prog.args()).out == bytes([0xF0])


def test_a_wrong_translation_is_a_divergence_with_its_report(run_cli, raw_program, monkeypatch):
    monkeypatch.setitem(translator.TRANSLATORS, "XORI", translate_alu.ORI)
    out = run_cli(diff.main, raw_program(EXCLUSIVE_OR).args())
    assert out.status == 1
    assert count_in(summary_line(out.err), "divergence") == 1
    report = out.err
    for section in ("DIVERGENCE: the JIT and the reference interpreter differ", "guest code:",
                    "IR before passes:", "IR after passes:", "host code:", "registers:",
                    "stores of the JIT:", "memory after the stores (JIT | reference "
                    "interpreter):"):
        assert section in report, section
    assert re.search(r"0xffffffff80000408: xori \$v1, \$v0, 0xf", report)
    assert "region mips_ffffffff80000400" in report                       # the IR
    assert re.search(r"gpr\[3\] +0x0 +0xff +0xf0", report)                # JIT | reference
    assert "[0x1ff00000] 1 byte(s) = 0xff" in report and "= 0xf0" in report
    assert "0x1000: 000000ff | 000000f0" in report                        # sw to RAM
    assert "switching off any one pass does not make the region agree" in report
    assert out.out == bytes([0xFF])            # what the JIT printed before it was caught


def _corrupting(real: Pass, value: int) -> Pass:
    """``real``, then every ``iconst`` of ``value`` made ``value + 1``: a broken pass."""
    def run_pass(region, module):
        changes = real.run(region, module)
        for inst in region.insts():
            if inst.op == "iconst" and inst.attrs["value"] == value:
                inst.attrs["value"] = value + 1
        return changes
    return Pass(real.name, run_pass, real.doc)


def test_the_report_names_the_pass_at_fault(run_cli, raw_program, monkeypatch):
    monkeypatch.setitem(PASSES, "constfold", _corrupting(PASSES["constfold"], 0xF0))
    out = run_cli(diff.main, raw_program(EXCLUSIVE_OR).args())
    assert out.status == 1
    passes = next(line for line in out.err.splitlines() if line.startswith("passes: "))
    # without constfold nothing folds the XOR; without state_forwarding, nothing gives it
    # constant operands; copyprop and dce do not matter
    assert "agrees with the reference interpreter when state_forwarding or constfold is " \
           "switched off" in passes
    confirmed = run_cli(diff.main, raw_program(EXCLUSIVE_OR).args("--disable-pass",
                                                                  "constfold"))
    assert confirmed.status == 0 and confirmed.out == bytes([0xF0])


QUIRKS = f"""
ori $2, $0, 7
div $0, $2, $0
mflo $3
{put(3)}
mfhi $4
{put(4)}
ori $5, $0, 0x40
dsll32 $5, $5, 0
sra $6, $5, 1
{put(6)}
j next
nop
next:
divu $0, $2, $0
mflo $7
{put(7)}
"""


def test_oracle_quirks_are_counted_and_corrected(run_cli, raw_program):
    out = run_cli(diff.main, raw_program(QUIRKS).args())
    assert out.status == 0, out.err
    summary = summary_line(out.err)
    assert count_in(summary, "divergences") == 0
    assert count_in(summary, "oracle quirks") == 3
    assert "(divide_by_zero x2, sra_wide_input x1)" in summary
    # the VR4300's results (DESIGN.md section 10): LO = -1, HI = 7; SRA of 0x40_0000_0000
    # shifts the 64-bit value and sign-extends the low word: 0x20_0000_0000 -> 0
    assert out.out == bytes([0xFF, 0x07, 0x00, 0xFF])


def test_one_quirk_does_not_hide_a_divergence_after_it(run_cli, raw_program, monkeypatch):
    monkeypatch.setitem(translator.TRANSLATORS, "XORI", translate_alu.ORI)
    out = run_cli(diff.main, raw_program(QUIRKS.replace("mflo $3", "mflo $3\n" + EXCLUSIVE_OR))
                  .args())
    assert out.status == 1 and count_in(summary_line(out.err), "divergence") == 1
    assert "the JIT and the reference interpreter differ" in out.err


def test_the_reference_interpreter_as_oracle_has_no_quirks(run_cli, raw_program):
    out = run_cli(diff.main, raw_program(QUIRKS).args("--oracle", "interp"))
    assert out.status == 0 and out.out == bytes([0xFF, 0x07, 0x00, 0xFF])
    summary = summary_line(out.err)
    assert count_in(summary, "divergences") == 0 and count_in(summary, "oracle quirks") == 0


CYCLE_COUNTER = f"""
ori $9, $0, 200
loop: addiu $9, $9, -1
bne $9, $0, loop
nop
lw $10, 16($8)
{put(10)}
srl $10, $10, 8
{put(10)}
"""


def test_device_reads_are_replayed_to_the_oracle(run_cli, raw_program):
    prog = raw_program(CYCLE_COUNTER)
    out = run_cli(diff.main, prog.args())
    assert out.status == 0 and count_in(summary_line(out.err), "divergences") == 0
    cycles = int.from_bytes(out.out[::-1], "big")
    # the count read after the loop's 2 + 3 * 200 instructions (a JIT-side value; Unicorn
    # alone would read 0 from an unbacked page or fault)
    assert 600 <= cycles <= 620
    assert run_cli(run.main, prog.args()).out == out.out


def test_a_guest_exception_both_raise_ends_the_run(run_cli, raw_program):
    prog = raw_program(f"ori $3, $0, 0x41\n{put(3)}\nsyscall")
    out = run_cli(diff.main, prog.args())
    assert out.status == 0 and out.out == b"A"
    assert "guest exception, cause 8, at pc=0xffffffff8000040c" in summary_line(out.err)
    ran = run_cli(run.main, prog.args())
    assert ran.status == 1 and ran.out == b"A" and "EXCEPTION at pc=0xffffffff8000040c" \
        in ran.err


def test_the_instruction_limit(run_cli, raw_program):
    prog = raw_program(CYCLE_COUNTER)
    out = run_cli(diff.main, prog.args("--max-insns", "50"))
    summary = summary_line(out.err)
    assert out.status == 0 and "stopped at the instruction limit" in summary
    assert 50 <= count_in(summary, "instructions") <= 52 and out.out == b""
    ran = run_cli(run.main, prog.args("--max-insns", "50"))
    assert ran.status == 1 and "stopped after 5" in ran.err and ran.out == b""


def test_run_prints_the_stats_table(run_cli, raw_program):
    out = run_cli(run.main, raw_program(EXCLUSIVE_OR).args("--stats"))
    assert out.status == 0 and out.out == bytes([0xF0])
    assert re.search(r"regions compiled +2\n", out.err)
    assert re.search(r"guest cycles run +6\n", out.err)
