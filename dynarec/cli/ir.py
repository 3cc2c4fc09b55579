"""``dynarec-ir``: run a program written in the IR text form.

The file is a module (see ``dynarec.ir.printer``): a ``state`` line with a ``pc`` slot, helper
declarations, function regions and block regions at guest pcs. Execution starts at the block
region with the lowest pc (or ``--pc``) and follows exits until ``exit kind=halt``. Helpers
``print_i64(i64)``, ``print_f64(f64)`` and ``putchar(i64)`` print to stdout when declared.

Exit status: 0 after a halt, 1 after a guest exception or an unfinished run, 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys

from ..context import ExitReason
from ..errors import DynarecError


def _builtin_helpers(out):
    def print_i64(v):
        out.write(f"{v - (1 << 64) if v >> 63 else v}\n")

    def print_f64(v):
        out.write(f"{v!r}\n")

    def putchar(v):
        out.write(chr(v & 0xFF))

    return {"print_i64": print_i64, "print_f64": print_f64, "putchar": putchar}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dynarec-ir",
        description="Compile and run a program written in dynarec's IR text form.")
    p.add_argument("file", help="IR module text (e.g. examples/ir/collatz.ir)")
    p.add_argument("--pc", type=lambda s: int(s, 0), default=None,
                   help="guest pc to start at (default: the lowest block region's)")
    p.add_argument("--cycles", type=int, default=None,
                   help="stop after this many guest cycles (default: run to the halt)")
    p.add_argument("--interpreter", action="store_true",
                   help="run with the IR interpreter (the reference) instead of the JIT")
    p.add_argument("--disable-pass", action="append", default=[], metavar="NAME",
                   help="switch an optimisation pass off (repeatable)")
    p.add_argument("--host", default=None, help="host backend (default: the native one)")
    p.add_argument("--show-ir", action="store_true",
                   help="print each region's IR before and after passes")
    p.add_argument("--show-asm", action="store_true", help="print each region's host code")
    p.add_argument("--stats", action="store_true", help="print the stats table at the end")
    return p


def _run_interpreter(guest, module, pc, out) -> int:
    from ..ir.interp import Interpreter
    by_pc = {r.pc: r.name for r in module.regions.values() if r.kind == "block"}
    interp = Interpreter(module, state={"pc": pc}, helpers=_builtin_helpers(out))
    while True:
        if pc not in by_pc:
            print(f"dynarec-ir: no region at pc {pc:#x}", file=sys.stderr)
            return 1
        ex = interp.run(by_pc[pc])
        if ex.reason == ExitReason.HALT:
            return 0
        if ex.reason != ExitReason.NEXT:
            print(f"dynarec-ir: {ex.reason.name} at pc={ex.pc:#x}", file=sys.stderr)
            return 1
        pc = ex.pc


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from ..guest import IRGuest
    from ..ir.parser import parse_module
    from ..ir.verifier import verify_module
    try:
        with open(args.file, encoding="utf-8") as f:
            text = f.read()
        module = parse_module(text)
        verify_module(module)
        guest = IRGuest(text)
    except (OSError, UnicodeDecodeError) as e:
        print(f"dynarec-ir: cannot read {args.file}: {e}", file=sys.stderr)
        return 2
    except (DynarecError, ValueError) as e:
        print(f"dynarec-ir: {args.file}: {e}", file=sys.stderr)
        return 2
    blocks = sorted(r.pc for r in module.regions.values() if r.kind == "block")
    if not blocks:
        print(f"dynarec-ir: {args.file} has no block region to start at", file=sys.stderr)
        return 2
    pc = blocks[0] if args.pc is None else args.pc
    out = sys.stdout
    if args.interpreter:
        return _run_interpreter(guest, module, pc, out)

    from ..machine import Machine
    for name, fn in _builtin_helpers(out).items():
        if name in module.helpers:
            guest.bind(name, fn)
    try:
        m = Machine(guest, args.host, disabled_passes=args.disable_pass,
                    keep_ir=args.show_ir)
    except (DynarecError, ValueError) as e:
        print(f"dynarec-ir: {e}", file=sys.stderr)
        return 2
    m.pc = pc
    try:
        result = m.run(args.cycles)
    except DynarecError as e:
        print(f"dynarec-ir: {e}", file=sys.stderr)
        return 1
    finally:
        if args.show_ir or args.show_asm:
            for entry in m.blocks:
                _show(m, entry, args)
    if args.stats:
        print(m.stats.table(), file=sys.stderr)
    if result.reason == ExitReason.HALT:
        return 0
    print(f"dynarec-ir: stopped: {result}", file=sys.stderr)
    return 1


def _show(m, entry, args) -> None:
    print(f"--- region at pc={entry.key.pc:#x}: {entry.code.size} bytes at "
          f"{entry.code.entry:#x}", file=sys.stderr)
    if args.show_ir:
        print(f"IR before passes:\n{entry.ir_before}\nIR after passes:\n{entry.ir_after}",
              file=sys.stderr)
    if args.show_asm:
        code = m.cache.read(entry.code.entry, entry.code.size)
        for line in m.host.disassemble(code, entry.code.entry):
            print("    " + line, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
