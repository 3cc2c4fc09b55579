"""A DMG Game Boy built on dynarec's SM83 guest (``docs/gameboy.md``).

Modules: ``cartridge`` (header parsing and checks), ``mbc`` (memory bank controllers: ROM
only, MBC1, MBC3, MBC5, with cartridge RAM), ``timer`` (DIV/TIMA/TMA/TAC), ``devices``
(interrupt flags, serial port, joypad), ``ppu`` (LCD timing, STAT and VBlank interrupts),
``render`` (the scanline renderer, numpy), ``idle`` (idle-loop skipping), ``bus`` (the DMG
memory map on a ``Machine``, the post-boot state and the run loop: ``GameBoy``), ``diff``
(``dynarec-diff sm83 ROM.gb``), ``cli`` (the ``dynarec-gameboy`` command), ``window``
(``--window``, pygame).

Installed as the package ``dynarec_gameboy`` (pyproject's package-dir); the modules import
each other relatively.
"""

from .bus import GameBoy
from .cartridge import Cartridge, CartridgeError, CartridgeWarning

__all__ = ["GameBoy", "Cartridge", "CartridgeError", "CartridgeWarning"]
