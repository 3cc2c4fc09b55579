"""A DMG Game Boy built on dynarec's SM83 guest (``docs/gameboy.md``).

Modules: ``cartridge`` (header parsing and checks), ``mbc`` (memory bank controllers: ROM
only, MBC1, MBC3, MBC5, with cartridge RAM), ``timer`` (DIV/TIMA/TMA/TAC), ``devices``
(interrupt flags, serial port, joypad), ``ppu`` (LCD timing, STAT and VBlank interrupts,
the scanline renderer), ``bus`` (the DMG memory map on a ``Machine``, the post-boot state
and the run loop: ``GameBoy``), ``cli`` (the ``dynarec-gameboy`` command).

Importable as ``gameboy`` with ``examples/`` on ``sys.path`` (the tests' conftest puts it
there); the modules import each other relatively.
"""

from .bus import GameBoy
from .cartridge import Cartridge, CartridgeError, CartridgeWarning

__all__ = ["GameBoy", "Cartridge", "CartridgeError", "CartridgeWarning"]
