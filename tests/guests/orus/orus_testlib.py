"""Helpers of the Orus guest tests: the shared fixtures, a small assembler with labels, and
dumps built in memory.

``assemble(items)``: items are ``(mnemonic, *operands)`` tuples and label strings; a jump
operand may name a label (resolved to the offset the format letter wants). ``dump(main,
constants, functions)`` returns the JSON object of a dump (``functions``: ``(name, arity,
items)``), ``build`` loads it, ``execute`` runs it and returns ``(output, result, interp)``.
"""

import io
import json
import pathlib

import pytest

from dynarec.guests.orus import decoder, loader
from dynarec.guests.orus.interpreter import Interpreter

ROOT = pathlib.Path(__file__).resolve().parents[3]
SHARED = ROOT.parent / "shared" / "orus"


def shared_dir() -> pathlib.Path:
    """``../shared/orus`` next to the repository; skips the test when it is absent."""
    if not (SHARED / "README.md").exists():
        pytest.skip(f"the Orus fixtures are not here: {SHARED} (see ../shared/orus/README.md)")
    return SHARED


def fixture_names(folder: str) -> list:
    """Names of the dumps in ``../shared/orus/<folder>`` (empty when the folder is absent:
    the parametrised tests then report one skip)."""
    return sorted(p.stem for p in (SHARED / folder).glob("*.json")) or ["(no fixtures)"]


def fixture(folder: str, name: str):
    """``(dump path, expected stdout bytes)`` of fixture ``name``; skips without
    ../shared."""
    base = shared_dir() / folder
    if not (base / f"{name}.json").exists():
        pytest.skip(f"no fixture {folder}/{name}")
    return base / f"{name}.json", (base / f"{name}.out").read_bytes()


def assemble(items) -> bytes:
    """Bytecode of ``items`` (see the module doc)."""
    labels, layout, offset = {}, [], 0
    for item in items:
        if isinstance(item, str):
            labels[item] = offset
            continue
        row = decoder.BY_MNEMONIC[item[0]]
        layout.append((offset, row, item))
        offset += row.fixed_size
    code = bytearray()
    for start, row, (mnemonic, *operands) in layout:
        letters = [c for c in row.format if c != "_"]
        nxt = start + row.fixed_size
        resolved = []
        for letter, value in zip(letters, operands):
            if isinstance(value, str):
                target = labels[value]
                value = nxt - target if letter in decoder.BACKWARD_JUMPS else target - nxt
            resolved.append(value)
        code += decoder.encode(mnemonic, *resolved)
    return bytes(code)


def chunk_json(items, constants=()) -> dict:
    code = assemble(items)
    return {"code": code.hex(), "lines": [1] * len(code),
            "constants": [{"t": tag, "v": value} for tag, value in constants]}


def dump(main, constants=(), functions=()) -> dict:
    """The JSON object of a dump whose main chunk is ``main`` (items), with one shared
    constant pool and ``functions`` given as ``(name, arity, items)``."""
    return {"name": "main", "globals": 0,
            "main": chunk_json(main, constants),
            "functions": [{"index": i, "name": name, "arity": arity, "start": 0,
                           "chunk": chunk_json(items, constants),
                           "specialized_chunk": None, "deopt_stub_chunk": None}
                          for i, (name, arity, items) in enumerate(functions)]}


def build(main, constants=(), functions=()) -> loader.Program:
    return loader.from_json(json.loads(json.dumps(dump(main, constants, functions))), "test")


def execute(main, constants=(), functions=(), max_insns=None):
    """Run a program built from items: ``(stdout bytes, RunResult, Interpreter)``."""
    out = io.BytesIO()
    interp = Interpreter(build(main, constants, functions), output=out)
    result = interp.run(max_insns)
    return out.getvalue(), result, interp
