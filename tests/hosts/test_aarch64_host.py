"""The AArch64 host as a host: selection by name and ``$DYNAREC_HOST``, B-immediate link
patches and their reach, instruction-cache sync under Unicorn (a write without it leaves
Unicorn running stale code), and bad memory ending the run with a clear error."""

from __future__ import annotations

import ctypes

import capstone
import pytest

from dynarec.context import ExitReason
from dynarec.errors import CompileError, DynarecError
from dynarec.hosts.aarch64 import AArch64Host
from dynarec.ir import I64, Builder, Module, Region, Slot
from dynarec.machine import Machine
from dynarec.registry import load_host

from harness import Harness, Memory

CS = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)


def test_the_host_is_found_by_name_and_by_environment(monkeypatch):
    assert load_host("aarch64") is AArch64Host
    monkeypatch.setenv("DYNAREC_HOST", "aarch64")
    assert load_host() is AArch64Host
    assert Machine("mips").host.name == "aarch64"
    monkeypatch.delenv("DYNAREC_HOST")
    assert Machine("mips", "aarch64").host.name == "aarch64"


def test_only_base_instructions_are_offered():
    with pytest.raises(ValueError, match="ARMv8.0-A"):
        AArch64Host(features={"lse"})


@pytest.mark.parametrize("site, target", [(0x7F00_0000_1000, 0x7F00_0000_2000),
                                          (0x7F00_0000_2000, 0x7F00_0000_1000),
                                          (0x1000_0000, 0x1000_0000 + (1 << 27) - 4),
                                          (0x1000_0000, 0x1000_0000 - (1 << 27))])
def test_patch_jump_is_a_b_to_the_target(site, target):
    (insn,) = CS.disasm(AArch64Host(executor=object()).patch_jump(site, target), site)
    assert (insn.mnemonic, int(insn.op_str.lstrip("#"), 16), insn.size) == ("b", target, 4)


@pytest.mark.parametrize("target", [0x1000_0000 + (1 << 27), 0x1000_0000 - (1 << 27) - 4,
                                    0x1000_0002])
def test_patch_jump_refuses_what_b_cannot_reach(target):
    with pytest.raises(ValueError):
        AArch64Host(executor=object()).patch_jump(0x1000_0000, target)


def _putter(h: Harness, value: int, pc: int) -> Region:
    region = Region(f"put{value}", pc=pc)
    b = Builder(region, Module(state=h.layout))
    b.insn_start(pc=pc)
    b.put("a", b.iconst(I64, value))
    b.exit(pc=pc + 4)
    return h.compile(region)


def test_every_code_cache_write_must_sync_or_unicorn_runs_stale_code():
    h = Harness(AArch64Host(), [Slot("a", I64)])
    one, two = _putter(h, 1, 0x100), _putter(h, 2, 0x200)
    assert h.run(one) == ExitReason.NEXT and h.state["a"] == 1      # translated now
    original = h.cache.read(one.entry, 4)
    h.cache.write(one.entry, h.host.patch_jump(one.entry, two.entry))
    assert h.run(one) == ExitReason.NEXT and h.state["a"] == 2      # the patch is seen
    h.cache.sync_icache = lambda address, n: None                   # forget to sync
    h.cache.write(one.entry, original)
    assert h.run(one) == ExitReason.NEXT and h.state["a"] == 2      # stale translation
    h.host.sync_icache(one.entry, 4)
    assert h.run(one) == ExitReason.NEXT and h.state["a"] == 1


def test_a_page_table_entry_to_memory_the_process_lacks_is_a_clear_error():
    mem = Memory(addr_bits=32, page_bits=12, ram_pages=(0,))
    h = Harness(AArch64Host(), [Slot("a", I64)], memory=mem)
    bogus = 0x1000_0000_0000                    # 16 TiB: no mapping of this process
    libc = ctypes.CDLL(None)
    assert libc.mincore(ctypes.c_void_p(bogus), 4096, ctypes.create_string_buffer(1)) != 0
    mem.table[1] = bogus
    region = Region("wild", pc=0x10)
    b = Builder(region, Module(state=h.layout))
    b.insn_start(pc=0x10)
    b.put("a", b.load(I64, b.iconst(I64, 0x1008)))
    b.exit(pc=0x14)
    with pytest.raises(DynarecError, match=f"{bogus + 8:#x}"):
        h.run(h.compile(region))


def test_a_cache_beyond_the_reach_of_b_is_refused():
    from dynarec.codecache import CodeCache
    cache = CodeCache(192 << 20)
    with pytest.raises(ValueError, match="reach"):
        AArch64Host().build_dispatcher(cache)
    cache.close()


def test_a_region_for_a_cache_without_its_dispatcher_is_a_compile_error():
    h = Harness(AArch64Host(), [Slot("a", I64)])
    other = AArch64Host()
    region = Region("r", pc=0x10)
    b = Builder(region, Module(state=h.layout))
    b.exit(pc=0x14)
    with pytest.raises(CompileError, match="dispatcher"):
        other.compile(region, h.env(), h.cache)


def test_after_a_flush_new_code_at_an_old_address_is_what_runs():
    """A full cache flushes (the dispatcher stays pinned); the next region lands where an
    earlier one was translated, and runs as written (the commit synced the range)."""
    h = Harness(AArch64Host(), [Slot("a", I64)], cache_size=16384)
    first = _putter(h, 1, 0x100)
    assert h.run(first) == ExitReason.NEXT and h.state["a"] == 1
    value = 2
    while h.cache.flushes == 0:
        code = _putter(h, value, 0x100 + 4 * value)
        assert h.run(code) == ExitReason.NEXT and h.state["a"] == value
        value += 1
    assert code.entry == first.entry            # the flush put it where the first one was
    assert h.run(code) == ExitReason.NEXT and h.state["a"] == value - 1
