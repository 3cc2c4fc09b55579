"""Hand-written SM83 facts the single-instruction suite cannot show, each with its source,
checked on the reference interpreter: EI's delay, DI and RETI, interrupt dispatch (cost,
vectors, priority, the IE push), HALT and its bug, STOP, the illegal opcodes, DAA and the
half-carry rules. Expected values come from the sources, never from our own output.

Programs run from 0x0100 on a flat 64 KiB bus, where IE (FFFF) and IF (FF0F) are plain bytes:
a test requests an interrupt by writing IF, as a peripheral would."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynarec.guests.sm83.arch import (FLAG_C, FLAG_H, FLAG_N, FLAG_Z, IE_ADDRESS, IF_ADDRESS,
                                       RunMode)
from dynarec.guests.sm83.decoder import ILLEGAL
from dynarec.guests.sm83.interpreter import FlatBus, new_state, step

START = 0x0100
STACK = 0xD000
VBLANK, STAT, TIMER, SERIAL, JOYPAD = (1 << bit for bit in range(5))


def machine(code: bytes, ie=0, if_=0, **regs):
    """(state, bus) with ``code`` at START, SP = STACK, IE/IF and registers as given."""
    bus = FlatBus()
    bus.memory[START:START + len(code)] = code
    bus.memory[IE_ADDRESS], bus.memory[IF_ADDRESS] = ie, if_
    return new_state(**{"pc": START, "sp": STACK, **regs}), bus


def stacked(bus, sp) -> int:
    """The 16-bit return address stored at ``sp``."""
    return bus.memory[sp + 1] << 8 | bus.memory[sp]


# --- EI, DI, RETI: Pan Docs "Interrupts"; mooneye-test-suite acceptance/ei_timing.s ----------

def test_ei_enables_interrupts_after_the_next_instruction():
    state, bus = machine(bytes([0xFB, 0x00, 0x00]), ie=VBLANK, if_=VBLANK)   # EI NOP NOP
    assert step(state, bus).row.mnemonic == "EI" and state["ime"] == 0
    first = step(state, bus)                   # the NOP after EI runs before any dispatch
    assert first.row.mnemonic == "NOP" and first.interrupt is None and state["ime"] == 1
    dispatch = step(state, bus)
    assert dispatch.interrupt == 0x40 and stacked(bus, state["sp"]) == START + 2


def test_ei_followed_by_di_lets_no_interrupt_through():
    state, bus = machine(bytes([0xFB, 0xF3, 0x00, 0x00]), ie=VBLANK, if_=VBLANK)
    results = [step(state, bus) for _ in range(4)]
    assert [r.interrupt for r in results] == [None] * 4 and state["ime"] == 0
    assert state["pc"] == START + 4


def test_di_disables_at_once():
    state, bus = machine(bytes([0xF3, 0x00]), ie=TIMER, ime=1)
    step(state, bus)
    bus.memory[IF_ADDRESS] = TIMER
    assert step(state, bus).row.mnemonic == "NOP" and bus.memory[IF_ADDRESS] == TIMER


def test_reti_enables_at_once():
    state, bus = machine(bytes([0xD9]), ie=SERIAL, if_=SERIAL, sp=STACK - 2)
    bus.memory[STACK - 2:STACK] = bytes([0x34, 0x12])                      # return to 0x1234
    reti = step(state, bus)
    assert reti.cycles == 4 and state["pc"] == 0x1234 and state["ime"] == 1
    assert step(state, bus).interrupt == 0x58


# --- dispatch: Pan Docs "Interrupt Handling" (5 M-cycles, vectors, priority) -----------------

@pytest.mark.parametrize("bit, vector", [(0, 0x40), (1, 0x48), (2, 0x50), (3, 0x58), (4, 0x60)])
def test_dispatch_takes_the_highest_priority_source(bit, vector):
    requested = 0x1F & ~((1 << bit) - 1)       # this source and every lower-priority one
    state, bus = machine(bytes([0x00]), ie=0x1F, if_=requested, ime=1)
    trace = []
    result = step(state, bus, trace)
    assert (result.interrupt, result.cycles, state["pc"]) == (vector, 5, vector)
    assert state["ime"] == 0 and bus.memory[IF_ADDRESS] == requested & ~(1 << bit)
    assert state["sp"] == STACK - 2 and stacked(bus, STACK - 2) == START
    assert [kind for _, _, kind in trace] == ["---", "---", "-wm", "-wm", "---"]
    assert [(a, d) for a, d, kind in trace if kind == "-wm"] == [(STACK - 1, 0x01),
                                                                  (STACK - 2, 0x00)]


def test_no_dispatch_without_ime_or_without_ie():
    for ime, ie in ((0, 0x1F), (1, 0)):
        state, bus = machine(bytes([0x00]), ie=ie, if_=0x1F, ime=ime)
        assert step(state, bus).row.mnemonic == "NOP"


# mooneye-test-suite acceptance/interrupts/ie_push.s (verified on DMG): the source is chosen
# after PC's high byte is pushed, so a push into IE (SP = 0000) can cancel the dispatch.

def test_ie_written_by_the_high_byte_push_cancels_the_dispatch():
    state, bus = machine(b"", ie=TIMER, if_=TIMER, ime=1, sp=0x0000, pc=0x0200)
    result = step(state, bus)
    assert result.interrupt == 0x0000 and state["pc"] == 0x0000
    assert bus.memory[IE_ADDRESS] == 0x02 and bus.memory[IF_ADDRESS] == TIMER
    assert state["ime"] == 0 and result.cycles == 5


def test_ie_written_by_the_low_byte_push_is_too_late_to_cancel():
    state, bus = machine(b"", ie=SERIAL, if_=SERIAL, ime=1, sp=0x0001, pc=0x1235)
    result = step(state, bus)
    assert result.interrupt == 0x58 and bus.memory[IF_ADDRESS] == 0
    assert bus.memory[IE_ADDRESS] == 0x35


def test_the_high_byte_push_can_redirect_to_another_source():
    state, bus = machine(b"", ie=VBLANK | STAT, if_=VBLANK | STAT, ime=1, sp=0x0000,
                         pc=0x0200)
    assert step(state, bus).interrupt == 0x48 and bus.memory[IF_ADDRESS] == VBLANK


# --- HALT: Pan Docs "halt"; TCAGBD "Interrupt Handling" (+1 M-cycle out of HALT) ------------

def test_halt_idles_until_an_interrupt_is_pending_then_continues_without_ime():
    state, bus = machine(bytes([0x76, 0x3C]), ie=TIMER)                     # HALT; INC A
    assert step(state, bus).cycles == 1 and state["run_mode"] == RunMode.HALTED
    for _ in range(3):
        idle = step(state, bus)
        assert (idle.cycles, idle.row, state["pc"]) == (1, None, START + 1)
    bus.memory[IF_ADDRESS] = TIMER
    assert step(state, bus).cycles == 1 and state["run_mode"] == RunMode.RUNNING
    assert step(state, bus).row.mnemonic == "INC A" and state["a"] == 1
    assert bus.memory[IF_ADDRESS] == TIMER                                  # not serviced


def test_an_interrupt_wakes_halt_into_its_handler_one_m_cycle_late():
    state, bus = machine(bytes([0x76, 0x00]), ie=VBLANK, ime=1)
    step(state, bus)
    bus.memory[IF_ADDRESS] = VBLANK
    wake, dispatch = step(state, bus), step(state, bus)
    assert wake.cycles + dispatch.cycles == 5 + 1 and dispatch.interrupt == 0x40
    assert stacked(bus, state["sp"]) == START + 1


def test_halt_bug_reads_the_next_byte_twice():
    state, bus = machine(bytes([0x76, 0x3C, 0x00]), ie=TIMER, if_=TIMER)   # HALT; INC A
    step(state, bus)
    assert state["run_mode"] == RunMode.RUNNING and state["pc"] == START + 1
    step(state, bus)
    assert state["pc"] == START + 1 and state["a"] == 1
    step(state, bus)
    assert state["pc"] == START + 2 and state["a"] == 2


def test_halt_bug_makes_the_opcode_its_own_operand():
    state, bus = machine(bytes([0x76, 0x3E, 0x14]), ie=TIMER, if_=TIMER)   # HALT; LD A,0x14
    for _ in range(3):
        step(state, bus)
    assert state["a"] == 0x3E and state["d"] == 1                  # LD A,0x3E then INC D
    assert state["pc"] == START + 3


def test_halt_bug_after_ei_returns_to_the_halt():
    state, bus = machine(bytes([0xFB, 0x76, 0x00]), ie=TIMER, if_=TIMER)   # EI; HALT
    step(state, bus)
    step(state, bus)
    assert step(state, bus).interrupt == 0x50 and stacked(bus, state["sp"]) == START + 1


def test_halt_bug_before_rst_returns_to_the_rst():
    state, bus = machine(bytes([0x76, 0xFF]), ie=TIMER, if_=TIMER)         # HALT; RST 38H
    step(state, bus)
    step(state, bus)
    assert state["pc"] == 0x38 and stacked(bus, state["sp"]) == START + 1


# --- STOP: Pan Docs "CPU Instruction Set" (two bytes), "Using the STOP Instruction" --------

def test_stop_skips_its_second_byte_and_waits_for_the_embedder():
    state, bus = machine(bytes([0x10, 0x00, 0x3C]), ie=0x1F, if_=0x1F)
    assert step(state, bus).cycles == 1 and state["pc"] == START + 2
    state["ime"] = 1
    for _ in range(3):
        assert step(state, bus).interrupt is None and state["run_mode"] == RunMode.STOPPED
    state["ime"] = 0
    state["run_mode"] = RunMode.RUNNING                    # a joypad line went low
    assert step(state, bus).row.mnemonic == "INC A"


# --- illegal opcodes: Pan Docs "CPU Instruction Set" (hard-lock until power-off) -----------

@pytest.mark.parametrize("opcode", ILLEGAL, ids=[f"{op:02x}" for op in ILLEGAL])
def test_illegal_opcode_locks_the_cpu(opcode):
    state, bus = machine(bytes([opcode]), ie=0x1F)
    before = bytes(bus.memory)
    result = step(state, bus)
    assert (result.locked, result.cycles, state["pc"]) == (START, 1, START)
    assert state["run_mode"] == RunMode.LOCKED
    bus.memory[IF_ADDRESS] = 0x1F
    state["ime"] = 1
    for _ in range(3):
        again = step(state, bus)
        assert (again.locked, again.interrupt, again.cycles) == (START, None, 1)
    assert state["pc"] == START and state["sp"] == STACK
    assert bytes(bus.memory) == before[:IF_ADDRESS] + b"\x1f" + before[IF_ADDRESS + 1:]


# --- DAA: Pan Docs "CPU Instruction Set"/gbz80(7): after a BCD ADD/ADC/SUB/SBC, A holds the
# --- decimal result's BCD digits and C the decimal carry or borrow ------------------------

def bcd(n: int) -> int:
    return n // 10 << 4 | n % 10


ALU_OPCODES = {"ADD": 0x80, "ADC": 0x88, "SUB": 0x90, "SBC": 0x98}       # op A,B


@settings(max_examples=300)
@given(x=st.integers(0, 99), y=st.integers(0, 99), carry=st.booleans(),
       op=st.sampled_from(sorted(ALU_OPCODES)))
def test_daa_after_bcd_arithmetic_gives_the_decimal_result(x, y, carry, op):
    state, bus = machine(bytes([ALU_OPCODES[op], 0x27]), a=bcd(x), b=bcd(y),
                         f=FLAG_C if carry else 0)
    step(state, bus)
    step(state, bus)
    carry_in = int(carry) if op in ("ADC", "SBC") else 0
    subtract = op in ("SUB", "SBC")
    exact = x - y - carry_in if subtract else x + y + carry_in
    digits = exact % 100
    assert state["a"] == bcd(digits)
    assert bool(state["f"] & FLAG_C) == (exact < 0 if subtract else exact >= 100)
    assert bool(state["f"] & FLAG_Z) == (digits == 0)
    assert bool(state["f"] & FLAG_N) == subtract and not state["f"] & FLAG_H


# --- half carry and SP+e8: Pan Docs "CPU Instruction Set" / gbz80(7) -------------------------

@pytest.mark.parametrize("code, regs, a, flags", [
    (0x88, dict(a=0x0F, b=0x00, f=FLAG_C), 0x10, FLAG_H),              # ADC: carry-in into bit 4
    (0x88, dict(a=0xFF, b=0x00, f=FLAG_C), 0x00, FLAG_Z | FLAG_H | FLAG_C),
    (0x98, dict(a=0x10, b=0x00, f=FLAG_C), 0x0F, FLAG_N | FLAG_H),     # SBC: borrow from bit 4
    (0x98, dict(a=0x00, b=0xFF, f=FLAG_C), 0x00, FLAG_Z | FLAG_N | FLAG_H | FLAG_C),
])
def test_adc_sbc_half_carry_counts_the_carry_in(code, regs, a, flags):
    state, bus = machine(bytes([code]), **regs)
    step(state, bus)
    assert (state["a"], state["f"]) == (a, flags)


@pytest.mark.parametrize("sp, e8, result, flags", [
    (0x00FF, 0x01, 0x0100, FLAG_H | FLAG_C),   # carries out of bits 3 and 7 of the low byte
    (0x0000, 0xFF, 0xFFFF, 0),                 # -1: 0x00 + 0xFF carries out of neither
    (0x0001, 0xFF, 0x0000, FLAG_H | FLAG_C),   # -1: 0x01 + 0xFF carries out of both; Z stays 0
    (0x1FF8, 0x08, 0x2000, FLAG_H | FLAG_C),
])
def test_sp_plus_e8_flags_come_from_the_low_byte(sp, e8, result, flags):
    for opcode in (0xE8, 0xF8):                # ADD SP,e8 and LD HL,SP+e8
        state, bus = machine(bytes([opcode, e8]), sp=sp, f=FLAG_Z | FLAG_N)
        step(state, bus)
        got = state["sp"] if opcode == 0xE8 else state["h"] << 8 | state["l"]
        assert (got, state["f"]) == (result, flags)
