"""``dynarec-orus FILE.json [--interpreter] [--stats]``: run an Orus dump and print what the
program prints, as the real ``orus`` would.

``main(argv) -> exit status``. The program's output goes to stdout byte for byte. An Orus
runtime error prints a one-line diagnostic (the VM's message, the function, the offset and
the source line) to stderr and exits with status 70, as the real VM does
(``../shared/orus/README.md`` section 3); its multi-line source excerpt is not reproduced.
Other statuses (sysexits.h): 65 for a malformed dump (one line naming the function and
offset), 74 for an unreadable file, 2 for bad usage. ``--disasm`` prints the listing instead
of running.

The JIT (``jit.OrusJit``) runs the program by default; ``--interpreter`` selects the
reference interpreter. ``--stats`` adds to stderr the run time (after loading) and, for the
JIT, the compiled functions and regions, interpreter-helper sites, code size and compile
time; for the interpreter, instructions retired and calls. ``--threshold N`` (JIT): the
interpreter runs a function's first N-1 calls and a loop's first N-1 back edges, then the
function's region runs, or the loop's region is entered at its header (on-stack entry).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Optional

from dynarec.errors import RegistryError
from dynarec.registry import load_host

from . import loader
from .disasm import disassemble
from .errors import EXIT_RUNTIME_ERROR, OrusLoadError
from .interpreter import Interpreter
from .jit import OrusJit
from .loader import Program, loads

try:        # the JIT's backend is imported with the command, as the rest of its code is
    load_host()
except RegistryError:                   # no native backend: --interpreter still works
    pass

EXIT_MALFORMED = 65      # sysexits.h EX_DATAERR: the VM's status for a program it cannot compile
EXIT_UNREADABLE = 74     # EX_IOERR: the VM's status for a file it cannot read


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dynarec-orus",
                                description="Run Orus bytecode (a dump of the Orus compiler).")
    p.add_argument("file", help="the dump (NAME.json)")
    p.add_argument("--interpreter", action="store_true",
                   help="run on the reference interpreter instead of the JIT")
    p.add_argument("--disasm", action="store_true", help="print the listing, do not run")
    p.add_argument("--stats", action="store_true",
                   help="print run time and JIT (or interpreter) counters to stderr")
    p.add_argument("--threshold", type=int, default=1, metavar="N",
                   help="JIT: calls (or loop back edges) the interpreter runs before a "
                        "function (or loop) is compiled; 1 (default): compile everything "
                        "before it runs")
    return p


def load(path) -> Program:
    """The dump at ``path`` (``loader.load``; raises ``OrusLoadError``)."""
    return loader.load(path)


def execute(program: Program, output, interpreter: bool = False, threshold: int = 1,
            stats: bool = False) -> int:
    """Run ``program`` printing to the binary stream ``output`` -- on the JIT, or on the
    reference interpreter with ``interpreter`` -- and return the exit status: 0, or
    ``EXIT_RUNTIME_ERROR`` after printing the runtime error's line to stderr. ``stats``:
    print the run time and the counters to stderr. Raises ``OrusLoadError`` for a program
    it cannot run."""
    runner = Interpreter(program, output=output) if interpreter else \
        OrusJit(program, output=output, threshold=threshold)
    start = time.perf_counter()
    result = runner.run()
    seconds = time.perf_counter() - start
    output.flush()
    if stats:
        print(f"run time: {seconds:.3f} s (after loading)", file=sys.stderr)
        if interpreter:
            rate = result.retired / seconds if seconds else 0.0
            print(f"instructions retired: {result.retired}\ncalls: {runner.calls}\n"
                  f"{rate / 1e6:.2f} M instructions/s", file=sys.stderr)
        else:
            print(runner.stats_table(), file=sys.stderr)
    if result.error is not None:
        print(f"Runtime error: {result.error}", file=sys.stderr)
        return EXIT_RUNTIME_ERROR
    return 0


def main(argv: Optional[list] = None) -> int:
    """Run the command with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.threshold < 1:
        parser.error("--threshold must be at least 1")
    try:
        with open(args.file, "rb") as f:
            data = f.read()
    except OSError as exc:
        print(f"dynarec-orus: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        program = loads(data, source=args.file)
        if args.disasm:
            print("\n".join(disassemble(program)))
            return 0
        return execute(program, sys.stdout.buffer, args.interpreter, args.threshold,
                       args.stats)
    except OrusLoadError as exc:
        print(f"dynarec-orus: {exc}", file=sys.stderr)
        return EXIT_MALFORMED


if __name__ == "__main__":
    sys.exit(main())
