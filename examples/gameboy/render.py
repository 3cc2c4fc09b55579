"""The DMG renderer: background, window and objects for batches of lines at once, with numpy.

Sources: Pan Docs (gbdev.io/pandocs), "Tile Data" (16 bytes a tile, two a row; bit 7 is the
leftmost pixel, the first byte gives bit 0 of the colour index and the second bit 1; 8000
addressing takes tile numbers unsigned from 8000, 8800 addressing signed from 9000), "Tile
Maps" (two 32x32 maps at 9800 and 9C00), "Scrolling" (SCX/SCY wrap around the 256x256 map;
the window starts at screen x WX-7), "Palettes" (BGP/OBP0/OBP1: bits 2i+1..2i are the shade
of colour index i; colour 0 of an object is transparent), "Object Attribute Memory" (4
bytes an object: Y+16, X+8, tile, flags; the first ten objects in OAM order whose rows
cover a line are drawn, X not mattering for that choice; on the DMG the smaller X wins an
overlap, then the lower OAM index; flag bit 7 shows the object only over background colour
index 0).

The PPU (``ppu.Ppu``) decides when a line is drawn, with which registers and which row of
the window; this module turns that, VRAM and OAM into shades. ``LineBatcher`` collects the
lines the PPU draws while VRAM and OAM stay the same (registers may change from line to
line) and draws them together (``draw_lines``) only when VRAM or OAM changes or the
framebuffer is read: the same pixels as drawing each line on its own, for far fewer Python
steps.
"""

from __future__ import annotations

import itertools
from typing import Dict, NamedTuple, Optional

import numpy as np

SCREEN_WIDTH, SCREEN_HEIGHT = 160, 144

# LCDC bits 6-0 (Pan Docs, "LCD Control"; bit 7, the LCD's power, is the PPU's)
WINDOW_MAP, WINDOW_ON, TILES_8000 = 0x40, 0x20, 0x10
BG_MAP, OBJ_TALL, OBJ_ON, BG_ON = 0x08, 0x04, 0x02, 0x01
# object attribute flags (Pan Docs, "Object Attribute Memory", byte 3)
OBJ_BEHIND_BG, OBJ_Y_FLIP, OBJ_X_FLIP, OBJ_PALETTE1 = 0x80, 0x40, 0x20, 0x10
OBJS_PER_LINE = 10
OAM_OBJECTS = 40
TILES = 384                             # 8000-97FF, 16 bytes each
MAP_LOW, MAP_HIGH = 0x1800, 0x1C00      # 9800 and 9C00 as offsets into VRAM
VRAM_SIZE, OAM_SIZE = 0x2000, 0xA0

#: ``window_row`` of a line without the window
NO_WINDOW = -1

_COLUMNS = np.arange(SCREEN_WIDTH)
_TILE_COLUMNS = np.arange(8)
#: larger than every object pixel's priority key (``_draw_objects``)
_NO_OBJECT = 1 << 16


class Line(NamedTuple):
    """How one line is drawn: the PPU registers drawing reads, as they were when the line
    was drawn (each 0-255: LCDC, SCY, SCX, BGP, OBP0, OBP1, WX), and ``window_row``, the
    row of the window the line shows (0-255; ``NO_WINDOW`` for none). Where a ``Line`` is
    taken, a plain tuple of these 8 fields in this order will do."""

    lcdc: int
    scy: int
    scx: int
    bgp: int
    obp0: int
    obp1: int
    wx: int
    window_row: int


def _tile_row_table() -> np.ndarray:
    """Every tile row decoded: entry ``low | high << 8`` holds the 8 colour indices (uint8,
    leftmost first) of the row stored as bytes ``low``, ``high``, packed in one uint64 (the
    indices' bytes in memory order)."""
    stored = np.arange(1 << 16, dtype="<u2").view(np.uint8).reshape(-1, 2)
    bits = np.unpackbits(stored, axis=1)            # low's bits 7..0, then high's
    return np.ascontiguousarray(bits[:, :8] | bits[:, 8:] << 1).view(np.uint64).ravel()


_TILE_ROWS = _tile_row_table()


def tile_rows(stored: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Tile rows decoded: ``stored`` is tile data as little-endian 16-bit words (VRAM
    8000-97FF, ``vram[:0x1800].view("<u2")``: word ``8 * tile + row``), ``rows`` an int array
    of word numbers; the result has ``rows``' shape plus a last axis of 8 colour indices
    (uint8, 0-3), leftmost pixel first."""
    decoded = _TILE_ROWS[stored[rows]]
    return decoded.view(np.uint8).reshape(*rows.shape, 8)


def _map_rows(vram: np.ndarray, stored: np.ndarray, lcdc: np.ndarray, map_bit: int,
              ys: np.ndarray, first_tile: np.ndarray) -> np.ndarray:
    """Colour indices of 21 tiles (168 pixels) of tile map rows: for each line, row ``ys``
    (0-255) of the 256x256-pixel map that its ``lcdc`` selects with ``map_bit`` (9C00 if
    set, else 9800), from tile column ``first_tile`` (0-31) on, wrapping around, with 8000
    or 8800 tile addressing as ``lcdc`` says. ``ys``, ``lcdc``, ``first_tile``: int arrays
    of one entry per line; ``stored``: tile data as ``tile_rows`` takes it. Shape
    (lines, 168), uint8."""
    map_base = np.where(lcdc & map_bit, MAP_HIGH, MAP_LOW) + (ys >> 3) * 32
    columns = (first_tile[:, None] + np.arange(SCREEN_WIDTH // 8 + 1)) & 31
    numbers = vram[map_base[:, None] + columns].astype(np.intp)
    # 8800 addressing: 0-127 from 9000 (tiles 256-383), 128-255 from 8800 (tiles 128-255)
    numbers[(numbers < 0x80) & (lcdc & TILES_8000 == 0)[:, None]] += 0x100
    return tile_rows(stored, numbers * 8 + (ys & 7)[:, None]).reshape(len(ys), -1)


def _screen_columns(rows: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The ``SCREEN_WIDTH`` columns of each of ``rows`` ((n, w), w >= 160) from column
    ``starts[i]`` (int array, 0..w-160) on: shape (n, 160). (Whole runs of 160 bytes are
    copied, not single pixels gathered.)"""
    runs = np.lib.stride_tricks.sliding_window_view(rows, SCREEN_WIDTH, axis=1)
    return runs[np.arange(len(rows)), starts]


def draw_lines(framebuffer: np.ndarray, vram, oam, lines: Dict[int, Line]) -> None:
    """Draw ``lines`` (LY 0-143 -> ``Line``) into ``framebuffer`` (uint8, shape (144, 160),
    shades 0-3), all from the same ``vram`` (a buffer of 8 KiB from 8000) and ``oam`` (a
    buffer of 160 bytes from FE00).

    A line is background (SCX/SCY, either map, either addressing) with the window from
    WX-7 on if the line shows a window row, through BGP; LCDC bit 0 clear makes both white
    (the window row is then ignored); then objects (module docstring). Raises
    ``ValueError`` when a buffer is too small or a line or window row is out of range."""
    vram = np.frombuffer(vram, dtype=np.uint8)
    oam = np.frombuffer(oam, dtype=np.uint8)
    if len(vram) < VRAM_SIZE or len(oam) < OAM_SIZE:
        raise ValueError(f"draw_lines needs {VRAM_SIZE} bytes of VRAM and {OAM_SIZE} of "
                         f"OAM, got {len(vram)} and {len(oam)}")
    if not lines:
        return
    state = np.fromiter(itertools.chain.from_iterable(lines.values()), dtype=np.intp,
                        count=len(lines) * len(Line._fields)).reshape(len(lines), -1)
    lys = np.fromiter(lines.keys(), dtype=np.intp, count=len(lines))
    if not (0 <= lys.min() and lys.max() < SCREEN_HEIGHT and state[:, :-1].min() >= 0
            and state[:, -1].min() >= NO_WINDOW and state.max() < 256):
        raise ValueError(f"lines out of range (LY 0-{SCREEN_HEIGHT - 1}, registers 0-255, "
                         f"window row {NO_WINDOW}-255): {lines}")
    line = Line(*state.T)                   # each field an array, one entry per line
    stored = vram[:TILES * 16].view("<u2")
    background = _map_rows(vram, stored, line.lcdc, BG_MAP, (lys + line.scy) & 0xFF,
                           line.scx >> 3)
    indices = _screen_columns(background, line.scx & 7)
    _draw_window(indices, vram, stored, line)
    blank = line.lcdc & BG_ON == 0
    indices[blank] = 0
    shades = line.bgp.astype(np.uint8)[:, None] >> (indices << 1) & 3
    shades[blank] = 0
    if (line.lcdc & OBJ_ON).any():
        _draw_objects(shades, indices, stored, oam, line, lys)
    framebuffer[lys] = shades


def _draw_window(indices: np.ndarray, vram: np.ndarray, stored: np.ndarray,
                 line: Line) -> None:
    """Overlay the window on ``indices`` ((lines, 160) background colour indices) from
    screen x WX-7 on, on the lines that show a window row (``line``: ``Line`` fields as
    arrays)."""
    shown = line.window_row != NO_WINDOW
    if not shown.any():
        return
    rows = line.window_row[shown]
    window = _map_rows(vram, stored, line.lcdc[shown], WINDOW_MAP, rows, np.zeros_like(rows))
    left = line.wx[shown] - 7                                   # -7..159
    padded = np.zeros((len(rows), SCREEN_WIDTH + window.shape[1]), dtype=np.uint8)
    padded[:, SCREEN_WIDTH:] = window                           # window x 0 at column 160
    pixels = _screen_columns(padded, SCREEN_WIDTH - left)       # screen x 0 at window x -left
    indices[shown] = np.where(_COLUMNS >= left[:, None], pixels, indices[shown])


def _draw_objects(shades: np.ndarray, bg_indices: np.ndarray, stored: np.ndarray,
                  oam: np.ndarray, line: Line, lys: np.ndarray) -> None:
    """Draw the objects on lines ``lys`` over ``shades`` ((len(lys), 160), the background's
    shades, C-contiguous; ``bg_indices`` its colour indices; ``stored``: tile data as
    ``tile_rows`` takes it; ``line``: ``Line`` fields as arrays). Each visible object
    pixel gets the key (X, OAM index, colour) packed in one integer; the smallest key at a
    pixel is the winning object's, which shows unless it is behind a background colour
    other than 0."""
    attributes = oam[:OAM_SIZE].astype(np.intp).reshape(OAM_OBJECTS, 4)
    # the objects that may cover one of the lines (Y is the top line + 16, 16 the tallest),
    # in OAM order: the others count towards no line's ten
    candidates = np.flatnonzero((attributes[:, 0] > lys.min())
                                & (attributes[:, 0] <= lys.max() + 16))
    if not len(candidates):
        return
    y, x, tile, flags = attributes[candidates].T
    height = np.where(line.lcdc & OBJ_TALL, 16, 8)[:, None]
    object_rows = lys[:, None] - (y - 16)                       # (lines, candidates)
    covers = (object_rows >= 0) & (object_rows < height) & (line.lcdc & OBJ_ON != 0)[:, None]
    chosen = covers & (np.cumsum(covers, axis=1) <= OBJS_PER_LINE)
    pair_line, obj = np.nonzero(chosen)                         # one entry per pair
    if not len(obj):
        return
    height = height[pair_line, 0]
    row = object_rows[pair_line, obj]
    row = np.where(flags[obj] & OBJ_Y_FLIP, height - 1 - row, row)
    number = np.where(height == 16, tile[obj] & 0xFE | row >> 3, tile[obj])  # bit 0 ignored
    colours = tile_rows(stored, number * 8 + (row & 7))        # (pairs, 8)
    colours = np.where((flags[obj] & OBJ_X_FLIP)[:, None], colours[:, ::-1], colours)
    px = x[obj][:, None] - 8 + _TILE_COLUMNS
    visible = (colours != 0) & (px >= 0) & (px < SCREEN_WIDTH)
    keys = ((x[obj] << 6 | candidates[obj])[:, None] << 2 | colours)[visible]
    pixels = (pair_line[:, None] * SCREEN_WIDTH + px)[visible]  # into the flat lines
    best = np.full(shades.size, _NO_OBJECT, dtype=np.intp)
    np.minimum.at(best, pixels, keys)
    won = best[pixels] == keys                                  # one winner a pixel
    pixels, keys = pixels[won], keys[won]
    winner_flags = attributes[keys >> 2 & 0x3F, 3]
    shown = ~((winner_flags & OBJ_BEHIND_BG != 0) & (bg_indices.ravel()[pixels] != 0))
    pixel_line = pixels // SCREEN_WIDTH
    palette = np.where(winner_flags & OBJ_PALETTE1, line.obp1[pixel_line],
                       line.obp0[pixel_line])
    shades.ravel()[pixels[shown]] = (palette >> 2 * (keys & 3) & 3)[shown]


class LineBatcher:
    """``LineBatcher(framebuffer)``: draws lines into ``framebuffer`` (a bytearray of
    144x160 shades, row-major) in batches.

    ``contents(vram, oam)`` sets the VRAM and OAM the lines to come are drawn from
    (buffers, copied; the batch so far is drawn first if they differ from its own);
    ``line(ly, how)`` queues a line (a ``Line``; a later queueing of the same LY replaces
    it); ``flush()`` draws the batch -- call it before reading the framebuffer. A batch
    equal (contents and lines) to the last one drawn is not drawn again: its pixels are
    already there."""

    def __init__(self, framebuffer: bytearray):
        self._pixels = np.frombuffer(framebuffer, dtype=np.uint8).reshape(
            SCREEN_HEIGHT, SCREEN_WIDTH)
        self._contents: Optional[tuple] = None  # (vram bytes, oam bytes)
        self._lines: Dict[int, Line] = {}
        self._drawn: Optional[tuple] = None     # (contents, lines) of the last batch drawn

    def contents(self, vram, oam) -> None:
        """The lines queued from now on show ``vram`` and ``oam``."""
        contents = (bytes(vram), bytes(oam))
        if contents != self._contents:
            self.flush()
            self._contents = contents

    def line(self, ly: int, how: Line) -> None:
        """Queue line ``ly`` (0-143), drawn as ``how`` says. Raises ``RuntimeError``
        before the first ``contents``."""
        if self._contents is None:
            raise RuntimeError(f"line {ly} queued before the LineBatcher had any contents")
        self._lines[ly] = how

    def flush(self) -> None:
        """Draw the queued lines (``draw_lines``), unless they are the last batch drawn."""
        if not self._lines:
            return
        batch = (self._contents, self._lines)
        if batch != self._drawn:
            draw_lines(self._pixels, *self._contents, self._lines)
            self._drawn = batch
        self._lines = {}
