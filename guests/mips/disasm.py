"""Disassembly for reports: capstone in MIPS64 big-endian mode, with the VR4300's names where
capstone has none.

``disassemble(code, address) -> list[str]``: one ``"0xffffffff80000400: addiu $sp, $sp, -0x20"``
line per 4-byte word (a trailing partial word is ignored). Branch and jump targets are printed
as the 64-bit addresses the guest state holds; COP0 moves name their COP0 register
(``mfc0 $t0, Status``); words capstone cannot decode print as ``.word 0x...``, and words
the decoder table does not know (the guest raises RI for them) are marked.
"""

from __future__ import annotations

from .arch import COP0, GPR_NAMES, MASK64
from .decoder import decode

_CS = None


def _capstone():
    global _CS
    if _CS is None:
        import capstone
        _CS = capstone.Cs(capstone.CS_ARCH_MIPS,
                          capstone.CS_MODE_MIPS64 + capstone.CS_MODE_BIG_ENDIAN)
    return _CS


def _target(insn, pc: int):
    """The constant branch/jump target of ``insn`` at ``pc``, or ``None``."""
    if insn.row.cls == "branch":
        return (pc + 4 + (insn.simm << 2)) & MASK64
    if insn.mnemonic in ("J", "JAL"):
        return ((pc + 4) & ~0x0FFF_FFFF | insn.target << 2) & MASK64
    return None


def disassemble_word(word: int, pc: int) -> str:
    """``"mnemonic operands"`` of the instruction ``word`` at virtual ``pc``."""
    insn = decode(word)
    if insn is not None and insn.mnemonic in ("MFC0", "DMFC0", "MTC0", "DMTC0"):
        return f"{insn.mnemonic.lower()} ${GPR_NAMES[insn.rt]}, {COP0[insn.rd].name}"
    found = list(_capstone().disasm(word.to_bytes(4, "big"), pc & MASK64))
    if not found:
        return f".word {word:#010x}"
    text = f"{found[0].mnemonic} {found[0].op_str}".strip()
    if insn is None:
        return f"{text}  (not in the decoder table: RI)"
    target = _target(insn, pc)
    if target is not None:                  # capstone prints 64-bit targets as negative offsets
        text = f"{text.rpartition(' ')[0]} {target:#x}"
    return text


def disassemble(code: bytes, address: int) -> list:
    """Listing of ``code`` (big-endian words) starting at virtual ``address``."""
    lines = []
    for off in range(0, len(code) - 3, 4):
        pc = (address + off) & MASK64
        word = int.from_bytes(code[off:off + 4], "big")
        lines.append(f"{pc:#x}: {disassemble_word(word, pc)}")
    return lines
