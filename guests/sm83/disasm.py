"""Disassembly for reports, from the decoder table's mnemonics.

``disassemble(code, address) -> list[str]``: one ``"0x0150: JR NZ,0x014c"`` line per
instruction (the shape of ``Guest.disassemble``). Immediate placeholders are replaced by their
values: ``n8``/``n16``/``a16`` in hex, ``a8`` as the full ``0xff00 + a8`` address, the ``e8``
of JR as its absolute target and the ``e8`` of ``ADD SP,e8``/``LD HL,SP+e8`` as a signed
number. Bytes at the end too few for a whole instruction are listed as ``.db``.
"""

from __future__ import annotations

from .decoder import Insn, decode


def format_insn(insn: Insn) -> str:
    """The instruction's mnemonic with its immediate operand's value filled in."""
    row, imm = insn.row, insn.imm
    if row.imm is None:
        return row.mnemonic
    if row.op == "JR":
        return row.mnemonic.replace("e8", f"{insn.target:#06x}")
    if row.imm == "e8":                                  # ADD SP,e8 / LD HL,SP+e8
        return row.mnemonic.replace("+e8", f"{imm:+d}").replace("e8", str(imm))
    value = {"n8": f"{imm:#04x}", "a8": f"{0xFF00 | imm:#06x}"}.get(row.imm, f"{imm:#06x}")
    return row.mnemonic.replace(row.imm, value)


def disassemble(code: bytes, address: int) -> list:
    """Listing of ``code`` (bytes-like) starting at guest ``address`` (0..0xFFFF; the
    addresses of later lines wrap at 64 KiB). Raises ``ValueError`` for another address."""
    if not 0 <= address <= 0xFFFF:
        raise ValueError(f"address {address!r} is not a 16-bit address")
    lines = []
    offset = 0
    while offset < len(code):
        pc = address + offset & 0xFFFF
        try:
            insn = decode(code[offset:], pc)
        except ValueError:                               # truncated: list what is left
            rest = ", ".join(f"{b:#04x}" for b in code[offset:])
            lines.append(f"{pc:#06x}: .db {rest}")
            break
        lines.append(f"{pc:#06x}: {format_insn(insn)}")
        offset += insn.length
    return lines
