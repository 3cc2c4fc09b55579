"""Small DMG devices: the interrupt flags (IF), the serial port (SB/SC) and the joypad (P1).

Sources: Pan Docs (gbdev.io/pandocs), "Interrupts" (IF at FF0F, bits 7..5 read 1),
"Serial Data Transfer (Link Cable)" and "Joypad Input". Times are M-cycles of the machine's
count; like the timer, the serial port is lazy (``catch_up(now)``, ``next_event()``).
"""

from __future__ import annotations

from typing import Callable, Optional

SB, SC, P1 = 0xFF01, 0xFF02, 0xFF00
SERIAL_INTERRUPT = 3
JOYPAD_INTERRUPT = 4


class InterruptFlags:
    """IF: the requested interrupts (bits 4..0: VBlank, STAT, Timer, Serial, Joypad).
    ``request(bit)`` sets one; ``read()`` gives the register (bits 7..5 read 1), ``write``
    sets bits 4..0. ``flags`` is the 5-bit value."""

    UNUSED = 0xE0

    def __init__(self, flags: int = 0):
        self.flags = flags & 0x1F

    def request(self, bit: int) -> None:
        """Request interrupt ``bit`` (0-4)."""
        self.flags |= 1 << bit

    def read(self) -> int:
        """IF as the CPU reads it."""
        return self.UNUSED | self.flags

    def write(self, value: int) -> None:
        """A CPU store to IF: bits 4..0 become ``value``'s."""
        self.flags = value & 0x1F


class Serial:
    """The serial port with no link partner. Writing SC with bits 7 and 0 set (transfer,
    internal clock) sends SB: the byte is appended to ``output`` and, ``TRANSFER_CYCLES``
    later, the transfer completes -- SB holds the byte shifted in (FF: nothing drives the
    line), SC bit 7 clears and the serial interrupt is requested (Pan Docs: 8192 Hz, 8
    bits). A transfer on the external clock never completes (no partner clocks it).

    The first bit's timing on hardware depends on the phase of the system counter that
    divides the clock; here a transfer takes exactly ``TRANSFER_CYCLES`` from the write.
    ``read(address, now)``/``write(address, value, now)`` for FF01-FF02."""

    #: 8 bits at 8192 Hz: 512 T-cycles a bit (4194304 Hz / 8192), 128 M-cycles
    TRANSFER_CYCLES = 8 * 128
    SC_UNUSED = 0x7E                    # SC bits 6..1 read 1 on the DMG

    def __init__(self, request: Callable[[int], None]):
        self.request = request
        self.sb = 0
        self.sc = 0                     # bits 7 and 0 as written
        self.output = bytearray()
        self._done_at: Optional[int] = None

    def catch_up(self, now: int) -> None:
        """Complete a transfer due by ``now``."""
        if self._done_at is not None and self._done_at <= now:
            self._done_at = None
            self.sb = 0xFF
            self.sc &= 0x7F
            self.request(SERIAL_INTERRUPT)

    def next_event(self) -> Optional[int]:
        """The M-cycle the transfer in progress completes (``None``: none is)."""
        return self._done_at

    def read(self, address: int, now: int) -> int:
        """SB or SC at ``now``."""
        self.catch_up(now)
        return self.sb if address == SB else self.SC_UNUSED | self.sc

    def write(self, address: int, value: int, now: int) -> None:
        """Write SB or SC at ``now`` (class docstring)."""
        self.catch_up(now)
        if address == SB:
            self.sb = value
            return
        self.sc = value & 0x81
        if self.sc == 0x81:
            self.output.append(self.sb)
            self._done_at = now + self.TRANSFER_CYCLES
        else:                           # no transfer, or one nobody clocks
            self._done_at = None


class Joypad:
    """P1 (FF00): bits 5 and 4 select the buttons and the d-pad (0 selects); bits 3..0 read
    0 for a pressed key of a selected group; bits 7..6 read 1. A line going from 1 to 0
    requests the joypad interrupt (Pan Docs, "Joypad Input", "INT $60"). ``press(key)`` /
    ``release(key)`` take the names in ``KEYS`` (``KeyError`` otherwise)."""

    #: key name -> (select bit that enables its group, line bit)
    KEYS = {
        "right": (0x10, 0x01), "left": (0x10, 0x02), "up": (0x10, 0x04), "down": (0x10, 0x08),
        "a": (0x20, 0x01), "b": (0x20, 0x02), "select": (0x20, 0x04), "start": (0x20, 0x08),
    }

    def __init__(self, request: Callable[[int], None], select: int = 0x30):
        self.request = request
        self.select = select & 0x30
        self.pressed: set = set()

    def _lines(self) -> int:
        lines = 0x0F
        for key in self.pressed:
            group, bit = self.KEYS[key]
            if not self.select & group:
                lines &= ~bit
        return lines

    def _update(self, change: Callable[[], None]) -> None:
        before = self._lines()
        change()
        if before & ~self._lines():
            self.request(JOYPAD_INTERRUPT)

    def read(self) -> int:
        """P1 as the CPU reads it."""
        return 0xC0 | self.select | self._lines()

    def write(self, value: int) -> None:
        """A CPU store to P1: only the select bits 5..4 are writable."""
        self._update(lambda: setattr(self, "select", value & 0x30))

    def press(self, key: str) -> None:
        """Hold ``key`` down."""
        self._update(lambda: self.pressed.add(self._known(key)))

    def release(self, key: str) -> None:
        """Let ``key`` go."""
        self._update(lambda: self.pressed.discard(self._known(key)))

    def _known(self, key: str) -> str:
        if key not in self.KEYS:
            raise KeyError(f"no joypad key {key!r} (keys: {', '.join(self.KEYS)})")
        return key
