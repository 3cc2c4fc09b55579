"""dynarec's Game Boy (``examples/gameboy``) against PyBoy on the same ROMs, in one process.

ROMs are the project's sdcc-built computing programs (``examples/gameboy/programs``:
``COMPUTING``, those with a native build to check against). The CPU-bound one is
``bench.gb`` with its round count (a 16-bit constant at ROM address 01F0, see
``src/bench.c``) patched to ``--rounds`` (default 10000, about 370,000 frames, so it
computes for the whole run); the others run as built (they compute, print and then HALT for
good, so most of their frames are idle).

Each emulator runs ``--frames`` frames (default 3600, a minute of Game Boy time) of each ROM,
``--repeat`` times, the two alternating, first with rendering off in both, then on in both;
the figures are frames per second of the whole run (start-up and, for dynarec, compiling
included: each run starts from a fresh emulator) and their medians; dynarec's frames per
second with its compile time taken out are given too.

* PyBoy (pip ``pyboy``, optional): ``PyBoy(rom, window="null", cgb=False,
  sound_emulated=False, no_input=True)``, ``set_emulation_speed(0)`` (unlimited), one
  ``tick(1, render)`` a frame. It runs its own boot ROM first; its serial output is read
  through ``PyBoy._serial()`` every 10 frames (its buffer holds 1024 bytes).
* dynarec: ``GameBoy(cartridge, render=...)``, one ``run_frame()`` a frame, from the
  post-boot state (no boot ROM). ``compile_s`` is its ``stats["compile_time"]``.

Both emulators' serial output is checked against the same C compiled natively by gcc
(``src/host_shim.c``, ``-DROUNDS`` for the patched bench): the output after N frames must be
a prefix of the native program's (for dynarec, a run that ends in an exception is an error
too). ``rounds`` counts the bench's round lines, the work done; PyBoy's serial transfers
take a quarter of Pan Docs' 8 bits at 8192 Hz, so its bench prints a little sooner.

Usage::

    python benchmarks/gameboy_vs_pyboy.py [--frames 3600] [--repeat 3] [--roms bench,arith]
                                          [--rounds 10000] [--render off,on] [--json PATH]

Output: a table on stdout and JSON (every run, the medians and the ratios) in
``benchmarks/results/gameboy_vs_pyboy.json`` (ignored by git) or ``--json PATH``. Asserts
nothing about speed. Exit status 1 when an output does not match (``RuntimeError``), 2 for
bad arguments or PyBoy not installed.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import io
import json
import pathlib
import platform
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

from tabulate import tabulate

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROGRAMS = ROOT / "examples/gameboy/programs"
RESULTS = ROOT / "benchmarks/results"
#: where bench.gb keeps its round count, little-endian (src/bench.c)
BENCH_ROUNDS_ADDRESS = 0x01F0
PYBOY_SERIAL_EVERY = 10
#: the programs whose expected output comes from a native build (build.sh)
COMPUTING = ("arith", "bench", "crc16", "sieve")


@dataclass
class Run:
    """One run of ``frames`` frames: ``seconds`` (wall, start-up included), ``fps``,
    ``compile_s`` (dynarec only, else 0), ``rounds`` (bench round lines printed)."""

    seconds: float
    fps: float
    compile_s: float
    rounds: int


def rom_image(name: str, rounds: int) -> bytes:
    """``build/NAME.gb``; the bench with its round count patched to ``rounds``."""
    image = bytearray((PROGRAMS / "build" / f"{name}.gb").read_bytes())
    if name == "bench":
        struct.pack_into("<H", image, BENCH_ROUNDS_ADDRESS, rounds)
    return bytes(image)


def native_output(name: str, rounds: int, tmp: str) -> str:
    """What program ``name`` prints, from its native gcc build (``-DROUNDS`` for the bench).
    Raises ``CalledProcessError`` when gcc or the program fails."""
    exe = str(pathlib.Path(tmp) / name)
    defines = [f"-DROUNDS={rounds}"] if name == "bench" else []
    subprocess.run(["gcc", "-O2", "-std=gnu11", *defines, f"-I{PROGRAMS / 'src'}",
                    str(PROGRAMS / "src" / f"{name}.c"), str(PROGRAMS / "src/host_shim.c"),
                    "-o", exe], check=True)
    return subprocess.run([exe], check=True, capture_output=True,
                          encoding="latin-1").stdout


def rounds_done(output: str) -> int:
    """The bench's round lines in ``output``."""
    return sum(line.startswith("round ") for line in output.splitlines())


def run_dynarec(image: bytes, name: str, frames: int, render: bool) -> tuple:
    """``(Run, serial output)`` of ``frames`` frames on a fresh ``GameBoy``. Raises
    ``RuntimeError`` when the CPU locks up or faults."""
    from dynarec.runtime import ExitReason
    from dynarec_gameboy.bus import GameBoy
    from dynarec_gameboy.cartridge import Cartridge

    t0 = time.perf_counter()
    gb = GameBoy(Cartridge.parse(image, name), render=render)
    for _ in range(frames):
        result = gb.run_frame()
        if result.reason == ExitReason.EXCEPTION:
            raise RuntimeError(f"{name}: dynarec stopped with {result}")
    seconds = time.perf_counter() - t0
    output = gb.serial.output.decode("latin-1")
    return Run(seconds, frames / seconds, gb.machine.stats["compile_time"],
               rounds_done(output)), output


def run_pyboy(image: bytes, frames: int, render: bool) -> tuple:
    """``(Run, serial output)`` of ``frames`` frames on a fresh PyBoy (module docstring)."""
    from pyboy import PyBoy

    t0 = time.perf_counter()
    pyboy = PyBoy(io.BytesIO(image), window="null", cgb=False, sound_emulated=False,
                  no_input=True, log_level="ERROR")
    pyboy.set_emulation_speed(0)
    chunks = []
    for frame in range(1, frames + 1):
        pyboy.tick(1, render)
        if frame % PYBOY_SERIAL_EVERY == 0:
            chunks.append(pyboy._serial())
    seconds = time.perf_counter() - t0
    chunks.append(pyboy._serial())
    pyboy.stop(save=False)
    output = "".join(chunks)
    return Run(seconds, frames / seconds, 0.0, rounds_done(output)), output


def measure(name: str, frames: int, repeat: int, rounds: int, render: bool,
            expected: str) -> dict:
    """Alternating runs of both emulators on ROM ``name``; their medians and the ratio.
    Raises ``RuntimeError`` when an output does not match ``expected`` (module docstring)."""
    image = rom_image(name, rounds)
    runs = {"dynarec": [], "pyboy": []}
    for _ in range(repeat):
        run, output = run_dynarec(image, name, frames, render)
        if not expected.startswith(output):
            raise RuntimeError(f"{name}: dynarec's output is not the native one's start:\n"
                               + output[-400:])
        runs["dynarec"].append(run)
        run, output = run_pyboy(image, frames, render)
        if not expected.startswith(output):
            raise RuntimeError(f"{name}: PyBoy's output is not the native one's start:\n"
                               + output[-400:])
        runs["pyboy"].append(run)
    medians = {engine: statistics.median(r.fps for r in rs) for engine, rs in runs.items()}
    return {
        "rom": name, "render": render, "frames": frames,
        "dynarec_fps": medians["dynarec"], "pyboy_fps": medians["pyboy"],
        "ratio": medians["dynarec"] / medians["pyboy"],
        "dynarec_compile_s": statistics.median(r.compile_s for r in runs["dynarec"]),
        "dynarec_fps_without_compile": statistics.median(
            frames / (r.seconds - r.compile_s) for r in runs["dynarec"]),
        "dynarec_rounds": runs["dynarec"][0].rounds, "pyboy_rounds": runs["pyboy"][0].rounds,
        "runs": {engine: [asdict(r) for r in rs] for engine, rs in runs.items()},
    }


def table(results: list) -> str:
    """The results as a text table."""
    rows = [[r["rom"], "on" if r["render"] else "off", r["frames"],
             f"{r['dynarec_fps']:,.0f}", f"{r['pyboy_fps']:,.0f}", f"{r['ratio']:.3f}x",
             f"{r['dynarec_compile_s']:.1f}", f"{r['dynarec_fps_without_compile']:,.0f}",
             f"{r['dynarec_rounds']} / {r['pyboy_rounds']}" if r["rom"] == "bench" else ""]
            for r in results]
    return tabulate(rows, headers=["ROM", "rendering", "frames", "dynarec fps", "PyBoy fps",
                                   "dynarec/PyBoy", "compile s", "dynarec fps without compile",
                                   "rounds (dynarec / PyBoy)"])


def main(argv=None) -> int:
    """The command line (module docstring); returns the exit status."""
    ap = argparse.ArgumentParser(description="dynarec's Game Boy vs PyBoy")
    ap.add_argument("--frames", type=int, default=3600, help="frames of each run")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each emulator")
    ap.add_argument("--roms", default="bench,arith", help="comma-separated ROM names")
    ap.add_argument("--rounds", type=int, default=10_000, help="bench.gb's round count")
    ap.add_argument("--render", default="off,on", help="off, on or off,on")
    ap.add_argument("--json", default="", help="write the results here (default: "
                    "benchmarks/results/gameboy_vs_pyboy.json)")
    args = ap.parse_args(argv)
    if args.frames < 1 or args.repeat < 1 or not 1 <= args.rounds <= 0xFFFF:
        ap.error("--frames and --repeat must be at least 1, --rounds 1..65535")
    renders = [{"off": False, "on": True}.get(r) for r in args.render.split(",")]
    if None in renders:
        ap.error("--render takes off, on or off,on")
    names = args.roms.split(",")
    unknown = [n for n in names if n not in COMPUTING]
    if unknown:
        ap.error(f"unknown ROM {unknown[0]!r}; there are {', '.join(COMPUTING)}")
    try:
        pyboy_version = importlib.metadata.version("pyboy")
    except importlib.metadata.PackageNotFoundError:
        print("PyBoy is not installed: pip install pyboy", file=sys.stderr)
        return 2

    results = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            expected = {n: native_output(n, args.rounds, tmp) for n in names}
        for render in renders:
            for name in names:
                results.append(measure(name, args.frames, args.repeat, args.rounds, render,
                                       expected[name]))
                print(f"done {name}, rendering {'on' if render else 'off'}", flush=True)
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(table(results))
    path = pathlib.Path(args.json) if args.json else RESULTS / "gameboy_vs_pyboy.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "frames": args.frames, "repeat": args.repeat, "rounds": args.rounds,
        "python": platform.python_version(), "pyboy": pyboy_version, "results": results,
    }, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
