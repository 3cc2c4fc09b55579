"""The simple system bare MIPS programs run on (``dynarec-run mips``, ``dynarec-diff mips``).

* RAM at physical 0 .. 8 MiB, seen through KSEG0 (0x80000000) and KSEG1 (0xA0000000).
* A debug port in the page at physical 0x1FF00000 (virtual 0xBFF00000): a byte stored to
  0x1FF00000 is appended to the program's output; a 32-bit load from 0x1FF00010 returns the
  number of guest cycles run so far. Other offsets read 0 and ignore stores.
* The image's loadable segments are copied to their physical addresses, ``GUARD`` is written
  after the highest one (so an oracle running off the end spins instead of dying), and the pc
  is set to the entry point, sign-extended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from dynarec.loader import Image, LoadError

from .arch import MASK32, sext, unmapped_physical
from .oracle import GUARD

RAM_SIZE = 8 << 20
DEBUG_PORT = 0x1FF00000
DEBUG_OUT = DEBUG_PORT
DEBUG_CYCLES = DEBUG_PORT + 0x10
DEBUG_PAGE = 0x1000


@dataclass
class BareSystem:
    """A Machine set up with RAM, the debug port and a program. ``output`` collects the
    bytes the program printed; ``entry`` is the (sign-extended) start pc."""

    machine: object
    entry: int
    output: bytearray = field(default_factory=bytearray)

    def text(self) -> str:
        return self.output.decode("latin-1")


def virtual(address: int) -> int:
    """A 32-bit address as the guest's sign-extended 64-bit pc/virtual address."""
    return sext(address & MASK32, 32)


def physical(vaddr: int, what: str) -> int:
    """The physical address of a KSEG0/KSEG1 ``vaddr``; ``LoadError`` otherwise."""
    paddr = unmapped_physical(virtual(vaddr))
    if paddr is None:
        raise LoadError(f"{what} {vaddr:#x} is not in KSEG0/KSEG1: bare programs need "
                        f"unmapped addresses (0x80000000-0xBFFFFFFF)")
    return paddr


def load_bare(machine, image: Image, entry: Optional[int] = None) -> BareSystem:
    """Map the system into ``machine`` (a ``Machine("mips")``), load ``image`` and point the
    pc at ``entry`` (default: the image's). Raises ``LoadError`` when a segment or the entry
    lies outside RAM."""
    mem = machine.memory
    mem.map_ram(0, RAM_SIZE, name="ram")
    system = BareSystem(machine, 0)

    def port_read(addr: int, size: int) -> int:
        return machine.cycles & MASK32 if addr == DEBUG_CYCLES else 0

    def port_write(addr: int, size: int, value: int) -> None:
        if addr == DEBUG_OUT:
            system.output.append(value & 0xFF)

    mem.map_mmio(DEBUG_PORT, DEBUG_PAGE, port_read, port_write, name="debug-port")
    top = 0
    for seg in image.segments:
        start = physical(seg.vaddr, "segment")
        if start + seg.memsz > RAM_SIZE:
            raise LoadError(f"{image.path}: segment at {seg.vaddr:#x} ({seg.memsz} bytes) "
                            f"does not fit in {RAM_SIZE >> 20} MiB of RAM")
        mem.write_bytes(start, seg.data)
        top = max(top, start + seg.memsz)
    if top + len(GUARD) <= RAM_SIZE:
        mem.write_bytes((top + 7) & ~7, GUARD)
    start = image.entry if entry is None else entry
    if start is None:
        raise LoadError(f"{image.path}: no entry point; give --entry ADDR")
    paddr = physical(start, "entry")
    if not image.contains(start) and not any(
            physical(s.vaddr, "segment") <= paddr < physical(s.vaddr, "segment") + s.memsz
            for s in image.segments):
        raise LoadError(f"{image.path}: entry {start:#x} is outside the image")
    system.entry = virtual(start)
    machine.pc = system.entry
    return system
