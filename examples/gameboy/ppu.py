"""The DMG picture processing unit: LCDC, STAT, SCY, SCX, LY, LYC, BGP, OBP0, OBP1, WY, WX,
lazily, drawing through the scanline renderer in ``render``.

Sources: Pan Docs (gbdev.io/pandocs), "Rendering Overview", "LCD Control", "LCD Status
Registers" (modes, LY, LYC, the STAT interrupt sources and "STAT blocking"), "Scrolling",
"Palettes", "Tile Data", "Tile Maps", "Object Attribute Memory", "Interrupt Sources" (INT
$40, INT $48).

Timing, in M-cycles (4 dots each): a line is 114 M-cycles (456 dots), a frame 154 lines,
17556 M-cycles (70224 dots). Lines 0-143: OAM scan (mode 2) for 20 M-cycles, drawing (mode 3)
for 43 (172 dots, its shortest length: the extra dots that scrolling, the window and
objects add on hardware are not modelled), HBlank (mode 0) for the remaining 51. Lines
144-153: VBlank (mode 1); entering line 144 requests the VBlank interrupt. On line 153, LY
reads 153 for one M-cycle and then 0 (Pan Docs, "LY": "LY=153 only lasts 4 dots"; the
LYC=LY comparison sees that 0).

The STAT interrupt is requested on a rising edge of one internal line, the OR of the
enabled sources (LYC=LY, mode 2, mode 1, mode 0): while one source holds it high, another
becoming true requests nothing ("STAT blocking"). Writing STAT or LYC re-evaluates the line.

Lazy: the PPU remembers how far it has run and replays the mode changes since on every
register access or ``catch_up(now)``, rendering each visible line as its HBlank starts
(with the registers as they are then, which catching up before every write makes right).
``next_event()`` predicts the next VBlank or STAT interrupt request.

With the LCD off (LCDC bit 7 clear) LY reads 0, STAT's mode bits read 0 and nothing is
requested; turning it on starts line 0 at its OAM scan.

The framebuffer is ``SCREEN_HEIGHT`` rows of ``SCREEN_WIDTH`` shades 0 (white) to 3 (black),
row-major in a ``bytearray``. The pixels come from ``render``: a line is queued as its HBlank
starts, with the registers of that moment and the VRAM and OAM of that catch-up, and lines
queued with the same VRAM and OAM are drawn together when those change or ``framebuffer``
is read.
"""

from __future__ import annotations

import bisect
from typing import Callable, NamedTuple, Optional

from .render import BG_ON, NO_WINDOW, SCREEN_HEIGHT, SCREEN_WIDTH, WINDOW_ON, LineBatcher

LCDC, STAT, SCY, SCX, LY, LYC = 0xFF40, 0xFF41, 0xFF42, 0xFF43, 0xFF44, 0xFF45
BGP, OBP0, OBP1, WY, WX = 0xFF47, 0xFF48, 0xFF49, 0xFF4A, 0xFF4B
REGISTERS = (LCDC, STAT, SCY, SCX, LY, LYC, BGP, OBP0, OBP1, WY, WX)
VBLANK_INTERRUPT = 0
STAT_INTERRUPT = 1

LINE_CYCLES = 114                       # 456 dots
LINES = 154
FRAME_CYCLES = LINE_CYCLES * LINES      # 17556 M-cycles, 70224 dots
OAM_SCAN_CYCLES = 20                    # 80 dots
DRAWING_CYCLES = 43                     # 172 dots

HBLANK, VBLANK, OAM_SCAN, DRAWING = 0, 1, 2, 3      # STAT mode numbers

LCD_ON = 0x80           # LCDC bit 7 (Pan Docs, "LCD Control"); the drawing bits: render.py
# STAT interrupt selects and the bits below them
SELECT_LYC, SELECT_MODE2, SELECT_MODE1, SELECT_MODE0 = 0x40, 0x20, 0x10, 0x08
STAT_SELECTS = 0x78
STAT_UNUSED = 0x80                      # bit 7 reads 1
MODE_SELECT = {OAM_SCAN: SELECT_MODE2, VBLANK: SELECT_MODE1, HBLANK: SELECT_MODE0,
               DRAWING: 0}

#: The post-boot position in the frame: within line 153 after LY has dropped to 0, so LY
#: reads 00 and STAT 85 (VBlank, LYC=LY) as Pan Docs' "Power Up Sequence" lists, with the
#: VBlank of the boot ROM's last frame already requested (IF reads E1). The exact phase is
#: not documented; this is the earliest point consistent with those values.
POST_BOOT_POSITION = 153 * LINE_CYCLES + 1


class Segment(NamedTuple):
    """A stretch of the frame with one mode and one LY: from M-cycle ``start`` (since the
    frame began) to the next segment's."""

    start: int
    mode: int
    ly: int


def _frame_segments() -> tuple:
    segments = []
    for line in range(LINES):
        base = line * LINE_CYCLES
        if line < SCREEN_HEIGHT:
            segments += [Segment(base, OAM_SCAN, line),
                         Segment(base + OAM_SCAN_CYCLES, DRAWING, line),
                         Segment(base + OAM_SCAN_CYCLES + DRAWING_CYCLES, HBLANK, line)]
        elif line < LINES - 1:
            segments.append(Segment(base, VBLANK, line))
        else:
            segments += [Segment(base, VBLANK, line), Segment(base + 1, VBLANK, 0)]
    return tuple(segments)


#: The frame's segments in order; ``VBLANK_SEGMENT`` is the one that starts line 144.
SEGMENTS = _frame_segments()
SEGMENT_STARTS = [segment.start for segment in SEGMENTS]
VBLANK_SEGMENT = SEGMENT_STARTS.index(SCREEN_HEIGHT * LINE_CYCLES)

class Ppu:
    """``Ppu(request, vram, oam, now=0, render=True, position=POST_BOOT_POSITION)``:
    ``request(bit)`` raises an interrupt; ``vram`` (8 KiB, 8000-9FFF) and ``oam`` (160
    bytes, FE00-FE9F) are buffers the renderer reads (the machine's host memory); at M-cycle
    ``now`` the LCD is on, ``position`` M-cycles into a frame, with LCDC 91, STAT's selects
    clear, BGP FC and the other registers 00 (the post-boot state, Pan Docs "Power Up
    Sequence"; OBP0/OBP1 are uninitialised there). ``render=False``: no framebuffer
    updates (headless).

    ``read(address, now)`` / ``write(address, value, now)`` for the registers in
    ``REGISTERS`` (``KeyError`` for another address); ``catch_up(now)``; ``next_event()``;
    ``next_vblank()``; ``peek(address, when)`` and ``next_change(after)``: LY and STAT ahead
    of time, for a poller that wants to skip ahead (``idle``). ``frames``: VBlanks entered
    so far; ``framebuffer`` (module docstring).
    """

    def __init__(self, request: Callable[[int], None], vram, oam, now: int = 0,
                 render: bool = True, position: int = POST_BOOT_POSITION):
        self.request = request
        self.vram = memoryview(vram).cast("B")
        self.oam = memoryview(oam).cast("B")
        self.render = render
        self._framebuffer = bytearray(SCREEN_WIDTH * SCREEN_HEIGHT)
        self._batcher = LineBatcher(self._framebuffer) if render else None
        # ``_last`` during the catch_up that last queued a line: it moves only as each
        # catch_up ends, so it tells one catch_up from the next (``_draw_line``)
        self._batch_mark: Optional[int] = None
        self.frames = 0
        self.lcdc = 0x91
        self.stat_selects = 0
        self.scy = self.scx = self.lyc = self.wy = self.wx = 0
        self.bgp, self.obp0, self.obp1 = 0xFC, 0x00, 0x00
        self._frame_start = now - position      # M-cycle the current frame's line 0 began
        self._last = now                        # caught up to this M-cycle
        self._segment = bisect.bisect_right(SEGMENT_STARTS, position) - 1
        self._stat_line = self._stat_source()
        self._window_line = 0                   # the window's internal line counter
        self._window_triggered = False          # LY has equalled WY this frame
        self._next_event: Optional[int] = None  # cached ``next_event()``; None: recompute

    # --- state ----------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """LCDC bit 7: the LCD and PPU are on."""
        return bool(self.lcdc & LCD_ON)

    @property
    def mode(self) -> int:
        """The STAT mode (0 with the LCD off)."""
        return self._register(STAT, SEGMENTS[self._segment]) & 3

    @property
    def ly(self) -> int:
        """LY, the line being drawn (0 with the LCD off; line 153 reads 0 after 1 M-cycle)."""
        return self._register(LY, SEGMENTS[self._segment])

    def _register(self, address: int, segment: Segment) -> int:
        """What LY or STAT (``address``) reads during ``segment`` with the registers as they
        are (the LCD off: LY 0, mode 0). THE one place STAT's read value is spelled."""
        ly, mode = (segment.ly, segment.mode) if self.enabled else (0, HBLANK)
        if address == LY:
            return ly
        return STAT_UNUSED | self.stat_selects | (ly == self.lyc) << 2 | mode

    def _segment_at(self, when: int) -> tuple:
        """The segment M-cycle ``when`` falls in: ``(index in SEGMENTS, the M-cycle it
        began)``."""
        position = (when - self._frame_start) % FRAME_CYCLES
        index = bisect.bisect_right(SEGMENT_STARTS, position) - 1
        return index, when - position + SEGMENTS[index].start

    def peek(self, address: int, when: int) -> int:
        """What LY or STAT (``address``; ``KeyError`` for another register) will read at
        M-cycle ``when`` if no PPU register is written before then -- a prediction: nothing
        is caught up and no interrupt is requested. ``when`` at or after the last update
        (``catch_up``, a register access)."""
        if address not in (LY, STAT):
            raise KeyError(f"{address:#06x} is not LY or STAT: only they change by themselves")
        return self._register(address, SEGMENTS[self._segment_at(when)[0]])

    def next_change(self, after: int) -> Optional[int]:
        """The first M-cycle after ``after`` at which the PPU enters its next segment, where
        LY or the STAT mode can change (``SEGMENTS``) -- ``None`` with the LCD off, when
        neither changes by itself. A prediction, as ``peek``."""
        if not self.enabled:
            return None
        return self._following(*self._segment_at(after))[1]

    def _stat_source(self, segment: Optional[Segment] = None) -> bool:
        """The STAT interrupt line in ``segment`` (default: the current one)."""
        if not self.enabled:
            return False
        segment = SEGMENTS[self._segment] if segment is None else segment
        return bool(self.stat_selects & SELECT_LYC and segment.ly == self.lyc
                    or self.stat_selects & MODE_SELECT[segment.mode])

    # --- time -----------------------------------------------------------------------------

    def _following(self, index: int, start: int) -> tuple:
        """The segment after ``index`` (which began at M-cycle ``start``): (index, start)."""
        nxt = index + 1
        if nxt == len(SEGMENTS):
            frame = start - SEGMENTS[index].start + FRAME_CYCLES
            return 0, frame
        return nxt, start - SEGMENTS[index].start + SEGMENTS[nxt].start

    def catch_up(self, now: int) -> None:
        """Run the mode changes of ``(last update, now]``: interrupts, rendering, frames."""
        if now <= self._last:
            return
        if not self.enabled:
            self._last = now
            return
        if not self.render and not self.stat_selects:
            self._skip_to(now)
            return
        index, start = self._following(*self._segment_at(self._last))
        while start <= now:
            self._enter(index)
            index, start = self._following(index, start)
        self._last = now

    def _skip_to(self, now: int) -> None:
        """``catch_up`` without stepping through the segments, for a PPU that neither draws
        nor has a STAT source selected: then entering a segment does nothing a later read
        can see but a VBlank's frame count and request (``_enter``; the window's line
        counter only matters to drawing), and the STAT line stays low."""
        first = self._frame_start + SEGMENTS[VBLANK_SEGMENT].start    # a VBlank's start
        vblanks = (now - first) // FRAME_CYCLES - (self._last - first) // FRAME_CYCLES
        if vblanks:
            self.frames += vblanks
            self._window_line = 0
            self._window_triggered = False
            self.request(VBLANK_INTERRUPT)
        self._segment = self._segment_at(now)[0]
        self._stat_line = False
        self._last = now

    def _enter(self, index: int) -> None:
        """The current segment becomes ``SEGMENTS[index]``."""
        self._segment = index
        segment = SEGMENTS[index]
        if segment.mode == OAM_SCAN and segment.ly == self.wy:
            self._window_triggered = True
        elif segment.mode == HBLANK and self.render:
            self._draw_line(segment.ly)
        elif index == VBLANK_SEGMENT:
            self.frames += 1
            self._window_line = 0
            self._window_triggered = False
            self.request(VBLANK_INTERRUPT)
        self._update_stat_line()

    def _update_stat_line(self) -> None:
        """Recompute the STAT line; request the interrupt on a rising edge."""
        was, self._stat_line = self._stat_line, self._stat_source()
        if self._stat_line and not was:
            self.request(STAT_INTERRUPT)

    def next_event(self) -> Optional[int]:
        """The M-cycle of the next VBlank or STAT interrupt request, as things stand
        (``None`` with the LCD off)."""
        if not self.enabled:
            return None
        if self._next_event is None or self._next_event <= self._last:
            self._next_event = self._predict()
        return self._next_event

    def _predict(self) -> int:
        if not self.stat_selects:                   # only VBlank requests anything
            return self.next_vblank()
        line = self._stat_line
        index, start = self._following(*self._segment_at(self._last))
        while True:     # ends within a frame: every frame has a VBlank
            rises = self._stat_source(SEGMENTS[index])
            if index == VBLANK_SEGMENT or rises and not line:
                return start
            line = rises
            index, start = self._following(index, start)

    def next_vblank(self) -> int:
        """The first M-cycle after the last update that starts a VBlank (with the LCD off:
        a frame's time later, so a run counting frames still advances)."""
        if not self.enabled:
            return self._last + FRAME_CYCLES
        position = (self._last - self._frame_start) % FRAME_CYCLES
        vblank = SEGMENTS[VBLANK_SEGMENT].start
        return self._last - position + vblank + (FRAME_CYCLES if position >= vblank else 0)

    # --- registers ------------------------------------------------------------------------

    #: the attribute holding each plain register
    _FIELDS = {LCDC: "lcdc", SCY: "scy", SCX: "scx", LYC: "lyc", BGP: "bgp", OBP0: "obp0",
               OBP1: "obp1", WY: "wy", WX: "wx"}

    def read(self, address: int, now: int) -> int:
        """Register ``address`` as the CPU reads it at ``now``."""
        self.catch_up(now)
        if address in (LY, STAT):
            return self._register(address, SEGMENTS[self._segment])
        return getattr(self, self._field(address))

    def write(self, address: int, value: int, now: int) -> None:
        """A CPU store to register ``address`` at ``now``. LY is read-only; LCDC bit 7
        turns the LCD off (LY 0) or on (line 0 starts at ``now``)."""
        self.catch_up(now)
        self._next_event = None
        if address == LY:
            return
        if address == STAT:
            self.stat_selects = value & STAT_SELECTS
        elif address == LCDC:
            was_on = self.enabled
            self.lcdc = value
            if self.enabled and not was_on:
                self._frame_start, self._segment = now, 0
                self._window_line, self._window_triggered = 0, False
                self._enter(0)
                return
        else:
            setattr(self, self._field(address), value)
        self._update_stat_line()

    def _field(self, address: int) -> str:
        field = self._FIELDS.get(address)
        if field is None:
            raise KeyError(f"{address:#06x} is not a PPU register")
        return field

    # --- rendering ------------------------------------------------------------------------

    @property
    def framebuffer(self) -> bytearray:
        """The screen (module docstring), with every line drawn so far."""
        if self._batcher is not None:
            self._batcher.flush()
        return self._framebuffer

    def _draw_line(self, ly: int) -> None:
        """Line ``ly`` reaches its HBlank: queue it for drawing (``render.LineBatcher``)
        with the registers, VRAM and OAM as they are now, advancing the window's line
        counter if the window shows on it (LCDC bits 0 and 5, LY has reached WY this
        frame, WX-7 on screen)."""
        if self._batch_mark != self._last:     # the first line of this catch_up: between
            self._batch_mark = self._last      # two, the CPU may have stored to VRAM/OAM
            self._batcher.contents(self.vram, self.oam)
        window_row = NO_WINDOW
        if (self.lcdc & BG_ON and self.lcdc & WINDOW_ON and self._window_triggered
                and self.wx - 7 < SCREEN_WIDTH):
            window_row = self._window_line
            self._window_line += 1
        # ``render.Line``'s fields as a plain tuple: a NamedTuple takes 15 times as long to
        # build, and this runs for every line
        self._batcher.line(ly, (self.lcdc, self.scy, self.scx, self.bgp, self.obp0,
                                self.obp1, self.wx, window_row))
