"""Compile throughput: regions, IR ops and host instructions compiled per second.

Builds a fixed corpus of guest-like block regions (register gets/puts, ALU ops, loads and
stores, a conditional exit — the shape a RISC frontend produces), then measures, in one run:

* the whole pipeline (verify, passes, lowering, register allocation, Keystone, commit) per
  region, as regions/s, guest IR ops/s and guest instructions/s;
* Keystone alone on the same assembly text: one ``asm()`` call per region against one call per
  host instruction (the field note in DESIGN.md: ~2 µs vs ~19 µs per instruction).

Usage: ``python benchmarks/compile_throughput.py [--regions N] [--insns-per-region K]``.
Prints a table; no timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import keystone
from tabulate import tabulate

from dynarec import Machine
from dynarec.guest import Guest
from dynarec.ir import I32, I64, Builder, Module, Region, Slot, StateLayout

STATE = StateLayout([Slot("pc", I64), Slot("gpr", I64, 32)])
ALU = ["add", "sub", "and", "or", "xor", "shl", "lshr", "ashr", "mul"]


def make_region(module: Module, pc: int, insns: int, rng: random.Random) -> Region:
    """A block region of ``insns`` RISC-like guest instructions at ``pc``."""
    r = module.add(Region(f"r{pc:x}", pc=pc, attrs={"endian": "big"}))
    b = Builder(r, module)
    for i in range(insns):
        b.insn_start(pc=pc + 4 * i)
        kind = rng.random()
        x = b.get(f"gpr[{rng.randrange(1, 32)}]")
        if kind < 0.15:                                   # load word
            addr = b.emit("and", [x, b.iconst(I64, 0xFFFC)])
            v = b.sext(I64, b.load(I32, addr))
        elif kind < 0.25:                                 # store word
            addr = b.emit("and", [x, b.iconst(I64, 0xFFFC)])
            b.store(addr, b.trunc(I32, b.get(f"gpr[{rng.randrange(1, 32)}]")))
            continue
        elif kind < 0.45:                                 # immediate op
            v = b.emit(rng.choice(["add", "and", "or", "xor"]),
                       [x, b.iconst(I64, rng.randrange(1 << 16))])
        else:                                             # register op, 32-bit result
            y = b.get(f"gpr[{rng.randrange(1, 32)}]")
            op = rng.choice(ALU)
            v = b.emit(op, [b.trunc(I32, x), b.trunc(I32, y)])
            v = b.sext(I64, v)
        b.put(f"gpr[{rng.randrange(1, 32)}]", v)
    end = pc + 4 * insns
    c = b.icmp("eq", b.get("gpr[2]"), b.get("gpr[3]"))
    taken, fall = b.new_block(), b.new_block()
    b.brif(c, taken, fall)
    b.switch_to(taken)
    b.exit(pc=end + 0x100)
    b.switch_to(fall)
    b.exit(pc=end)
    return r


class CorpusGuest(Guest):
    """Serves the pre-built corpus: ``translate`` copies the region at ``pc``."""

    name = "corpus"
    state = STATE
    big_endian = True

    def __init__(self, regions: dict):
        super().__init__()
        self.regions = regions

    def translate(self, machine, pc, module):
        from dynarec.ir.parser import parse_region
        return parse_region(self.regions[pc], module)      # adds it to the module


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regions", type=int, default=300)
    ap.add_argument("--insns-per-region", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    rng = random.Random(1234)
    module = Module(state=STATE)
    texts, ir_ops = {}, 0
    from dynarec.ir.printer import format_region
    for i in range(args.regions):
        pc = 0x1000 + i * 0x400
        r = make_region(module, pc, args.insns_per_region, rng)
        ir_ops += sum(len(bl.insts) for bl in r.blocks)
        texts[pc] = format_region(r)
    guest_insns = args.regions * args.insns_per_region

    pipeline, parse_only, asm_texts = [], [], []
    for _ in range(args.repeat):
        m = Machine(CorpusGuest(texts))
        m.memory.map_ram(0, 0x10000)
        t0 = time.perf_counter()
        for pc in texts:
            m.compile(pc)
        pipeline.append(time.perf_counter() - t0)
        asm_texts = [(e.code.asm, e.code.entry) for e in m.blocks]
        host_insns = m.stats["host_insns"]
        t0 = time.perf_counter()
        from dynarec.ir.parser import parse_region
        for pc, text in texts.items():
            parse_region(text, Module(state=STATE))
        parse_only.append(time.perf_counter() - t0)

    ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_64)
    whole, per_insn = [], []
    lines = [(ln, entry) for text, entry in asm_texts for ln in text.splitlines()
             if ln.strip() and not ln.strip().endswith(":") and not ln.strip().startswith(";")]
    sample = lines[:2000]
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        n = 0
        for text, entry in asm_texts:          # at its own address: exits jump to stubs
            enc, count = ks.asm(text, entry)
            n += count
        whole.append((time.perf_counter() - t0) / n)
        t0 = time.perf_counter()
        done = 0
        for ln, entry in sample:
            try:
                ks.asm(ln, entry)
                done += 1
            except keystone.KsError:
                pass                       # lines that need labels of their own region
        per_insn.append((time.perf_counter() - t0) / max(done, 1))

    t = statistics.median(pipeline)
    tp = statistics.median(parse_only)
    rows = [
        ("regions compiled / s", f"{args.regions / t:,.0f}"),
        ("guest instructions compiled / s", f"{guest_insns / t:,.0f}"),
        ("guest-level IR ops compiled / s", f"{ir_ops / t:,.0f}"),
        ("µs per guest instruction (whole pipeline)", f"{t / guest_insns * 1e6:.1f}"),
        ("  of which re-parsing the corpus text", f"{tp / guest_insns * 1e6:.1f}"),
        ("host instructions per region", f"{host_insns / args.regions:.1f}"),
        ("Keystone µs / host insn, one asm() per region", f"{statistics.median(whole) * 1e6:.2f}"),
        ("Keystone µs / host insn, one asm() per insn", f"{statistics.median(per_insn) * 1e6:.2f}"),
        ("per-instruction / per-region ratio",
         f"{statistics.median(per_insn) / statistics.median(whole):.1f}x"),
    ]
    print(f"corpus: {args.regions} regions x {args.insns_per_region} guest instructions, "
          f"{ir_ops} IR ops before passes; median of {args.repeat} runs")
    print(tabulate(rows, headers=("measure", "value"), colalign=("left", "right")))


if __name__ == "__main__":
    main()
