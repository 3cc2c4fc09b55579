"""``dynarec-gameboy``: exit statuses and messages, --serial, --screenshot, --stats,
--interpreter, --window (with SDL's dummy video driver)."""

import pytest
from gb_romlib import make_rom
from PIL import Image

from dynarec_gameboy.cli import frame_image, main

# LD A,'O'; LDH (01),A; LD A,81; LDH (02),A; wait: LDH A,(02); BIT 7,A; JR NZ,wait;
# the same for 'K'; JR $
SEND_OK = [0x3E, ord("O"), 0xE0, 0x01, 0x3E, 0x81, 0xE0, 0x02,
           0xF0, 0x02, 0xCB, 0x7F, 0x20, 0xFA,
           0x3E, ord("K"), 0xE0, 0x01, 0x3E, 0x81, 0xE0, 0x02,
           0xF0, 0x02, 0xCB, 0x7F, 0x20, 0xFA,
           0x18, 0xFE]


def write_rom(tmp_path, image, name="rom.gb"):
    path = tmp_path / name
    path.write_bytes(image)
    return str(path)


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_serial_output_ok(tmp_path, capsys):
    rom = write_rom(tmp_path, make_rom(bytes(SEND_OK)))
    status, out, err = run(capsys, rom, "--frames", 3, "--serial")
    assert (status, out, err) == (0, "OK", "")


def test_without_serial_nothing_on_stdout(tmp_path, capsys):
    rom = write_rom(tmp_path, make_rom(bytes(SEND_OK)))
    assert run(capsys, rom, "--frames", 1) == (0, "", "")


def one_line_error(capsys, tmp_path, image, *expected):
    status, out, err = run(capsys, write_rom(tmp_path, image), "--frames", 1)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("dynarec-gameboy: error: ")
    for text in expected:
        assert text in err
    return err


def test_truncated_image(tmp_path, capsys):
    one_line_error(capsys, tmp_path, make_rom()[:0x100], "truncated", "256 bytes")


def test_size_not_matching_header(tmp_path, capsys):
    one_line_error(capsys, tmp_path, make_rom(rom_code=1)[:0x8000], "32768", "65536")


def test_unsupported_type_named_by_code(tmp_path, capsys):
    one_line_error(capsys, tmp_path, make_rom(cart_type=0x05), "0x05", "MBC2")


def test_missing_file(tmp_path, capsys):
    status, out, err = run(capsys, tmp_path / "nothing.gb", "--frames", 1)
    assert status == 2 and err.startswith("dynarec-gameboy: error: ")


def test_bad_header_checksum_is_a_warning(tmp_path, capsys):
    image = bytearray(make_rom(bytes(SEND_OK)))
    image[0x14D] ^= 0xFF
    status, out, err = run(capsys, write_rom(tmp_path, bytes(image)), "--frames", 2,
                           "--serial")
    assert status == 0 and out == "OK"
    assert err.startswith("dynarec-gameboy: warning: ") and "checksum" in err


def test_illegal_opcode_reported_with_its_address(tmp_path, capsys):
    rom = write_rom(tmp_path, make_rom(bytes([0x00, 0x00, 0xFD])))
    status, out, err = run(capsys, rom, "--frames", 5)
    assert status == 1
    assert "illegal opcode FD at 0102" in err and err.count("\n") == 1


def test_stats_table_on_stderr(tmp_path, capsys):
    rom = write_rom(tmp_path, make_rom(bytes([0x18, 0xFE])))
    status, out, err = run(capsys, rom, "--frames", 2, "--stats")
    assert status == 0 and out == ""
    cycles = next(line for line in err.splitlines() if line.startswith("guest cycles run"))
    # post-boot is 113 M-cycles before a frame starts, the VBlank is 144 lines into it;
    # the last JR (3 M-cycles) may run past it
    vblank = 113 + 144 * 114 + 17556
    assert vblank <= int(cycles.split()[-1].replace(",", "")) < vblank + 3


def read_png(path):
    """The PNG at ``path`` as (width, height, rows of grey levels), read with Pillow."""
    with Image.open(path) as image:
        assert (image.format, image.mode) == ("PNG", "L")
        data = image.tobytes()
        width, height = image.size
    return width, height, [data[y * width:(y + 1) * width] for y in range(height)]


def test_frame_image_maps_the_four_shades_to_grey_levels():
    image = frame_image(bytes([0, 1, 2, 3, 3, 2]), 3, 2)
    assert image.size == (3, 2)
    assert image.tobytes() == bytes([255, 170, 85, 0, 0, 85])


def test_screenshot(tmp_path, capsys):
    # BGP = 03: colour index 0 (the whole blank tile map) is shade 3, grey level 00
    rom = write_rom(tmp_path, make_rom(bytes([0x3E, 0x03, 0xE0, 0x47, 0x18, 0xFE])))
    shot = tmp_path / "out.png"
    assert run(capsys, rom, "--frames", 2, "--screenshot", shot)[0] == 0
    width, height, rows = read_png(shot)
    assert (width, height) == (160, 144)
    assert rows == [bytes(160)] * 144


def test_interpreter_sends_the_same_serial_output(tmp_path, capsys):
    rom = write_rom(tmp_path, make_rom(bytes(SEND_OK)))
    assert run(capsys, rom, "--frames", 2, "--serial", "--interpreter")[:2] == (0, "OK")


def test_frames_are_required_without_a_window(tmp_path, capsys):
    rom = write_rom(tmp_path, make_rom(bytes(SEND_OK)))
    status, _, err = run(capsys, rom)
    assert status == 2 and "--frames" in err


def test_window_shows_frames_and_feeds_keys_to_the_joypad(tmp_path, monkeypatch):
    pygame = pytest.importorskip("pygame")
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    from dynarec_gameboy import Cartridge, GameBoy
    from dynarec_gameboy.window import Window
    gb = GameBoy(Cartridge.parse(make_rom(bytes([0x18, 0xFE]))))      # JR $
    window = Window(gb, scale=2)
    assert pygame.display.get_surface().get_size() == (320, 288)
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RETURN))
    gb.joypad.write(0x10)                      # select the buttons
    result = window.run(frames=3)
    assert result.reason.name == "BUDGET" and gb.ppu.frames == 3
    assert gb.joypad.pressed == {"start"} and gb.joypad.read() & 0x08 == 0
