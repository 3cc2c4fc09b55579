"""The DMG memory map and post-boot state (Pan Docs, "Memory Map", "OAM DMA Transfer",
"Power Up Sequence")."""

from gb_romlib import make_rom

from dynarec.guests.sm83 import TRAP_LOCKED
from dynarec.runtime import ExitReason
from dynarec_gameboy import Cartridge, GameBoy


def boot(code=b"", **header):
    return GameBoy(Cartridge.parse(make_rom(bytes(code), **header)))


def test_post_boot_cpu_registers():
    gb = boot()
    regs = gb.machine.regs
    expected = {"a": 0x01, "f": 0xB0, "b": 0x00, "c": 0x13, "d": 0x00, "e": 0xD8,
                "h": 0x01, "l": 0x4D, "sp": 0xFFFE, "pc": 0x0100, "ime": 0}
    assert {ref: regs[ref] for ref in expected} == expected


def test_post_boot_f_with_a_zero_checksum_byte():
    # find a title whose header checksum is 00: then H and C are clear
    for n in range(256):
        image = make_rom(title=bytes([n]))
        if image[0x14D] == 0:
            break
    gb = GameBoy(Cartridge.parse(image))
    assert gb.machine.regs["f"] == 0x80


def test_post_boot_io_registers():
    mem = boot().machine.memory
    expected = {0xFF00: 0xCF, 0xFF01: 0x00, 0xFF02: 0x7E, 0xFF04: 0xAB, 0xFF05: 0x00,
                0xFF06: 0x00, 0xFF07: 0xF8, 0xFF0F: 0xE1, 0xFF10: 0x80, 0xFF26: 0xF1,
                0xFF40: 0x91, 0xFF41: 0x85, 0xFF44: 0x00, 0xFF46: 0xFF, 0xFF47: 0xFC,
                0xFFFF: 0x00}
    assert {a: mem.read(a, 1) for a in expected} == expected


def test_unmapped_io_reads_ff():
    mem = boot().machine.memory
    for address in (0xFF03, 0xFF08, 0xFF4C, 0xFF7F):
        mem.write(address, 1, 0x12)
        assert mem.read(address, 1) == 0xFF


def test_echo_ram_mirrors_wram():
    # LD A,5A; LD (E123),A; LD A,(C123)... stores through both windows, from generated code
    code = [0x3E, 0x5A, 0xEA, 0x23, 0xE1, 0xFA, 0x23, 0xC1, 0xEA, 0x00, 0xC0,
            0x3E, 0xA5, 0xEA, 0x00, 0xDD, 0xFA, 0x00, 0xFD, 0xEA, 0x01, 0xC0, 0x76]
    gb = boot(code)
    gb.run(1_000)
    mem = gb.machine.memory
    assert mem.read_bytes(0xC000, 2) == b"\x5a\xa5"
    mem.write(0xDDFF, 1, 0x77)                 # the last mirrored byte
    assert mem.read(0xFDFF, 1) == 0x77


def test_unusable_area():
    mem = boot().machine.memory
    mem.write(0xFEA0, 1, 0x55)
    assert mem.read(0xFEA0, 1) == 0x00 and mem.read(0xFEFF, 1) == 0x00


def test_oam_dma_copies_160_bytes():
    # fill C100-C1A0 with i, then LD A,C1; LDH (46),A; HALT
    gb = boot([0x3E, 0xC1, 0xE0, 0x46, 0x76])
    mem = gb.machine.memory
    pattern = bytes(range(0xA1))
    mem.write_bytes(0xC100, pattern)
    gb.run(100)
    assert mem.read_bytes(0xFE00, 0xA0) == pattern[:0xA0]
    assert mem.read(0xFEA0, 1) == 0x00         # nothing past OAM
    assert mem.read(0xFF46, 1) == 0xC1


def test_hram_and_wram_are_plain_memory_to_generated_code():
    mem = boot().machine.memory
    page = lambda address: mem.page_table[address >> mem.page_bits]
    assert page(0xFF80) and page(0xC000) and page(0xE000) and page(0x4000)
    assert page(0xFF00) == 0                   # I/O: handlers


def test_illegal_opcode_locks_the_cpu():
    gb = boot([0x00, 0xD3])
    result = gb.run(100)
    assert result.reason == ExitReason.EXCEPTION and result.cause == TRAP_LOCKED
    assert result.pc == 0x101
    assert gb.run(100).pc == 0x101             # stays locked


def _timer_race_rom() -> bytes:
    """Starts the timer one tick before TIMA overflows, then counts INC B in straight-line
    code until the timer interrupt's handler (0050) stores B at C000 and stops."""
    start = [0x3E, 0xFF, 0xE0, 0x05,          # LD A,FF; LDH (TIMA),A
             0x3E, 0x04, 0xEA, 0xFF, 0xFF,    # LD A,04; LD (IE),A: the timer interrupt
             0xAF, 0xE0, 0x0F,                # XOR A; LDH (IF),A
             0x06, 0x00, 0xFB, 0x00,          # LD B,0; EI; NOP
             0x3E, 0x05, 0xE0, 0x07]          # LD A,05; LDH (TAC),A: on, 16 clocks a tick
    code = start + [0x04] * 48 + [0x76]       # INC B x 48; HALT
    handler = [0x78, 0xEA, 0x00, 0xC0, 0xF3, 0x76]   # LD A,B; LD (C000),A; DI; HALT
    image = bytearray(make_rom(bytes(code)))
    image[0x50:0x50 + len(handler)] = bytes(handler)
    return bytes(image)


def test_a_store_starting_the_timer_ends_the_region_so_its_interrupt_is_on_time():
    # TAC=05 makes TIMA overflow within 4 M-cycles of the store (Pan Docs, "Timer and
    # Divider Registers"): the interrupt must come after a few INC B, as on the reference
    # interpreter -- not after the rest of the region the store was in
    counts = {}
    for interpreter in (False, True):
        gb = GameBoy(Cartridge.parse(_timer_race_rom()), render=False, interpreter=interpreter)
        gb.run(2_000)
        counts[interpreter] = gb.machine.memory.read(0xC000, 1)
    assert counts[False] == counts[True]
    assert 0 < counts[True] < 8
