"""AddressSpace: mappings, page-table entries, Python-side accesses, faults, byte order."""

import ctypes

import pytest
from hypothesis import given, settings, strategies as st

from dynarec import AddressSpace, GuestFault


def entry(space, addr, write=False):
    page = addr >> space.page_bits
    return space.page_table[page + (space.num_pages if write else 0)]


def test_ram_page_table_points_at_host_memory():
    s = AddressSpace(addr_bits=24, page_bits=12)
    ram = s.map_ram(0x1000, 0x2000)
    assert entry(s, 0x1000) == ram.host_address
    assert entry(s, 0x2000) == ram.host_address + 0x1000
    assert entry(s, 0x2000, write=True) == ram.host_address + 0x1000
    assert entry(s, 0x0) == 0 and entry(s, 0x3000) == 0


def test_rom_reads_inline_and_writes_go_to_the_handler():
    seen = []
    s = AddressSpace(addr_bits=16, page_bits=8)
    rom = s.map_rom(0, bytes(range(256)) * 2, write=lambda a, n, v: seen.append((a, n, v)))
    assert entry(s, 0x100) == rom.host_address + 0x100
    assert entry(s, 0x100, write=True) == 0           # stores take the slow path
    s.write(0x2000 & 0x1FF, 1, 0x05)
    assert seen == [(0x0, 1, 5)]
    assert s.read(0x1FF, 1) == 0xFF


def test_rom_without_handler_faults_on_store():
    s = AddressSpace(addr_bits=16, page_bits=8)
    s.map_rom(0, b"\x01\x02")
    with pytest.raises(GuestFault) as e:
        s.write(0, 1, 9)
    assert e.value.address == 0 and e.value.write and "read-only" in str(e.value)


def test_sub_page_mapping_forces_slow_path_on_both_neighbours():
    s = AddressSpace(addr_bits=16, page_bits=8)
    s.map_ram(0xFF00, 0x80, name="io-left")
    s.map_mmio(0xFF80, 0x10, read=lambda a, n: 0xAB, name="dev")
    assert entry(s, 0xFF00) == 0 and entry(s, 0xFF00, write=True) == 0
    assert s.read(0xFF80, 1) == 0xAB
    s.write(0xFF10, 1, 7)
    assert s.read(0xFF10, 1) == 7


@pytest.mark.parametrize("big", [False, True])
def test_byte_order_is_the_guests(big):
    s = AddressSpace(addr_bits=32, page_bits=12, big_endian=big)
    ram = s.map_ram(0, 0x1000)
    s.write(0x10, 4, 0x11223344)
    raw = bytes(ram.buffer[0x10:0x14])
    assert raw == (b"\x11\x22\x33\x44" if big else b"\x44\x33\x22\x11")
    assert s.read(0x10, 2) == (0x1122 if big else 0x3344)


def test_unmapped_and_out_of_range_accesses_fault_with_the_address():
    s = AddressSpace(addr_bits=16, page_bits=8)
    with pytest.raises(GuestFault, match="0x1234"):
        s.read(0x1234, 2)
    with pytest.raises(GuestFault, match="outside"):
        s.read(0xFFFF, 2)


def test_overlapping_mappings_are_rejected():
    s = AddressSpace(addr_bits=16, page_bits=8)
    s.map_ram(0x100, 0x100, name="a")
    with pytest.raises(ValueError, match="overlaps"):
        s.map_ram(0x180, 0x100, name="b")
    with pytest.raises(ValueError, match="leaves"):
        s.map_ram(0xFF00, 0x200, name="c")


def test_rebase_switches_bank_and_page_identity():
    s = AddressSpace(addr_bits=16, page_bits=8)
    rom = (ctypes.c_char * 0x400)(*([b"\x00"] * 0x200 + [b"\x07"] * 0x200))
    window = s.map_rom(0x4000, b"\x00" * 0x200, name="bank")
    s.rebase(window, rom, 0)
    id0 = s.page_identity(0x4000)
    assert s.read(0x4000, 1) == 0
    s.rebase(window, rom, 0x200)
    assert s.read(0x4000, 1) == 7
    assert entry(s, 0x4000) == ctypes.addressof(rom) + 0x200
    assert s.page_identity(0x4000) != id0


def test_access_straddling_two_mappings():
    s = AddressSpace(addr_bits=16, page_bits=8, big_endian=True)
    s.map_ram(0x0, 0x10, name="a")
    s.map_mmio(0x10, 0x10, read=lambda a, n: 0x5A, write=lambda a, n, v: None)
    s.write(0xE, 2, 0x1234)
    assert s.read(0xF, 2) == 0x345A


@settings(max_examples=60, deadline=None)
@given(addr=st.integers(0, 0x1FF8), size=st.sampled_from([1, 2, 4, 8]),
       value=st.integers(0, 2**64 - 1), big=st.booleans())
def test_write_then_read_round_trips(addr, size, value, big):
    s = AddressSpace(addr_bits=16, page_bits=8, big_endian=big)
    s.map_ram(0, 0x2000)
    s.write(addr, size, value)
    assert s.read(addr, size) == value & ((1 << (8 * size)) - 1)
    want = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "big" if big else "little")
    assert s.read_bytes(addr, size) == want


def test_logging_sends_every_store_to_the_slow_path_and_records_device_reads():
    s = AddressSpace(addr_bits=16, page_bits=8)
    ram = s.map_ram(0, 0x200)
    s.map_mmio(0x300, 0x10, read=lambda a, n: 0x42)
    s.log_accesses()
    assert entry(s, 0x100, write=True) == 0 and entry(s, 0x100) == ram.host_address + 0x100
    s.slow_store(0x10, 2, 0x12345)
    assert s.slow_load(0x300, 1) == 0x42 and s.slow_load(0x10, 2) == 0x2345
    assert s.store_log == [(0x10, 2, 0x2345)] and s.read_log == [(0x300, 1, 0x42)]
    s.log_accesses(False)
    assert entry(s, 0x100, write=True) == ram.host_address + 0x100 and s.store_log is None


def test_ends_region_names_the_registers_whose_stores_end_a_region():
    space = AddressSpace(addr_bits=16, page_bits=8)
    space.map_ram(0x0000, 0x100)
    space.map_mmio(0xFF00, 0x80, read=lambda a, n: 0, write=lambda a, n, v: None,
                   ends_region={0xFF07, 0xFF0F})
    assert space.ends_region(0xFF07, 0xFF08)
    assert not space.ends_region(0xFF06, 0xFF07)
    assert space.ends_region(0xFF00, 0x10000)          # a store that may reach any of them
    assert not space.ends_region(0x0000, 0x100)        # plain RAM
    assert not space.ends_region(0xFF10, 0x10000)


def test_ends_region_outside_the_mapping_is_refused():
    space = AddressSpace(addr_bits=16, page_bits=8)
    with pytest.raises(ValueError, match="0xff80"):
        space.map_mmio(0xFF00, 0x80, write=lambda a, n, v: None, ends_region={0xFF80})
