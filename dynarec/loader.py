"""Reading program images: ELF executables (through pyelftools) and raw binaries.

``load_image(path, load_address=None) -> Image``. An ELF gives its ``PT_LOAD`` segments, entry
point and symbol table; a raw binary is one segment at ``load_address``. Malformed or
unreadable files raise ``LoadError`` with a one-line message naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .errors import DynarecError


class LoadError(DynarecError):
    """The file cannot be used as a program image (message names the file and the problem)."""


@dataclass
class Segment:
    """Bytes to place in guest memory: ``vaddr`` (guest virtual address), ``data`` (file
    bytes) and ``memsz`` (total size in bytes; the part past ``data`` is zero, as ``.bss``)."""

    vaddr: int
    data: bytes
    memsz: int


@dataclass
class Image:
    """A loaded program: ``segments``, ``entry`` (guest virtual address, ``None`` for a raw
    binary without ``--entry``), ``symbols`` (name -> address), ``big_endian`` (``None`` when
    unknown), ``elf_class`` (32 or 64; 0 for raw) and the ELF ``machine`` name."""

    path: str
    segments: list
    entry: Optional[int]
    symbols: dict = field(default_factory=dict)
    big_endian: Optional[bool] = None
    elf_class: int = 0
    machine: str = ""

    def contains(self, address: int) -> bool:
        """True if ``address`` lies inside a segment."""
        return any(s.vaddr <= address < s.vaddr + s.memsz for s in self.segments)

    def symbol(self, text: str) -> int:
        """An address given as a number (``0x...``) or a symbol name; ``LoadError``."""
        try:
            return int(text, 0)
        except ValueError:
            pass
        if text not in self.symbols:
            raise LoadError(f"{self.path}: no symbol {text!r}")
        return self.symbols[text]


def load_image(path: str, load_address: Optional[int] = None) -> Image:
    """Read ``path``: an ELF executable, or a raw binary placed at ``load_address``."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise LoadError(f"{path}: cannot read: {e.strerror or e}") from None
    if data[:4] == b"\x7fELF":
        return _load_elf(path, data)
    if load_address is None:
        raise LoadError(f"{path}: not an ELF file; give --load ADDR for a raw binary")
    if not data:
        raise LoadError(f"{path}: empty file")
    return Image(path, [Segment(load_address, data, len(data))], None)


def _load_elf(path: str, data: bytes) -> Image:
    import io

    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    try:
        elf = ELFFile(io.BytesIO(data))
        segments = []
        for seg in elf.iter_segments():
            if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
                continue
            body = seg.data()
            if len(body) != seg["p_filesz"]:
                raise LoadError(f"{path}: truncated segment at {seg['p_vaddr']:#x}")
            segments.append(Segment(seg["p_vaddr"], body, seg["p_memsz"]))
        symbols = {}
        symtab = elf.get_section_by_name(".symtab")
        if symtab is not None:
            for sym in symtab.iter_symbols():
                if sym.name and sym["st_shndx"] != "SHN_UNDEF":
                    symbols[sym.name] = sym["st_value"]
        if not segments:
            raise LoadError(f"{path}: ELF file has no loadable segment")
        return Image(path, segments, elf.header["e_entry"], symbols, not elf.little_endian,
                     elf.elfclass, elf.header["e_machine"])
    except (ELFError, ValueError, KeyError, IndexError, EOFError) as e:
        raise LoadError(f"{path}: malformed ELF file: {e}") from None
    except Exception as e:  # pyelftools raises assorted errors on truncated files
        if isinstance(e, LoadError):
            raise
        raise LoadError(f"{path}: malformed ELF file: {type(e).__name__}: {e}") from None
