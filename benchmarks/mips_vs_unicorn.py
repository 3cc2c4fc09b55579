"""dynarec against Unicorn on the real MIPS programs, side by side in one process run.

For every program of ``examples/mips/programs`` (o32 by default), two builds are run: the
default one (few iterations) and the bench one (tens of millions of guest instructions). Each
engine runs each build ``--repeat`` times, alternating engines; the medians are compared.

* Unicorn: MIPS64 big-endian, R4000 model, no hooks, ``emu_start(entry, until=_halt)``.
* dynarec: ``Machine("mips")`` on the same bare system, from the entry to the ``_halt`` halt
  point (compile included in the wall time; the compile time is reported separately).
* native: the same C source built with the host ``gcc -O2`` (stdio shim), whole process: the
  physical limit.

Guest instruction counts come from dynarec's retired-instruction counter (the cycle-accounting
pass charges one per instruction; cross-checked against the reference interpreter on the
default builds by ``--check-counts``). Steady state is measured from the difference of the two
builds, so start-up and compile cancel out:
``steady MIPS = (insns_bench - insns_default) / (time_bench - time_default)``.

Usage: ``python benchmarks/mips_vs_unicorn.py [--abi o32|n32] [--repeat 3] [--programs a,b]
[--json out.json]``. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

from tabulate import tabulate

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROGRAMS = ROOT / "examples/mips/programs"


def run_dynarec(elf: pathlib.Path):
    """(seconds, guest instructions, compile seconds, output text)."""
    from dynarec import ExitReason, Machine
    from dynarec.loader import load_image
    m = Machine("mips")
    image = load_image(str(elf))
    system = m.guest.load_program(m, image)
    m.halt_at(m.guest.pc_from_address(image.symbols["_halt"]))
    t0 = time.perf_counter()
    result = m.run()
    elapsed = time.perf_counter() - t0
    if result.reason != ExitReason.HALT:
        raise RuntimeError(f"{elf.name}: dynarec stopped with {result}")
    return elapsed, m.insns, m.stats["compile_time"], system.text()


def run_unicorn(elf: pathlib.Path) -> float:
    """Seconds for Unicorn to run ``elf`` from its entry to ``_halt``, no hooks, measured in
    a child process: Unicorn 2.1.4 dies with SIGSEGV on some programs (``interp``: code and
    written data share a page, so TCG keeps retranslating it), which must not end the
    benchmark. Returns ``nan`` when the child dies."""
    out = subprocess.run([sys.executable, __file__, "--unicorn-child", str(elf)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        print(f"  Unicorn died on {elf.name} (exit status {out.returncode})", flush=True)
        return math.nan
    return float(out.stdout.strip())


def _unicorn_child(elf: pathlib.Path) -> float:
    import unicorn
    from unicorn import mips_const as uc_mips

    from dynarec.guests.mips.system import RAM_SIZE, DEBUG_PORT, physical, virtual
    from dynarec.loader import load_image
    image = load_image(str(elf))
    uc = unicorn.Uc(unicorn.UC_ARCH_MIPS, unicorn.UC_MODE_MIPS64 + unicorn.UC_MODE_BIG_ENDIAN)
    uc.ctl_set_cpu_model(uc_mips.UC_CPU_MIPS64_R4000)
    uc.mem_map(0, RAM_SIZE)
    uc.mem_map(DEBUG_PORT, 0x1000)
    for seg in image.segments:
        uc.mem_write(physical(seg.vaddr, "segment"), seg.data)
    uc.reg_write(uc_mips.UC_MIPS_REG_SP, 0)
    t0 = time.perf_counter()
    uc.emu_start(virtual(image.entry), virtual(image.symbols["_halt"]))
    return time.perf_counter() - t0


def build_native(name: str, iters: int | None, outdir: str) -> str:
    exe = os.path.join(outdir, f"{name}-{iters or 'default'}")
    flags = [f"-DITERS={iters}"] if iters else []
    subprocess.run(["gcc", "-O2", "-std=gnu11", *flags, f"-I{PROGRAMS / 'src'}",
                    str(PROGRAMS / "src" / f"{name}.c"), str(PROGRAMS / "src/host_shim.c"),
                    "-o", exe], check=True)
    return exe


def run_native(exe: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([exe], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def bench_iters(name: str) -> int:
    """The bench ITERS of ``name``, read from build.sh (one source of truth)."""
    text = (PROGRAMS / "build.sh").read_text()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(f"{name})"):
            return int(line.split("echo")[1].split(";")[0])
    raise KeyError(name)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="dynarec vs Unicorn on the MIPS programs")
    ap.add_argument("--abi", choices=("o32", "n32"), default="o32")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--programs", default="", help="comma-separated subset")
    ap.add_argument("--json", default="", help="write the results here")
    ap.add_argument("--unicorn-child", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.unicorn_child:
        print(_unicorn_child(pathlib.Path(args.unicorn_child)))
        return

    names = sorted(p.stem for p in (PROGRAMS / "src").glob("*.c")
                   if p.stem not in ("runtime", "host_shim"))
    if args.programs:
        names = [n for n in names if n in args.programs.split(",")]
    results, rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            small = PROGRAMS / "build" / args.abi / f"{name}.elf"
            big = PROGRAMS / "build" / f"bench-{args.abi}" / f"{name}.elf"
            expected = (PROGRAMS / "expected/bench" / f"{name}.txt").read_text()
            native_small = build_native(name, None, tmp)
            native_big = build_native(name, bench_iters(name), tmp)
            t = {k: [] for k in ("dyn_s", "dyn_b", "uc_s", "uc_b", "nat_s", "nat_b", "comp")}
            insns = {}
            for _ in range(args.repeat):
                for label, elf in (("s", small), ("b", big)):
                    secs, n, comp, out = run_dynarec(elf)
                    if label == "b" and out != expected:
                        raise RuntimeError(f"{name}: dynarec output differs from expected")
                    t[f"dyn_{label}"].append(secs)
                    insns[label] = n
                    if label == "b":
                        t["comp"].append(comp)
                    t[f"uc_{label}"].append(run_unicorn(elf))
                t["nat_s"].append(run_native(native_small))
                t["nat_b"].append(run_native(native_big))
            med = {k: statistics.median(v) for k, v in t.items()}   # nan if Unicorn died
            d_insns = insns["b"] - insns["s"]

            def steady(a, b):
                return d_insns / max(med[b] - med[a], 1e-9) / 1e6

            r = {
                "program": name, "abi": args.abi, "insns": insns["b"],
                "unicorn_mips": steady("uc_s", "uc_b"), "dynarec_mips": steady("dyn_s", "dyn_b"),
                "native_mips": steady("nat_s", "nat_b"),
                "unicorn_wall": med["uc_b"], "dynarec_wall": med["dyn_b"],
                "compile_s": med["comp"],
            }
            r["steady_ratio"] = r["dynarec_mips"] / r["unicorn_mips"]
            r["wall_ratio"] = r["unicorn_wall"] / r["dynarec_wall"]
            r["native_ratio"] = r["native_mips"] / r["dynarec_mips"]
            results.append(r)
            rows.append((name, f"{insns['b'] / 1e6:.1f}M", f"{r['unicorn_mips']:.0f}",
                         f"{r['dynarec_mips']:.0f}", f"{r['steady_ratio']:.2f}x",
                         f"{r['unicorn_wall']:.2f}", f"{r['dynarec_wall']:.2f}",
                         f"{r['wall_ratio']:.2f}x", f"{r['compile_s'] * 1e3:.0f}",
                         f"{100 * r['compile_s'] / r['dynarec_wall']:.1f}%",
                         f"{r['native_ratio']:.1f}x"))
            print(f"done {name}", flush=True)
    ratios = [r["steady_ratio"] for r in results if not math.isnan(r["steady_ratio"])]
    geo = math.exp(statistics.fmean(math.log(x) for x in ratios)) if ratios else math.nan
    print(tabulate(rows, headers=("program", "guest insns", "Unicorn MIPS", "dynarec MIPS",
                                  "dynarec/Unicorn", "Unicorn s", "dynarec s",
                                  "wall speed-up", "compile ms", "compile share",
                                  "native/dynarec"),
                   colalign=("left",) + ("right",) * 10))
    print(f"steady-state geometric mean, dynarec / Unicorn: {geo:.2f}x "
          f"({args.abi}, median of {args.repeat})")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(
            {"abi": args.abi, "repeat": args.repeat, "geomean_steady_ratio": geo,
             "programs": results}, indent=2))


if __name__ == "__main__":
    main()
