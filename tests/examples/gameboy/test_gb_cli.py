"""``dynarec-gameboy``: exit statuses and messages, --serial, --screenshot, --stats."""

import struct
import zlib

from gb_romlib import make_rom

from dynarec_gameboy.cli import main, png_bytes

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


def decode_png(data):
    """A minimal reader for the 8-bit greyscale, filter-0 PNGs the command writes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] == \
            zlib.crc32(kind + body)
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + length
    width, height, depth, colour, *_ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, colour) == (8, 0) and b"IEND" in chunks
    raw = zlib.decompress(chunks[b"IDAT"])
    rows = [raw[y * (width + 1):(y + 1) * (width + 1)] for y in range(height)]
    assert all(row[0] == 0 for row in rows)
    return width, height, [row[1:] for row in rows]


def test_png_of_known_shades():
    width, height, rows = decode_png(png_bytes(bytes([0, 1, 2, 3, 3, 2]), 3, 2))
    assert (width, height) == (3, 2)
    assert rows == [bytes([255, 170, 85]), bytes([0, 0, 85])]


def test_screenshot(tmp_path, capsys):
    # BGP = 03: colour index 0 (the whole blank tile map) is shade 3, grey level 00
    rom = write_rom(tmp_path, make_rom(bytes([0x3E, 0x03, 0xE0, 0x47, 0x18, 0xFE])))
    shot = tmp_path / "out.png"
    assert run(capsys, rom, "--frames", 2, "--screenshot", shot)[0] == 0
    width, height, rows = decode_png(shot.read_bytes())
    assert (width, height) == (160, 144)
    assert rows == [bytes(160)] * 144
