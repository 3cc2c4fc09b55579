"""Guest memory on the x86-64 host (and the AArch64 one, under Unicorn): the inline
page-table fast path (both byte orders, with and without MOVBE, values spilled or in
registers) and the slow path (page-crossing accesses, addresses past ``addr_bits``, unmapped
pages, handler errors, registers preserved)."""

from __future__ import annotations

import struct

import pytest

from dynarec.context import ExitReason
from dynarec.errors import GuestFault
from dynarec.hosts.aarch64 import AArch64Host
from dynarec.hosts.x86_64 import X86_64Host
from dynarec.ir import F64, I8, I16, I32, I64, Builder, Module, Region, Slot

from harness import Harness, Memory

WIDTHS = (I8, I16, I32, I64)
SLOTS = [Slot("addr", I64), Slot("val", I64), Slot("out", I64, 8), Slot("x", I64, 16),
         Slot("f", F64, 6), Slot("fo", F64, 6)]
HOSTS = {"baseline": lambda: X86_64Host(features=set()), "detected": X86_64Host,
         "detected-spilled": lambda: X86_64Host(spill_all=True),
         "aarch64": AArch64Host, "aarch64-spilled": lambda: AArch64Host(spill_all=True)}


@pytest.fixture(params=[(host, order) for host in HOSTS for order in ("little", "big")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def h(request):
    host, order = request.param
    mem = Memory(addr_bits=32, page_bits=12, ram_pages=(0, 1, 2), big_endian=order == "big")
    return Harness(HOSTS[host](), SLOTS, memory=mem)


def region(h, name="mem", pc=0x100):
    m = Module(state=h.layout)
    r = m.add(Region(name, pc=pc, attrs={"endian": h.memory.order}))
    return r, Builder(r, m)


def load_store_region(h, t, addr_type=I64):
    """out[0] = load t [addr]; store t [addr + 0x100] = val."""
    r, b = region(h, f"ls{t}")
    b.insn_start(pc=0x100)
    addr = b.get("addr")
    if addr_type is not I64:
        addr = b.trunc(addr_type, addr)
    b.put("out[0]", b.zext(I64, b.load(t, addr)) if t is not I64 else b.load(t, addr))
    b.insn_start(pc=0x104, delay=1)
    addr2 = b.add(addr, b.iconst(addr_type, 0x100))
    val = b.get("val")
    b.store(addr2, val if t is I64 else b.trunc(t, val))
    b.exit(pc=0x108)
    return h.compile(r)


@pytest.mark.parametrize("t", WIDTHS, ids=str)
def test_fast_path_round_trip(h, t):
    code = load_store_region(h, t)
    size = t.bytes
    for addr in (0x10, 0x1FF0, 0x2F00 - size, 0xFFF - size + 1):
        value = 0x1122334455667788 & t.mask
        h.memory.write(addr, size, value)
        h.state["addr"], h.state["val"] = addr, 0xF1E2D3C4B5A69788
        assert h.run(code) == ExitReason.NEXT
        assert h.state["out[0]"] == value
        assert h.memory.read(addr + 0x100, size) == 0xF1E2D3C4B5A69788 & t.mask
    assert h.memory.calls == []


@pytest.mark.parametrize("t", WIDTHS[1:], ids=str)
def test_page_crossing_goes_to_the_slow_path(h, t):
    code = load_store_region(h, t)
    size = t.bytes
    addr = 0x1000 - size + 1                 # straddles pages 0 and 1
    h.memory.write(addr, size, 0x8877665544332211 & t.mask)
    h.state["addr"], h.state["val"] = addr, 0x0102030405060708
    assert h.run(code) == ExitReason.NEXT
    assert h.state["out[0]"] == 0x8877665544332211 & t.mask
    assert h.memory.calls == [("load", addr, size)]     # the store at +0x100 fits a page
    assert h.memory.read(addr + 0x100, size) == 0x0102030405060708 & t.mask
    h.memory.calls.clear()
    h.state["addr"] = 0x2000 - 0x100 - size + 1         # the store straddles pages 1 and 2
    assert h.run(code) == ExitReason.NEXT
    assert h.memory.calls == [("store", 0x2000 - size + 1, size, 0x0102030405060708 & t.mask)]
    assert h.memory.read(0x2000 - size + 1, size) == 0x0102030405060708 & t.mask


def test_unmapped_pages_and_wide_addresses_use_the_slow_path(h):
    code = load_store_region(h, I32)
    for addr in (0x5000, 0xFFFF_FF00, 0x1_0000_0010, 0xFFFF_FFFF_FFFF_FE00):
        h.memory.calls.clear()
        h.state["addr"], h.state["val"] = addr, 0xCAFEBABE
        assert h.run(code) == ExitReason.NEXT
        assert h.state["out[0]"] == h.memory.read(addr, 4)
        assert h.memory.calls == [("load", addr, 4),
                                  ("store", (addr + 0x100) % 2 ** 64, 4, 0xCAFEBABE)]


def test_narrow_address_types_need_no_bounds_check(h):
    code = load_store_region(h, I16, addr_type=I16)
    h.memory.write(0xFFF0, 2, 0xBEEF)
    h.state["addr"], h.state["val"] = 0xFFF0, 0x1234
    assert h.run(code) == ExitReason.NEXT
    assert h.state["out[0]"] == 0xBEEF
    assert h.memory.calls == [("load", 0xFFF0, 2)]       # unmapped page 15
    assert h.memory.read(0x00F0, 2) == 0x1234             # wrapped to RAM page 0: fast


def test_slow_path_errors_leave_with_the_pending_exception(h):
    code = load_store_region(h, I32)
    h.memory.fault = GuestFault(0x7000, 4, False)
    h.state["addr"] = 0x7000
    with pytest.raises(GuestFault) as info:
        h.run(code)
    assert info.value is h.memory.fault
    assert h.header.exit_reason == ExitReason.ERROR
    assert (h.header.next_pc, h.header.exit_delay) == (0x100, 0)
    h.state["addr"] = 0x10                              # load fast, store slow (page 7)
    h.memory.fault = KeyError("handler")
    h.memory.ram.pop(1)
    h.memory.table[1] = h.memory.table[h.memory.num_pages + 1] = 0
    h.state["addr"] = 0x1000 - 0x100
    with pytest.raises(KeyError):
        h.run(code)
    assert (h.header.next_pc, h.header.exit_delay) == (0x104, 1)


def test_slow_load_result_is_masked_to_the_access_size(h):
    h.memory.slow_load = lambda addr, size: -2            # -> 0xFE for one byte
    code = load_store_region(h, I8)
    h.state["addr"] = 0x9000
    assert h.run(code) == ExitReason.NEXT
    assert h.state["out[0]"] == 0xFE


def test_registers_survive_the_slow_path(h):
    r, b = region(h, "live")
    b.insn_start(pc=0x100)
    ints = [b.get(f"x[{i}]") for i in range(16)]
    floats = [b.get(f"f[{i}]") for i in range(6)]
    addr = b.get("addr")
    loaded = b.load(I64, addr)
    b.store(b.add(addr, b.iconst(I64, 8)), loaded)
    for i, v in enumerate(ints):
        b.put(f"x[{i}]", b.add(v, b.iconst(I64, 1)))
    for i, v in enumerate(floats):
        b.put(f"fo[{i}]", v)
    b.put("out[0]", loaded)
    b.exit(pc=0x104)
    code = h.compile(r)
    for i in range(16):
        h.state[f"x[{i}]"] = 1000 + i
    for i in range(6):
        h.state[f"f[{i}]"] = struct.unpack("<Q", struct.pack("<d", i / 7))[0]
    for addr in (0x8000, 0x10):                          # slow, then fast
        h.state["addr"] = addr
        h.memory.write(addr, 8, 0x0123456789ABCDEF)
        assert h.run(code) == ExitReason.NEXT
        assert h.state["out[0]"] == 0x0123456789ABCDEF
        assert h.memory.read(addr + 8, 8) == 0x0123456789ABCDEF
    assert [h.state[f"x[{i}]"] for i in range(16)] == [1002 + i for i in range(16)]
    assert [h.state[f"fo[{i}]"] for i in range(6)] == [h.state[f"f[{i}]"] for i in range(6)]


def test_long_region_far_branches(h):
    """Many accesses: the jumps to far code span kilobytes (Keystone picks rel32 forms)."""
    r, b = region(h, "long")
    addr = b.get("addr")
    acc = b.iconst(I64, 0)
    for i in range(150):
        b.insn_start(pc=0x100 + 4 * i)
        a = b.add(addr, b.iconst(I64, 8 * i))
        acc = b.add(acc, b.load(I64, a))
        b.store(a, acc)
    b.put("out[0]", acc)
    b.exit(pc=0x1000)
    code = h.compile(r)
    for base in (0x100, 0x2C00):            # RAM only; then running off RAM into page 3
        model = {}
        for i in range(150):
            h.memory.write(base + 8 * i, 8, i * 0x01010101)
            model[i] = i * 0x01010101
        h.state["addr"] = base
        assert h.run(code) == ExitReason.NEXT
        acc = 0
        for i in range(150):
            acc = (acc + model[i]) % 2 ** 64
            assert h.memory.read(base + 8 * i, 8) == acc
        assert h.state["out[0]"] == acc
    assert any(call[1] >= 0x3000 for call in h.memory.calls)
