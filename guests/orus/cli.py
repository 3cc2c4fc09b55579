"""``dynarec-orus FILE.json --interpreter``: run an Orus dump and print what the program
prints, as the real ``orus`` would.

``main(argv) -> exit status``. The program's output goes to stdout byte for byte. An Orus
runtime error prints a one-line diagnostic (the VM's message, the function, the offset and
the source line) to stderr and exits with status 70, as the real VM does
(``../shared/orus/README.md`` section 3); its multi-line source excerpt is not reproduced.
Other statuses (sysexits.h): 65 for a malformed dump (one line naming the function and
offset), 74 for an unreadable file, 2 for bad usage. ``--disasm`` prints the listing instead
of running; ``--stats`` adds instructions retired, calls and run time to stderr.

Only the reference interpreter exists so far: ``--interpreter`` is required until the JIT is.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Optional

from .disasm import disassemble
from .errors import EXIT_RUNTIME_ERROR, OrusLoadError
from .interpreter import Interpreter
from .loader import loads

EXIT_MALFORMED = 65      # sysexits.h EX_DATAERR: the VM's status for a program it cannot compile
EXIT_UNREADABLE = 74     # EX_IOERR: the VM's status for a file it cannot read


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dynarec-orus",
                                description="Run Orus bytecode (a dump of the Orus compiler).")
    p.add_argument("file", help="the dump (NAME.json)")
    p.add_argument("--interpreter", action="store_true",
                   help="run on the reference interpreter (required: the JIT is not built yet)")
    p.add_argument("--disasm", action="store_true", help="print the listing, do not run")
    p.add_argument("--stats", action="store_true",
                   help="print instructions retired, calls and run time to stderr")
    return p


def main(argv: Optional[list] = None) -> int:
    """Run the command with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not (args.interpreter or args.disasm):
        parser.error("the Orus JIT is not available yet: use --interpreter")
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
        out = sys.stdout.buffer
        interp = Interpreter(program, output=out)
    except OrusLoadError as exc:
        print(f"dynarec-orus: {exc}", file=sys.stderr)
        return EXIT_MALFORMED
    start = time.perf_counter()
    result = interp.run()
    seconds = time.perf_counter() - start
    out.flush()
    if args.stats:
        rate = result.retired / seconds if seconds else 0.0
        print(f"instructions retired: {result.retired}\ncalls: {interp.calls}\n"
              f"run time: {seconds:.3f} s ({rate / 1e6:.2f} M instructions/s)", file=sys.stderr)
    if result.error is not None:
        print(f"Runtime error: {result.error}", file=sys.stderr)
        return EXIT_RUNTIME_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
