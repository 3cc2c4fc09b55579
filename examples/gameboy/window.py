"""``dynarec-gameboy --window``: the screen in an SDL window (pygame) and the keyboard as the
joypad.

``Window(gameboy, scale=3)`` opens the window (raises ``ImportError`` without pygame);
``run(frames=None) -> RunResult`` runs frame after frame at the DMG's rate -- 4,194,304 /
70,224 = 59.73 frames a second (Pan Docs, "Rendering": a frame is 70,224 dots) -- showing
each, until the window is closed, Esc is pressed, ``frames`` have run or the CPU locks up
(that frame's ``RunResult``; the last frame's otherwise). Keys: the arrows are the d-pad,
Z is A, X is B, Enter is Start, Backspace is Select (``devices.Joypad.KEYS``).
"""

from __future__ import annotations

from typing import Optional

import pygame

from dynarec.runtime import ExitReason, RunResult

from .bus import GameBoy
from .cli import frame_image
from .ppu import SCREEN_HEIGHT, SCREEN_WIDTH

FRAME_RATE = 4_194_304 / 70_224
#: pygame key -> joypad key
KEYS = {pygame.K_RIGHT: "right", pygame.K_LEFT: "left", pygame.K_UP: "up",
        pygame.K_DOWN: "down", pygame.K_z: "a", pygame.K_x: "b", pygame.K_RETURN: "start",
        pygame.K_BACKSPACE: "select"}


class Window:
    """A window showing ``gameboy``'s frames at ``scale`` times their size."""

    def __init__(self, gameboy: GameBoy, scale: int = 3):
        self.gameboy = gameboy
        pygame.display.init()
        pygame.display.set_caption(f"dynarec-gameboy: {gameboy.cartridge.title}")
        self.size = (SCREEN_WIDTH * scale, SCREEN_HEIGHT * scale)
        self.screen = pygame.display.set_mode(self.size)
        self.clock = pygame.time.Clock()

    def run(self, frames: Optional[int] = None) -> Optional[RunResult]:
        """Show frames until the window closes, Esc, ``frames`` frames or a lock-up (module
        docstring); closes the window and returns the last frame's ``RunResult`` (``None``
        if none ran)."""
        result, shown = None, 0
        try:
            while frames is None or shown < frames:
                if not self._events():
                    break
                result = self.gameboy.run_frame()
                if result.reason == ExitReason.EXCEPTION:
                    break
                self._show()
                shown += 1
                self.clock.tick(FRAME_RATE)
        finally:
            pygame.display.quit()
        return result

    def _events(self) -> bool:
        """Feed key presses to the joypad; False when the user asked to quit."""
        joypad = self.gameboy.joypad
        for event in pygame.event.get():
            if event.type == pygame.QUIT or \
                    event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE:
                return False
            if event.type in (pygame.KEYDOWN, pygame.KEYUP) and event.key in KEYS:
                (joypad.press if event.type == pygame.KEYDOWN else joypad.release)(
                    KEYS[event.key])
        return True

    def _show(self) -> None:
        image = frame_image(self.gameboy.ppu.framebuffer).convert("RGB")
        surface = pygame.image.frombuffer(image.tobytes(), image.size, "RGB")
        self.screen.blit(pygame.transform.scale(surface, self.size), (0, 0))
        pygame.display.flip()
