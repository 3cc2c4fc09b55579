"""Region chaining end to end: block links, the jump cache, the return-stack buffer, the cycle
budget across chains, unlinking and invalidation -- on IR guests, whose counts can be worked
out by hand, and on the MIPS test programs, whose outputs are known (expected/test/*.txt, from
a native build of the same C sources)."""

import subprocess
import sys

import pytest
from mips_programs import PROGRAMS, expected_output, mips_program

from dynarec import ExitReason, IRGuest, Machine

STATE = "state pc:i64 r:i64[8]\n"

# a: r0 += 1, then b; b: back to a while r0 < 1000, else halt. 2 + 3 cycles per round.
TWO_REGION_LOOP = """
region a block pc=0x100 {
block0:
    insn_start pc=0x100 cost=2
    v0:i64 = get slot=r[0]
    v1:i64 = iconst value=1
    v2:i64 = add v0, v1
    put v2 slot=r[0]
    exit kind=jump pc=B
}
region b block pc=B {
block0:
    insn_start pc=B cost=3
    v0:i64 = get slot=r[0]
    v1:i64 = iconst value=1000
    v2:i1 = icmp v0, v1 cond=ult
    brif v2, block1, block2
block1:
    exit kind=jump pc=0x100
block2:
    exit kind=halt pc=0x900
}
"""


class PagedIRGuest(IRGuest):
    """An IR guest whose code translation is not declared fixed: links only within a page."""

    def fixed_code(self, machine, pc):
        return False


def loop_machine(b_pc=0x200, guest=IRGuest, **kw):
    text = STATE + TWO_REGION_LOOP.replace("pc=B", f"pc={b_pc:#x}")
    m = Machine(guest(text), **kw)
    m.pc = 0x100
    return m


def spy_links(m):
    """Record ``(site, bytes before the patch, target entry)`` of every LINK exit acted on."""
    seen = []
    act = m.chain_exit

    def chain_exit(reason, site, route, target):
        if reason == ExitReason.LINK:
            seen.append((site, m.cache.read(site, 5), target.code.entry))
        act(reason, site, route, target)
    m.chain_exit = chain_exit
    return seen


# --- links ------------------------------------------------------------------------------------

def test_a_linked_loop_of_two_regions_enters_generated_code_three_times():
    m = loop_machine()
    res = m.run()
    assert res.reason == ExitReason.HALT and res.pc == 0x900
    assert m.regs["r[0]"] == 1000 and m.cycles == 5000 and m.insns == 2000
    st = m.stats
    # a -> LINK (a->b), b -> LINK (b->a), then a..b..a.. to the halt without Python
    assert (st["entries"], st["exits_link"], st["links_patched"], st["exits_halt"]) == (3, 2, 2, 1)
    assert st["exits_next"] == 0 and len(m.links) == 2


def test_without_linking_every_region_returns_to_the_run_loop():
    m = loop_machine(link=False)
    assert m.run().reason == ExitReason.HALT
    assert m.regs["r[0]"] == 1000 and m.cycles == 5000
    assert m.stats["entries"] == 2000 and m.stats["exits_next"] == 1999
    assert m.stats["exits_link"] == 0 and len(m.links) == 0


def test_a_patched_site_jumps_to_the_target_entry_and_unlink_restores_it():
    m = loop_machine()
    seen = spy_links(m)
    m.run()
    assert len(seen) == 2
    for site, original, target in seen:
        assert original[0] == 0xE9                         # the stub: jmp rel32 into far code
        assert m.cache.read(site, 5) == m.host.patch_jump(site, target)
        assert m.cache.read(site, 5) != original
    # unlink(b): the site into b and the one out of it
    assert m.unlink(m.key(0x200)) == 2
    assert len(m.links) == 0 and m.stats["links_restored"] == 2
    for site, original, _ in seen:
        assert m.cache.read(site, 5) == original
    m.regs["r[0]"] = 0
    m.pc = 0x100
    before = m.stats.as_dict()
    assert m.run().reason == ExitReason.HALT and m.regs["r[0]"] == 1000
    after = m.stats.as_dict()
    assert after["exits_link"] - before["exits_link"] == 2     # each site left with LINK again
    assert after["entries"] - before["entries"] == 3
    assert after["regions_compiled"] == before["regions_compiled"]


def test_invalidate_drops_the_region_and_everything_that_leads_to_it():
    m = loop_machine()
    m.run()
    key = m.key(0x200)
    dropped = m.invalidate(key)
    assert dropped is not None and dropped.key == key
    assert m.blocks.lookup(key) is None and len(m.links) == 0
    assert m.invalidate(key) is None
    m.regs["r[0]"] = 0
    m.pc = 0x100
    compiled = m.stats["regions_compiled"]
    assert m.run().reason == ExitReason.HALT and m.regs["r[0]"] == 1000
    assert m.stats["regions_compiled"] == compiled + 1


def test_regions_on_other_pages_are_reached_through_the_jump_cache():
    m = loop_machine(b_pc=0x2000, guest=PagedIRGuest, stats=True)
    assert m.run().reason == ExitReason.HALT and m.regs["r[0]"] == 1000
    st = m.stats
    assert (st["entries"], st["links_patched"], st["links_routed"]) == (3, 0, 2)
    # a's exit runs 1000 times, b's back edge 999: each first one left with LINK
    assert st["jump_cache_hits"] == 999 + 998


def test_regions_on_one_page_link_even_when_code_is_not_fixed():
    m = loop_machine(b_pc=0x800, guest=PagedIRGuest)
    assert m.run().reason == ExitReason.HALT
    assert (m.stats["links_patched"], m.stats["links_routed"]) == (2, 0)


def test_a_mapping_change_unlinks_the_regions_on_its_pages():
    m = loop_machine()
    m.run()
    m.memory.map_ram(0x8000, 0x1000)              # elsewhere: the links stay
    assert len(m.links) == 2
    m.memory.map_ram(0x0, 0x1000)                 # under the code: unlinked
    assert len(m.links) == 0 and m.stats["links_restored"] == 2
    m.regs["r[0]"] = 0
    m.pc = 0x100
    assert m.run().reason == ExitReason.HALT and m.regs["r[0]"] == 1000
    m.mapping_changed()                           # a TLB or mode change: everything
    assert len(m.links) == 0


def test_a_halt_point_is_reached_through_a_link():
    m = loop_machine()
    m.halt_at(0x200)
    res = m.run()
    assert (res.reason, res.pc, m.regs["r[0]"]) == (ExitReason.HALT, 0x200, 1)
    assert m.stats["links_patched"] == 1                     # a -> the halt region
    m.pc = 0x100
    links, entries = m.stats["exits_link"], m.stats["entries"]
    res = m.run()
    assert (res.reason, res.pc, m.regs["r[0]"]) == (ExitReason.HALT, 0x200, 2)
    assert m.stats["exits_link"] == links and m.stats["entries"] == entries + 1


def test_max_regions_runs_one_region_per_entry_even_after_linking():
    m = loop_machine()
    m.run()
    m.regs["r[0]"] = 0
    m.pc = 0x100
    res = m.run(max_regions=1)
    assert (res.reason, m.pc, m.regs["r[0]"], m.cycles) == (ExitReason.NEXT, 0x200, 1, 5002)
    assert len(m.links) == 0
    res = m.run(max_regions=1)
    assert (m.pc, m.regs["r[0]"], m.cycles) == (0x100, 1, 5005)
    assert m.run().reason == ExitReason.HALT and m.regs["r[0]"] == 1000


def test_regions_without_a_budget_check_at_entry_are_never_chained():
    m = loop_machine(disabled_passes=["cycle_accounting"])
    assert m.run().reason == ExitReason.HALT and m.regs["r[0]"] == 1000
    assert (m.stats["entries"], m.stats["links_patched"], m.stats["links_routed"]) == \
        (2000, 0, 0)


# --- the cycle budget across chains --------------------------------------------------------------

@pytest.mark.parametrize("slice_", [1, 7, 97])
def test_the_budget_stops_a_linked_chain_within_one_region_and_resumes_exactly(slice_):
    m = loop_machine()
    total = 0
    while True:
        res = m.run(cycles=slice_)
        total += res.cycles
        assert total == m.cycles
        if res.reason == ExitReason.HALT:
            break
        assert res.reason == ExitReason.BUDGET
        assert slice_ <= res.cycles < slice_ + 3            # the largest region costs 3
        rounds = m.regs["r[0]"]                             # a ran `rounds` times
        assert m.cycles == (5 * rounds if m.pc == 0x100 else 5 * rounds - 3)
    assert m.regs["r[0]"] == 1000 and m.cycles == 5000 and m.insns == 2000


def test_a_scheduled_event_interrupts_a_linked_chain_on_time():
    m = loop_machine()
    seen = []
    m.schedule(301, lambda mm: seen.append(mm.cycles))
    assert m.run().reason == ExitReason.HALT
    assert len(seen) == 1 and 301 <= seen[0] < 304


# --- the jump cache and the return-stack buffer ------------------------------------------------

COMPUTED = """
region a block pc=0x100 {
block0:
    insn_start pc=0x100 cost=2
    v0:i64 = get slot=r[0]
    v1:i64 = iconst value=1
    v2:i64 = add v0, v1
    put v2 slot=r[0]
    v3:i64 = get slot=r[1]
    exit v3 kind=indirect
}
region b block pc=0x200 {
block0:
    insn_start pc=0x200 cost=3
    v0:i64 = get slot=r[0]
    v1:i64 = iconst value=1000
    v2:i1 = icmp v0, v1 cond=ult
    brif v2, block1, block2
block1:
    exit kind=jump pc=0x100
block2:
    exit kind=halt pc=0x900
}
"""


@pytest.mark.parametrize("counting", [True, False])
def test_computed_exits_hit_the_jump_cache(counting):
    m = Machine(IRGuest(STATE + COMPUTED), stats=counting)
    m.pc, m.regs["r[1]"] = 0x100, 0x200
    assert m.run().reason == ExitReason.HALT and m.regs["r[0]"] == 1000
    st = m.stats
    assert (st["entries"], st["exits_miss"], st["jump_cache_fills"]) == (3, 1, 1)
    assert st["jump_cache_hits"] == (999 if counting else 0)
    assert m.jump_cache.get(0x200) == m.blocks.lookup(m.key(0x200)).code.entry


CALL_RETURN = """
region main block pc=0x100 {
block0:
    insn_start pc=0x100 cost=1
    v0:i64 = iconst value=0x104
    put v0 slot=r[7]
    exit kind=call pc=0x300 ret_pc=RET
}
region back block pc=0x104 {
block0:
    insn_start pc=0x104 cost=1
    v0:i64 = get slot=r[0]
    v1:i64 = iconst value=1
    v2:i64 = add v0, v1
    put v2 slot=r[0]
    v3:i64 = iconst value=100
    v4:i1 = icmp v2, v3 cond=ult
    brif v4, block1, block2
block1:
    exit kind=jump pc=0x100
block2:
    exit kind=halt pc=0x108
}
region f block pc=0x300 {
block0:
    insn_start pc=0x300 cost=1
    v0:i64 = get slot=r[2]
    v1:i64 = iconst value=3
    v2:i64 = add v0, v1
    put v2 slot=r[2]
    v3:i64 = get slot=r[7]
    exit v3 kind=return
}
"""


def test_returns_pop_the_return_stack_buffer():
    m = Machine(IRGuest(STATE + CALL_RETURN.replace("RET", "0x104")), stats=True)
    m.pc = 0x100
    assert m.run().reason == ExitReason.HALT
    assert (m.regs["r[0]"], m.regs["r[2]"]) == (100, 300)
    st = m.stats
    # main -> LINK (call), f -> RSB hit -> the return site, not yet linked -> LINK,
    # back -> LINK (back edge), then the whole loop runs in generated code
    assert (st["entries"], st["exits_link"], st["exits_miss"]) == (4, 3, 0)
    assert (st["rsb_hits"], st["rsb_misses"], st["jump_cache_hits"]) == (100, 0, 0)


def test_a_return_elsewhere_than_the_pushed_pc_falls_back_to_the_jump_cache():
    m = Machine(IRGuest(STATE + CALL_RETURN.replace("RET", "0x1f0")), stats=True)
    m.pc = 0x100
    assert m.run().reason == ExitReason.HALT
    assert (m.regs["r[0]"], m.regs["r[2]"]) == (100, 300)
    st = m.stats
    assert (st["rsb_hits"], st["rsb_misses"]) == (0, 100)
    assert (st["exits_miss"], st["jump_cache_hits"]) == (1, 99)


RECURSION = """
region main block pc=0x100 {
block0:
    insn_start pc=0x100 cost=1
    v0:i64 = iconst value=0x104
    put v0 slot=r[7]
    exit kind=call pc=0x300 ret_pc=0x104
}
region done block pc=0x104 {
block0:
    insn_start pc=0x104 cost=1
    exit kind=halt pc=0x108
}
region f block pc=0x300 {
block0:
    insn_start pc=0x300 cost=1
    v0:i64 = get slot=r[0]
    v1:i64 = iconst value=0
    v2:i1 = icmp v0, v1 cond=eq
    brif v2, block1, block2
block1:
    v3:i64 = get slot=r[7]
    exit v3 kind=return
block2:
    v4:i64 = get slot=r[6]
    v5:i64 = get slot=r[7]
    store v4, v5
    v6:i64 = iconst value=8
    v7:i64 = add v4, v6
    put v7 slot=r[6]
    v8:i64 = iconst value=1
    v9:i64 = sub v0, v8
    put v9 slot=r[0]
    v10:i64 = iconst value=0x304
    put v10 slot=r[7]
    exit kind=call pc=0x300 ret_pc=0x304
}
region after block pc=0x304 {
block0:
    insn_start pc=0x304 cost=1
    v0:i64 = get slot=r[6]
    v1:i64 = iconst value=8
    v2:i64 = sub v0, v1
    put v2 slot=r[6]
    v3:i64 = load v2
    put v3 slot=r[7]
    v4:i64 = get slot=r[1]
    v5:i64 = add v4, v1
    put v5 slot=r[1]
    exit v3 kind=return
}
"""


@pytest.mark.parametrize("depth, hits, misses", [
    (5, 6, 0),
    # 41 calls overflow the 16-entry ring: the 40 returns to 0x304 still find 0x304 entries,
    # the last one (to 0x104) finds its entry overwritten
    (40, 40, 1),
])
def test_deep_recursion_overflows_the_return_stack_buffer_safely(depth, hits, misses):
    results = []
    for link in (True, False):
        m = Machine(IRGuest(STATE + RECURSION), stats=True, link=link)
        m.memory.map_ram(0x10000, 0x1000)
        m.pc, m.regs["r[0]"], m.regs["r[6]"] = 0x100, depth, 0x10000
        res = m.run()
        assert (res.reason, res.pc) == (ExitReason.HALT, 0x108)
        results.append((m.regs.as_dict(), m.cycles, m.insns))
        if link:
            assert (m.stats["rsb_hits"], m.stats["rsb_misses"]) == (hits, misses)
    assert results[0] == results[1]
    assert results[0][0]["r[1]"] == 8 * depth and results[0][2] == 2 * depth + 3


def test_a_flush_drops_links_and_the_jump_cache():
    m = Machine(IRGuest(STATE + COMPUTED))
    m.pc, m.regs["r[1]"] = 0x100, 0x200
    m.run()
    assert len(m.links) == 1 and m.jump_cache.get(0x200) is not None
    m.flush()
    assert len(m.links) == 0 and len(m.blocks) == 0 and m.jump_cache.get(0x200) is None
    assert m.context.rsb_top == 0


def test_snapshot_restore_under_linking_replays_identically():
    m = loop_machine()
    m.run(cycles=1234)
    snap = m.save()
    first = m.run()
    after = (m.regs.as_dict(), m.cycles)
    m.restore(snap)
    second = m.run()
    assert (first.reason, first.cycles) == (second.reason, second.cycles)
    assert (m.regs.as_dict(), m.cycles) == after


WX_LINKED = r"""
from dynarec import IRGuest, Machine
text = '''state pc:i64 r:i64[2]
helper probe() -> ()
region a block pc=0x0 {
block0:
    insn_start pc=0x0
    v0:i64 = get slot=r[0]
    v1:i64 = iconst value=1
    v2:i64 = add v0, v1
    put v2 slot=r[0]
    exit kind=jump pc=0x10
}
region b block pc=0x10 {
block0:
    insn_start pc=0x10
    call helper=probe
    v0:i64 = get slot=r[0]
    v1:i64 = iconst value=5
    v2:i1 = icmp v0, v1 cond=ult
    brif v2, block1, block2
block1:
    exit kind=jump pc=0x0
block2:
    exit kind=halt pc=0x20
}
'''
found = []
def probe():
    with open("/proc/self/maps") as f:
        found.extend(line.strip() for line in f
                     if "w" in line.split()[1] and "x" in line.split()[1])
g = IRGuest(text)
g.bind("probe", probe)
m = Machine(g)
m.run()
assert m.stats["links_patched"] == 2 and m.regs["r[0]"] == 5
print("\n".join(found) + "checked")
"""


def test_no_mapping_is_writable_and_executable_while_linked_code_runs():
    out = subprocess.run([sys.executable, "-c", WX_LINKED], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "checked"


# --- MIPS programs ----------------------------------------------------------------------------

NAMES = sorted(p.stem for p in (PROGRAMS / "build/test-o32").glob("*.elf"))
ALL_PROGRAMS = [(build, name) for build in ("test-o32", "test-n32") for name in NAMES]
QUICK = [("test-o32", "crc32"), ("test-n32", "bitops"), ("test-o32", "qsort")]


@pytest.mark.parametrize("build, name", ALL_PROGRAMS)
def test_mips_programs_print_their_expected_output_when_linked(build, name):
    m, system, _ = mips_program(name, build)
    res = m.run()
    assert res.reason == ExitReason.HALT
    assert system.text() == expected_output(name)
    assert m.regs["gpr[2]"] == 0                                 # main returned 0
    assert m.stats["entries"] < 1000 < m.insns


def _same_with_and_without_links(build, name):
    runs = []
    for link in (True, False):
        m, system, _ = mips_program(name, build, link=link)
        assert m.run().reason == ExitReason.HALT
        runs.append((system.text(), m.regs.as_dict(), m.cycles, m.insns))
    assert runs[0] == runs[1]
    assert runs[0][0] == expected_output(name)


@pytest.mark.parametrize("build, name", QUICK)
def test_mips_programs_end_in_the_same_state_with_and_without_links(build, name):
    _same_with_and_without_links(build, name)


@pytest.mark.full
@pytest.mark.parametrize("build, name", ALL_PROGRAMS)
def test_every_mips_program_ends_in_the_same_state_with_and_without_links(build, name):
    _same_with_and_without_links(build, name)


def test_mips_program_run_in_budget_slices_resumes_exactly():
    whole, whole_system, _ = mips_program("crc32", "test-o32")
    whole.run()
    m, system, _ = mips_program("crc32", "test-o32")
    while True:
        res = m.run(cycles=30_011)
        if res.reason == ExitReason.HALT:
            break
        assert res.reason == ExitReason.BUDGET and res.cycles >= 30_011
    assert system.text() == whole_system.text() == expected_output("crc32")
    assert (m.regs.as_dict(), m.cycles, m.insns) == (whole.regs.as_dict(), whole.cycles,
                                                      whole.insns)


def _mips_with_return_pcs():
    """The MIPS guest with ``ret_pc`` on its call exits (the branch's pc + 8, where JAL, JALR
    and BxxAL return: VR4300 manual chapter 16), for as long as the frontend does not emit
    it itself."""
    from dynarec.guests.mips import MipsGuest

    class Guest(MipsGuest):
        def translate(self, machine, pc, module):
            region = super().translate(machine, pc, module)
            slots = [i.attrs["pc"] for i in region.insts()
                     if i.op == "insn_start" and i.attrs["delay"]]
            for inst in region.insts():
                if inst.op == "exit" and inst.attrs["kind"] == "call" and \
                        inst.attrs.get("ret_pc", -1) == -1:
                    inst.attrs["ret_pc"] = (slots[-1] + 8) & (1 << 64) - 1
            return region
    return Guest()


@pytest.mark.parametrize("name", ["qsort", "recursion"])
def test_mips_calls_and_returns_go_through_the_return_stack_buffer(name):
    m, system, _ = mips_program(name, "test-o32", guest=_mips_with_return_pcs(), stats=True)
    assert m.run().reason == ExitReason.HALT
    assert system.text() == expected_output(name)
    st = m.stats
    assert st["rsb_hits"] > 10_000 and st["rsb_misses"] * 100 < st["rsb_hits"]


# a: r0 += 1 and store it to the device at 0xF000, then b (TWO_REGION_LOOP's b)
STORING_LOOP = TWO_REGION_LOOP.replace("""    put v2 slot=r[0]
    exit kind=jump pc=B""", """    put v2 slot=r[0]
    v3:i32 = iconst value=0xF000
    store v3, v2
    exit kind=jump pc=B""")


@pytest.mark.parametrize("end_entry", [True, False])
def test_a_device_write_can_end_the_entry_so_a_new_event_fires_on_time(end_entry):
    """A device store that starts a timer (an event 1 cycle later) calls ``end_entry``: the
    linked loop leaves at its next budget check, ``run`` returns (BUDGET) so the embedder can
    plan again, and the event fires within one round (5 cycles) of the store; without it the
    loop runs to the end first."""
    m = Machine(IRGuest(STATE + STORING_LOOP.replace("pc=B", "pc=0x200")))
    m.pc = 0x100
    fired, stored_at = [], []

    def device_write(addr, size, value):
        if value == 10:
            stored_at.append(m.cycles)
            m.schedule(1, lambda mm: fired.append(mm.cycles))
            if end_entry:
                m.end_entry()
    m.memory.map_mmio(0xF000, 0x10, write=device_write)
    result = m.run()
    if end_entry:
        assert result.reason == ExitReason.BUDGET and 46 <= result.cycles <= 46 + 5
        result = m.run()
    assert result.reason == ExitReason.HALT
    assert m.regs["r[0]"] == 1000 and m.cycles == 5000 and m.insns == 2000
    assert stored_at == [45]                     # 9 rounds of 5 cycles, then a's store
    if end_entry:
        assert len(fired) == 1 and 46 <= fired[0] <= 46 + 5
        assert m.stats["entries"] < 10           # the loop is still linked
    else:
        assert fired == []                       # the run never came back before HALT
