"""Bank controllers (Pan Docs, "MBC1", "MBC3", "MBC5", "No MBC"): bank switches seen by
SM83 code running on the JIT, and by the Python side of the address space."""

import pytest
from gb_romlib import make_rom

from dynarec_gameboy import Cartridge, GameBoy
from dynarec_gameboy.mbc import Mbc1

LD_A = 0x3E            # LD A,n
LD_MEM_A = 0xEA        # LD (a16),A
LD_A_MEM = 0xFA        # LD A,(a16)
CALL = 0xCD
RET = 0xC9
HALT = 0x76


def w(address):
    return [address & 0xFF, address >> 8]


def markers(banks):
    """Each bank starts with its number (low byte, high byte)."""
    return {bank: bytes([bank & 0xFF, bank >> 8]) for bank in range(banks)}


def boot(image):
    return GameBoy(Cartridge.parse(image))


def run_to_halt(gb, cycles=5_000):
    gb.run(cycles)
    assert gb.machine.regs["run_mode"] == 1, f"not halted at pc={gb.machine.pc:#x}"


def test_mbc1_rom_banks_seen_by_generated_code():
    # select bank 2, 3, then 0 (which reads as 1); after each, copy 4000 to C000+i
    code = []
    for i, bank in enumerate((2, 3, 0)):
        code += [LD_A, bank, LD_MEM_A, *w(0x2000), LD_A_MEM, *w(0x4000),
                 LD_MEM_A, *w(0xC000 + i)]
    gb = boot(make_rom(bytes(code + [HALT]), cart_type=0x01, rom_code=0x01, banks=markers(4)))
    run_to_halt(gb)
    assert gb.machine.memory.read_bytes(0xC000, 3) == bytes([2, 3, 1])


def test_code_in_switched_banks_is_told_apart():
    # bank 2 at 4000: LD A,22; RET -- bank 3 at 4000: LD A,33; RET. The main program calls
    # 4000 with bank 2, then with bank 3, then with bank 2 again, storing A each time.
    banks = {2: bytes([LD_A, 0x22, RET]), 3: bytes([LD_A, 0x33, RET])}
    code = []
    for i, bank in enumerate((2, 3, 2)):
        code += [LD_A, bank, LD_MEM_A, *w(0x2100), CALL, *w(0x4000), LD_MEM_A, *w(0xC010 + i)]
    gb = boot(make_rom(bytes(code + [HALT]), cart_type=0x01, rom_code=0x02, banks=banks))
    run_to_halt(gb)
    assert gb.machine.memory.read_bytes(0xC010, 3) == bytes([0x22, 0x33, 0x22])


def test_mbc1_bank_number_quirks():
    gb = boot(make_rom(cart_type=0x01, rom_code=0x02, banks=markers(8)))    # 8 banks
    mem = gb.machine.memory
    for written, bank in [(0x00, 1), (0x20, 1), (0x05, 5), (0x1F, 7), (0x10, 0)]:
        # BANK1 is 5 bits; 0 reads as 1 before the ROM size masks it (Pan Docs: on a
        # 256 KiB ROM, 10 gives bank 0 at 4000-7FFF -- here 8 banks: 10 & 7 = 0)
        mem.write(0x2000, 1, written)
        assert mem.read(0x4000, 1) == bank, written


def test_mbc1_mode_1_banks_the_low_window():
    gb = boot(make_rom(cart_type=0x01, rom_code=0x06, banks=markers(128)))  # 2 MiB
    mem = gb.machine.memory
    mem.write(0x2000, 1, 0x03)
    mem.write(0x4000, 1, 0x02)                 # BANK2 = 2
    assert mem.read(0x4000, 2) == 0x43         # bank 2 << 5 | 3
    assert mem.read(0x0000, 2) == 0x0000       # mode 0: bank 0 at 0000
    mem.write(0x6000, 1, 0x01)
    assert mem.read(0x0000, 2) == 0x40         # mode 1: bank 2 << 5
    mem.write(0x6000, 1, 0x00)
    assert mem.read(0x0000, 2) == 0x00


def test_cartridge_ram_enable_and_banks():
    gb = boot(make_rom(cart_type=0x03, rom_code=0x00, ram_code=0x03))      # 4 RAM banks
    mem = gb.machine.memory
    assert mem.read(0xA000, 1) == 0xFF         # disabled: open bus
    mem.write(0xA000, 1, 0x12)                 # ignored
    mem.write(0x0000, 1, 0x0A)                 # enable
    assert mem.read(0xA000, 1) == 0x00
    mem.write(0xA000, 1, 0x12)
    mem.write(0x6000, 1, 0x01)                 # mode 1: BANK2 selects the RAM bank
    mem.write(0x4000, 1, 0x02)
    assert mem.read(0xA000, 1) == 0x00
    mem.write(0xA000, 1, 0x34)
    mem.write(0x4000, 1, 0x00)
    assert mem.read(0xA000, 1) == 0x12
    mem.write(0x0000, 1, 0x00)                 # disable: FF again, contents kept
    assert mem.read(0xA000, 1) == 0xFF
    mem.write(0x0000, 1, 0x0A)
    assert mem.read(0xA000, 1) == 0x12
    assert gb.mbc.ram[0] == 0x12 and gb.mbc.ram[2 * 0x2000] == 0x34


def test_cartridge_ram_from_generated_code():
    code = [LD_A, 0x0A, LD_MEM_A, *w(0x0000), LD_A, 0x5A, LD_MEM_A, *w(0xA123),
            LD_A_MEM, *w(0xA123), LD_MEM_A, *w(0xC000), HALT]
    gb = boot(make_rom(bytes(code), cart_type=0x02, ram_code=0x02))
    run_to_halt(gb)
    assert gb.machine.memory.read(0xC000, 1) == 0x5A
    assert gb.mbc.ram[0x123] == 0x5A


def test_rom_only_ignores_rom_stores():
    code = [LD_A, 0x02, LD_MEM_A, *w(0x2000), LD_MEM_A, *w(0x4000), HALT]
    gb = boot(make_rom(bytes(code), banks={1: b"\x01"}))
    run_to_halt(gb)
    mem = gb.machine.memory
    assert mem.read(0x4000, 1) == 0x01          # ROM unchanged, still bank 1
    assert mem.read(0xA000, 1) == 0xFF          # no RAM


def test_mbc3_banks():
    gb = boot(make_rom(cart_type=0x13, rom_code=0x06, ram_code=0x03, banks=markers(128)))
    mem = gb.machine.memory
    for written, bank in [(0x00, 1), (0x7F, 127), (0x40, 64)]:     # 7-bit, 0 reads as 1
        mem.write(0x2000, 1, written)
        assert mem.read(0x4000, 2) == bank
    mem.write(0x0000, 1, 0x0A)
    mem.write(0x4000, 1, 0x03)
    mem.write(0xA000, 1, 0x77)
    assert gb.mbc.ram[3 * 0x2000] == 0x77
    assert mem.read(0x0000, 2) == 0            # MBC3 never banks 0000-3FFF


def test_mbc3_clock_registers():
    gb = boot(make_rom(cart_type=0x10, ram_code=0x03))
    mem = gb.machine.memory
    mem.write(0x0000, 1, 0x0A)
    mem.write(0xA000, 1, 0x11)                 # RAM bank 0
    mem.write(0x4000, 1, 0x08)                 # seconds register
    mem.write(0xA000, 1, 0x2A)
    assert mem.read(0xA000, 1) == 0x2A
    mem.write(0x4000, 1, 0x00)
    assert mem.read(0xA000, 1) == 0x11


def test_mbc5_nine_bit_banks_and_bank_0():
    gb = boot(make_rom(cart_type=0x1B, rom_code=0x08, ram_code=0x04, banks=markers(512)))
    mem = gb.machine.memory
    mem.write(0x2000, 1, 0x01)
    mem.write(0x3000, 1, 0x01)
    assert mem.read(0x4000, 2) == 0x101
    mem.write(0x2000, 1, 0x00)
    assert mem.read(0x4000, 2) == 0x100
    mem.write(0x3000, 1, 0x00)
    assert mem.read(0x4000, 2) == 0x000        # bank 0 is allowed at 4000-7FFF
    mem.write(0x0000, 1, 0x0A)
    mem.write(0x4000, 1, 0x0F)                 # RAM bank 15 of 16
    mem.write(0xA000, 1, 0x99)
    assert gb.mbc.ram[15 * 0x2000] == 0x99


def test_a_switch_to_the_bank_mapped_already_does_not_remap():
    gb = boot(make_rom(cart_type=0x01, rom_code=0x01))
    assert isinstance(gb.mbc, Mbc1)
    unlinks = []
    gb.machine.memory.on_change(lambda start, end: unlinks.append((start, end)))
    gb.machine.memory.write(0x2000, 1, 0x01)
    assert unlinks == []
    gb.machine.memory.write(0x2000, 1, 0x02)
    assert unlinks == [(0x4000, 0x8000)]


@pytest.mark.parametrize("cart_type, cls", [(0x00, "Mbc"), (0x01, "Mbc1"), (0x11, "Mbc3"),
                                            (0x19, "Mbc5")])
def test_controller_by_type(cart_type, cls):
    assert type(boot(make_rom(cart_type=cart_type)).mbc).__name__ == cls
