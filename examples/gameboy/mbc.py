"""Memory bank controllers: ROM only, MBC1, MBC3 and MBC5, with cartridge RAM.

Source: Pan Docs (gbdev.io/pandocs), "MBCs", "No MBC", "MBC1", "MBC3", "MBC5".

An ``Mbc`` owns the cartridge's address ranges of a ``dynarec.memory.AddressSpace``:
0000-3FFF and 4000-7FFF (ROM windows) and A000-BFFF (external RAM). The whole ROM lives in
one host buffer and each window is a mapping into it, so generated code reads banked ROM
inline; a bank switch is ``AddressSpace.rebase`` of the window to the bank's offset, which
the machine sees (regions are keyed by the backing of their page, so code in the new bank
is other regions). Stores to either ROM window call ``Mbc.write`` (the mapping's write
handler): that is how the game talks to the controller. A000-BFFF is plain host memory
(the current RAM bank) while RAM is enabled, and a handler mapping while it is disabled (or
absent, or an MBC3 clock register is selected): reads give FF, writes are ignored.

Banks past the end of the ROM or RAM wrap (only as many bank-number bits as the chip needs
are wired, Pan Docs "MBC1": "only as many bits ... as necessary").
"""

from __future__ import annotations

import ctypes
from typing import Optional

from dynarec.memory import AddressSpace, Mapping

from .cartridge import RAM_BANK_SIZE, ROM_BANK_SIZE, Cartridge

RAM_BASE = 0xA000
RAM_WINDOW = 0x2000
OPEN_BUS = 0xFF                         # what a read of nothing connected gives


class Mbc:
    """The base controller: ROM only (Pan Docs, "No MBC": 32 KiB of ROM at 0000-7FFF, and
    optionally up to 8 KiB of RAM at A000-BFFF, always enabled). Stores to ROM are ignored.

    ``Mbc(cartridge)``; ``attach(memory)`` maps it into an address space (once).
    ``rom_bank`` (bank at 4000-7FFF), ``low_bank`` (bank at 0000-3FFF), ``ram_bank``,
    ``ram_enabled``: the current state. ``ram``: the cartridge RAM's bytes (for saves).
    """

    def __init__(self, cartridge: Cartridge):
        self.cartridge = cartridge
        self.rom_buffer = (ctypes.c_char * len(cartridge.rom)).from_buffer_copy(cartridge.rom)
        # RAM smaller than the window (2 KiB) gets a whole window of memory: its mirrors
        # within A000-BFFF are not modelled
        self.ram_size = cartridge.ram_size
        self.ram_buffer = (ctypes.c_char * max(self.ram_size, RAM_BANK_SIZE))()
        self.rom_bank = 1
        self.low_bank = 0
        self.ram_bank = 0
        self.ram_enabled = self.ram_size > 0 and cartridge.type.mbc == "none"
        self.memory: Optional[AddressSpace] = None
        self._low: Optional[Mapping] = None
        self._high: Optional[Mapping] = None
        self._ram: Optional[Mapping] = None
        self._ram_state: Optional[tuple] = None     # (plain, bank) of ``_ram``

    @property
    def ram(self) -> bytes:
        """The cartridge RAM's contents (``ram_size`` bytes)."""
        return bytes(self.ram_buffer[:self.ram_size])

    def attach(self, memory: AddressSpace) -> None:
        """Map 0000-7FFF and A000-BFFF of ``memory`` (``ValueError`` if taken)."""
        self.memory = memory
        self._low = memory.add(Mapping("rom0", 0x0000, ROM_BANK_SIZE, self.rom_buffer,
                                       write=self.write, writable=False))
        self._high = memory.add(Mapping("romx", 0x4000, ROM_BANK_SIZE, self.rom_buffer,
                                        write=self.write, writable=False,
                                        offset=self._rom_offset(self.rom_bank)))
        self._remap_ram()

    def write(self, address: int, size: int, value: int) -> None:
        """A store to 0000-7FFF (the ROM windows' write handler): ``control`` it, byte by
        byte."""
        for i in range(size):
            self.control(address + i, value >> 8 * i & 0xFF)

    def control(self, address: int, value: int) -> None:
        """One byte written to controller address ``address`` (0000-7FFF). ROM only:
        nothing happens."""

    # --- what the subclasses call after changing their registers --------------------------

    def _rom_offset(self, bank: int) -> int:
        return bank % self.cartridge.rom_banks * ROM_BANK_SIZE

    def _switch_rom(self, low: int, high: int) -> None:
        """Put ROM bank ``low`` at 0000-3FFF and ``high`` at 4000-7FFF (wrapped to the ROM's
        banks); rebase only what changed (a rebase unlinks the regions there)."""
        banks = self.cartridge.rom_banks
        low, high = low % banks, high % banks
        if low != self.low_bank:
            self.low_bank = low
            self.memory.rebase(self._low, self.rom_buffer, self._rom_offset(low))
        if high != self.rom_bank:
            self.rom_bank = high
            self.memory.rebase(self._high, self.rom_buffer, self._rom_offset(high))

    def _switch_ram(self, enabled: bool, bank: int) -> None:
        """Enable or disable cartridge RAM and select ``bank`` (wrapped to the RAM's banks)."""
        self.ram_enabled = enabled and self.ram_size > 0
        self.ram_bank = bank % max(1, self.ram_size // RAM_BANK_SIZE)
        self._remap_ram()

    def _remap_ram(self) -> None:
        """Map A000-BFFF for the current state, the RAM bank or the ``_ram_read``/
        ``_ram_write`` handlers, if that is not what is mapped already."""
        plain = self._ram_plain()
        state = (plain, self.ram_bank if plain else None)
        if state == self._ram_state:
            return
        if self._ram is not None:
            self.memory.remove(self._ram)
        if plain:
            self._ram = Mapping("cart_ram", RAM_BASE, RAM_WINDOW, self.ram_buffer,
                                offset=self.ram_bank * RAM_BANK_SIZE)
        else:
            self._ram = Mapping("cart_ram", RAM_BASE, RAM_WINDOW, None,
                                read=self._ram_read, write=self._ram_write)
        self._ram_state = state
        self.memory.add(self._ram)

    def _ram_plain(self) -> bool:
        """A000-BFFF is the selected RAM bank (else handlers answer)."""
        return self.ram_enabled

    def _ram_read(self, address: int, size: int) -> int:
        """Disabled or absent RAM: open bus (FF per byte)."""
        return (1 << 8 * size) - 1

    def _ram_write(self, address: int, size: int, value: int) -> None:
        """Disabled or absent RAM: the store is lost."""


class Mbc1(Mbc):
    """MBC1 (Pan Docs, "MBC1"): 0000-1FFF RAM enable (A in the low nibble), 2000-3FFF the
    5-bit BANK1 register (0 reads as 1), 4000-5FFF the 2-bit BANK2 register, 6000-7FFF the
    banking mode. 4000-7FFF shows bank ``BANK2 << 5 | BANK1``; in mode 1, 0000-3FFF shows
    bank ``BANK2 << 5`` and A000-BFFF RAM bank BANK2 (mode 0: banks 0 and 0)."""

    def __init__(self, cartridge: Cartridge):
        super().__init__(cartridge)
        self.bank1 = 1
        self.bank2 = 0
        self.mode = 0
        self._enable = False

    def control(self, address: int, value: int) -> None:
        """See the class docstring."""
        if address < 0x2000:
            self._enable = value & 0x0F == 0x0A
        elif address < 0x4000:
            self.bank1 = value & 0x1F or 1
        elif address < 0x6000:
            self.bank2 = value & 0x03
        else:
            self.mode = value & 1
        upper = self.bank2 << 5
        self._switch_rom(upper if self.mode else 0, upper | self.bank1)
        self._switch_ram(self._enable, self.bank2 if self.mode else 0)


class Mbc3(Mbc):
    """MBC3 (Pan Docs, "MBC3"): 0000-1FFF RAM and clock enable (0A), 2000-3FFF the 7-bit
    ROM bank (0 reads as 1), 4000-5FFF RAM bank 00-03 or clock register 08-0C, 6000-7FFF
    latch clock data (00 then 01). The clock registers hold what was written and do not
    count (the issue allows an MBC3 without a running clock); a selected clock register
    reads through a handler."""

    def __init__(self, cartridge: Cartridge):
        super().__init__(cartridge)
        self.select = 0
        self.rtc = bytearray(5)             # seconds, minutes, hours, day low, day high
        self._enable = False

    def control(self, address: int, value: int) -> None:
        """See the class docstring."""
        if address < 0x2000:
            self._enable = value & 0x0F == 0x0A
        elif address < 0x4000:
            self._switch_rom(0, value & 0x7F or 1)
        elif address < 0x6000:
            self.select = value & 0x0F
        else:
            return                          # latching: the clock does not count
        self._switch_ram(self._enable, 0 if self._rtc_selected() else self.select)

    def _rtc_selected(self) -> bool:
        return 0x08 <= self.select <= 0x0C

    def _ram_plain(self) -> bool:
        return self.ram_enabled and not self._rtc_selected()

    def _ram_read(self, address: int, size: int) -> int:
        """The selected clock register when enabled (byte accesses: the SM83 makes no
        others), else open bus."""
        if self._enable and self._rtc_selected():
            return self.rtc[self.select - 0x08]
        return super()._ram_read(address, size)

    def _ram_write(self, address: int, size: int, value: int) -> None:
        """Sets the selected clock register when enabled."""
        if self._enable and self._rtc_selected():
            self.rtc[self.select - 0x08] = value & 0xFF


class Mbc5(Mbc):
    """MBC5 (Pan Docs, "MBC5"): 0000-1FFF RAM enable (0A), 2000-2FFF the low 8 bits of the
    9-bit ROM bank, 3000-3FFF its bit 8, 4000-5FFF the 4-bit RAM bank (bit 3 drives the
    rumble motor on rumble cartridges instead). Bank 0 can be selected at 4000-7FFF."""

    def __init__(self, cartridge: Cartridge):
        super().__init__(cartridge)
        self._bank = 1
        self._enable = False
        self._ram_select = 0

    def control(self, address: int, value: int) -> None:
        """See the class docstring."""
        if address < 0x2000:
            self._enable = value & 0x0F == 0x0A
        elif address < 0x3000:
            self._bank = self._bank & 0x100 | value
        elif address < 0x4000:
            self._bank = self._bank & 0xFF | (value & 1) << 8
        elif address < 0x6000:
            self._ram_select = value & (0x07 if self.cartridge.type.rumble else 0x0F)
        self._switch_rom(0, self._bank)
        self._switch_ram(self._enable, self._ram_select)


CONTROLLERS = {"none": Mbc, "mbc1": Mbc1, "mbc3": Mbc3, "mbc5": Mbc5}


def make_mbc(cartridge: Cartridge) -> Mbc:
    """The controller ``cartridge``'s type names (``Cartridge.parse`` only accepts types
    that have one)."""
    return CONTROLLERS[cartridge.type.mbc](cartridge)
