"""The MIPS test programs (examples/mips/programs) set up on a Machine, for the core tests
that run real compiled code. Imported by name: pytest puts this directory on ``sys.path``."""

import pathlib

from dynarec import Machine
from dynarec.guests.mips.system import load_bare, virtual
from dynarec.loader import load_image

PROGRAMS = pathlib.Path(__file__).resolve().parents[2] / "examples/mips/programs"


def mips_program(name: str, build: str = "test-o32", guest="mips", **machine_options):
    """BUILD/NAME.elf loaded on a ``Machine(guest, **machine_options)`` with its ``_halt``
    loop as the halt point: ``(machine, system, symbols)``, symbols as virtual addresses."""
    image = load_image(str(PROGRAMS / "build" / build / f"{name}.elf"))
    m = Machine(guest, **machine_options)
    system = load_bare(m, image)
    m.halt_at(virtual(image.symbols["_halt"]))
    return m, system, {k: virtual(v) for k, v in image.symbols.items()}


def expected_output(name: str) -> str:
    """What NAME prints (from a native build of the same C source)."""
    return (PROGRAMS / "expected/test" / f"{name}.txt").read_text()
