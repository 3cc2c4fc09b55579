"""The DMG timer: DIV (FF04), TIMA (FF05), TMA (FF06), TAC (FF07), lazily.

Sources: Pan Docs (gbdev.io/pandocs), "Timer and Divider Registers" and "Timer obscure
behaviour". A 16-bit system counter counts T-cycles (4 per M-cycle); DIV is its upper byte.
TIMA counts falling edges of ``counter bit & TAC enable``, the bit chosen by TAC's clock
select (00: bit 9, 4096 Hz; 01: bit 3, 262144 Hz; 10: bit 5, 65536 Hz; 11: bit 7, 16384 Hz),
so writing DIV (which clears the counter) or TAC can tick TIMA too. When TIMA overflows it
reads 00 for one M-cycle; then it is loaded from TMA and the timer interrupt is requested.
A TIMA write during that M-cycle cancels the reload; a TIMA write on the reload M-cycle is
ignored, and a TMA write there is loaded too.

Lazy: nothing runs per cycle. The timer remembers when it was last brought up to date and
``catch_up(now)`` replays what happened since (one step per TIMA overflow, not per tick);
every register access catches up first. ``next_event()`` predicts the M-cycle of the next
timer interrupt, so a run loop can stop there. Times are M-cycles of the machine's count.
"""

from __future__ import annotations

from typing import Callable, Optional

DIV, TIMA, TMA, TAC = 0xFF04, 0xFF05, 0xFF06, 0xFF07
TIMER_INTERRUPT = 2                 # IF/IE bit (Pan Docs, "Interrupts")
T_PER_M = 4

#: TAC clock select to the counter bit whose falling edge ticks TIMA (Pan Docs, "Timer
#: obscure behaviour", the multiplexer)
TAC_BIT = {0: 9, 1: 3, 2: 5, 3: 7}
TAC_ENABLE = 0x04
TAC_UNUSED = 0xF8                   # TAC bits 7..3 read as 1


class Timer:
    """``Timer(request, now=0, counter=0)``: ``request(bit)`` raises an interrupt; the
    system counter is ``counter`` (T-cycles, a multiple of 4) at M-cycle ``now``.

    ``read(address, now)``/``write(address, value, now)`` for FF04-FF07 (``KeyError`` for
    another address); ``catch_up(now)``; ``next_event()``; ``counter_at(now)``.
    """

    def __init__(self, request: Callable[[int], None], now: int = 0, counter: int = 0):
        self.request = request
        self._counter0 = counter            # the counter at M-cycle ``_time0`` (unwrapped)
        self._time0 = now
        self._last = now                    # TIMA is up to date as of this M-cycle
        self.tima = 0
        self.tma = 0
        self.tac = 0
        self._reload_at: Optional[int] = None   # M-cycle TMA gets loaded (after an overflow)
        self._reloaded_at: Optional[int] = None  # M-cycle of the last reload

    # --- the counter and its edges --------------------------------------------------------

    def counter_at(self, now: int) -> int:
        """The 16-bit system counter at M-cycle ``now``."""
        return (self._counter0 + T_PER_M * (now - self._time0)) & 0xFFFF

    def _signal(self, now: int) -> bool:
        """The multiplexer's output, ``counter bit & enable``, at ``now``."""
        return bool(self.tac & TAC_ENABLE and self.counter_at(now) >> TAC_BIT[self.tac & 3] & 1)

    def _period(self) -> int:
        """M-cycles between TIMA ticks."""
        return (2 << TAC_BIT[self.tac & 3]) // T_PER_M

    def _next_tick(self, after: int) -> Optional[int]:
        """The first M-cycle after ``after`` with a falling edge of the selected bit (the
        counter reaches a multiple of twice the bit's weight), ``None`` when disabled."""
        if not self.tac & TAC_ENABLE:
            return None
        weight = 2 << TAC_BIT[self.tac & 3]
        count = self._counter0 + T_PER_M * (after - self._time0)
        return after + ((count // weight + 1) * weight - count) // T_PER_M

    # --- catching up ----------------------------------------------------------------------

    def catch_up(self, now: int) -> None:
        """Replay the ticks, overflows and reloads of ``(last update, now]``."""
        while True:
            tick = self._next_tick(self._last)
            if self._reload_at is not None and self._reload_at <= now and \
                    (tick is None or self._reload_at <= tick):
                self._reload()
                continue
            if tick is None or tick > now:
                break
            ticks = (now - tick) // self._period() + 1
            if ticks < 0x100 - self.tima:
                self.tima += ticks
                break
            self._last = tick + (0xFF - self.tima) * self._period()     # the overflow
            self._overflow(self._last)
        self._last = max(self._last, now)

    def _overflow(self, when: int) -> None:
        self.tima = 0
        self._reload_at = when + 1

    def _reload(self) -> None:
        self._last = self._reloaded_at = self._reload_at
        self._reload_at = None
        self.tima = self.tma
        self.request(TIMER_INTERRUPT)

    def _tick(self, now: int) -> None:
        """One TIMA tick at ``now`` outside the counter's own edges (a DIV or TAC write)."""
        if self.tima == 0xFF:
            self._overflow(now)
        else:
            self.tima += 1

    def next_event(self) -> Optional[int]:
        """The M-cycle at which the timer will next request its interrupt, as things stand
        (``None``: never, the timer is stopped)."""
        if self._reload_at is not None:
            return self._reload_at
        tick = self._next_tick(self._last)
        if tick is None:
            return None
        return tick + (0xFF - self.tima) * self._period() + 1

    # --- registers ------------------------------------------------------------------------

    def read(self, address: int, now: int) -> int:
        """The value of register ``address`` (FF04-FF07) at ``now``."""
        self.catch_up(now)
        if address == DIV:
            return self.counter_at(now) >> 8
        return {TIMA: self.tima, TMA: self.tma, TAC: TAC_UNUSED | self.tac}[address]

    def write(self, address: int, value: int, now: int) -> None:
        """Write register ``address`` (FF04-FF07) at ``now`` (module docstring)."""
        self.catch_up(now)
        if address == DIV:
            ticked = self._signal(now)
            self._counter0, self._time0 = 0, now
            if ticked:
                self._tick(now)
        elif address == TIMA:
            if self._reloaded_at != now:
                self.tima = value
                self._reload_at = None
        elif address == TMA:
            self.tma = value
            if self._reloaded_at == now:
                self.tima = value
        elif address == TAC:
            was = self._signal(now)
            self.tac = value & 0x07
            if was and not self._signal(now):
                self._tick(now)
        else:
            raise KeyError(f"{address:#06x} is not a timer register")
