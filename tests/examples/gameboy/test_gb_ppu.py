"""The PPU: mode timing, LY/LYC/STAT and VBlank interrupts, and the scanline renderer.

Expected timings are Pan Docs' ("Rendering Overview", "LCD Status Registers"): 456 dots a
line, 80 of OAM scan, 172 of drawing (the shortest), 154 lines, 70224 dots a frame; 4 dots
per M-cycle. Expected pixels are decoded by hand from the tile bytes written ("Tile Data":
bit 7 is the leftmost pixel, the first byte gives bit 0 of the colour index).
"""

import random

import numpy as np
import pytest
from gb_romlib import make_rom
from hypothesis import given, settings, strategies as st

from dynarec_gameboy import Cartridge, GameBoy
from dynarec_gameboy.ppu import Ppu
from dynarec_gameboy.render import Line, LineBatcher, draw_lines

LINE = 456 // 4                 # M-cycles
FRAME = 70224 // 4
LCDC, STAT, LY, LYC = 0xFF40, 0xFF41, 0xFF44, 0xFF45


class Recorder:
    """A PPU at the start of a frame (line 0, OAM scan) at M-cycle 0, its interrupt
    requests recorded with the M-cycle it was caught up to."""

    def __init__(self):
        self.vram = bytearray(0x2000)
        self.oam = bytearray(0xA0)
        self.requests = []
        self.ppu = Ppu(self.requests.append, self.vram, self.oam, now=0, position=0)

    def run_to(self, now):
        """Catch up one M-cycle at a time, so each request is stamped with its cycle."""
        stamped = []
        start = self.ppu._last
        for t in range(start + 1, now + 1):
            before = len(self.requests)
            self.ppu.catch_up(t)
            stamped += [(t, bit) for bit in self.requests[before:]]
        return stamped

    def mode_and_ly(self, now):
        stat = self.ppu.read(STAT, now)
        return stat & 3, self.ppu.read(LY, now)


def test_mode_timing_within_visible_lines():
    r = Recorder()
    for line in (0, 1, 143):
        base = line * LINE
        assert r.mode_and_ly(base) == (2, line)
        assert r.mode_and_ly(base + 80 // 4 - 1) == (2, line)
        assert r.mode_and_ly(base + 80 // 4) == (3, line)
        assert r.mode_and_ly(base + (80 + 172) // 4 - 1) == (3, line)
        assert r.mode_and_ly(base + (80 + 172) // 4) == (0, line)
        assert r.mode_and_ly(base + LINE - 1) == (0, line)


def test_vblank_lines_and_line_153():
    r = Recorder()
    assert r.mode_and_ly(144 * LINE) == (1, 144)
    assert r.mode_and_ly(152 * LINE + LINE - 1) == (1, 152)
    assert r.mode_and_ly(153 * LINE) == (1, 153)
    assert r.mode_and_ly(153 * LINE + 1) == (1, 0)          # LY=153 lasts 4 dots
    assert r.mode_and_ly(FRAME) == (2, 0)                   # the next frame


def test_vblank_interrupt_every_70224_dots():
    r = Recorder()
    stamped = r.run_to(3 * FRAME)
    assert stamped == [(144 * LINE + k * FRAME, 0) for k in range(3)]
    assert r.ppu.frames == 3


def test_next_event_predicts_vblank_and_stat():
    r = Recorder()
    assert r.ppu.next_event() == 144 * LINE
    r.ppu.write(LYC, 5, 0)
    r.ppu.write(STAT, 0x40, 0)                              # LYC=LY source
    assert r.ppu.next_event() == 5 * LINE
    r.ppu.write(STAT, 0x08, 0)                              # HBlank source
    assert r.ppu.next_event() == (80 + 172) // 4


def test_peek_and_next_change_predict_ly_and_stat_without_running():
    r = Recorder()
    ppu = r.ppu
    ppu.write(LYC, 153, 0)
    # segment boundaries of Pan Docs' line: OAM scan 80 dots, drawing 172, HBlank to 456
    assert ppu.next_change(0) == 80 // 4
    assert ppu.next_change(80 // 4) == (80 + 172) // 4
    assert ppu.next_change((80 + 172) // 4) == LINE
    assert ppu.next_change(LINE - 1) == LINE
    assert ppu.next_change(144 * LINE) == 145 * LINE                 # VBlank: whole lines
    assert ppu.next_change(153 * LINE) == 153 * LINE + 1             # LY=153 lasts 4 dots
    assert ppu.next_change(153 * LINE + 1) == FRAME
    assert ppu.peek(LY, 2 * FRAME + 153 * LINE) == 153
    assert ppu.peek(LY, 2 * FRAME + 153 * LINE + 1) == 0
    # STAT: bit 7 reads 1, LYC=LY in bit 2, the mode in bits 1..0
    assert ppu.peek(STAT, 153 * LINE) == 0x80 | 0x04 | 1
    assert ppu.peek(STAT, 5 * LINE + 30) == 0x80 | 3
    # a prediction: nothing ran, no interrupt was requested
    assert r.requests == [] and ppu.frames == 0 and ppu.read(LY, 0) == 0
    with pytest.raises(KeyError, match="0xff40 is not LY or STAT"):
        ppu.peek(LCDC, 0)


def test_peek_agrees_with_reading_at_the_same_time():
    predicted, running = Recorder().ppu, Recorder().ppu
    for ppu in (predicted, running):
        ppu.write(LYC, 9, 0)
        ppu.write(STAT, 0x48, 0)
    times = range(0, FRAME + 2 * LINE, 5)
    assert [predicted.peek(STAT, t) for t in times] == [running.read(STAT, t) for t in times]


def test_nothing_changes_by_itself_with_the_lcd_off():
    ppu = Recorder().ppu
    ppu.write(LCDC, 0x11, 100)
    assert ppu.next_change(100) is None
    assert ppu.peek(LY, 5000) == 0 and ppu.peek(STAT, 5000) == 0x80 | 0x04   # LYC 0 = LY 0


def test_lyc_interrupt_and_coincidence_flag():
    r = Recorder()
    r.ppu.write(LYC, 7, 0)
    r.ppu.write(STAT, 0x40, 0)
    assert r.run_to(FRAME) == [(7 * LINE, 1), (144 * LINE, 0)]
    assert r.ppu.read(STAT, 7 * LINE + FRAME) & 0x04
    assert not r.ppu.read(STAT, 8 * LINE + FRAME) & 0x04
    # LYC=0 matches on line 153 once LY reads 0, and stays matched through line 0
    r.ppu.write(LYC, 0, 8 * LINE + FRAME)
    stamped = r.run_to(3 * FRAME)
    assert (2 * FRAME + 153 * LINE + 1, 1) in stamped
    assert (3 * FRAME, 1) not in stamped


def test_stat_blocking_between_hblank_and_oam_scan():
    # HBlank and OAM scan sources: the line stays high from HBlank into the next line's
    # OAM scan, so only line 0's OAM scan (after VBlank) and the 144 HBlanks request
    r = Recorder()
    r.ppu.write(STAT, 0x28, 0)
    stamped = r.run_to(2 * FRAME)
    stat_times = [t for t, bit in stamped if bit == 1]
    frame = [t - FRAME for t in stat_times if FRAME <= t < 2 * FRAME]
    assert frame == sorted([0] + [line * LINE + 63 for line in range(144)])


def test_lcd_off_and_on():
    r = Recorder()
    ppu = r.ppu
    ppu.write(LCDC, 0x11, 1000)
    assert r.mode_and_ly(5000) == (0, 0)
    assert ppu.next_event() is None
    assert r.run_to(3 * FRAME) == []
    ppu.write(LCDC, 0x91, 3 * FRAME + 10)
    assert r.mode_and_ly(3 * FRAME + 10) == (2, 0)
    assert r.mode_and_ly(3 * FRAME + 10 + LINE) == (2, 1)
    assert ppu.next_event() == 3 * FRAME + 10 + 144 * LINE


def boot(code, banks=None, render=True):
    return GameBoy(Cartridge.parse(make_rom(bytes(code), banks=banks)), render=render)


def counting_rom(ie, stat=0x00):
    """Enable interrupts ``ie`` (STAT sources ``stat``); each interrupt handler does
    INC (HL) with HL = C000; the main loop HALTs."""
    handlers = bytearray(0x68)
    for vector in (0x40, 0x48):
        handlers[vector:vector + 2] = b"\x34\xd9"              # INC (HL); RETI
    code = [0x21, 0x00, 0xC0,           # LD HL,C000
            0x3E, stat, 0xE0, 0x41,     # LD A,stat; LDH (41),A
            0x3E, ie, 0xE0, 0xFF,       # LD A,ie; LDH (FF),A
            0xAF, 0xE0, 0x0F,           # XOR A; LDH (0F),A
            0xFB,                       # EI
            0x76, 0x18, 0xFD]           # loop: HALT; JR loop
    return code, {0: bytes(handlers)}


@pytest.mark.parametrize("render", [True, False])
def test_vblank_interrupts_over_frames(render):
    code, banks = counting_rom(ie=0x01)
    gb = boot(code, banks, render=render)
    gb.run(10 * FRAME)
    assert gb.machine.memory.read(0xC000, 1) == 10
    assert gb.ppu.frames == 10


def test_hblank_stat_interrupts_over_frames():
    code, banks = counting_rom(ie=0x02, stat=0x08)
    gb = boot(code, banks, render=False)
    for _ in range(2):
        gb.run_frame()
    # 2 frames of 144 HBlanks, counted mod 256 by INC (HL)
    assert gb.machine.memory.read(0xC000, 1) == 288 % 256
    assert gb.ppu.frames == 2


# --- rendering ----------------------------------------------------------------------------

# tile 0: every row F0/CC; tile 1: rows 0-3 FF/00, rows 4-7 00/FF
TILE0 = bytes([0xF0, 0xCC] * 8)
TILE1 = bytes([0xFF, 0x00] * 4 + [0x00, 0xFF] * 4)
# decoded by hand: F0 = 11110000, CC = 11001100 -> indices 3 3 1 1 2 2 0 0
TILE0_PIXELS = [[3, 3, 1, 1, 2, 2, 0, 0]] * 8
TILE1_PIXELS = [[1] * 8] * 4 + [[2] * 8] * 4


def test_background_of_a_rom_drawn_tile_map():
    code = [0x21, 0x00, 0x80,           # LD HL,8000
            0x11, 0x00, 0x02,           # LD DE,0200 (the tiles in ROM)
            0x06, 0x20,                 # LD B,32
            0x1A, 0x22, 0x13, 0x05,     # loop: LD A,(DE); LD (HL+),A; INC DE; DEC B
            0x20, 0xFA,                 # JR NZ,loop
            0x3E, 0x01, 0xEA, 0x01, 0x98,   # LD A,1; LD (9801),A: map entry (1, 0)
            0x3E, 0x1B, 0xE0, 0x47,     # BGP = 1B: index i -> shade 3 - i
            0x3E, 0x03, 0xE0, 0x43,     # SCX = 3
            0x3E, 0x02, 0xE0, 0x42,     # SCY = 2
            0x18, 0xFE]                 # JR $
    gb = boot(code, banks={0: bytes(0x200) + TILE0 + TILE1})
    gb.run_frame()
    gb.run_frame()                      # a whole frame with the final settings
    fb = gb.ppu.framebuffer
    for y in range(144):
        for x in range(160):
            bx, by = x + 3, y + 2
            tile = TILE1_PIXELS if (bx // 8, by // 8) == (1, 0) else TILE0_PIXELS
            assert fb[y * 160 + x] == 3 - tile[by % 8][bx % 8], (x, y)


def render_line(lcdc, setup, line=0):
    """Line ``line`` of a standalone PPU after ``setup(vram, oam, ppu)``, with OBP0 E4
    (identity), OBP1 1B (reversed), BGP E4."""
    r = Recorder()
    r.ppu.write(0xFF47, 0xE4, 0)
    r.ppu.write(0xFF48, 0xE4, 0)
    r.ppu.write(0xFF49, 0x1B, 0)
    r.ppu.write(LCDC, lcdc, 0)
    setup(r.vram, r.oam, r.ppu)
    r.ppu.catch_up(line * LINE + LINE - 1)
    return list(r.ppu.framebuffer[line * 160:(line + 1) * 160])


SOLID1 = bytes([0xFF, 0x00] * 8)        # colour 1 everywhere
SOLID2 = bytes([0x00, 0xFF] * 8)        # colour 2
LEFT3 = bytes([0x80, 0x80] * 8)         # colour 3 in the leftmost column only


def put_tile(vram, index, data):
    vram[index * 16:index * 16 + 16] = data


def put_object(oam, slot, y, x, tile, flags=0):
    oam[4 * slot:4 * slot + 4] = bytes([y, x, tile, flags])


def test_objects_smaller_x_wins_then_lower_oam_index():
    def setup(vram, oam, ppu):
        put_tile(vram, 1, SOLID1)
        put_tile(vram, 2, SOLID2)
        put_object(oam, 0, 16, 20, 2)            # screen x 12..19, colour 2
        put_object(oam, 1, 16, 18, 1)            # screen x 10..17, colour 1: smaller X
        put_object(oam, 2, 16, 50, 1)            # x 42..49 colour 1, lower index wins
        put_object(oam, 3, 16, 50, 2)
    line = render_line(0x93, setup)              # BG tile 0 is blank: index 0
    assert line[10:18] == [1] * 8
    assert line[18:20] == [2, 2]
    assert line[42:50] == [1] * 8
    assert line[:10] == [0] * 10 and line[20:42] == [0] * 22


def test_object_flips_palette_and_behind_background():
    def setup(vram, oam, ppu):
        put_tile(vram, 0, bytes([0x0F, 0x00] * 8))     # BG: indices 0 0 0 0 1 1 1 1
        put_tile(vram, 3, LEFT3)
        put_object(oam, 0, 16, 8, 3)                     # x 0: colour 3 at column 0
        put_object(oam, 1, 16, 16, 3, flags=0x20)        # X flip: colour 3 at 15
        put_object(oam, 2, 16, 24, 3, flags=0x10)        # OBP1: shade 3 - 3 = 0 at 16
        put_object(oam, 3, 16, 40, 1, flags=0x80)      # behind BG: x 32..39
        put_tile(vram, 1, SOLID2)
    line = render_line(0x93, setup)
    assert line[0] == 3 and line[1:4] == [0, 0, 0]
    assert line[15] == 3 and line[8:15] == [0, 0, 0, 0, 1, 1, 1]
    assert line[16] == 0
    # behind BG: shows (colour 2) only where the BG index is 0 (columns 0-3 of the tile)
    assert line[32:40] == [2, 2, 2, 2, 1, 1, 1, 1]


def test_ten_objects_per_line_in_oam_order():
    def setup(vram, oam, ppu):
        put_tile(vram, 1, SOLID1)
        put_object(oam, 0, 16, 0, 1)                     # off screen, still counts
        for slot in range(1, 11):
            put_object(oam, slot, 16, 8 * slot + 8, 1)  # x 8*slot .. 8*slot+7
    line = render_line(0x93, setup)
    assert line[8:80] == [1] * 72                        # slots 1-9
    assert line[80:88] == [0] * 8                        # slot 10: the 11th on the line


def test_tall_objects_with_y_flip():
    def setup(vram, oam, ppu):
        put_tile(vram, 4, SOLID1)                        # top half
        put_tile(vram, 5, SOLID2)                        # bottom half
        put_object(oam, 0, 16, 8, 5)                     # index bit 0 ignored
        put_object(oam, 1, 16, 16, 4, flags=0x40)        # flipped: bottom tile first
    line = render_line(0x97, setup)
    assert line[0:8] == [1] * 8
    assert line[8:16] == [2] * 8


def test_window_from_wx_with_its_own_line_counter():
    def setup(vram, oam, ppu):
        put_tile(vram, 1, TILE1)                         # rows 0-3 colour 1, 4-7 colour 2
        vram[0x1C00:0x1C00 + 32] = bytes([1] * 32)       # window map at 9C00: tile 1
        ppu.write(0xFF4A, 2, 0)                          # WY = 2
        ppu.write(0xFF4B, 7 + 80, 0)                     # WX = 87: from screen x 80
        ppu.write(0xFF42, 100, 0)                        # SCY moves the BG, not the window
    r = Recorder()
    setup(r.vram, r.oam, r.ppu)
    r.ppu.write(0xFF47, 0xE4, 0)
    r.ppu.write(LCDC, 0xF1, 0)                           # window on, map 9C00, tiles 8000
    r.ppu.catch_up(7 * LINE)
    fb = r.ppu.framebuffer
    assert list(fb[160:320]) == [0] * 160                # line 1: above WY
    for y, colour in ((2, 1), (5, 1), (6, 2)):           # window lines 0, 3, 4
        assert list(fb[y * 160:y * 160 + 80]) == [0] * 80
        assert list(fb[y * 160 + 80:(y + 1) * 160]) == [colour] * 80


def test_headless_leaves_the_framebuffer_alone():
    gb = boot([0x3E, 0xFF, 0xE0, 0x47, 0x18, 0xFE], render=False)     # BGP = FF: black
    gb.run_frame()
    gb.run_frame()
    assert not any(gb.ppu.framebuffer)


def test_not_a_ppu_register():
    ppu = Recorder().ppu
    with pytest.raises(KeyError, match="0xff46 is not a PPU register"):
        ppu.read(0xFF46, 0)
    with pytest.raises(KeyError, match="0xff4c is not a PPU register"):
        ppu.write(0xFF4C, 1, 0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3 * FRAME), st.sampled_from([None, LY, STAT, LYC])),
                min_size=1, max_size=30))
def test_headless_without_stat_sources_catches_up_like_the_stepping_ppu(steps):
    # headless with no STAT source selected, catch_up jumps instead of entering every
    # segment: the same requests, frames and register reads as a drawing PPU stepping
    requests = {True: [], False: []}
    ppus = {render: Ppu(requests[render].append, bytearray(0x2000), bytearray(0xA0),
                        now=0, render=render) for render in (True, False)}
    now = 0
    for delta, register in steps:
        now += delta
        seen = {}
        for render, unit in ppus.items():
            requests[render].clear()
            if register == LYC:
                unit.write(LYC, delta % 154, now)
            elif register is not None:
                seen[render] = unit.read(register, now)
            else:
                unit.catch_up(now)
            # what IF sees: the bits requested (a bit requested twice is still one bit)
            seen[render] = (seen.get(render), unit.frames, unit.next_event(),
                            unit.next_vblank(), set(requests[render]))
        assert seen[True] == seen[False]


# --- the batched numpy renderer against the line-by-line one it replaced ------------------

class ReferencePpu(Ppu):
    """The PPU with the line-by-line renderer that ``render.py`` replaced, kept as the
    reference: each line is drawn into ``reference_framebuffer`` as its HBlank starts, with
    the tile, palette and object rules spelled out pixel by pixel (Pan Docs, "Tile Data",
    "Palettes", "Object Attribute Memory")."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reference_framebuffer = bytearray(160 * 144)

    def _draw_line(self, ly):
        self._render_line(ly)

    def _tile_data(self, tile, row, signed):
        base = 0x1000 + ((tile ^ 0x80) - 0x80) * 16 if signed else tile * 16
        low, high = self.vram[base + 2 * row], self.vram[base + 2 * row + 1]
        return bytes((low >> bit & 1) | (high >> bit & 1) << 1 for bit in range(7, -1, -1))

    def _map_row(self, map_base, y):
        signed = not self.lcdc & 0x10
        start = map_base + (y >> 3) * 32
        return b"".join(self._tile_data(tile, y & 7, signed)
                        for tile in self.vram[start:start + 32])

    @staticmethod
    def _shades(palette):
        return bytes(palette >> 2 * (index & 3) & 3 for index in range(256))

    def _render_line(self, ly):
        if self.lcdc & 0x01:
            row = self._map_row(0x1C00 if self.lcdc & 0x08 else 0x1800, (ly + self.scy) & 0xFF)
            x = self.scx
            indices = bytearray((row[x:] + row[:x])[:160])
            self._draw_window(indices)
            line = bytearray(indices.translate(self._shades(self.bgp)))
        else:
            indices = bytearray(160)
            line = bytearray(160)
        if self.lcdc & 0x02:
            self._draw_objects(ly, indices, line)
        self.reference_framebuffer[ly * 160:(ly + 1) * 160] = line

    def _draw_window(self, indices):
        left = self.wx - 7
        if not (self.lcdc & 0x20 and self._window_triggered and left < 160):
            return
        row = self._map_row(0x1C00 if self.lcdc & 0x40 else 0x1800, self._window_line)
        self._window_line += 1
        start = max(left, 0)
        indices[start:] = row[start - left:160 - left]

    def _draw_objects(self, ly, bg_indices, line):
        height = 16 if self.lcdc & 0x04 else 8
        oam = self.oam
        chosen = []
        for index in range(40):
            y = oam[4 * index] - 16
            if y <= ly < y + height:
                chosen.append((oam[4 * index + 1], index, ly - y))
                if len(chosen) == 10:
                    break
        taken = bytearray(160)
        for x, index, row in sorted(chosen):
            tile, flags = oam[4 * index + 2], oam[4 * index + 3]
            if flags & 0x40:
                row = height - 1 - row
            if height == 16:
                tile = tile & 0xFE | row >> 3
            pixels = self._tile_data(tile, row & 7, signed=False)
            if flags & 0x20:
                pixels = pixels[::-1]
            shades = self._shades(self.obp1 if flags & 0x10 else self.obp0)
            for i, colour in enumerate(pixels):
                px = x - 8 + i
                if colour == 0 or not 0 <= px < 160 or taken[px]:
                    continue
                taken[px] = 1
                if not (flags & 0x80 and bg_indices[px]):
                    line[px] = shades[colour]


DRAWING_REGISTERS = [0xFF40, 0xFF42, 0xFF43, 0xFF47, 0xFF48, 0xFF49, 0xFF4A, 0xFF4B]

# one step of a run: catch up ``delta`` M-cycles, then change something
steps_strategy = st.lists(st.tuples(
    st.integers(1, 3 * LINE),
    st.one_of(
        st.tuples(st.just("register"), st.sampled_from(DRAWING_REGISTERS),
                  st.integers(0, 255)),
        st.tuples(st.just("vram"), st.integers(0, 0x1FFF), st.binary(min_size=1, max_size=64)),
        st.tuples(st.just("oam"), st.integers(0, 0x9F), st.binary(min_size=1, max_size=16)),
        st.tuples(st.just("read"), st.none(), st.none()))),
    max_size=25)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 255), steps_strategy,
       st.integers(LINE, FRAME + 3 * LINE))
def test_batched_renderer_draws_the_reference_pixels(seed, lcdc, steps, tail):
    # random VRAM, OAM (objects placed mostly on screen) and registers from ``seed``; then
    # CPU-like steps between catch-ups: register writes, VRAM/OAM stores, framebuffer reads
    rng = random.Random(seed)
    vram = bytearray(rng.randbytes(0x2000))
    oam = bytearray(rng.randbytes(0xA0))
    for slot in range(40):
        oam[4 * slot] = rng.randrange(0, 176)
        oam[4 * slot + 1] = rng.randrange(0, 176)
    fast = Ppu(lambda bit: None, vram, oam, now=0, position=0)
    reference = ReferencePpu(lambda bit: None, vram, oam, now=0, position=0)
    units = (fast, reference)
    for address in DRAWING_REGISTERS[1:]:
        value = rng.randrange(256) if address != 0xFF4A else rng.randrange(150)
        for unit in units:
            unit.write(address, value, 0)
    for unit in units:
        unit.write(LCDC, lcdc | 0x80, 0)
    now = 0
    for delta, (kind, where, value) in steps:
        now += delta
        for unit in units:
            unit.catch_up(now)
        if kind == "register":
            for unit in units:
                unit.write(where, value, now)
        elif kind == "vram":
            vram[where:where + len(value)] = value[:0x2000 - where]
        elif kind == "oam":
            oam[where:where + len(value)] = value[:0xA0 - where]
        else:
            assert fast.framebuffer == reference.reference_framebuffer
    for unit in units:
        unit.catch_up(now + tail)
    assert fast.framebuffer == reference.reference_framebuffer


@pytest.mark.parametrize("wx", [30, 3])
def test_a_whole_frame_of_window_and_objects_matches_the_reference(wx):
    # every feature at once over a full frame: scrolled BG with 8800 addressing, the window
    # from WY 20 / WX ``wx`` (3: its first 4 columns off screen) with map 9C00, 40 tall
    # objects with all flags
    rng = random.Random(6)
    vram = bytearray(rng.randbytes(0x2000))
    oam = bytearray(rng.randbytes(0xA0))
    for slot in range(40):
        oam[4 * slot:4 * slot + 2] = bytes([rng.randrange(8, 168), rng.randrange(0, 168)])
    fast = Ppu(lambda bit: None, vram, oam, now=0, position=0)
    reference = ReferencePpu(lambda bit: None, vram, oam, now=0, position=0)
    for unit in (fast, reference):
        for address, value in ((0xFF42, 37), (0xFF43, 201), (0xFF47, 0x1B), (0xFF48, 0xE4),
                               (0xFF49, 0x2D), (0xFF4A, 20), (0xFF4B, wx), (LCDC, 0xE7)):
            unit.write(address, value, 0)
        unit.catch_up(FRAME)
    assert fast.framebuffer == reference.reference_framebuffer
    assert len(set(fast.framebuffer)) == 4                  # all four shades were drawn


def test_draw_lines_rejects_bad_lines_and_buffers():
    pixels = np.zeros((144, 160), dtype=np.uint8)
    plain = Line(0x91, 0, 0, 0xE4, 0, 0, 0, -1)
    with pytest.raises(ValueError, match="lines out of range"):
        draw_lines(pixels, bytes(0x2000), bytes(0xA0), {144: plain})
    with pytest.raises(ValueError, match="lines out of range"):
        draw_lines(pixels, bytes(0x2000), bytes(0xA0), {3: plain._replace(window_row=256)})
    with pytest.raises(ValueError, match="8192 bytes of VRAM and 160 of OAM, got 100"):
        draw_lines(pixels, bytes(100), bytes(0xA0), {0: plain})
    with pytest.raises(RuntimeError, match="line 7 queued before"):
        LineBatcher(bytearray(160 * 144)).line(7, plain)


def test_a_static_screen_is_not_drawn_again(monkeypatch):
    import dynarec_gameboy.render as render
    calls = []
    real = render.draw_lines
    monkeypatch.setattr(render, "draw_lines", lambda *args: calls.append(1) or real(*args))
    r = Recorder()                                  # BGP FC: index 0 white, 1-3 black
    put_tile(r.vram, 0, TILE0)                      # indices 3 3 1 1 2 2 0 0 everywhere
    r.ppu.catch_up(FRAME)
    assert r.ppu.framebuffer[:8] == bytes([3, 3, 3, 3, 3, 3, 0, 0]) and len(calls) == 1
    r.ppu.catch_up(2 * FRAME)                       # the same frame again
    assert r.ppu.framebuffer[:8] == bytes([3, 3, 3, 3, 3, 3, 0, 0]) and len(calls) == 1
    r.vram[0] = 0x0F                                # row 0: 0F/CC -> 2 2 0 0 3 3 1 1
    r.ppu.catch_up(3 * FRAME)
    assert r.ppu.framebuffer[:8] == bytes([3, 3, 0, 0, 3, 3, 3, 3]) and len(calls) == 2
