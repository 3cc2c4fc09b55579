"""Random well-typed regions for the pass property tests.

``random_region(rnd, note=False)`` builds a block region from a ``random.Random``: a few
blocks, each made of guest instructions (``insn_start`` with a random cost, then typed ops on
values the block can see: the entry block's, its own parameters and its own results), ending
in ``exit``/``trap``/``br``/``brif``/``br_table``. Branches go forward, except loop back edges
to blocks that start with an ``insn_start``; each back edge is guarded by decrementing the
``count`` state slot, so every run terminates. Some blocks continue the instruction of their
predecessor (no ``insn_start``). Memory accesses stay inside a 512-byte RAM at 0x100 except
for rare ones at 0x10000 (unmapped: they fault). Constants are drawn often, from edge values,
so the folder has work; ``get``/``put`` ops use the first two slots of each type, so the
forwarder has work. Before its terminator a block stores a few of its computed values in
state slots that ops otherwise leave alone (``r[2]``, ``r[3]``), and all its parameters, so
wrong results show.

With ``note=True`` every ``insn_start`` is followed by ``call note(pc)``: the reference run
learns which instructions started, and in what order, without interpreter support.
"""

from __future__ import annotations

from dynarec.ir import (F64, I1, I8, I16, I32, I64, Builder, HelperSig, Module, Region, Slot,
                        StateLayout)

STATE = StateLayout([Slot("pc", I64), Slot("r", I32, 4), Slot("w", I64, 2), Slot("h", I16),
                     Slot("b", I8), Slot("c", I1), Slot("f", F64, 2), Slot("count", I32)])
SLOTS = {I32: ["r[0]", "r[1]", "r[2]", "r[3]"], I64: ["w[0]", "w[1]"], I16: ["h"],
         I8: ["b"], I1: ["c"], F64: ["f[0]", "f[1]"]}
HELPERS = {h.name: h for h in [
    HelperSig("mmio", (I32,), (I32,)),                 # effects: the tests log its calls
    HelperSig("mix", (I32, I32), (I32,), pure=True),
    HelperSig("note", (I64,), ()),
]}
RAM_BASE, RAM_SIZE, UNMAPPED = 0x100, 0x200, 0x10000

INT_TYPES = (I1, I8, I16, I32, I64)
CONSTS = ("iconst", "fconst")
_EDGES = [0, 1, 2, 3, 7, 8, 31, 32, 63, 64, -1, -2, 0x7F, 0x80, 0x7FFF, 0x8000, 0x7FFFFFFF,
          0x80000000, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000]
_FLOATS = [0, 0x8000000000000000, 0x3FF0000000000000, 0xBFF0000000000000, 0x4024000000000000,
           0x3FB999999999999A, 0x7FF0000000000000, 0x7FF8000000000000, 0x7FF4000000000000,
           0x0000000000000001, 0x41E0000000000000, 0xC3E0000000000000]
_INT_BINARY = ["add", "sub", "mul", "and", "or", "xor", "sdiv", "udiv", "srem", "urem",
               "shl", "lshr", "ashr", "rotl", "rotr", "smulhi", "umulhi"]
_ICMP = ["eq", "ne", "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge"]
_FCMP = ["oeq", "one", "olt", "ole", "ogt", "oge", "ord", "ueq", "une", "ult", "uge", "uno"]


class _Gen:
    def __init__(self, rnd, note):
        self.rnd = rnd
        self.note = note
        self.module = Module(state=STATE, helpers=dict(HELPERS))
        self.region = self.module.add(Region("r", pc=0x1000))
        self.b = Builder(self.region, self.module)
        self.pc = 0x1000
        self.entry_values: list = []

    # --- values ---------------------------------------------------------------------------

    def const(self, t):
        rnd, b = self.rnd, self.b
        if t is F64:
            return b.fconst(F64, rnd.choice(_FLOATS) if rnd.random() < .8
                            else rnd.getrandbits(64))
        draw = rnd.random()
        v = rnd.choice((0, 1, -1)) if draw < .3 else \
            rnd.choice(_EDGES) if draw < .7 else rnd.getrandbits(t.bits)
        return b.iconst(t, v & t.mask)

    def pick(self, pool, t):
        """A value of type ``t`` from ``pool`` (often a fresh constant)."""
        have = [v for v in pool if v.type is t]
        if not have or self.rnd.random() < .25:
            v = self.const(t)
            pool.append(v)
            return v
        return self.rnd.choice(have)

    def any_int(self, pool):
        return self.pick(pool, self.rnd.choice(INT_TYPES))

    # --- one op ---------------------------------------------------------------------------

    def op(self, pool, allow_effects=True):
        rnd, b = self.rnd, self.b
        kinds = ["get", "get", "get", "put", "put", "put", "binary", "binary", "binary",
                 "unary", "convert", "icmp", "select", "carry", "float", "float", "fconvert"]
        if allow_effects:
            kinds += ["load", "store", "mmio", "mix"]
        kind = rnd.choice(kinds)
        out = None
        if kind == "get":
            t = rnd.choice(list(SLOTS))
            out = b.get(rnd.choice(SLOTS[t][:2]))
        elif kind == "put":
            t = rnd.choice(list(SLOTS))
            b.put(rnd.choice(SLOTS[t][:2]), self.pick(pool, t))
        elif kind == "binary":
            t = rnd.choice(INT_TYPES)
            name = rnd.choice(_INT_BINARY)
            x = self.pick(pool, t)
            y = self.any_int(pool) if name in ("shl", "lshr", "ashr", "rotl", "rotr") \
                else (x if rnd.random() < .15 else self.pick(pool, t))
            out = getattr(b, name)(x, y)
        elif kind == "unary":
            t = rnd.choice((I16, I32, I64))
            name = rnd.choice(["not", "neg", "clz", "ctz", "popcount", "bswap"])
            out = getattr(b, name)(self.pick(pool, t))
        elif kind == "convert":
            x = self.any_int(pool)
            wider = [t for t in INT_TYPES if t.bits > x.type.bits]
            narrower = [t for t in INT_TYPES if t.bits < x.type.bits]
            if wider and (not narrower or rnd.random() < .5):
                out = getattr(b, rnd.choice(["sext", "zext"]))(rnd.choice(wider), x)
            else:
                out = b.trunc(rnd.choice(narrower), x)
        elif kind == "icmp":
            t = rnd.choice(INT_TYPES)
            x = self.pick(pool, t)
            out = b.icmp(x, x if rnd.random() < .15 else self.pick(pool, t),
                         cond=rnd.choice(_ICMP))
        elif kind == "select":
            t = rnd.choice(INT_TYPES + (F64,))
            x = self.pick(pool, t)
            out = b.select(self.pick(pool, I1), x, x if rnd.random() < .3 else self.pick(pool, t))
        elif kind == "carry":
            t = rnd.choice(INT_TYPES)
            name = rnd.choice(["addc", "subb", "smul_ov", "umul_ov"])
            args = [self.pick(pool, t), self.pick(pool, t)]
            if name in ("addc", "subb"):
                args.append(self.pick(pool, I1))
            outs = getattr(b, name)(*args)
            pool.extend(outs)
        elif kind == "float":
            name = rnd.choice(["fadd", "fsub", "fmul", "fdiv", "fsqrt", "fabs", "fneg",
                               "fmin", "fmax", "fcmp"])
            x = self.pick(pool, F64)
            if name in ("fsqrt", "fabs", "fneg"):
                args = [x]
            else:
                args = [x, self.pick(pool, F64)]
            if name == "fcmp":
                out = b.fcmp(*args, cond=rnd.choice(_FCMP))
            elif name in ("fadd", "fsub", "fmul", "fdiv", "fsqrt") and rnd.random() < .5:
                pool.extend(getattr(b, name)(*args, flags=True))
            else:
                out = getattr(b, name)(*args)
        elif kind == "fconvert":
            choice = rnd.randrange(3)
            if choice == 0:
                out = b.fcvt_to_sint(rnd.choice((I32, I64)), self.pick(pool, F64),
                                     rounding=rnd.choice(["rne", "rtz", "rup", "rdn"]))
            elif choice == 1:
                out = b.fcvt_from_sint(F64, self.pick(pool, rnd.choice((I32, I64))))
            else:
                x = self.pick(pool, rnd.choice((I64, F64)))
                out = b.bitcast(F64 if x.type is I64 else I64, x)
        elif kind in ("load", "store"):
            addr = self.address(pool)
            t = rnd.choice((I8, I16, I32, I64))
            if kind == "load":
                out = b.load(t, addr)
            else:
                b.store(addr, self.pick(pool, t))
        elif kind == "mmio":
            out = b.call(self.pick(pool, I32), helper="mmio")
        elif kind == "mix":
            out = b.call(self.pick(pool, I32), self.pick(pool, I32), helper="mix")
        if out is not None:
            pool.append(out)

    def address(self, pool):
        b = self.b
        if self.rnd.random() < .03:
            return b.iconst(I64, UNMAPPED)
        x = self.pick(pool, I64)
        return b.add(getattr(b, "and")(x, b.iconst(I64, 0x1F8)), b.iconst(I64, RAM_BASE))

    def instruction(self, pool, allow_effects=True):
        self.b.insn_start(pc=self.pc, cost=self.rnd.randrange(5))
        if self.note:
            self.b.call(self.b.iconst(I64, self.pc), helper="note")
        self.pc += 4
        for _ in range(self.rnd.randint(1, 6)):
            self.op(pool, allow_effects)

    # --- blocks ---------------------------------------------------------------------------

    def build(self) -> tuple:
        rnd, b = self.rnd, self.b
        n = rnd.randint(1, 6)
        blocks = [b.block] + [b.new_block([rnd.choice((I32, I64, F64))
                                           for _ in range(rnd.randrange(3))])
                              for _ in range(n - 1)]
        starts = [True] + [rnd.random() < .8 for _ in range(n - 1)]
        for k, block in enumerate(blocks):
            b.switch_to(block)
            pool = (list(self.entry_values) if k else []) + list(block.params)
            if starts[k]:
                for _ in range(rnd.randint(1, 3)):
                    self.instruction(pool)
            else:
                for _ in range(rnd.randint(0, 3)):
                    self.op(pool, allow_effects=rnd.random() < .3)
            if k == 0:
                self.entry_values = list(pool)
            self.terminate(k, blocks, starts, pool)
        return self.module, self.region

    def args_for(self, target, pool):
        return (target, [self.pick(pool, p.type) for p in target.params])

    def terminate(self, k, blocks, starts, pool):
        rnd, b = self.rnd, self.b
        computed = [v for v in pool if v.defn is not None and v.defn.op not in CONSTS]
        shown = rnd.sample(computed, min(len(computed), rnd.randint(1, 3)))
        for v in blocks[k].params + shown:               # make results visible
            b.put(rnd.choice(SLOTS[v.type][2:] or SLOTS[v.type]), v)
        later = blocks[k + 1:]
        choice = rnd.random()
        if not later or choice < .15:
            if rnd.random() < .15:
                b.trap(cause=rnd.randrange(1, 8), pc=self.pc - 4)
            else:
                b.exit(pc=rnd.choice([0x2000, 0x3000, self.pc]))
            return
        headers = [h for h in blocks[:k + 1] if starts[blocks.index(h)]]
        if choice < .35 and headers:
            count = b.sub(b.get("count"), b.iconst(I32, 1))
            b.put("count", count)
            again = b.icmp(count, b.iconst(I32, 0), cond="sgt")
            b.brif(again, self.args_for(rnd.choice(headers), pool),
                   self.args_for(rnd.choice(later), pool))
        elif choice < .6:
            b.br(self.args_for(rnd.choice(later), pool))
        elif choice < .9:
            b.brif(self.pick(pool, I1), self.args_for(rnd.choice(later), pool),
                   self.args_for(rnd.choice(later), pool))
        else:
            index = self.any_int(pool)
            cases = [self.args_for(rnd.choice(later), pool) for _ in range(rnd.randint(1, 3))]
            b.br_table(index, self.args_for(rnd.choice(later), pool), cases)


def random_expressions(rnd) -> tuple:
    """``(module, region)``: one block, one instruction: ``get`` of one slot of each type, then
    pure ops on those and on constants, every computed value stored to state before the
    ``exit`` -- so every result of every op is observable."""
    gen = _Gen(rnd, note=False)
    b = gen.b
    b.insn_start(pc=0x1000)
    pool = [b.get(refs[0]) for refs in SLOTS.values()]
    for _ in range(rnd.randint(1, 12)):
        gen.op(pool, allow_effects=False)
    for v in pool:
        if v.defn is None or v.defn.op != "get":
            b.put(SLOTS[v.type][-1], v)
    b.exit(pc=0x1004)
    return gen.module, gen.region


def random_region(rnd, note: bool = False) -> tuple:
    """``(module, region)``: a random block region named ``r`` (see the module docstring)."""
    return _Gen(rnd, note).build()
