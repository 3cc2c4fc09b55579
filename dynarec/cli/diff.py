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

Files of a *system* -- a whole computer around the guest, or a format of recorded results --
go to that system instead, chosen by the guest and the file name's ending: ``dynarec-diff
sm83 ROM.gb`` runs a Game Boy in lockstep (``--frames N`` stops after N frames), ``dynarec-diff
sm83 FILE.json.gz`` checks SingleStepTests cases. Systems are found like guests, through an
entry point group, ``dynarec.systems`` (``find_system``), so the core imports none of them.
A system is an object with ``guest`` (the guest's name), ``suffixes`` (file-name endings it
opens) and ``diff(args) -> int``: run ``args.file`` as this command's parsed ``args`` ask,
print as this command does (``report_lockstep`` for a lockstep run) and return the exit
status; it raises ``DynarecError``, ``ValueError`` or ``OSError`` for input it cannot run
(exit 2). ``$DYNAREC_SYSTEMS`` adds systems not installed as entry points
(``module:attribute`` names, comma-separated).

``--show-host-asm ADDR|SYMBOL`` prints the host code of the region at that address instead
(``--host aarch64`` lists the AArch64 code on any machine).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib.metadata import entry_points
from typing import Optional

from ..errors import DynarecError
from .run import (BAD_INPUT, add_program_options, bad_input, open_program, positive_count,
                  write_output)

PROG = "dynarec-diff"
SYSTEMS_GROUP = "dynarec.systems"
#: ``module:attribute`` names of systems not installed as entry points, comma-separated
SYSTEMS_VARIABLE = "DYNAREC_SYSTEMS"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Run a bare program (ELF or raw binary) on the JIT in lockstep with an "
                    "oracle and report the first divergence.")
    add_program_options(p)
    p.add_argument("--oracle", choices=("unicorn", "interp"), default="unicorn",
                   help="compare with the guest's oracle (unicorn, the default) or with its "
                        "reference interpreter (interp)")
    p.add_argument("--frames", type=positive_count, metavar="N",
                   help="a system with a display (e.g. sm83 ROM.gb): stop after N frames")
    p.add_argument("--show-host-asm", metavar="ADDR|SYMBOL",
                   help="print the host code (capstone listing) of the region at this guest "
                        "address instead of running; with --host, of that backend")
    return p


def show_host_asm(args) -> int:
    """``--show-host-asm``: compile the region at the guest address ``args.show_host_asm``
    (an address or symbol of the program) on ``args.host`` and print the host's capstone
    listing of its bytes, one instruction a line. Exit status 0, or 2 for bad input."""
    try:
        program = open_program(args)
        machine = program.machine
        pc = machine.guest.pc_from_address(program.image.symbol(args.show_host_asm))
        code = machine.region_at(pc).code
    except BAD_INPUT as e:
        return bad_input(PROG, e)
    print(f"# region at pc={pc:#x} on {machine.host.name}: {code.size} bytes, "
          f"{code.host_insns} instructions")
    for line in machine.host.disassemble(machine.cache.read(code.entry, code.size), code.entry):
        print(line)
    return 0


def _systems() -> list:
    """Every system: the entry points of ``SYSTEMS_GROUP``, then those ``$DYNAREC_SYSTEMS``
    names (for systems not installed as entry points, e.g. during development)."""
    found = [ep.load() for ep in entry_points(group=SYSTEMS_GROUP)]
    for name in filter(None, os.environ.get(SYSTEMS_VARIABLE, "").split(",")):
        module, _, attribute = name.strip().partition(":")
        system = getattr(importlib.import_module(module), attribute)
        if system not in found:
            found.append(system)
    return found


def find_system(guest: str, path: str) -> Optional[object]:
    """The system of ``guest`` that opens ``path`` by its name's ending (``None``: a bare
    program, run as ``dynarec-run`` runs it)."""
    name = os.path.basename(path).lower()
    for system in _systems():
        if system.guest == guest and name.endswith(tuple(system.suffixes)):
            return system
    return None


def report_lockstep(run, output: bytearray, machine, stats: bool) -> int:
    """Do a lockstep run and print what it gives: ``run() -> lockstep.Report``; ``output``:
    what the guest printed (read after the run; to stdout); ``machine`` for ``stats`` (its
    table). On stderr: the divergence report if there is one, then the summary line. Returns
    the exit status: 1 at a divergence, a JIT error (``DynarecError`` from ``run``, printed)
    or a handler error, else 0."""
    try:
        report = run()
    except DynarecError as e:
        write_output(output)
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    write_output(output)
    if report.divergence is not None:
        print(report.divergence.format(), file=sys.stderr)
    if stats:
        print(machine.stats.table(), file=sys.stderr)
    print(f"{PROG}: {report.summary()}", file=sys.stderr)
    error = report.result is not None and report.result.error is not None
    return 1 if report.divergence is not None or error else 0


def _oracle(guest, kind: str):
    from ..oracle import InterpreterOracle
    return InterpreterOracle(guest) if kind == "interp" else guest.oracle()


def _system_diff(system, args) -> int:
    """Hand ``args.file`` to ``system``; bad input (including options that do not apply to
    a system's file) -> exit 2."""
    given = [option for option, value in (("--load", args.load), ("--entry", args.entry),
                                          ("--until", args.until)) if value is not None]
    try:
        if given:
            raise ValueError(f"{' and '.join(given)} cannot be used with {args.file}: the "
                             f"{args.guest} system it names sets up the program itself")
        return system.diff(args)
    except (*BAD_INPUT, OSError) as e:
        return bad_input(PROG, e)


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from ..lockstep import Lockstep
    try:
        system = find_system(args.guest, args.file)
    except (ImportError, AttributeError) as e:
        return bad_input(PROG, e)
    if system is not None:
        return _system_diff(system, args)
    if args.show_host_asm is not None:
        return show_host_asm(args)
    if args.frames is not None:
        return bad_input(PROG, ValueError(f"--frames needs a system's file (e.g. a Game Boy "
                                          f"ROM), not the bare program {args.file}"))
    try:
        program = open_program(args, keep_ir=True)
        lockstep = Lockstep(program.machine, _oracle(program.machine.guest, args.oracle))
    except BAD_INPUT as e:
        return bad_input(PROG, e)
    return report_lockstep(lambda: lockstep.run(args.max_insns), program.system.output,
                           program.machine, args.stats)


if __name__ == "__main__":
    sys.exit(main())
