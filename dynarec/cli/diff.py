"""``dynarec-diff GUEST FILE``: run a bare program on the JIT in lockstep with an oracle.

Takes ``dynarec-run``'s options (FILE, ``--load``, ``--entry``, ``--until``, ``--max-insns``,
``--disable-pass``, ``--stats``) and ``--oracle unicorn|interp``: the guest's oracle (Unicorn
for MIPS) or its reference interpreter. Every region exit is a comparison point
(``dynarec.lockstep``): registers, stores, exceptions and device reads must agree; where the
oracle is known to be wrong for the guest (its quirk table), the correct values are written
into the oracle and counted as an "oracle quirk".

Prints what the program printed (stdout), then one summary line (stderr): instructions and
regions executed, divergences, oracle quirks, how the run ended and its speed. At the first
real divergence it prints the report (guest disassembly, IR before and after passes, host
assembly, register and memory diff, the pass whose removal makes the region agree) and exits
1; rerun with ``--disable-pass NAME`` to confirm a pass at fault.

Exit status: 0 when the JIT and the oracle agreed to the end of the run (a halt, the
instruction limit, or a guest exception both raised), 1 at a divergence or a JIT error, 2 for
bad input, with a one-line message.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import DynarecError
from .run import BAD_INPUT, add_program_options, bad_input, open_program, write_output

PROG = "dynarec-diff"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Run a bare program (ELF or raw binary) on the JIT in lockstep with an "
                    "oracle and report the first divergence.")
    add_program_options(p)
    p.add_argument("--oracle", choices=("unicorn", "interp"), default="unicorn",
                   help="compare with the guest's oracle (unicorn, the default) or with its "
                        "reference interpreter (interp)")
    return p


def _oracle(guest, kind: str):
    from ..oracle import InterpreterOracle
    return InterpreterOracle(guest) if kind == "interp" else guest.oracle()


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from ..lockstep import Lockstep
    try:
        program = open_program(args, keep_ir=True)
        lockstep = Lockstep(program.machine, _oracle(program.machine.guest, args.oracle))
    except BAD_INPUT as e:
        return bad_input(PROG, e)
    try:
        report = lockstep.run(args.max_insns)
    except DynarecError as e:
        write_output(program.system.output)
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    write_output(program.system.output)
    if report.divergence is not None:
        print(report.divergence.format(), file=sys.stderr)
    if args.stats:
        print(program.machine.stats.table(), file=sys.stderr)
    print(f"{PROG}: {report.summary()}", file=sys.stderr)
    error = report.result is not None and report.result.error is not None
    return 1 if report.divergence is not None or error else 0


if __name__ == "__main__":
    sys.exit(main())
