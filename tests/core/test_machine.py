"""The Machine end to end on IR guests: run loop, budget, scheduler, MMIO, faults, snapshots."""

import os
import pathlib
import subprocess
import sys

import pytest

from dynarec import (ExitReason, FAULT, GuestFault, IRGuest, Machine, RegistryError,
                     VerifyError)

ROOT = pathlib.Path(__file__).resolve().parents[2]

STATE = "state pc:i64 r:i64[8]\n"


def machine(text, big_endian=False, **kw):
    return Machine(IRGuest(STATE + text, big_endian=big_endian), **kw)


def collatz_expected(limit):
    tot = best = bn = 0
    for n in range(1, limit + 1):
        x, s = n, 0
        while x != 1:
            x = 3 * x + 1 if x & 1 else x >> 1
            s += 1
        tot += s
        if s > best:
            best, bn = s, n
    return [tot, bn, best]


def test_collatz_example_prints_what_python_computes():
    text = (ROOT / "examples/ir/collatz.ir").read_text()
    g = IRGuest(text)
    out = []
    g.bind("print_i64", out.append)
    m = Machine(g)
    res = m.run()
    assert res.reason == ExitReason.HALT
    assert out == collatz_expected(100000)
    assert m.stats["regions_compiled"] == 3


COUNTER = """
region count block pc=0x100 {
block0:
    br block1
block1:
    insn_start pc=0x100 cost=3
    v0:i64 = get slot=r[0]
    v1:i64 = iconst value=1
    v2:i64 = add v0, v1
    put v2 slot=r[0]
    v3:i64 = iconst value=1000
    v4:i1 = icmp v2, v3 cond=ult
    brif v4, block1, block2
block2:
    exit kind=halt pc=0x104
}
"""


def test_run_with_a_cycle_budget_stops_near_n_and_resumes_exactly():
    m = machine(COUNTER)
    m.pc = 0x100
    total = 0
    for _ in range(5):
        res = m.run(cycles=100)
        assert res.reason == ExitReason.BUDGET
        assert 100 <= res.cycles < 100 + 3          # within one loop iteration of N
        total += res.cycles
        assert m.regs["r[0]"] * 3 == total          # state agrees with the time
    res = m.run()
    assert res.reason == ExitReason.HALT and m.regs["r[0]"] == 1000
    assert m.cycles == 3000


def test_scheduler_event_fires_on_time():
    m = machine(COUNTER)
    m.pc = 0x100
    seen = []
    m.schedule(300, lambda mm: seen.append((mm.cycles, mm.regs["r[0]"])))
    assert m.run().reason == ExitReason.HALT
    assert len(seen) == 1 and 300 <= seen[0][0] < 303 and seen[0][1] * 3 == seen[0][0]


MMIO = """
region main block pc=0x0 {
block0:
    insn_start pc=0x0
    v0:i64 = iconst value=0x1234
    put v0 slot=r[1]
    insn_start pc=0x4
    v1:i64 = iconst value=0xf000
    v2:i32 = load v1
    v3:i64 = zext v2
    put v3 slot=r[2]
    insn_start pc=0x8
    v4:i64 = iconst value=0x10
    v5:i32 = trunc v3
    store v4, v5
    exit kind=halt pc=0xc
}
"""


def test_mmio_handler_runs_synchronously_with_exact_state():
    m = machine(MMIO)
    ram = m.memory.map_ram(0, 0x1000)
    seen = []

    def dev_read(addr, size):
        seen.append((addr, size, m.regs["r[1]"], m.context.next_pc))
        return 0xCAFEBABE

    m.memory.map_mmio(0xF000, 0x100, read=dev_read)
    assert m.run().reason == ExitReason.HALT
    assert seen == [(0xF000, 4, 0x1234, 0x4)]
    assert m.regs["r[2]"] == 0xCAFEBABE
    assert bytes(ram.buffer[0x10:0x14]) == (0xCAFEBABE).to_bytes(4, "little")


def test_exception_in_mmio_handler_surfaces_unchanged_with_precise_state():
    m = machine(MMIO)
    m.memory.map_ram(0, 0x1000)

    class DeviceBroke(Exception):
        pass

    err = DeviceBroke("bus error")

    def dev_read(addr, size):
        raise err

    m.memory.map_mmio(0xF000, 0x100, read=dev_read)
    with pytest.raises(DeviceBroke) as e:
        m.run()
    assert e.value is err
    assert m.pc == 0x4 and m.regs["r[1]"] == 0x1234 and m.regs["r[2]"] == 0
    m.pc = 0                     # an IR guest has code only at region starts: start over
    res = m.run(errors="return")
    assert res.reason == ExitReason.ERROR and res.error is err and res.pc == 0x4


def test_unmapped_access_is_a_guest_exception_at_the_instruction():
    m = machine(MMIO)
    m.memory.map_ram(0, 0x1000)
    res = m.run()
    assert res.reason == ExitReason.EXCEPTION and res.cause == FAULT
    assert res.pc == 0x4 and isinstance(res.fault, GuestFault)
    assert res.fault.address == 0xF000 and not res.fault.write
    assert m.regs["r[1]"] == 0x1234


def test_jump_to_unmapped_code_is_a_guest_exception():
    m = machine(MMIO)
    m.pc = 0x5000
    res = m.run()
    assert res.reason == ExitReason.EXCEPTION and res.pc == 0x5000


ENDIAN = """
region main block pc=0x0 {
block0:
    insn_start pc=0x0
    v0:i64 = iconst value=0x8
    v1:i32 = iconst value=0x11223344
    store v0, v1
    v2:i16 = load v0
    v3:i64 = zext v2
    put v3 slot=r[0]
    exit kind=halt pc=0x4
}
"""


@pytest.mark.parametrize("big", [False, True])
def test_generated_code_keeps_guest_byte_order(big):
    m = machine(ENDIAN, big_endian=big)
    ram = m.memory.map_ram(0, 0x1000)
    assert m.run().reason == ExitReason.HALT
    assert bytes(ram.buffer[8:12]) == (b"\x11\x22\x33\x44" if big else b"\x44\x33\x22\x11")
    assert m.regs["r[0]"] == (0x1122 if big else 0x3344)


def test_rom_store_goes_to_the_write_handler():
    m = machine(ENDIAN.replace("0x8", "0x2008"))
    m.memory.map_ram(0, 0x1000)
    writes = []
    m.memory.map_rom(0x2000, bytes(16), write=lambda a, n, v: writes.append((a, n, v)))
    assert m.run().reason == ExitReason.HALT
    assert writes == [(0x2008, 4, 0x11223344)]
    assert m.regs["r[0]"] == 0


def test_snapshot_restore_replays_identically():
    m = machine(COUNTER)
    m.pc = 0x100
    m.run(cycles=300)
    snap = m.save()
    first = m.run()
    after = (m.regs.as_dict(), m.cycles)
    m.restore(snap)
    assert m.regs["r[0]"] * 3 == m.cycles
    second = m.run()
    assert (first.reason, first.cycles) == (second.reason, second.cycles)
    assert (m.regs.as_dict(), m.cycles) == after


def test_two_machines_side_by_side():
    a, b = machine(COUNTER), machine(COUNTER)
    a.pc = b.pc = 0x100
    a.run(cycles=30)
    b.run()
    assert a.regs["r[0]"] == 10 and b.regs["r[0]"] == 1000


def test_malformed_ir_is_rejected_clearly():
    bad = STATE + """
region main block pc=0x0 {
block0:
    v0:i32 = iconst value=1
    v1:i64 = iconst value=2
    v2:i64 = add v0, v1
    exit kind=halt pc=0x4
}
"""
    m = Machine(IRGuest(bad))
    with pytest.raises(VerifyError, match="add"):
        m.run()


def test_unknown_guest_or_host_is_a_registry_error():
    with pytest.raises(RegistryError, match="unknown guest"):
        Machine("no-such-guest")
    with pytest.raises(RegistryError, match="unknown host"):
        Machine(IRGuest(STATE + COUNTER), host="pdp11")


WX_CHECK = r"""
import sys
from dynarec import IRGuest, Machine
text = '''state pc:i64 r:i64[2]
helper probe() -> ()
region main block pc=0x0 {
block0:
    insn_start pc=0x0
    call helper=probe
    exit kind=halt pc=0x4
}
'''
assert "unicorn" not in sys.modules
found = []
def probe():
    with open("/proc/self/maps") as f:
        for line in f:
            perms = line.split()[1]
            if "w" in perms and "x" in perms:
                found.append(line.strip())
    found.append("checked")
g = IRGuest(text)
g.bind("probe", probe)
m = Machine(g)
m.run()
print("\n".join(found))
"""


def test_no_mapping_is_writable_and_executable_while_generated_code_runs():
    out = subprocess.run([sys.executable, "-c", WX_CHECK], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "checked"
