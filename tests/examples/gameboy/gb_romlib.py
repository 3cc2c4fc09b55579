"""Synthetic cartridge images for the Game Boy tests.

``make_rom(code, cart_type=0x00, rom_code=0x00, ram_code=0x00, banks={}, title=b"TEST")``:
an image of ``0x8000 << rom_code`` bytes with ``code`` at 0100 (the post-boot pc), a header
whose checksum is computed as Pan Docs "014D - Header Checksum" defines it, and ``banks``
(``{bank number: bytes}``) written at the start of those 16 KiB ROM banks.
"""


def checksum(image) -> int:
    """Pan Docs' header checksum algorithm, written out independently of the emulator's."""
    x = 0
    for address in range(0x134, 0x14D):
        x = (x - image[address] - 1) % 256
    return x


def make_rom(code=b"", cart_type=0x00, rom_code=0x00, ram_code=0x00, banks=None,
             title=b"TEST", size=None):
    image = bytearray(0x8000 << rom_code if size is None else size)
    for bank, data in (banks or {}).items():
        image[bank * 0x4000:bank * 0x4000 + len(data)] = data
    image[0x100:0x100 + len(code)] = code
    image[0x134:0x134 + len(title)] = title
    image[0x147] = cart_type
    image[0x148] = rom_code
    image[0x149] = ram_code
    image[0x14D] = checksum(image)
    return bytes(image)
