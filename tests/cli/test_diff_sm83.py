"""dynarec-diff sm83: a Game Boy cartridge in lockstep with the reference interpreter, and
SingleStepTests files through the interpreter and the JIT; agreement, divergences made on
purpose (a broken translator rule, a device the oracle cannot see), the limits, bad input.

The systems are found through the ``dynarec.systems`` entry points, or -- until those are
installed -- through ``$DYNAREC_SYSTEMS``, which every test here sets."""

import gzip
import json
import pathlib

import pytest
from cli_testlib import count_in, summary_line

from dynarec.cli import diff
from dynarec.guests.sm83 import translate_alu, translator

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROGRAMS = ROOT / "examples" / "gameboy" / "programs"
SIEVE = PROGRAMS / "build" / "sieve.gb"
SUITE = ROOT.parent / "shared" / "sm83-tests"
XOR_A, XOR_B = 0xAF, 0xA8


@pytest.fixture(autouse=True)
def systems(monkeypatch):
    monkeypatch.setenv(diff.SYSTEMS_VARIABLE, "dynarec.guests.sm83.singlestep:SYSTEM,"
                                              "dynarec_gameboy.diff:SYSTEM")


def _header_checksum(image) -> int:
    """Pan Docs, "014D - Header Checksum", written out here independently."""
    x = 0
    for address in range(0x134, 0x14D):
        x = (x - image[address] - 1) % 256
    return x


def _cartridge(tmp_path, code: bytes, cart_type: int = 0x00, rom_code: int = 0,
               ram_code: int = 0) -> pathlib.Path:
    """A cartridge of ``cart_type`` (32 KiB << ``rom_code``) with ``code`` at 0100 and each
    16 KiB bank's number in its first byte, its checksum right."""
    image = bytearray(0x8000 << rom_code)
    image[0x4000::0x4000] = bytes(range(1, len(image) // 0x4000))
    image[0x100:0x100 + len(code)] = code
    image[0x147:0x14A] = bytes([cart_type, rom_code, ram_code])
    image[0x14D] = _header_checksum(image)
    path = tmp_path / "test.gb"
    path.write_bytes(bytes(image))
    return path


# --- a Game Boy cartridge -------------------------------------------------------------------

def test_the_systems_are_found_by_guest_and_file_ending():
    assert diff.find_system("sm83", "games/SIEVE.GB").suffixes == (".gb",)
    assert diff.find_system("sm83", "cb_4f.json.gz").suffixes == (".json", ".json.gz")
    assert diff.find_system("mips", "sieve.gb") is None
    assert diff.find_system("sm83", "sieve.elf") is None


def test_a_shipped_rom_agrees_for_some_frames(run_cli):
    out = run_cli(diff.main, ["sm83", SIEVE, "--frames", "12"])
    assert out.status == 0, out.err
    summary = summary_line(out.err)
    assert count_in(summary, "divergences") == 0 and "stopped after 12 frames" in summary
    # 12 frames of 17,556 M-cycles: at least one instruction per 6 M-cycles (the longest
    # take 6), and the frames ran
    assert count_in(summary, "instructions") > 12 * 17556 // 6
    expected = (PROGRAMS / "expected" / "sieve.txt").read_bytes()
    assert expected.startswith(out.out)


@pytest.mark.full
def test_a_shipped_rom_agrees_to_its_end_with_its_output(run_cli):
    out = run_cli(diff.main, ["sm83", SIEVE])
    assert out.status == 0, out.err
    assert "halted at pc=0x180" in summary_line(out.err)        # crt0's _halt: halt; jr _halt
    assert out.out == (PROGRAMS / "expected" / "sieve.txt").read_bytes()


def test_the_instruction_limit(run_cli):
    out = run_cli(diff.main, ["sm83", SIEVE, "--max-insns", "5000"])
    summary = summary_line(out.err)
    assert out.status == 0 and "stopped at the instruction limit" in summary
    assert 5000 <= count_in(summary, "instructions") < 5000 + 64       # a region at most past


def test_a_wrong_translation_is_a_divergence_with_its_report(run_cli, monkeypatch):
    monkeypatch.setitem(translator.TRANSLATORS, XOR_A, translate_alu.OR)
    out = run_cli(diff.main, ["sm83", SIEVE, "--frames", "12"])
    assert out.status == 1
    summary = summary_line(out.err)
    assert count_in(summary, "divergence") == 1 and "diverged in the region at pc=" in summary
    report = out.err
    for section in ("DIVERGENCE: the JIT and the reference interpreter differ", "guest code:",
                    "IR before passes:", "IR after passes:", "host code:", "registers:"):
        assert section in report, section
    # crt0 zeroes _DATA with XOR A; LD E,A; ... LD (HL+),A from C000. A is 01 after the
    # boot ROM (Pan Docs, "Power Up Sequence"): XOR A makes it 00, the broken OR A keeps 01
    assert "0x015a: XOR A" in report
    assert "    a: 0x1 | 0x0" in report and "    0xc000: 01 | 00" in report


def test_memory_changed_behind_the_comparisons_is_caught_at_vblank(run_cli, tmp_path,
                                                                   monkeypatch):
    """A device whose read also writes WRAM (as a DMA would): the oracle replays the value
    read but not the write, so no region differs -- the memory does at the VBlank."""
    from dynarec_gameboy import diff as gameboy_diff
    real_init = gameboy_diff.LockstepGameBoy.__init__

    def with_a_writing_device(self, *args, **kwargs):
        real_init(self, *args, **kwargs)

        def read(now):
            self.machine.memory.write_bytes(0xC123, b"\x55")
            return 0
        self.attach_io(0xFF50, read, lambda value, now: None)
    monkeypatch.setattr(gameboy_diff.LockstepGameBoy, "__init__", with_a_writing_device)
    path = _cartridge(tmp_path, bytes([0xF0, 0x50, 0x18, 0xFC]))      # LDH A,(50); JR -4
    out = run_cli(diff.main, ["sm83", path, "--frames", "3"])
    assert out.status == 1
    assert "DIVERGENCE: memory differs at VBlank 1 (1 bytes)" in out.err
    assert "0xc123: 55 | 00" in out.err


def test_an_illegal_opcode_both_lock_up_on_ends_the_run(run_cli, tmp_path):
    path = _cartridge(tmp_path, bytes([0x3C, 0x3C, 0xD3]))              # INC A; INC A; D3
    out = run_cli(diff.main, ["sm83", path])
    assert out.status == 0, out.err
    summary = summary_line(out.err)
    assert "guest exception, cause 1, at pc=0x102, as the oracle's" in summary
    assert count_in(summary, "instructions") == 2


#: MBC1 stores and reads in one straight-line region (Pan Docs, "MBC1"): ROM banks 2 and 3 at
#: 4000, cartridge RAM disabled (reads FF), enabled (0A to 0000-1FFF), disabled again; ends
#: on the illegal opcode D3
BANK_SWITCHES = bytes([
    0x3E, 0x02, 0xEA, 0x00, 0x20, 0xFA, 0x00, 0x40, 0x47,      # bank 2; LD B,(4000)
    0x3E, 0x03, 0xEA, 0x00, 0x20, 0xFA, 0x00, 0x40, 0x4F,      # bank 3; LD C,(4000)
    0xFA, 0x00, 0xA0, 0x57,                                    # LD D,(A000): disabled
    0x3E, 0x0A, 0xEA, 0x00, 0x00,                              # enable RAM
    0x3E, 0x42, 0xEA, 0x00, 0xA0, 0xFA, 0x00, 0xA0, 0x5F,      # (A000) = 42; LD E,(A000)
    0xAF, 0xEA, 0x00, 0x00, 0xFA, 0x00, 0xA0, 0x67,            # disable; LD H,(A000)
    0xD3])


def test_bank_switches_inside_a_region_agree(run_cli, tmp_path):
    from dynarec_gameboy import Cartridge
    from dynarec_gameboy.diff import LockstepGameBoy
    path = _cartridge(tmp_path, BANK_SWITCHES, cart_type=0x03, rom_code=2, ram_code=2)
    out = run_cli(diff.main, ["sm83", path])
    assert out.status == 0, out.err
    summary = summary_line(out.err)
    assert count_in(summary, "divergences") == 0 and count_in(summary, "instructions") == 20
    assert "guest exception, cause 1, at pc=0x12c" in summary                 # the D3
    gb = LockstepGameBoy(Cartridge.load(path))
    gb.run_lockstep()
    assert gb.report.regions == 1
    assert [gb.machine.regs[r] for r in "bcdeh"] == [2, 3, 0xFF, 0x42, 0xFF]


@pytest.mark.parametrize("image, message", [
    (b"\x00" * 0x100, "truncated image"),
    (None, "unsupported cartridge type 0xfc"),              # POCKET CAMERA
])
def test_a_bad_cartridge_is_one_line_and_exit_2(run_cli, tmp_path, image, message):
    if image is None:
        path = _cartridge(tmp_path, b"", cart_type=0xFC)
    else:
        path = tmp_path / "bad.gb"
        path.write_bytes(image)
    out = run_cli(diff.main, ["sm83", path])
    assert out.status == 2 and out.out == b""
    assert len(out.err.splitlines()) == 1 and message in out.err.lower(), out.err


def test_options_for_bare_programs_are_refused_for_a_cartridge(run_cli):
    out = run_cli(diff.main, ["sm83", SIEVE, "--entry", "0x150"])
    assert out.status == 2 and "--entry cannot be used with" in out.err


# --- SingleStepTests files --------------------------------------------------------------------

def _suite_file(name: str) -> pathlib.Path:
    path = SUITE / name
    if not path.exists():
        pytest.skip(f"the SM83 suite is not at {SUITE} (../shared/sm83-tests beside the repo)")
    return path


@pytest.mark.parametrize("name", ["3e.json.gz", "cb_4f.json.gz", "27.json.gz", "e8.json.gz",
                                  "f8.json.gz", "c4.json.gz"])
def test_suite_files_pass_on_the_interpreter_and_the_jit(run_cli, name):
    out = run_cli(diff.main, ["sm83", _suite_file(name)])
    assert out.status == 0, out.err
    assert summary_line(out.err) == "dynarec-diff: 50 cases: 50 passed, 0 failed"


@pytest.mark.parametrize("name, what", [("76.json.gz", "HALT, 76"), ("10.json.gz", "STOP, 10")])
def test_halt_and_stop_are_reported_as_the_documented_deviation(run_cli, name, what):
    out = run_cli(diff.main, ["sm83", _suite_file(name)])
    assert out.status == 0, out.err
    assert summary_line(out.err) == f"dynarec-diff: 50 cases: 0 passed, 0 failed, 50 documented " \
                                f"suite deviations ({what})"


def test_a_wrong_translation_fails_the_jit_side_only(run_cli, monkeypatch):
    path = _suite_file("a8.json.gz")                                # XOR B
    with gzip.open(path) as f:
        cases = json.load(f)
    # OR B gives what XOR B gives (flags included) exactly when A and B share no bit
    wrong = sum(1 for case in cases if case["initial"]["a"] & case["initial"]["b"])
    monkeypatch.setitem(translator.TRANSLATORS, XOR_B, translate_alu.OR)
    out = run_cli(diff.main, ["sm83", path])
    assert out.status == 1 and wrong > 0
    assert summary_line(out.err) == f"dynarec-diff: 50 cases: {50 - wrong} passed, {wrong} failed"
    shown = [line for line in out.err.splitlines() if line.startswith("FAILED ")]
    assert len(shown) == min(wrong, 10)
    assert all(" (JIT): a: " in line for line in shown)


def test_a_case_whose_recorded_result_is_wrong_fails_on_both_sides(run_cli, tmp_path):
    with gzip.open(_suite_file("3e.json.gz")) as f:                 # LD A,n8
        cases = json.load(f)[:3]
    cases[1]["final"]["a"] ^= 0x01
    path = tmp_path / "edited.json"                                 # plain JSON this time
    path.write_text(json.dumps(cases))
    out = run_cli(diff.main, ["sm83", path])
    assert out.status == 1
    assert summary_line(out.err) == "dynarec-diff: 3 cases: 2 passed, 1 failed"
    name, a = cases[1]["name"], cases[1]["final"]["a"]
    assert f"FAILED {name} (interpreter): a: {a ^ 1:#x}, suite {a:#x}" in out.err
    assert f"FAILED {name} (JIT): a: {a ^ 1:#x}, suite {a:#x}" in out.err


@pytest.mark.parametrize("content, message", [
    (b"not json", "not JSON"),
    (b'{"name": "x"}', "not SingleStepTests cases"),
])
def test_a_file_that_is_not_a_suite_file_is_exit_2(run_cli, tmp_path, content, message):
    path = tmp_path / "cases.json"
    path.write_bytes(content)
    out = run_cli(diff.main, ["sm83", path])
    assert out.status == 2 and len(out.err.splitlines()) == 1 and message in out.err
