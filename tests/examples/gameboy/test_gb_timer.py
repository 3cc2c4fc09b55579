"""The timer (Pan Docs, "Timer and Divider Registers", "Timer obscure behaviour"), on its
own and through SM83 code on the JIT. Times are M-cycles (4 T-cycles)."""

import pytest
from gb_romlib import make_rom

from dynarec_gameboy import Cartridge, GameBoy
from dynarec_gameboy.timer import DIV, TAC, TIMA, TMA, Timer


class Requests(list):
    def __call__(self, bit):
        self.append(bit)


def timer_at_zero():
    """A timer whose counter is 0 at M-cycle 100 (a DIV write there)."""
    requests = Requests()
    t = Timer(requests, now=0, counter=0x1234)
    t.write(DIV, 0, 100)
    return t, requests


def test_div_counts_at_16384_hz():
    t, _ = timer_at_zero()
    # 16384 Hz = 4194304 / 256: one DIV step every 256 T-cycles = 64 M-cycles
    assert [t.read(DIV, 100 + m) for m in (0, 63, 64, 127, 128, 64 * 256)] == [0, 0, 1, 1, 2, 0]


@pytest.mark.parametrize("tac, period", [(0x04, 256), (0x05, 4), (0x06, 16), (0x07, 64)])
def test_tima_rates(tac, period):
    # 4096, 262144, 65536, 16384 Hz: 1024, 16, 64, 256 T-cycles per tick
    t, _ = timer_at_zero()
    t.write(TAC, tac, 100)
    assert t.read(TIMA, 100 + period - 1) == 0
    assert t.read(TIMA, 100 + period) == 1
    assert t.read(TIMA, 100 + 10 * period) == 10


def test_disabled_timer_does_not_count():
    t, _ = timer_at_zero()
    t.write(TAC, 0x01, 100)
    assert t.read(TIMA, 10_000) == 0
    assert t.next_event() is None
    assert t.read(TAC, 10_000) == 0xF9          # bits 7..3 read 1


def test_overflow_reads_00_for_one_m_cycle_then_reloads_and_interrupts():
    t, requests = timer_at_zero()
    t.write(TMA, 0x42, 100)
    t.write(TIMA, 0xFE, 100)
    t.write(TAC, 0x05, 100)                 # a tick every 4 M-cycles
    assert t.next_event() == 109
    assert t.read(TIMA, 104) == 0xFF
    assert t.read(TIMA, 108) == 0x00 and requests == []
    assert t.read(TIMA, 109) == 0x42 and requests == [2]
    assert t.read(TIMA, 112) == 0x43


def test_overflows_while_nobody_looks():
    t, requests = timer_at_zero()
    t.write(TMA, 0xF0, 100)
    t.write(TAC, 0x05, 100)
    # 0 -> overflow after 256 ticks (M-cycle 100 + 1024), reload at +1; then 16 ticks per
    # overflow: overflows at 1124, 1188, 1252 (each reload at +1, from F0)
    assert t.read(TIMA, 1260) == 0xF2
    assert requests == [2, 2, 2]


def test_tima_write_during_the_00_cycle_cancels_the_reload():
    t, requests = timer_at_zero()
    t.write(TMA, 0x42, 100)
    t.write(TIMA, 0xFF, 100)
    t.write(TAC, 0x05, 100)
    t.write(TIMA, 0x10, 104)               # overflow at 104: TIMA is 00 during 104
    assert t.read(TIMA, 105) == 0x10 and requests == []


def test_writes_on_the_reload_cycle():
    t, requests = timer_at_zero()
    t.write(TMA, 0x42, 100)
    t.write(TIMA, 0xFF, 100)
    t.write(TAC, 0x05, 100)
    t.write(TIMA, 0x10, 105)               # reload cycle: the TIMA write is ignored
    assert t.read(TIMA, 105) == 0x42
    t.write(TMA, 0x77, 105)                # ... and a TMA write is loaded too
    assert t.read(TIMA, 105) == 0x77 and requests == [2]


def test_div_reset_ticks_tima_on_a_falling_edge():
    t, _ = timer_at_zero()
    t.write(TAC, 0x05, 100)                 # bit 3 of the counter: 1 from 8 to 15 T-cycles
    t.write(DIV, 0, 102)                    # counter 8 -> 0: bit 3 falls
    assert t.read(TIMA, 102) == 1
    t.write(DIV, 0, 103)                    # counter 4 -> 0: bit 3 was 0
    assert t.read(TIMA, 103) == 1


def test_disabling_tac_with_the_bit_set_ticks_tima():
    t, _ = timer_at_zero()
    t.write(TAC, 0x05, 100)
    t.write(TAC, 0x01, 102)                 # input 1 -> 0 (enable cleared): a tick
    assert t.read(TIMA, 102) == 1
    t.write(TAC, 0x05, 103)
    t.write(TAC, 0x01, 103)                 # counter 12: bit 3 set again, falls again
    assert t.read(TIMA, 103) == 2
    t.write(TAC, 0x04, 104)                 # enabled, bit 9 selected: counter 16, bit 9 = 0
    assert t.read(TIMA, 104) == 2


def boot(code):
    return GameBoy(Cartridge.parse(make_rom(bytes(code) + bytes([0x76, 0x18, 0xFD]),
                                            banks={0: bytes(0x50) + HANDLER})))


# timer handler at 0050: LDH A,(05); LD (C000),A; LDH A,(0F); LD (C001),A; RETI
HANDLER = bytes([0xF0, 0x05, 0xEA, 0x00, 0xC0, 0xF0, 0x0F, 0xEA, 0x01, 0xC0, 0xD9])


def test_timer_interrupt_wakes_halt_and_dispatches():
    # TMA = 42, TIMA = FE, IF = 0, IE = timer, TAC = 04 (4096 Hz), EI, then HALT; JR -3
    gb = boot([0x3E, 0x42, 0xE0, 0x06, 0x3E, 0xFE, 0xE0, 0x05, 0xAF, 0xE0, 0x0F,
               0x3E, 0x04, 0xEA, 0xFF, 0xFF, 0xE0, 0x07, 0xFB])
    gb.run(600)                             # 2 ticks of 256 M-cycles: one overflow
    mem = gb.machine.memory
    assert mem.read(0xC000, 1) == 0x42      # the handler saw the reloaded TIMA
    assert mem.read(0xC001, 1) == 0xE0      # dispatch cleared IF bit 2
    assert gb.machine.regs["run_mode"] == 1      # halted again after RETI
    assert gb.machine.pc == 0x114          # after the HALT at 0113


def test_next_event_is_when_the_interrupt_comes():
    gb = boot([])
    gb.timer.write(TIMA, 0xFF, gb.machine.cycles)
    gb.timer.write(TAC, 0x05, gb.machine.cycles)
    due = gb.next_event()
    gb.machine.cycles = due - 1
    assert gb.machine.memory.read(0xFF0F, 1) & 0x04 == 0
    gb.machine.cycles = due
    assert gb.machine.memory.read(0xFF0F, 1) & 0x04


def test_starting_the_timer_inside_a_busy_loop_interrupts_on_time():
    """The TAC write that starts the timer moves the predicted event earlier than the budget
    the running code was given (no event at all: the whole run): the I/O handler ends the
    entry (Machine.end_entry), so the interrupt is dispatched when TIMA overflows, not at the
    end of the run. TIMA = FE at 4096 Hz (a tick every 256 M-cycles, the first within 256
    of the write, Pan Docs "Timer and Divider Registers"): the overflow comes 257-513 M-cycles
    after the write, so the loop `INC B; JR -3` (4 M-cycles a round) has run 60-130 rounds by
    then (without end_entry the loop runs to the end of the 1,000 M-cycles and the handler
    has not run at all when run() returns)."""
    # LCD off (no PPU events either), TMA = 42, TIMA = FE, IF = 0, IE = timer, B = 0, EI,
    # NOP, then (budget planned with no event in sight) TAC = 04; loop: INC B; JR loop
    code = [0xAF, 0xE0, 0x40, 0x3E, 0x42, 0xE0, 0x06, 0x3E, 0xFE, 0xE0, 0x05, 0xAF, 0xE0, 0x0F,
            0x3E, 0x04, 0xEA, 0xFF, 0xFF, 0x06, 0x00, 0xFB, 0x00, 0xE0, 0x07, 0x04, 0x18, 0xFD]
    # handler at 0050: LD A,B; LD (C002),A; DI; loop: JR loop
    handler = bytes([0x78, 0xEA, 0x02, 0xC0, 0xF3, 0x18, 0xFE])
    gb = GameBoy(Cartridge.parse(make_rom(bytes(code), banks={0: bytes(0x50) + handler})))
    gb.run(1000)
    rounds = gb.machine.memory.read(0xC002, 1)
    assert 60 <= rounds <= 130, rounds
