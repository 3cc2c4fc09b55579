"""dynarec against Unicorn on the real MIPS programs, side by side in one process run.

For every program of ``examples/mips/programs`` (o32 by default) two builds are run: the
default one (a few iterations, up to about 2 million guest instructions) and the bench one
(``build.sh``'s ``bench_iters``: a few seconds in Unicorn, 0.2-3.3 billion guest
instructions). Each engine runs each build ``--repeat`` times, engines alternating, and the
medians are compared.

* Unicorn: MIPS64 big-endian, R4000 model, no hooks, ``emu_start(entry, until=_halt)``, in a
  child process (Unicorn 2.1.4 dies with SIGSEGV on ``interp``, whose code shares a page with
  data it writes, so TCG keeps retranslating it; that must not end the benchmark).
* dynarec: ``Machine("mips")`` on the same bare system (``guests/mips/system.py``), from the
  entry to the ``_halt`` halt point; the time includes compiling, which is also reported on its
  own (``stats["compile_time"]``) with its share of the run.
* native: the same C source built with the host ``gcc -O2`` (stdio shim), whole process: the
  physical limit.

Guest instruction counts come from dynarec's retired-instruction counter (``Machine.insns``:
the cycle-accounting pass's ``charge insns=``; linking on, as in the timed runs).
``--check-counts`` cross-checks it against the reference interpreter on the small test builds
instead of benchmarking. Steady state is measured from the difference of two iteration counts,
so start-up and compile cancel out::

    steady MIPS = (insns_bench - insns_default) / (seconds_bench - seconds_default) / 1e6

The wall times are those of the bench build, compile included. Output: a table on stdout and
JSON (every run's seconds, the medians and the derived figures) in
``benchmarks/results/mips_vs_unicorn_<abi>.json`` (ignored by git) or ``--json PATH``.

Usage::

    python benchmarks/mips_vs_unicorn.py [--abi o32|n32] [--repeat 3] [--programs a,b]
                                         [--json PATH] [--check-counts]

Asserts nothing about speed. Exit status 1 when a program's output is not the expected one
(``RuntimeError``) or, with ``--check-counts``, when a count disagrees.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import math
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from tabulate import tabulate

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROGRAMS = ROOT / "examples/mips/programs"
RESULTS = ROOT / "benchmarks/results"


def program_names() -> list:
    """The program names of ``examples/mips/programs/src`` (sorted)."""
    return sorted(p.stem for p in (PROGRAMS / "src").glob("*.c")
                  if p.stem not in ("runtime", "host_shim"))


def bench_iters(name: str) -> int:
    """The bench ITERS of ``name``, read from build.sh's ``bench_iters`` (one source of truth).
    Raises ``KeyError`` for a program build.sh does not list."""
    for line in (PROGRAMS / "build.sh").read_text().splitlines():
        line = line.strip()
        if line.startswith(f"{name})"):
            return int(line.split("echo")[1].split(";")[0])
    raise KeyError(f"build.sh has no bench ITERS for {name!r}")


@dataclass
class DynarecRun:
    """One dynarec run to ``_halt``: ``seconds`` (``Machine.run``, compile included),
    ``insns`` (guest instructions retired), ``compile_seconds``, ``insns_compiled`` (guest
    instructions translated, counting each region's), ``output`` (debug-port text)."""

    seconds: float
    insns: int
    compile_seconds: float
    insns_compiled: int
    output: str


def _load(elf: pathlib.Path):
    """A fresh ``Machine("mips")`` with ``elf`` on the bare system: ``(machine, system, halt
    pc)``. Raises ``LoadError`` for an image the system cannot hold."""
    from dynarec import Machine
    from dynarec.loader import load_image
    m = Machine("mips")
    image = load_image(str(elf))
    system = m.guest.load_program(m, image)
    return m, system, m.guest.pc_from_address(image.symbols["_halt"])


def run_dynarec(elf: pathlib.Path) -> DynarecRun:
    """Run ``elf`` in dynarec from its entry to ``_halt``. Raises ``RuntimeError`` when it
    stops anywhere else."""
    from dynarec import ExitReason
    m, system, halt = _load(elf)
    m.halt_at(halt)
    t0 = time.perf_counter()
    result = m.run()
    seconds = time.perf_counter() - t0
    if result.reason != ExitReason.HALT:
        raise RuntimeError(f"{elf}: dynarec stopped with {result}")
    return DynarecRun(seconds, m.insns, m.stats["compile_time"],
                      m.stats["guest_insns_compiled"], system.text())


def run_interpreter(elf: pathlib.Path, limit: int) -> tuple:
    """Run ``elf`` in the reference interpreter from its entry to ``_halt``, or until more
    than ``limit`` guest instructions have retired: ``(instructions retired, output text)``.
    The interpreter steps a plain dict of the machine's state (ten times faster than stepping
    ``Machine.regs``) over the machine's memory, so the debug port still collects the output.
    Raises ``RuntimeError`` on a guest exception."""
    from dynarec.guests.mips import interpreter
    m, system, halt = _load(elf)
    state = m.regs.as_dict()
    retired = 0
    while state["pc"] != halt and retired <= limit:
        result = interpreter.step(state, m.memory)
        if result.exception is not None:
            raise RuntimeError(f"{elf}: the interpreter stopped with {result.exception}")
        retired += result.retired
    return retired, system.text()


def run_unicorn(elf: pathlib.Path) -> float:
    """Seconds for Unicorn to run ``elf`` from its entry to ``_halt``, no hooks, measured in
    a child process (see the module docstring). Returns ``nan`` when the child dies or fails."""
    out = subprocess.run([sys.executable, __file__, "--unicorn-child", str(elf)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        error = out.stderr.strip().splitlines()[-1:] or ["no message"]
        print(f"  Unicorn failed on {elf} (exit status {out.returncode}: {error[0]})",
              flush=True)
        return math.nan
    return float(out.stdout.strip())


def _unicorn_child(elf: pathlib.Path) -> float:
    """The child's side of ``run_unicorn``: the system of ``guests/mips/system.py`` (RAM at
    physical 0, the debug-port page unhooked), ``sp`` = 0 as on reset (``_start`` sets it).
    Raises ``RuntimeError`` when Unicorn stops short of ``_halt``."""
    import unicorn
    from unicorn import mips_const as uc_mips

    from dynarec.guests.mips.system import DEBUG_PAGE, DEBUG_PORT, RAM_SIZE, physical, virtual
    from dynarec.loader import load_image
    image = load_image(str(elf))
    uc = unicorn.Uc(unicorn.UC_ARCH_MIPS, unicorn.UC_MODE_MIPS64 + unicorn.UC_MODE_BIG_ENDIAN)
    uc.ctl_set_cpu_model(uc_mips.UC_CPU_MIPS64_R4000)
    uc.mem_map(0, RAM_SIZE)
    uc.mem_map(DEBUG_PORT, DEBUG_PAGE)
    for seg in image.segments:
        uc.mem_write(physical(seg.vaddr, "segment"), seg.data)
    uc.reg_write(uc_mips.UC_MIPS_REG_SP, 0)
    halt = virtual(image.symbols["_halt"])
    t0 = time.perf_counter()
    uc.emu_start(virtual(image.entry), halt)
    seconds = time.perf_counter() - t0
    pc = uc.reg_read(uc_mips.UC_MIPS_REG_PC)
    if pc != halt:
        raise RuntimeError(f"{elf}: Unicorn stopped at pc={pc:#x}, not at _halt")
    return seconds


def build_native(name: str, iters: int | None, outdir: str) -> str:
    """Compile program ``name`` for the host with ``gcc -O2`` (``-DITERS=iters`` unless
    ``None``) into ``outdir``; returns the executable's path. Raises
    ``CalledProcessError`` when gcc fails."""
    exe = os.path.join(outdir, f"{name}-{iters or 'default'}")
    flags = [f"-DITERS={iters}"] if iters else []
    subprocess.run(["gcc", "-O2", "-std=gnu11", *flags, f"-I{PROGRAMS / 'src'}",
                    str(PROGRAMS / "src" / f"{name}.c"), str(PROGRAMS / "src/host_shim.c"),
                    "-o", exe], check=True)
    return exe


def run_native(exe: str) -> float:
    """Seconds of one whole run of the native executable ``exe`` (process start included)."""
    t0 = time.perf_counter()
    subprocess.run([exe], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _expected(kind: str, name: str) -> str:
    """The expected output of ``name``'s ``kind`` build ("" default, "bench", "test")."""
    return (PROGRAMS / "expected" / kind / f"{name}.txt").read_text(encoding="latin-1")


def check_counts(names: list, abi: str) -> bool:
    """Cross-check dynarec's retired-instruction count against the reference interpreter's on
    the test builds (``build/test-<abi>``, ITERS=1) of ``names``; both outputs must also be
    the expected ones. Prints the comparison; returns whether everything agreed."""
    rows, ok = [], True
    for name in names:
        elf = PROGRAMS / "build" / f"test-{abi}" / f"{name}.elf"
        expected = _expected("test", name)
        jit = run_dynarec(elf)
        t0 = time.perf_counter()
        ref_insns, ref_output = run_interpreter(elf, limit=jit.insns)
        seconds = time.perf_counter() - t0
        agree = jit.insns == ref_insns
        outputs = jit.output == expected and ref_output == expected
        ok = ok and agree and outputs
        rows.append((name, f"{jit.insns:,}", f"{ref_insns:,}", "yes" if agree else "NO",
                     "yes" if outputs else "NO", f"{seconds:.1f}"))
        print(f"checked {name}", flush=True)
    print(tabulate(rows, headers=("program", "dynarec insns", "interpreter insns", "equal",
                                  "outputs as expected", "interpreter s"),
                   colalign=("left", "right", "right", "left", "left", "right"),
                   disable_numparse=True))
    print(f"retired-instruction counts, test-{abi} builds: "
          + ("dynarec agrees with the reference interpreter on every program" if ok
             else "MISMATCH"))
    return ok


def measure(name: str, abi: str, repeat: int, tmp: str) -> dict:
    """Benchmark program ``name``: ``repeat`` alternating runs of dynarec, Unicorn and native
    on the default and bench builds. Returns the JSON record (seconds, MIPS in millions of
    guest instructions per second; NaN, written as null, where Unicorn died). Raises
    ``RuntimeError`` when dynarec's output is not the expected one or its instruction count
    changes from one run to the next."""
    builds = {"default": PROGRAMS / "build" / abi / f"{name}.elf",
              "bench": PROGRAMS / "build" / f"bench-{abi}" / f"{name}.elf"}
    expected = {"default": _expected("", name), "bench": _expected("bench", name)}
    native = {"default": build_native(name, None, tmp),
              "bench": build_native(name, bench_iters(name), tmp)}
    runs = {f"{engine}_{build}": [] for engine in ("dynarec", "unicorn", "native")
            for build in builds}
    insns, compile_runs = {}, []
    for _ in range(repeat):
        for build, elf in builds.items():
            run = run_dynarec(elf)
            if run.output != expected[build]:
                raise RuntimeError(f"{elf}: dynarec's output is not expected/{build}")
            if insns.setdefault(build, run.insns) != run.insns:
                raise RuntimeError(f"{elf}: dynarec retired {run.insns} instructions, "
                                   f"{insns[build]} in an earlier run")
            runs[f"dynarec_{build}"].append(run.seconds)
            if build == "bench":
                compile_runs.append(run)
            runs[f"unicorn_{build}"].append(run_unicorn(elf))
            runs[f"native_{build}"].append(run_native(native[build]))
    med = {key: statistics.median(values) for key, values in runs.items()}   # nan: Unicorn died
    steady_insns = insns["bench"] - insns["default"]

    def steady_mips(engine: str) -> float:
        seconds = med[f"{engine}_bench"] - med[f"{engine}_default"]
        return steady_insns / seconds / 1e6 if seconds > 0 else math.nan

    compile_s = statistics.median(r.compile_seconds for r in compile_runs)
    r = {
        "program": name, "abi": abi, "bench_iters": bench_iters(name),
        "insns_default": insns["default"], "insns_bench": insns["bench"],
        "unicorn_mips": steady_mips("unicorn"), "dynarec_mips": steady_mips("dynarec"),
        "native_mips": steady_mips("native"),
        "unicorn_wall_s": med["unicorn_bench"], "dynarec_wall_s": med["dynarec_bench"],
        "compile_s": compile_s,
        "insns_compiled": compile_runs[0].insns_compiled,
        "runs_s": runs,
    }
    r["steady_ratio"] = r["dynarec_mips"] / r["unicorn_mips"]
    r["wall_speedup"] = r["unicorn_wall_s"] / r["dynarec_wall_s"]
    r["compile_share"] = compile_s / r["dynarec_wall_s"]
    r["compile_insns_per_s"] = r["insns_compiled"] / compile_s
    r["native_ratio"] = r["native_mips"] / r["dynarec_mips"]
    return r


def _fmt(value: float, spec: str, suffix: str = "") -> str:
    return "-" if math.isnan(value) else f"{value:{spec}}{suffix}"


def table(results: list) -> str:
    """The printed table of ``measure`` records."""
    rows = [(r["program"], f"{r['insns_bench'] / 1e6:,.0f}M",
             _fmt(r["unicorn_mips"], ",.0f"), _fmt(r["dynarec_mips"], ",.0f"),
             _fmt(r["steady_ratio"], ".2f", "x"), _fmt(r["native_ratio"], ".1f", "x"),
             _fmt(r["unicorn_wall_s"], ".2f"), _fmt(r["dynarec_wall_s"], ".2f"),
             _fmt(r["wall_speedup"], ".2f", "x"), f"{r['compile_s'] * 1e3:,.0f}",
             f"{100 * r['compile_share']:.1f}%", f"{r['compile_insns_per_s']:,.0f}")
            for r in results]
    return tabulate(rows, headers=("program", "guest insns", "Unicorn MIPS", "dynarec MIPS",
                                   "dynarec/Unicorn", "native/dynarec", "Unicorn s",
                                   "dynarec s", "wall speed-up", "compile ms", "compile share",
                                   "compiled insns/s"),
                    colalign=("left",) + ("right",) * 11, disable_numparse=True)


def geomean(values: list) -> float:
    """Geometric mean of the numbers in ``values`` that are not NaN (NaN if none are)."""
    values = [v for v in values if not math.isnan(v)]
    return math.exp(statistics.fmean(math.log(v) for v in values)) if values else math.nan


def summary(results: list) -> dict:
    """The issue's targets, from the ``measure`` records: steady-state geometric mean of
    dynarec/Unicorn, the programs running at least 1 s in Unicorn and those of them where
    dynarec's wall time (compile included) is the lower, the whole compile throughput."""
    long_runs = [r["program"] for r in results if r["unicorn_wall_s"] >= 1.0]
    return {
        "geomean_steady_ratio": geomean([r["steady_ratio"] for r in results]),
        "unicorn_over_1s": long_runs,
        "dynarec_wall_lower": [r["program"] for r in results if r["program"] in long_runs
                               and r["dynarec_wall_s"] < r["unicorn_wall_s"]],
        "compile_insns_per_s": (sum(r["insns_compiled"] for r in results)
                                / sum(r["compile_s"] for r in results)),
    }


def _json_safe(value):
    """``value`` with NaN floats as ``None`` (JSON has no NaN)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def main(argv=None) -> int:
    """The command line (module docstring); returns the exit status."""
    ap = argparse.ArgumentParser(description="dynarec vs Unicorn on the MIPS programs")
    ap.add_argument("--abi", choices=("o32", "n32"), default="o32")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each engine and build")
    ap.add_argument("--programs", default="", help="comma-separated subset")
    ap.add_argument("--json", default="", help="write the results here (default: "
                    "benchmarks/results/mips_vs_unicorn_<abi>.json)")
    ap.add_argument("--check-counts", action="store_true",
                    help="cross-check dynarec's instruction counts against the reference "
                         "interpreter on the test builds, instead of benchmarking")
    ap.add_argument("--unicorn-child", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.unicorn_child:
        print(_unicorn_child(pathlib.Path(args.unicorn_child)))
        return 0
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    names = program_names()
    if args.programs:
        chosen = args.programs.split(",")
        unknown = sorted(set(chosen) - set(names))
        if unknown:
            ap.error(f"unknown program(s) {', '.join(unknown)}; there are {', '.join(names)}")
        names = [n for n in names if n in chosen]
    if args.check_counts:
        return 0 if check_counts(names, args.abi) else 1

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            results.append(measure(name, args.abi, args.repeat, tmp))
            print(f"done {name}", flush=True)
    print(table(results))
    s = summary(results)
    print(f"steady-state geometric mean, dynarec / Unicorn: {s['geomean_steady_ratio']:.2f}x "
          f"({args.abi}, median of {args.repeat})")
    print(f"wall time (compile included) below Unicorn's: {len(s['dynarec_wall_lower'])} of the "
          f"{len(s['unicorn_over_1s'])} programs running >= 1 s in Unicorn")
    print(f"compile throughput: {s['compile_insns_per_s']:,.0f} guest instructions/s")
    path = pathlib.Path(args.json) if args.json else RESULTS / f"mips_vs_unicorn_{args.abi}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_safe({
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "abi": args.abi, "repeat": args.repeat, "python": platform.python_version(),
        "unicorn": importlib.metadata.version("unicorn"), **s, "programs": results,
    }), indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
