"""The Orus JIT against Lua 5.4, LuaJIT and CPython on the Orus benchmark programs.

For every program of ``../shared/orus/bench`` (``fib30``, ``sieve2m``, ``mandelbrot_f64``,
``intloop_i64``) each engine runs ``--repeat`` times, engines alternating within a round,
and the medians are compared. Every run's stdout must equal the program's ``.out`` byte for
byte (``RuntimeError`` otherwise).

* ``lua5.4`` and ``luajit`` (Debian packages ``lua5.4``, ``luajit``) run ``NAME.lua``,
  ``python3`` runs ``NAME.py``: whole process, wall time.
* ``jit`` (and ``interp`` with ``--interpreter``: the reference interpreter takes 10-60 s a
  program) run ``NAME.json`` in a child Python process that does what ``dynarec-orus``
  does -- import, load the dump, run -- and reports its phases. Two figures each: the
  whole-process wall time (what a user of the command waits: Python start-up, imports,
  loading, compiling, running) and the in-process time after loading (``run``: compiling
  and running), the figure the issue's targets name.

Targets (issue 8; reported, never asserted): the JIT's in-process time below Lua 5.4's
whole-process time on every program, and within 2x of LuaJIT's on the numeric ones
(``mandelbrot_f64``, ``intloop_i64``, ``sieve2m``).

Output: a table on stdout and JSON (every run's seconds, the medians and the ratios) in
``benchmarks/results/orus_vs_lua.json`` (ignored by git) or ``--json PATH``.

Usage::

    python benchmarks/orus_vs_lua.py [--repeat 5] [--programs fib30,sieve2m]
                                     [--interpreter] [--json PATH]

Exit status 1 when an engine prints something other than the expected output, 2 when
``../shared/orus/bench`` or an interpreter is missing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "orus" / "bench"
RESULTS = ROOT / "benchmarks" / "results"
PROGRAMS = ("fib30", "sieve2m", "mandelbrot_f64", "intloop_i64")
NUMERIC = ("sieve2m", "mandelbrot_f64", "intloop_i64")
PEERS = {"lua5.4": ("lua5.4", ".lua"), "luajit": ("luajit", ".lua"),
         "python3": ("python3", ".py")}


def child(mode: str, path: str) -> None:
    """The child process of the ``jit``/``interp`` engines: import, load ``path``, run it
    with stdout as the program's output, then print ``{"import": s, "load": s, "run": s}``
    (seconds) as one JSON line on stderr."""
    t0 = time.perf_counter()
    from dynarec.guests.orus import cli
    t1 = time.perf_counter()
    program = cli.load(path)
    t2 = time.perf_counter()
    status = cli.execute(program, sys.stdout.buffer, interpreter=(mode == "interp"))
    sys.stdout.buffer.flush()
    t3 = time.perf_counter()
    print(json.dumps({"import": t1 - t0, "load": t2 - t1, "run": t3 - t2}), file=sys.stderr)
    sys.exit(status)


def _run(argv: list, expected: bytes, what: str) -> tuple:
    """Run ``argv``; returns ``(wall seconds, stderr text)``; raises ``RuntimeError`` when
    it fails or prints other than ``expected``."""
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or proc.stdout != expected:
        raise RuntimeError(f"{what}: exit status {proc.returncode}, output "
                           f"{'as expected' if proc.stdout == expected else 'differs'}; "
                           f"stderr: {proc.stderr.decode(errors='replace')[-400:]}")
    return wall, proc.stderr.decode()


def measure(program: str, engines: list, repeat: int) -> dict:
    """``{engine: {"wall": [s...], "run": [s...] (ours only)}}`` for ``program``."""
    expected = (BENCH / f"{program}.out").read_bytes()
    runs: dict = {e: {"wall": [], "run": []} for e in engines}
    for _ in range(repeat):
        for engine in engines:
            if engine in PEERS:
                exe, ext = PEERS[engine]
                wall, _ = _run([exe, str(BENCH / f"{program}{ext}")], expected,
                               f"{engine} {program}")
            else:
                wall, err = _run([sys.executable, __file__, "--child", engine,
                                  str(BENCH / f"{program}.json")], expected,
                                 f"{engine} {program}")
                phases = json.loads(err.strip().splitlines()[-1])
                runs[engine]["run"].append(phases["run"])
                runs[engine].setdefault("startup", []).append(phases["import"] +
                                                              phases["load"])
            runs[engine]["wall"].append(wall)
    return runs


def _median(values: list):
    return statistics.median(values) if values else None


def summarize(program: str, runs: dict) -> dict:
    """Medians and the ratios the targets name (``> 1``: ours is faster)."""
    med = {e: {k: _median(v) for k, v in r.items()} for e, r in runs.items()}
    jit = med["jit"]
    row = {"program": program, "medians": med,
           "lua_wall_over_jit_run": med["lua5.4"]["wall"] / jit["run"],
           "luajit_wall_over_jit_run": med["luajit"]["wall"] / jit["run"],
           "lua_wall_over_jit_wall": med["lua5.4"]["wall"] / jit["wall"],
           "python_wall_over_jit_wall": med["python3"]["wall"] / jit["wall"]}
    if "interp" in med:
        row["interp_run_over_jit_run"] = med["interp"]["run"] / jit["run"]
    return row


def _table(rows: list) -> str:
    from tabulate import tabulate
    head = ["program", "lua5.4 s", "luajit s", "python3 s", "jit wall s", "jit run s",
            "lua/jit run", "luajit/jit run", "lua/jit wall", "python/jit wall"]
    body = []
    for r in rows:
        m = r["medians"]
        body.append([r["program"], m["lua5.4"]["wall"], m["luajit"]["wall"],
                     m["python3"]["wall"], m["jit"]["wall"], m["jit"]["run"],
                     r["lua_wall_over_jit_run"], r["luajit_wall_over_jit_run"],
                     r["lua_wall_over_jit_wall"], r["python_wall_over_jit_wall"]])
        if "interp" in m:
            body[-1].append(r["interp_run_over_jit_run"])
    if any("interp" in r["medians"] for r in rows):
        head.append("interp/jit run")
    return tabulate(body, head, floatfmt=".3f")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=5, help="runs per engine (median)")
    p.add_argument("--programs", default=",".join(PROGRAMS),
                   help="comma-separated subset of " + ",".join(PROGRAMS))
    p.add_argument("--interpreter", action="store_true",
                   help="also time the reference interpreter (slow: 10-60 s a run)")
    p.add_argument("--json", type=pathlib.Path, default=RESULTS / "orus_vs_lua.json")
    p.add_argument("--child", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(*args.child)
    if not BENCH.is_dir():
        print(f"orus_vs_lua: {BENCH} is missing (the shared Orus fixtures)", file=sys.stderr)
        return 2
    missing = [exe for exe, _ in PEERS.values() if shutil.which(exe) is None]
    if missing:
        print(f"orus_vs_lua: not installed: {', '.join(missing)} "
              f"(apt-get install lua5.4 luajit)", file=sys.stderr)
        return 2
    programs = [name for name in args.programs.split(",") if name]
    unknown = sorted(set(programs) - set(PROGRAMS))
    if unknown:
        p.error(f"unknown program(s): {', '.join(unknown)}")
    engines = [*PEERS, "jit"] + (["interp"] if args.interpreter else [])
    rows, raw = [], {}
    try:
        for program in programs:
            raw[program] = measure(program, engines, args.repeat)
            rows.append(summarize(program, raw[program]))
            print(f"{program}: done", file=sys.stderr)
    except RuntimeError as e:
        print(f"orus_vs_lua: {e}", file=sys.stderr)
        return 1
    print(_table(rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": platform.platform(), "python": platform.python_version(),
        "repeat": args.repeat, "runs": raw, "summary": rows}, indent=1) + "\n")
    print(f"results: {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
