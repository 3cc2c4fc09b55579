"""The SM83 (the Game Boy's CPU core) as software sees it: register file, flag bits, run modes,
interrupt sources and the time unit. Every other module of the SM83 guest takes these facts
from here.

Sources: Pan Docs (gbdev.io/pandocs), sections "CPU Registers and Flags", "Interrupts",
"halt", "Reducing Power Consumption" (STOP) and "Specifications"; Gekkio, *Game Boy: Complete
Technical Reference* (gbctr), its SM83 chapters (registers, M-cycle timing).

State layout (``STATE``; every slot holds the raw unsigned value, integers only). A plain dict
with these keys works as state for the reference interpreter, as ``Machine.regs`` does:

==============  ====  ===================================================================
slot            type  meaning
==============  ====  ===================================================================
``pc``          i16   program counter
``sp``          i16   stack pointer
``a`` ``f``     i8    accumulator and flags (F: Z N H C in bits 7..4, bits 3..0 always 0)
``b`` .. ``l``  i8    B C D E H L (pairs BC, DE, HL; AF for PUSH/POP)
``ime``         i8    interrupt master enable (1: enabled)
``ei_pending``  i8    1 from EI until IME is set, one instruction later (Pan Docs,
                      "Interrupts": the effect of EI is delayed by one instruction)
``run_mode``    i8    ``RunMode``: running, halted, stopped or locked
``halt_bug``    i8    1 after the HALT bug: the next opcode fetch does not advance ``pc``
==============  ====  ===================================================================

Time: every cycle count of this guest is in M-cycles; one M-cycle is
``T_CYCLES_PER_M_CYCLE`` = 4 T-cycles of the ``CLOCK_HZ`` = 4,194,304 Hz clock (Pan Docs,
"Specifications"; gbctr uses the same two units).
"""

from __future__ import annotations

import enum

from dynarec.ir.nodes import Slot, StateLayout
from dynarec.ir.types import I8, I16

STATE = StateLayout([
    Slot("pc", I16),
    Slot("sp", I16),
    Slot("a", I8),
    Slot("f", I8),
    Slot("b", I8),
    Slot("c", I8),
    Slot("d", I8),
    Slot("e", I8),
    Slot("h", I8),
    Slot("l", I8),
    Slot("ime", I8),
    Slot("ei_pending", I8),
    Slot("run_mode", I8),
    Slot("halt_bug", I8),
])


class RunMode(enum.IntEnum):
    """The ``run_mode`` slot. RUNNING executes instructions; HALTED (after HALT) idles until
    ``IE & IF`` is non-zero (Pan Docs, "halt"); STOPPED (after STOP) idles until the embedder
    sets RUNNING again -- on the DMG a joypad line going low ends STOP (Pan Docs, "Using the
    STOP Instruction"); LOCKED (after an illegal opcode) never runs again (Pan Docs, "CPU
    Instruction Set": the invalid opcodes hard-lock the CPU until power-off)."""

    RUNNING = 0
    HALTED = 1
    STOPPED = 2
    LOCKED = 3


#: 8-bit operand registers by their instruction-set names, to the state slot holding them.
REG8 = {"A": "a", "B": "b", "C": "c", "D": "d", "E": "e", "H": "h", "L": "l"}

#: Register pairs: (high slot, low slot). The high register is the pair's upper byte; F
#: keeps only bits 7..4 when AF is written (POP AF).
PAIRS = {"AF": ("a", "f"), "BC": ("b", "c"), "DE": ("d", "e"), "HL": ("h", "l")}

# --- flags (Pan Docs, "CPU Registers and Flags") --------------------------------------------

FLAG_Z = 0x80                # zero: the result is 0
FLAG_N = 0x40                # subtraction: the last ALU operation subtracted (read by DAA)
FLAG_H = 0x20                # half carry: carry out of bit 3 (bit 11 for ADD HL,rr)
FLAG_C = 0x10                # carry: carry out of bit 7 (bit 15 for ADD HL,rr), or borrow
F_MASK = 0xF0                # the bits of F that exist; bits 3..0 always read 0

#: Flag name to its bit in F, in the order the manuals list them.
FLAGS = {"Z": FLAG_Z, "N": FLAG_N, "H": FLAG_H, "C": FLAG_C}

# --- interrupts (Pan Docs, "Interrupts"; "Interrupt Priorities") ----------------------------

IE_ADDRESS = 0xFFFF          # interrupt enable register
IF_ADDRESS = 0xFF0F          # interrupt flag (request) register
INTERRUPT_BITS = 0x1F        # IE/IF bits that name an interrupt source

#: Interrupt sources by priority (bit 0 highest): (IE/IF bit, name, vector address).
INTERRUPTS = (
    (0, "VBlank", 0x40),
    (1, "STAT", 0x48),
    (2, "Timer", 0x50),
    (3, "Serial", 0x58),
    (4, "Joypad", 0x60),
)

# --- time -----------------------------------------------------------------------------------

T_CYCLES_PER_M_CYCLE = 4
CLOCK_HZ = 4_194_304         # T-cycles per second (DMG)

