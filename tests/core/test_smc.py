"""The address space's side of self-modifying code: instruction fetches recorded while a region
is translated, the code bitmap and its granularity, the page table's write entries of code
pages, and which writes reach the code-write listener (and what happens when it raises)."""

import pytest

from dynarec.errors import GuestFault
from dynarec.memory import AddressSpace


def space(granularity=4):
    mem = AddressSpace(32, 12, big_endian=True, code_granularity=granularity)
    mem.map_ram(0, 0x4000)
    calls = []
    mem.on_code_write(lambda start, end, store: calls.append((start, end, store)))
    return mem, calls


@pytest.mark.parametrize("granularity", [0, 3, 0x2000])
def test_granularity_must_be_a_power_of_two_within_a_page(granularity):
    with pytest.raises(ValueError, match="granularity"):
        AddressSpace(32, 12, code_granularity=granularity)


def test_fetches_are_recorded_merged_only_while_translating():
    mem, _ = space()
    mem.write_bytes(0x1000, bytes(range(16)))
    mem.fetch(0x1000, 4)                                  # not recording: nothing kept
    mem.begin_fetch()
    assert mem.fetch(0x1004, 4) == 0x04050607
    mem.fetch(0x1000, 4)
    mem.fetch(0x100C, 2)
    assert mem.end_fetch() == [(0x1000, 0x1008), (0x100C, 0x100E)]
    assert mem.end_fetch() == []
    mem.begin_fetch()
    with pytest.raises(GuestFault):
        mem.fetch(0x8000, 4)
    assert mem.end_fetch() == []


def test_lines_split_a_range_into_bitmap_bits_per_page():
    mem, _ = space(granularity=4)
    assert mem.lines(0x1000, 0x1001) == {1: 0b1}
    assert mem.lines(0x1006, 0x100A) == {1: 0b110}        # bytes 6..9: lines 1 and 2
    assert mem.lines(0x1FFC, 0x2004) == {1: 1 << 1023, 2: 0b1}
    byte_mem = AddressSpace(32, 12, code_granularity=1)
    assert byte_mem.lines(0x10, 0x13) == {0: 0b111 << 0x10}


def test_a_code_page_sends_stores_to_the_slow_path_and_back():
    mem, _ = space()
    write_entry = mem.num_pages + 1
    assert mem.page_table[write_entry] != 0
    mem.set_code(1, 0b1)
    assert mem.page_table[write_entry] == 0
    assert mem.page_table[1] != 0                          # loads stay on the fast path
    mem.set_code(1, 0)
    assert mem.page_table[write_entry] != 0


def test_only_writes_to_marked_lines_reach_the_listener():
    mem, calls = space()
    mem.set_code(1, 0b10)                                  # bytes 0x1004..0x1007
    mem.write(0x1000, 4, 1)                                # data in a code page: no call
    mem.write(0x1008, 2, 1)
    assert calls == []
    mem.write(0x1007, 1, 0xAA)
    mem.write_bytes(0x1002, b"\x01\x02\x03")
    mem.slow_store(0x1006, 2, 0xBEEF)
    assert calls == [(0x1007, 0x1008, False), (0x1002, 0x1005, False),
                     (0x1006, 0x1008, True)]
    assert mem.read(0x1004, 4) == 0x0300BEEF               # the writes were made


def test_a_listener_that_raises_stops_the_write():
    mem, _ = space()
    mem.write_bytes(0x1004, b"\x11\x22\x33\x44")
    mem.set_code(1, 0b10)

    def refuse(start, end, store):
        raise RuntimeError("no")

    mem.on_code_write(refuse)
    mem.log_accesses(True)
    with pytest.raises(RuntimeError):
        mem.slow_store(0x1004, 4, 0)
    assert mem.read(0x1004, 4) == 0x11223344
    assert mem.store_log == []                             # a store not made is not logged


def test_writes_to_handlers_never_count_as_code_writes():
    mem, calls = space()
    seen = []
    mem.map_rom(0x8000, b"\x00" * 0x1000, write=lambda a, s, v: seen.append((a, v)))
    mem.set_code(8, 0b1)                                   # code translated from the ROM
    mem.write(0x8000, 1, 5)                                # a bank-switch write
    assert seen == [(0x8000, 5)] and calls == []
    mem.write_bytes(0x8000, b"\x01")                       # DMA into the ROM bytes does
    assert calls == [(0x8000, 0x8001, False)]
