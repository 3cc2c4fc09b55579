"""Game Boy cartridge images: the header at 0100-014F and its checks.

Source: Pan Docs (gbdev.io/pandocs), "The Cartridge Header": title at 0134-0143 (the last
byte is the CGB flag on newer cartridges, the last five the manufacturer code on some),
cartridge type at 0147, ROM size at 0148 (32 KiB << code), RAM size at 0149, header
checksum at 014D over 0134-014C (``x = x - byte - 1``; the boot ROM refuses a cartridge whose
checksum does not match, which is why a mismatch is only a warning here: the image may still
run on an emulator that skips the boot ROM).

``Cartridge.parse(data)`` checks the image and raises ``CartridgeError`` with a one-line
message for a truncated image, a size that does not match the header, or a cartridge type
this emulator has no bank controller for (named by its code); a bad header checksum is a
``CartridgeWarning``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

HEADER_END = 0x150                      # the header is 0100-014F
TITLE = slice(0x134, 0x144)
CGB_FLAG = 0x143
TYPE = 0x147
ROM_SIZE = 0x148
RAM_SIZE = 0x149
HEADER_CHECKSUM = 0x14D
ROM_BANK_SIZE = 0x4000
RAM_BANK_SIZE = 0x2000


@dataclass(frozen=True)
class CartridgeType:
    """One cartridge type code: its Pan Docs name, the bank controller (``"none"``,
    ``"mbc1"``, ``"mbc3"``, ``"mbc5"``) and whether it has RAM, a battery, a real-time
    clock (MBC3) or a rumble motor (MBC5)."""

    name: str
    mbc: str
    ram: bool = False
    battery: bool = False
    rtc: bool = False
    rumble: bool = False


#: The cartridge types this emulator runs, by code (Pan Docs, "0147 - Cartridge Type").
SUPPORTED_TYPES = {
    0x00: CartridgeType("ROM ONLY", "none"),
    0x01: CartridgeType("MBC1", "mbc1"),
    0x02: CartridgeType("MBC1+RAM", "mbc1", ram=True),
    0x03: CartridgeType("MBC1+RAM+BATTERY", "mbc1", ram=True, battery=True),
    0x08: CartridgeType("ROM+RAM", "none", ram=True),
    0x09: CartridgeType("ROM+RAM+BATTERY", "none", ram=True, battery=True),
    0x0F: CartridgeType("MBC3+TIMER+BATTERY", "mbc3", battery=True, rtc=True),
    0x10: CartridgeType("MBC3+TIMER+RAM+BATTERY", "mbc3", ram=True, battery=True, rtc=True),
    0x11: CartridgeType("MBC3", "mbc3"),
    0x12: CartridgeType("MBC3+RAM", "mbc3", ram=True),
    0x13: CartridgeType("MBC3+RAM+BATTERY", "mbc3", ram=True, battery=True),
    0x19: CartridgeType("MBC5", "mbc5"),
    0x1A: CartridgeType("MBC5+RAM", "mbc5", ram=True),
    0x1B: CartridgeType("MBC5+RAM+BATTERY", "mbc5", ram=True, battery=True),
    0x1C: CartridgeType("MBC5+RUMBLE", "mbc5", rumble=True),
    0x1D: CartridgeType("MBC5+RUMBLE+RAM", "mbc5", ram=True, rumble=True),
    0x1E: CartridgeType("MBC5+RUMBLE+RAM+BATTERY", "mbc5", ram=True, battery=True,
                        rumble=True),
}

#: Names of the types Pan Docs lists that this emulator does not run (for the error).
UNSUPPORTED_TYPES = {
    0x05: "MBC2", 0x06: "MBC2+BATTERY", 0x0B: "MMM01", 0x0C: "MMM01+RAM",
    0x0D: "MMM01+RAM+BATTERY", 0x20: "MBC6", 0x22: "MBC7+SENSOR+RUMBLE+RAM+BATTERY",
    0xFC: "POCKET CAMERA", 0xFD: "BANDAI TAMA5", 0xFE: "HuC3", 0xFF: "HuC1+RAM+BATTERY",
}

#: RAM size code to bytes (Pan Docs, "0149 - RAM Size"; code 01 is listed as unused, and
#: some homebrew uses it for 2 KiB, which is what it means here).
RAM_SIZES = {0x00: 0, 0x01: 0x800, 0x02: 0x2000, 0x03: 0x8000, 0x04: 0x20000, 0x05: 0x10000}


class CartridgeError(ValueError):
    """An image that cannot be run; the message is one line."""


class CartridgeWarning(UserWarning):
    """An image that runs but is not what the hardware would accept (bad header checksum)."""


def header_checksum(image: bytes) -> int:
    """The header checksum of ``image`` (at least 0x14D bytes): ``x = x - byte - 1`` over
    0134-014C, low 8 bits (Pan Docs, "014D - Header Checksum")."""
    x = 0
    for byte in image[0x134:0x14D]:
        x = (x - byte - 1) & 0xFF
    return x


@dataclass(frozen=True)
class Cartridge:
    """A parsed cartridge image. ``rom``: the whole image; ``title`` (ASCII, NULs dropped);
    ``type_code`` and ``type`` (``CartridgeType``); ``rom_size``/``ram_size`` in bytes (from
    the header; ``ram_size`` 0 for a type without RAM); ``checksum_ok``: the header checksum
    matches (the post-boot F register depends on the stored checksum byte, see ``bus``)."""

    rom: bytes
    title: str
    type_code: int
    type: CartridgeType
    rom_size: int
    ram_size: int
    checksum_ok: bool

    @property
    def rom_banks(self) -> int:
        """Number of 16 KiB ROM banks."""
        return self.rom_size // ROM_BANK_SIZE

    @property
    def stored_checksum(self) -> int:
        """The header checksum byte the image holds (014D)."""
        return self.rom[HEADER_CHECKSUM]

    @classmethod
    def parse(cls, data: bytes, name: str = "cartridge") -> "Cartridge":
        """Check and parse ``data`` (``name`` prefixes error messages). Raises
        ``CartridgeError`` (module docstring); warns ``CartridgeWarning`` for a bad header
        checksum."""
        data = bytes(data)
        if len(data) < HEADER_END:
            raise CartridgeError(f"{name}: truncated image: {len(data)} bytes, the header "
                                 f"alone needs {HEADER_END:#x}")
        code = data[TYPE]
        ctype = SUPPORTED_TYPES.get(code)
        if ctype is None:
            known = UNSUPPORTED_TYPES.get(code)
            what = f" ({known})" if known else ""
            raise CartridgeError(f"{name}: unsupported cartridge type {code:#04x}{what}")
        size_code = data[ROM_SIZE]
        if size_code > 8:
            raise CartridgeError(f"{name}: unsupported ROM size code {size_code:#04x}")
        rom_size = 0x8000 << size_code
        if len(data) != rom_size:
            raise CartridgeError(f"{name}: the image is {len(data)} bytes but its header "
                                 f"(ROM size code {size_code:#04x}) says {rom_size}")
        ram_code = data[RAM_SIZE]
        if ram_code not in RAM_SIZES:
            raise CartridgeError(f"{name}: unsupported RAM size code {ram_code:#04x}")
        checksum_ok = header_checksum(data) == data[HEADER_CHECKSUM]
        if not checksum_ok:
            warnings.warn(f"{name}: header checksum {data[HEADER_CHECKSUM]:#04x} does not "
                          f"match the header ({header_checksum(data):#04x})",
                          CartridgeWarning, stacklevel=2)
        title_bytes = data[TITLE]
        if data[CGB_FLAG] & 0x80:           # CGB flag, not part of the title
            title_bytes = title_bytes[:-1]
        title = title_bytes.split(b"\0", 1)[0].decode("ascii", "replace")
        return cls(data, title, code, ctype, rom_size,
                   RAM_SIZES[ram_code] if ctype.ram else 0, checksum_ok)

    @classmethod
    def load(cls, path) -> "Cartridge":
        """``parse`` the file at ``path`` (``OSError`` if it cannot be read)."""
        with open(path, "rb") as f:
            return cls.parse(f.read(), name=str(path))
