"""Assembly text buffer: main code, far code, labels (shared by the hosts).

Lines are Keystone input in the host's syntax. The main body is emitted in block order;
*far code* (slow paths, NaN fix-ups, exits taken rarely) is collected separately and placed
after the main body, so the common path falls through without taken branches (the layout QEMU's TCG
uses for its softmmu slow paths).
"""

from __future__ import annotations

import contextlib


class Asm:
    """Collects one region's assembly. ``prefix`` makes the region's labels unique and keeps
    them from looking like register names or numbers to Keystone (labels read ``L<prefix>_
    <hint><n>``)."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.main: list = []
        self._far: list = []
        self._target = self.main
        self._count = 0
        self._labels = 0
        self._extra = 0             # statements that are not instructions of their own

    def label(self, hint: str = "l") -> str:
        """A fresh label name (not yet placed)."""
        self._count += 1
        return f"L{self.prefix}_{hint}{self._count}"

    def __call__(self, line: str) -> None:
        """Append one instruction to the current section."""
        self._target.append(line)

    def data(self, line: str) -> None:
        """Append a data statement that belongs to the instruction before it (it is not
        counted as an instruction of its own)."""
        self._target.append(line)
        self._extra += 1

    def place(self, label: str) -> None:
        """Bind ``label`` to the current position of the current section."""
        self._target.append(label + ":")
        self._labels += 1

    @contextlib.contextmanager
    def far(self):
        """Emit into far code for the duration of the ``with`` block. The far block must end
        in an unconditional jump or exit: it is placed after unrelated code."""
        saved, block = self._target, []
        self._target = block
        try:
            yield
        finally:
            self._target = saved
            self._far.extend(block)

    def lines(self) -> list:
        """Every line (Keystone statements: instructions and labels), main body first, then
        far code."""
        return self.main + self._far

    def text(self) -> str:
        """The listing: instructions indented under their labels."""
        return "".join(f"{line}\n" if line.endswith(":") else f"    {line}\n"
                       for line in self.lines())

    @property
    def instructions(self) -> int:
        """How many instructions (statements that are not labels) the text holds."""
        return len(self.main) + len(self._far) - self._labels - self._extra
