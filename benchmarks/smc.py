"""Self-modifying code: what a store to a code page and a reloaded overlay cost.

Measures, in one run, on the MIPS guest:

* stores: a guest loop of ``--stores`` word stores to a data page (the inline fast path)
  against the same loop storing to data that shares its page with code (every store leaves the
  inline fast path and tests the code bitmap in far code, which misses): time per store and
  the ratio;
* overlays: a routine of ``--insns`` instructions at one address, dropped and looked up again
  ``--rounds`` times -- once with its bytes written back unchanged (an overlay loaded again:
  invalidated, then revalidated by checksum) and once invalidated for good (``invalidate``:
  compiled again): time per round and the ratio.

Usage: ``python benchmarks/smc.py [--stores N] [--insns K] [--rounds R]``. Prints a table; no
timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import time

from keystone import KS_ARCH_MIPS, KS_MODE_BIG_ENDIAN, KS_MODE_MIPS64, Ks
from tabulate import tabulate

from dynarec import Machine
from dynarec.guests.mips.oracle import GUARD

KSEG0 = 0xFFFFFFFF_80000000
CODE, ROUTINE = 0x1000, 0x3000
_KS = Ks(KS_ARCH_MIPS, KS_MODE_MIPS64 + KS_MODE_BIG_ENDIAN)


def assemble(text: str, address: int) -> bytes:
    return bytes(_KS.asm(".set noreorder\n" + text, address)[0])


def store_loop(target: int, stores: int) -> str:
    """``stores`` word stores to physical ``target`` (8 per round), then ``syscall``."""
    return f"""
        lui $9, 0x8000
        ori $9, $9, {target:#x}
        li $10, {stores // 8}
    loop:
        sw $10, 0($9)
        sw $10, 4($9)
        sw $10, 8($9)
        sw $10, 12($9)
        sw $10, 16($9)
        sw $10, 20($9)
        sw $10, 24($9)
        sw $10, 28($9)
        addiu $10, $10, -1
        bne $10, $0, loop
        nop
        syscall
    """


def time_stores(target: int, stores: int) -> float:
    """Seconds per store of the loop storing to ``target`` (compile time excluded)."""
    m = Machine("mips")
    m.memory.map_ram(0, 0x10000)
    m.memory.write_bytes(CODE, assemble(store_loop(target, stores), CODE) + GUARD)
    m.pc = KSEG0 | CODE
    m.run(cycles=200)                       # compile the regions first
    m.pc = KSEG0 | CODE
    m.regs["gpr[10]"] = 0
    t0 = time.perf_counter()
    m.run(cycles=1 << 40)
    return (time.perf_counter() - t0) / stores


def time_overlay(insns: int, rounds: int, revalidate: bool) -> float:
    """Seconds per round of dropping the routine at ``ROUTINE`` and looking it up again."""
    m = Machine("mips")
    m.memory.map_ram(0, 0x10000)
    body = "\n".join(f"addiu ${2 + i % 20}, ${2 + (i + 7) % 20}, {i}" for i in range(insns))
    code = assemble(body + "\njr $31\nnop", ROUTINE)
    m.memory.write_bytes(ROUTINE, code)
    pc = KSEG0 | ROUTINE
    m.region_at(pc)
    t0 = time.perf_counter()
    for _ in range(rounds):
        if revalidate:
            m.memory.write_bytes(ROUTINE, code)          # the same overlay loaded again
        else:
            m.invalidate(m.key(pc))
        m.region_at(pc)
    seconds = (time.perf_counter() - t0) / rounds
    counter = "revalidations" if revalidate else "regions_compiled"
    assert m.stats[counter] >= rounds, "the benchmark did not measure what it says"
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stores", type=int, default=400_000)
    ap.add_argument("--insns", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args()
    fast = time_stores(0x8000, args.stores)              # a page without code
    slow = time_stores(CODE + 0x800, args.stores)        # data in the code's page
    revalidation = time_overlay(args.insns, args.rounds, True)
    recompile = time_overlay(args.insns, args.rounds, False)
    print(tabulate([
        ("store to a data page (fast path)", f"{fast * 1e9:,.1f} ns", "1.0"),
        ("store to data in a code page (far-code bitmap test, miss)", f"{slow * 1e9:,.1f} ns",
         f"{slow / fast:,.1f}"),
        (f"overlay of {args.insns} insns compiled again", f"{recompile * 1e6:,.1f} µs", "1.0"),
        (f"overlay of {args.insns} insns revalidated by checksum",
         f"{revalidation * 1e6:,.1f} µs", f"{revalidation / recompile:.3f}"),
    ], headers=("case", "time each", "ratio"), colalign=("left", "right", "right")))


if __name__ == "__main__":
    main()
