"""Idle-loop skipping (``dynarec_gameboy.idle``): the loops it recognises, and whole runs that
end in exactly the same state and M-cycle count with skipping on and off.

Costs are the gbdev optables' (LDH A,(a8) 3, LD A,(a16) 4, CP/AND n8 2, BIT b,A 2, JR cc taken
3); flag results are Pan Docs "CPU Instruction Set"."""

import pytest
from gb_romlib import make_rom

from dynarec.guests.sm83 import TRAP_LOCKED
from dynarec.runtime import ExitReason
from dynarec_gameboy import Cartridge, GameBoy
from dynarec_gameboy.idle import match_loop

LY_WAIT = bytes([0xF0, 0x44, 0xFE, 0x90, 0x20, 0xFA])          # LDH A,(44); CP 90; JR NZ,-6
STAT_WAIT = bytes([0xF0, 0x41, 0xE6, 0x03, 0x20, 0xFA])        # LDH A,(41); AND 3; JR NZ,-6
IF_WAIT = bytes([0xFA, 0x0F, 0xFF, 0xCB, 0x47, 0x28, 0xF9])    # LD A,(FF0F); BIT 0,A; JR Z,-7
SC_WAIT = bytes([0xF0, 0x02, 0x07, 0x38, 0xFB])                # LDH A,(02); RLCA; JR C,-5
#: LD A,55; LDH (01),A; LD A,81; LDH (02),A: send a byte with the internal clock
SEND = bytes([0x3E, 0x55, 0xE0, 0x01, 0x3E, 0x81, 0xE0, 0x02])


@pytest.mark.parametrize("code, register, cost", [
    (LY_WAIT, 0xFF44, 3 + 2 + 3),
    (STAT_WAIT, 0xFF41, 3 + 2 + 3),
    (IF_WAIT, 0xFF0F, 4 + 2 + 3),
    (SC_WAIT, 0xFF02, 3 + 1 + 3),
    (bytes([0xF0, 0x02, 0x0F, 0x0F, 0x30, 0xFA]), 0xFF02, 3 + 1 + 1 + 3),  # RRCA x2; JR NC
    (bytes([0xF0, 0x44, 0xB8, 0x20, 0xFB]), 0xFF44, 3 + 1 + 3),  # CP B; JR NZ,-5
    (bytes([0xF0, 0x41, 0xE6, 0x03, 0xFE, 0x01, 0xC2, 0x00, 0x02]), 0xFF41,
     3 + 2 + 2 + 4),                                              # AND 3; CP 1; JP NZ,0200
])
def test_polling_loops_are_recognised(code, register, cost):
    loop = match_loop(code, 0x200)
    assert loop is not None
    assert (loop.head, loop.register, loop.cost) == (0x200, register, cost)


@pytest.mark.parametrize("code", [
    bytes([0xF0, 0x04, 0xFE, 0x90, 0x20, 0xFA]),         # polls DIV, not LY/STAT/IF
    bytes([0xF0, 0x44, 0xE0, 0x80, 0x20, 0xFA]),         # stores to HRAM in the body
    bytes([0xF0, 0x44, 0xFE, 0x90, 0x20, 0xF0]),         # branches somewhere else
    bytes([0xF0, 0x44, 0xCB, 0x47, 0x38, 0xFA]),         # JR C on a flag BIT leaves alone
    bytes([0xF0, 0x44, 0x04, 0xFE, 0x90, 0x20, 0xF9]),   # INC B: the loop writes B
    bytes([0xF0, 0x44, 0xFE]),                           # truncated
    bytes([0xF0, 0x02, 0x17, 0x38, 0xFB]),               # RLA reads the carry it wrote
])
def test_other_loops_are_not(code):
    assert match_loop(code, 0x200) is None


def test_rotations_follow_the_flag_semantics():
    # RLCA: bit 7 into C and bit 0; Z, N and H cleared even for a zero result
    loop = match_loop(SC_WAIT, 0x200)
    assert loop.iterate(0x81, 0xF0, {}) == (0x03, 0x10, True)
    assert loop.iterate(0x00, 0xF0, {}) == (0x00, 0x00, False)


def test_iteration_follows_the_flag_semantics():
    loop = match_loop(LY_WAIT, 0x200)
    # CP 90 with A = 90: Z and N set, H and C clear; the loop exits (JR NZ not taken)
    assert loop.iterate(0x90, 0x00, {}) == (0x90, 0xC0, False)
    # A = 10 < 90: N and C set, not Z; the loop branches back
    assert loop.iterate(0x10, 0x00, {}) == (0x10, 0x50, True)


def program(*loops) -> bytes:
    """A cartridge running ``LD B,6`` then ``loops`` (each followed by ``INC C``) six times
    (``DEC B; JR NZ``), then the illegal opcode DB, which locks the CPU."""
    body = b"".join(loop + b"\x0C" for loop in loops)
    code = bytearray(b"\x06\x06" + body + b"\x05\x20")
    code.append(-(len(body) + 3) & 0xFF)                 # JR NZ back to the first loop
    code += b"\xDB"
    image = bytearray(make_rom(b"\x00\xC3\x50\x01"))     # NOP; JP 0150 (past the header)
    image[0x150:0x150 + len(code)] = code
    return bytes(image)


def run_counting_reads(image, idle_skip):
    """Run ``image`` to its lock-up; returns the GameBoy and how often LY, STAT and IF were
    read by the CPU."""
    gb = GameBoy(Cartridge.parse(image), render=False, idle_skip=idle_skip)
    reads = {0xFF44: 0, 0xFF41: 0, 0xFF0F: 0, 0xFF02: 0}
    for address in reads:
        read, write = gb.io_handlers[address]

        def counted(now, read=read, address=address):
            reads[address] += 1
            return read(now)
        gb.attach_io(address, counted, write)
    result = gb.run(200_000)
    assert (result.reason, result.cause) == (ExitReason.EXCEPTION, TRAP_LOCKED)
    return gb, reads


STATE = ("a", "f", "b", "c", "d", "e", "h", "l", "sp", "pc", "ime")

#: XOR A; LDH (0F),A: clear IF, so the IF loop waits for the next VBlank
CLEAR_IF = bytes([0xAF, 0xE0, 0x0F])


@pytest.mark.parametrize("loops, register", [
    ((LY_WAIT, bytes([0xF0, 0x44, 0xFE, 0x10, 0x20, 0xFA])), 0xFF44),   # LY = 90, LY = 10
    ((bytes([0xF0, 0x41, 0xE6, 0x03, 0xFE, 0x01, 0x20, 0xF8]), STAT_WAIT), 0xFF41),  # mode 1, 0
    ((CLEAR_IF + IF_WAIT,), 0xFF0F),
    ((SEND + SC_WAIT,), 0xFF02),
])
def test_skipping_gives_the_same_state_and_cycle_count(loops, register):
    plain, plain_reads = run_counting_reads(program(*loops), idle_skip=False)
    fast, fast_reads = run_counting_reads(program(*loops), idle_skip=True)
    # exact, not within an iteration: only iterations that read the same value as the
    # spinning CPU would and end before the next device event are skipped
    assert fast.machine.cycles == plain.machine.cycles
    assert {r: fast.machine.regs[r] for r in STATE} == {r: plain.machine.regs[r] for r in STATE}
    assert fast.machine.regs["c"] == (0x13 + 6 * len(loops)) & 0xFF
    assert fast.interrupt_flags.read() == plain.interrupt_flags.read()
    assert fast.ppu.frames == plain.ppu.frames
    assert fast.machine.stats["idle_loops_skipped"] > 0
    # far less spinning. Not 1/6: a loop is only found when a device event returns to the
    # run loop with the CPU inside it, so its first visit (and, in the LY case, the whole of
    # the short LY = 10 wait, which never spans an event) still runs every iteration.
    assert fast_reads[register] * 3 < plain_reads[register]
