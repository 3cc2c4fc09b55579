"""Property tests: on random well-typed regions (``random_regions``), the optimised region
behaves exactly as the original under the IR interpreter.

The reference run interprets the original region, built with a ``call note(pc)`` after each
``insn_start``, so it knows which instructions started and the state at each start. The
optimised run interprets the same region (built without notes) after ``run_passes`` with a
random subset of passes switched off. Compared:

* how the region left (``Exit``, or the guest fault raised by memory), final guest state and
  memory;
* at every point where control leaves generated code (every ``load``/``store`` and ``mmio``
  helper call, in order): the operands and the whole guest state -- PRECISE STATE;
* the cycle counters, against what the reference trace says has retired: at a load, store or
  helper call inside instruction X, everything started before X; at a normal exit everything
  started; at a trap or fault everything but the faulting instruction;
* with a small budget: the budget never goes below zero, and a BUDGET exit at pc P after K
  retired instructions leaves exactly the reference state at the start of its instruction K,
  whose pc is P.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dynarec.context import ExitReason
from dynarec.errors import GuestFault, IRError
from dynarec.ir.interp import Interpreter
from dynarec.ir.verifier import verify_region
from dynarec.passes import PASSES, run_passes

from random_regions import RAM_BASE, RAM_SIZE, STATE, random_expressions, random_region

OPTIONAL = [name for name in PASSES if name != "cycle_accounting"]
BIG_BUDGET = 1 << 40


class Ram:
    """Little-endian RAM at ``RAM_BASE``; anything else faults. Logs every access together
    with the guest state and counters the access saw."""

    def __init__(self, data: bytes, watch):
        self.bytes = bytearray(data)
        self.watch = watch

    def _offset(self, addr, size, write):
        if not RAM_BASE <= addr <= RAM_BASE + RAM_SIZE - size:
            raise GuestFault(addr, size, write)
        return addr - RAM_BASE

    def load(self, addr, size):
        self.watch("load", addr, size)
        o = self._offset(addr, size, False)
        return int.from_bytes(self.bytes[o:o + size], "little")

    def store(self, addr, size, value):
        self.watch("store", addr, size, value)
        o = self._offset(addr, size, True)
        self.bytes[o:o + size] = value.to_bytes(size, "little")


class Run:
    """One interpretation of ``module``'s region ``r`` from the given state and memory."""

    def __init__(self, module, state, memory, budget):
        # (event, operands, state, counters (cycles, insns), instructions started so far)
        self.observed = []
        self.started = []           # (pc, state snapshot, memory snapshot) per instruction
        self.budget0 = budget
        self.ram = Ram(memory, self.watch)
        self.interp = Interpreter(module, state=dict(state), memory=self.ram, helpers={
            "mmio": self.mmio,
            "mix": lambda a, b: (a * 31 + b) & 0xFFFFFFFF,
            "note": self.note,
        })
        self.interp.budget = budget
        self.fault = None
        try:
            self.exit = self.interp.run("r", max_steps=100_000)
        except GuestFault as fault:
            self.exit = None
            self.fault = (str(fault), self.interp.next_pc)

    def counters(self):
        return self.budget0 - self.interp.budget, self.interp.insns

    def watch(self, event, *operands):
        assert self.interp.budget >= 0, f"budget below zero at {event}"
        self.observed.append((event, operands, dict(self.interp.state), self.counters(),
                              len(self.started)))

    def mmio(self, x):
        """A helper with effects: it sees the state, and writes guest state as helpers may."""
        self.watch("mmio", x)
        self.interp.state["r[0]"] = x ^ 0x5A5A5A5A
        self.interp.state["r[1]"] = x >> 3
        return (x * 2654435761 + 1) & 0xFFFFFFFF

    def note(self, pc):
        self.started.append((pc, dict(self.interp.state), bytes(self.ram.bytes)))

    @property
    def outcome(self):
        return self.exit if self.fault is None else self.fault


def _costs(region):
    return {i.attrs["pc"]: i.attrs.get("cost", 1) for b in region.blocks for i in b.insts
            if i.op == "insn_start"}


def _retired(ref, costs, n):
    """(cycles, insns) of the first ``n`` instructions the reference started."""
    return sum(costs[pc] for pc, _, _ in ref.started[:n]), n


def _setup(seed):
    rnd = random.Random(seed)
    state = {ref: rnd.getrandbits(STATE.type(ref).bits) for ref in STATE.refs()}
    state["count"] = rnd.randrange(4)
    memory = bytes(rnd.getrandbits(8) for _ in range(RAM_SIZE))
    return state, memory


def _reference(seed, state, memory):
    module, region = random_region(random.Random(seed), note=True)
    verify_region(region, module)
    return Run(module, state, memory, BIG_BUDGET), _costs(region)


def run_and_verify(region, module, **pipeline) -> None:
    """``run_passes(region, module, **pipeline)``, then the verifier. A random region of the
    shapes cycle accounting documents it cannot place is assumed away (hypothesis); any
    other refusal fails the test."""
    try:
        run_passes(region, module, **pipeline)
    except IRError as refusal:
        assume("no precise place" not in str(refusal)
               and "middle of different" not in str(refusal))
        raise
    verify_region(region, module)


def _optimised(seed, disabled):
    module, region = random_region(random.Random(seed))
    run_and_verify(region, module, disabled=disabled)
    return module


def _check_observations(ref, opt, costs):
    """Operands and state at every leave point match the reference's; the counters there are
    those of the instructions started before the current one."""
    assert len(opt.observed) <= len(ref.observed)
    for j, (got, want) in enumerate(zip(opt.observed, ref.observed)):
        assert got[:3] == want[:3], f"observation {j}: {got[:2]} vs {want[:2]}"
        assert got[3] == _retired(ref, costs, want[4] - 1), f"counters at observation {j}"


def check_expressions(seed):
    """Every result of every op is stored, so a wrong fold or identity shows in the state."""
    state, memory = _setup(seed)
    runs = []
    for optimise in (False, True):
        module, region = random_expressions(random.Random(seed))
        if optimise:
            run_passes(region, module, names=["constfold", "copyprop", "dce"])
            verify_region(region, module)
        runs.append(Run(module, state, memory, BIG_BUDGET))
    original, optimised = runs
    assert optimised.outcome == original.outcome
    assert optimised.interp.state == original.interp.state


def check_equivalence(seed, disabled):
    state, memory = _setup(seed)
    opt_module = _optimised(seed, disabled)
    ref, costs = _reference(seed, state, memory)
    opt = Run(opt_module, state, memory, BIG_BUDGET)
    assert opt.outcome == ref.outcome
    assert opt.interp.state == ref.interp.state
    assert opt.ram.bytes == ref.ram.bytes
    assert len(opt.observed) == len(ref.observed)
    _check_observations(ref, opt, costs)
    n = len(ref.started)
    normal = opt.exit is not None and opt.exit.reason in (ExitReason.NEXT, ExitReason.HALT)
    assert opt.counters() == _retired(ref, costs, n if normal else n - 1)


def check_budget(seed, budget):
    state, memory = _setup(seed)
    opt_module = _optimised(seed, ())
    ref, costs = _reference(seed, state, memory)
    opt = Run(opt_module, state, memory, budget)          # Run.watch asserts budget >= 0
    assert opt.interp.budget >= 0
    _check_observations(ref, opt, costs)
    if opt.exit is not None and opt.exit.reason is ExitReason.BUDGET:
        k = opt.interp.insns
        pc, at_state, at_memory = ref.started[k]
        assert opt.exit.pc == pc
        assert opt.interp.state == at_state
        assert bytes(opt.ram.bytes) == at_memory
        assert opt.counters() == _retired(ref, costs, k)
    else:
        assert opt.outcome == ref.outcome
        assert opt.interp.state == ref.interp.state


seeds = st.integers(0, 2 ** 32 - 1)
disabled_sets = st.sets(st.sampled_from(OPTIONAL))
budgets = st.integers(0, 40)
quick = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
long = settings(max_examples=20_000, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@quick
@given(seed=seeds)
def test_folded_expressions_compute_what_the_interpreter_computes(seed):
    check_expressions(seed)


@quick
@given(seed=seeds, disabled=disabled_sets)
def test_optimised_regions_behave_as_the_original(seed, disabled):
    check_equivalence(seed, disabled)


@quick
@given(seed=seeds, budget=budgets)
def test_budget_exits_leave_precise_state_and_never_overdraw(seed, budget):
    check_budget(seed, budget)


@pytest.mark.full
@long
@given(seed=seeds)
def test_folded_expressions_long(seed):
    check_expressions(seed)


@pytest.mark.full
@long
@given(seed=seeds, disabled=disabled_sets)
def test_optimised_regions_long(seed, disabled):
    check_equivalence(seed, disabled)


@pytest.mark.full
@long
@given(seed=seeds, budget=budgets)
def test_budget_exits_long(seed, budget):
    check_budget(seed, budget)
