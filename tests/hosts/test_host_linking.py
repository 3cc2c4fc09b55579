"""Exits that chain on the x86-64 host (``CompileEnv.link``): exit sites and their patching,
routes and computed exits through the jump cache, the return-stack buffer, the hit counters
(layouts in ``dynarec.context``, protocol in ``dynarec.host``)."""

from __future__ import annotations

import capstone
import pytest

from dynarec import context as C
from dynarec.context import ExitReason
from dynarec.hosts.x86_64 import X86_64Host
from dynarec.ir import I64, Builder, Module, Region, Slot
from dynarec.ir.opcodes import EXIT_KINDS

from harness import HOSTS, Harness, x86_only

SLOTS = [Slot("a", I64, 4)]
KIND = {kind: i for i, kind in enumerate(EXIT_KINDS)}
CS = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)


#: the hosts every test here runs on (the AArch64 one under Unicorn)


@pytest.fixture(params=list(HOSTS))
def h(request):
    return Harness(HOSTS[request.param](), SLOTS, link=True,
                   counters=True)


def region(h, pc, body):
    """Compile a block region at ``pc``: ``body(b)`` emits after ``insn_start`` and must end
    it (an ``exit``)."""
    m = Module(state=h.layout)
    r = m.add(Region(f"r{pc:x}", pc=pc))
    b = Builder(r, m)
    b.insn_start(pc=pc)
    body(b)
    return h.compile(r)


def mark(h, pc, value):
    """A region that writes ``value`` to a[3] and halts (to see that it ran)."""
    def body(b):
        b.put("a[3]", b.iconst(I64, value))
        b.exit(kind="halt", pc=pc + 4)
    return region(h, pc, body)


def inside(code, address):
    return code.entry <= address < code.entry + code.size


def jump_target(h, site):
    """Where the ``jmp rel32`` at ``site`` goes (capstone's decoding)."""
    (insn,) = CS.disasm(h.cache.read(site, 5), site)
    assert insn.mnemonic == "jmp" and insn.size == 5
    return int(insn.op_str, 16)


def test_patch_jump_encodes_jmp_rel32_and_refuses_what_it_cannot_reach():
    host = X86_64Host()
    for site, target in ((0x7F00_0000_1000, 0x7F00_0000_2000),
                         (0x7F00_0000_2000, 0x7F00_0000_1000),
                         (0x1000, 0x1000 + (1 << 31) + 4)):
        (insn,) = CS.disasm(host.patch_jump(site, target), site)
        assert (insn.mnemonic, int(insn.op_str, 16), insn.size) == ("jmp", target, 5)
    with pytest.raises(ValueError, match="rel32"):
        host.patch_jump(0x1000, 0x1000 + (1 << 31) + 5)


def test_a_direct_exit_leaves_with_link_naming_its_site_and_route(h):
    x86_only(h, "decodes the x86-64 jmp rel32 site")
    code = region(h, 0x100, lambda b: b.exit(pc=0xFFFF_FFFF_8000_0400, kind="call"))
    assert h.run(code) == ExitReason.LINK
    hd = h.header
    assert (hd.next_pc, hd.exit_info) == (0xFFFF_FFFF_8000_0400, KIND["call"])
    assert inside(code, hd.exit_site) and inside(code, hd.exit_route)
    assert inside(code, jump_target(h, hd.exit_site))        # the stub, in the region's far code


def test_a_patched_site_jumps_into_the_target_region(h):
    code = region(h, 0x100, lambda b: b.exit(pc=0x200))
    target = mark(h, 0x200, 0x5A)
    h.run(code)
    site = h.header.exit_site
    original = h.cache.read(site, 5)
    h.cache.write(site, h.host.patch_jump(site, target.entry))
    assert h.run(code) == ExitReason.HALT and h.state["a[3]"] == 0x5A
    assert h.header.next_pc == 0x204
    h.state["a[3]"] = 0
    h.cache.write(site, original)                            # unlinked: the stub again
    assert h.run(code) == ExitReason.LINK and h.state["a[3]"] == 0


def test_a_site_routed_to_the_jump_cache_misses_then_hits(h):
    code = region(h, 0x100, lambda b: b.exit(pc=0x200))
    target = mark(h, 0x200, 0x77)
    first = h.run(code)
    site, route = h.header.exit_site, h.header.exit_route
    assert first == ExitReason.LINK and inside(code, site), \
        (first, hex(site), hex(route), hex(h.header.next_pc), hex(code.entry), code.size)
    h.cache.write(site, h.host.patch_jump(site, route))
    assert h.run(code) == ExitReason.MISS
    assert (h.header.next_pc, h.header.exit_info) == (0x200, KIND["jump"])
    h.jump_cache.fill(0x200, target.entry)
    assert h.run(code) == ExitReason.HALT and h.state["a[3]"] == 0x77
    assert h.header.jc_hits == 1


@pytest.mark.parametrize("kind", ["jump", "indirect", "call"])
def test_a_computed_exit_looks_the_whole_pc_up_in_the_jump_cache(h, kind):
    code = region(h, 0x100, lambda b: b.exit(b.get("a[0]"), kind=kind))
    target = mark(h, 0x300, 0x99)
    pc = 0x1_0000_0300                   # shares its entry with 0x300: jump_cache_slot ignores
    assert C.jump_cache_slot(pc) == C.jump_cache_slot(0x300)   # bits 14 and up
    h.state["a[0]"] = pc
    h.jump_cache.fill(0x300, target.entry)
    assert h.run(code) == ExitReason.MISS
    assert (h.header.next_pc, h.header.exit_info, h.header.jc_hits) == (pc, KIND[kind], 0)
    h.state["a[0]"] = 0x300
    assert h.run(code) == ExitReason.HALT and h.state["a[3]"] == 0x99
    assert h.header.jc_hits == 1


def test_an_empty_entry_misses_even_for_the_empty_marker_pc(h):
    code = region(h, 0x100, lambda b: b.exit(b.get("a[0]"), kind="indirect"))
    h.state["a[0]"] = C.EMPTY_PC
    assert h.run(code) == ExitReason.MISS and h.header.next_pc == C.EMPTY_PC


def rsb_entry(h, i):
    return h.header.rsb[2 * i], h.header.rsb[2 * i + 1]


def test_a_call_pushes_its_return_pc_and_a_return_site(h):
    call = region(h, 0x100, lambda b: b.exit(pc=0x300, kind="call", ret_pc=0x108))
    assert h.run(call) == ExitReason.LINK and h.header.next_pc == 0x300
    assert h.header.rsb_top == 16
    pc, site = rsb_entry(h, 1)
    assert pc == 0x108 and inside(call, site) and site != h.header.exit_site
    ret = region(h, 0x300, lambda b: b.exit(b.get("a[0]"), kind="return"))
    h.state["a[0]"] = 0x108
    assert h.run(ret) == ExitReason.LINK                     # at the return site, unlinked
    assert (h.header.next_pc, h.header.exit_site) == (0x108, site)
    assert h.header.exit_info == KIND["return"] and h.header.rsb_top == 0
    assert (h.header.rsb_hits, h.header.rsb_misses) == (1, 0)
    after = mark(h, 0x108, 0x42)                             # link the return site
    h.cache.write(site, h.host.patch_jump(site, after.entry))
    h.run(call)
    assert h.run(ret) == ExitReason.HALT and h.state["a[3]"] == 0x42


def test_a_return_elsewhere_pops_and_falls_back_to_the_jump_cache(h):
    call = region(h, 0x100, lambda b: b.exit(pc=0x300, kind="call", ret_pc=0x108))
    ret = region(h, 0x300, lambda b: b.exit(b.get("a[0]"), kind="return"))
    other = mark(h, 0x500, 0x55)
    h.run(call)
    h.state["a[0]"] = 0x500
    assert h.run(ret) == ExitReason.MISS and h.header.next_pc == 0x500
    assert h.header.rsb_top == 0 and (h.header.rsb_hits, h.header.rsb_misses) == (0, 1)
    h.jump_cache.fill(0x500, other.entry)
    h.run(call)
    assert h.run(ret) == ExitReason.HALT and h.state["a[3]"] == 0x55


def test_the_return_stack_buffer_is_a_ring(h):
    call = region(h, 0x100, lambda b: b.exit(pc=0x300, kind="call", ret_pc=0xFFFF_FFFF_8000_0108))
    for n in range(1, C.RSB_ENTRIES + 2):
        h.run(call)
        assert h.header.rsb_top == 16 * n % C.RSB_BYTES
    assert rsb_entry(h, 0)[0] == rsb_entry(h, 1)[0] == 0xFFFF_FFFF_8000_0108


def test_halt_exits_and_function_region_exits_leave_as_without_links(h):
    code = region(h, 0x100, lambda b: b.exit(kind="halt", pc=0x104))
    assert h.run(code) == ExitReason.HALT and h.header.next_pc == 0x104
    m = Module(state=h.layout)
    fn = m.add(Region("fn", kind="function"))
    b = Builder(fn, m)
    b.exit(pc=0x900, kind="return")
    h.compile(fn)
    r = m.add(Region("caller", pc=0x100))
    b = Builder(r, m)
    b.insn_start(pc=0x100)
    b.call_fn(fn="fn")
    b.exit(pc=0x104)
    assert h.run(h.compile(r)) == ExitReason.NEXT
    assert (h.header.next_pc, h.header.exit_info) == (0x900, KIND["return"])


def test_host_insns_counts_each_exit_site_as_one_instruction(h):
    x86_only(h, "counts x86-64 site bytes")
    def body(b):
        b.exit(pc=0x300, kind="call", ret_pc=0x108)
    code = region(h, 0x100, body)
    listing = list(CS.disasm(h.cache.read(code.entry, code.size), code.entry))
    assert sum(i.size for i in listing) == code.size
    assert code.host_insns == len(listing)
