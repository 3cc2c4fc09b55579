"""The ONE table of suite deviations: opcodes where the SingleStepTests SM83 suite
(``../shared/sm83-tests``) records something else than the hardware does. The interpreter and
the JIT keep the hardware behaviour; the conformance tests assert that every case of these
opcodes disagrees with the suite exactly as the entry says (pc advance, M-cycle count, run
mode), and agrees in everything else.

On the hardware side an entry relies on the decoder table: ``TABLE[opcode].length`` and
``.cycles`` are what the CPU does, ``run_mode`` the mode it is left in (the suite's state has
no such field). On the suite side it records the pc advance and M-cycle count the suite has.
The suite's extra M-cycles are internal ones after the hardware's own bus cycles, so the
hardware's cycles are a prefix of the suite's.
"""

from __future__ import annotations

from dataclasses import dataclass

from .arch import RunMode


@dataclass(frozen=True)
class Deviation:
    """One opcode the suite records differently: ``suite_length`` (the pc advance it
    records, bytes), ``suite_cycles`` (its M-cycle count), ``run_mode`` (the ``RunMode``
    the hardware is left in), ``reason`` (what differs and why) and ``source`` (of the
    hardware facts)."""

    opcode: int
    suite_length: int
    suite_cycles: int
    run_mode: RunMode
    reason: str
    source: str


DEVIATIONS: dict = {d.opcode: d for d in (
    Deviation(
        0x76, suite_length=1, suite_cycles=3, run_mode=RunMode.HALTED,
        reason="HALT: the suite records a 1-byte, 3-M-cycle instruction that only advances "
               "pc, whatever IME and IE hold. The CPU spends 1 M-cycle (the fetch) and "
               "enters HALT mode, idling one M-cycle per step until IE & IF is non-zero "
               "(on the suite's flat system nothing is ever pending); with an interrupt "
               "already pending it does not halt, and with IME = 0 the HALT bug strikes.",
        source="the suite's README (HALT/STOP deviation); Pan Docs, \"halt\"; gbdev "
               "optables (HALT: 1 byte, 4 T-cycles)"),
    Deviation(
        0x10, suite_length=1, suite_cycles=3, run_mode=RunMode.STOPPED,
        reason="STOP: the suite records a 1-byte, 3-M-cycle instruction that only advances "
               "pc. The CPU treats STOP as two bytes (10 nn, the second skipped), spends 1 "
               "M-cycle and enters STOP mode until a joypad line goes low.",
        source="the suite's README (HALT/STOP deviation); Pan Docs, \"CPU Instruction Set\" "
               "(STOP is two bytes) and \"Using the STOP Instruction\"; gbdev optables "
               "(STOP n8: 2 bytes, 4 T-cycles)"),
)}
