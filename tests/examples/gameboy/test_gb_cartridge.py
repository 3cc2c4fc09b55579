"""Cartridge header parsing and its errors, on synthetic images (Pan Docs, "The Cartridge
Header")."""

import warnings

import pytest
from gb_romlib import make_rom

from dynarec_gameboy.cartridge import Cartridge, CartridgeError, CartridgeWarning, header_checksum


def test_header_fields():
    cart = Cartridge.parse(make_rom(cart_type=0x03, rom_code=0x02, ram_code=0x03,
                                    title=b"POKEMON RED"))
    assert cart.title == "POKEMON RED"
    assert cart.type_code == 0x03
    assert cart.type.name == "MBC1+RAM+BATTERY"
    assert (cart.type.mbc, cart.type.ram, cart.type.battery) == ("mbc1", True, True)
    assert cart.rom_size == 128 * 1024 and cart.rom_banks == 8     # 0148 = 02: 128 KiB
    assert cart.ram_size == 32 * 1024                               # 0149 = 03: 4 banks of 8
    assert cart.checksum_ok


@pytest.mark.parametrize("code, size", [(0x00, 32), (0x01, 64), (0x05, 1024), (0x08, 8192)])
def test_rom_sizes(code, size):
    assert Cartridge.parse(make_rom(cart_type=0x19, rom_code=code)).rom_size == size * 1024


def test_the_cgb_flag_is_not_part_of_the_title():
    image = bytearray(make_rom(title=b"ABCDEFGHIJKLMNO\x80"))
    cart = Cartridge.parse(make_rom(title=bytes(image[0x134:0x144])))
    assert cart.title == "ABCDEFGHIJKLMNO"


def test_checksum_algorithm():
    # 25 zero bytes: x = 0 - 25 * (0 + 1) = -25 = 0xE7 (mod 256)
    assert header_checksum(bytes(0x150)) == 0xE7
    # one byte 0x41 in the title: 0xE7 - 0x41 = 0xA6
    image = bytearray(0x150)
    image[0x134] = 0x41
    assert header_checksum(image) == 0xA6


def test_a_bad_checksum_is_a_warning():
    image = bytearray(make_rom())
    image[0x14D] ^= 0xFF
    with pytest.warns(CartridgeWarning, match="header checksum"):
        cart = Cartridge.parse(bytes(image))
    assert not cart.checksum_ok


def test_a_good_checksum_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Cartridge.parse(make_rom())


@pytest.mark.parametrize("image, match", [
    (b"", "truncated image: 0 bytes"),
    (make_rom()[:0x14F], "truncated image: 335 bytes"),
    (make_rom(rom_code=0x01, size=0x8000), "32768 bytes but its header .* says 65536"),
    (make_rom(size=0x8000 + 1), "32769 bytes"),
    (make_rom(cart_type=0x05), r"unsupported cartridge type 0x05 \(MBC2\)"),
    (make_rom(cart_type=0xFC), r"unsupported cartridge type 0xfc \(POCKET CAMERA\)"),
    (make_rom(cart_type=0x42), r"unsupported cartridge type 0x42$"),
    (make_rom(ram_code=0x07), "RAM size code 0x07"),
])
def test_errors_are_one_line(image, match):
    with pytest.raises(CartridgeError, match=match) as info:
        Cartridge.parse(image, name="game.gb")
    message = str(info.value)
    assert message.startswith("game.gb: ") and "\n" not in message


def test_ram_size_is_zero_without_ram():
    assert Cartridge.parse(make_rom(cart_type=0x01, ram_code=0x02)).ram_size == 0


def test_load(tmp_path):
    path = tmp_path / "t.gb"
    path.write_bytes(make_rom(cart_type=0x01))
    assert Cartridge.load(path).type.mbc == "mbc1"
