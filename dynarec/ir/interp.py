"""The IR interpreter: runs a ``Module``'s regions directly, the reference every backend is
compared with (the role of Cranelift's ``test interpret``).

::

    interp = Interpreter(module, state={"pc": 0, "gpr[4]": 7}, memory=mem, helpers={...})
    ex = interp.run("r80000400")          # Exit(reason=ExitReason.NEXT, pc=..., info=0)
    interp.call("fib", [10])              # [55]

Pure ops follow ``dynarec.ir.semantics``. The rest follow the native contract of
``dynarec.host`` and ``dynarec.context``:

* ``get``/``put`` read and write ``state`` (slot reference -> raw bits; a missing reference
  reads as 0).
* ``load``/``store`` call ``memory.load(addr, size) -> int`` / ``memory.store(addr, size,
  value)`` with numeric values (byte order already resolved), ``size`` the value type's bytes.
* ``call`` invokes ``helpers[name]`` with Python ints (floats as Python ``float``) and takes
  back ``None`` / one value / a tuple, per the module's ``HelperSig``; ``call_fn`` runs a
  function region (nesting as deep as Python allows).
* ``insn_start`` sets ``next_pc``/``delay``; an exception raised by memory or a helper
  propagates unchanged with those still naming the instruction that raised.
* ``charge`` subtracts from ``budget`` and adds to ``insns``; ``check_budget`` leaves with
  ``ExitReason.BUDGET`` when ``budget < cycles``.
* ``exit`` leaves with ``NEXT`` (``HALT`` for ``kind=halt``), ``info`` the index of the kind in
  ``EXIT_KINDS``; ``trap`` with ``EXCEPTION``, ``info`` the cause. A leave inside ``call_fn``
  leaves the whole run, as the native saved stack pointer does.

Each region is decoded into Python closures on first use, so mutate a region only before an
interpreter first runs it (or use a new ``Interpreter``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable, MutableMapping, Optional

from ..context import ExitReason, exit_reason
from ..errors import DynarecError
from .nodes import Block, Inst, Module, Region
from .opcodes import EXIT_KINDS, OPS
from .semantics import SEMANTICS
from .types import Type

DEFAULT_BUDGET = 1 << 62


@dataclass(frozen=True)
class Exit:
    """How a block region left: ``reason`` (``ExitReason``), guest ``pc`` to continue at (for
    ``EXCEPTION`` the trapping instruction's) and ``info`` (the exit kind's index in
    ``EXIT_KINDS``, the trap cause, 0 for ``BUDGET``)."""

    reason: ExitReason
    pc: int
    info: int


class InterpError(DynarecError):
    """The interpreter cannot go on: no such region, wrong argument count, no memory or helper
    for an op that needs one, ``max_steps`` exceeded, or IR it cannot decode."""


class RegionExit(DynarecError):
    """Raised by ``Interpreter.call`` when the function (or one it calls) leaves through
    ``exit``/``trap``/``check_budget`` instead of returning; ``.exit`` is the ``Exit``."""

    def __init__(self, exit: Exit):
        super().__init__(f"region left with {exit.reason.name} at pc={exit.pc:#x} "
                         f"(info {exit.info})")
        self.exit = exit


def _bits_to_float(t: Type, bits: int) -> float:
    return struct.unpack("<f" if t is Type.F32 else "<d",
                         bits.to_bytes(t.bits // 8, "little"))[0]


def _float_to_bits(t: Type, x: float) -> int:
    """A Python float as ``t`` bits; f32 rounds to nearest (beyond the range: infinity)."""
    if t is Type.F64:
        return int.from_bytes(struct.pack("<d", x), "little")
    try:
        return int.from_bytes(struct.pack("<f", x), "little")
    except OverflowError:
        return 0xFF800000 if x < 0 else 0x7F800000


class _Step:
    """A decoded block: ``body`` (closures ``env -> None``), ``term`` (closure ``env ->
    (_Step, [values])`` to branch, ``(None, [values])`` for ``ret``; raises ``RegionExit`` to
    leave), ``param_ids`` (the block parameters' value ids), ``size`` (instructions, for
    ``max_steps``) and ``name``."""

    __slots__ = ("body", "term", "param_ids", "size", "name")

    def __init__(self, block: Block):
        self.body: list = []
        self.term: Optional[Callable] = None
        self.param_ids = [p.id for p in block.params]
        self.size = len(block.insts)
        self.name = block.name


class Interpreter:
    """Runs the regions of ``module``; see the module docstring for the contract.

    Attributes: ``state`` (slot reference -> raw bits), ``memory``, ``helpers``, ``budget``
    (cycles left), ``insns`` (retired instructions), ``next_pc``/``delay`` (pc and delay-slot
    flag of the last ``insn_start`` executed).
    """

    def __init__(self, module: Module, *, state: Optional[MutableMapping[str, int]] = None,
                 memory=None, helpers: Optional[dict[str, Callable]] = None):
        self.module = module
        self.state = {} if state is None else state
        self.memory = memory
        self.helpers = dict(helpers or {})
        self.budget = DEFAULT_BUDGET
        self.insns = 0
        self.next_pc = 0
        self.delay = 0
        self._decoded: dict[int, tuple] = {}      # id(region) -> (region, entry _Step)
        self._steps_left: Optional[int] = None

    # --- public entry points --------------------------------------------------------------

    def run(self, region_name: str, max_steps: Optional[int] = None) -> Exit:
        """Run block region ``region_name`` from its entry until it leaves; returns the
        ``Exit``. ``max_steps`` bounds the instructions executed (``InterpError`` past it)."""
        region = self._region(region_name, "block")
        self._steps_left = max_steps
        try:
            self._execute(region, [])
        except RegionExit as leave:
            return leave.exit
        raise InterpError(f"block region {region.name} executed ret")

    def call(self, fn_name: str, args: list, max_steps: Optional[int] = None) -> list:
        """Run function region ``fn_name`` on ``args`` (raw bits, one per parameter) and return
        its results. Raises ``RegionExit`` if it leaves instead of returning."""
        region = self._region(fn_name, "function")
        self._steps_left = max_steps
        return self._call_region(region, list(args))

    # --- execution ------------------------------------------------------------------------

    def _region(self, name: str, kind: str) -> Region:
        region = self.module.regions.get(name)
        if region is None:
            raise InterpError(f"no region named {name!r} in the module")
        if region.kind != kind:
            raise InterpError(f"region {name} is a {region.kind} region, not a {kind} region")
        return region

    def _call_region(self, region: Region, args: list) -> list:
        if len(args) != len(region.params):
            raise InterpError(f"{region.name} takes {len(region.params)} argument(s), "
                              f"got {len(args)}")
        return self._execute(region, [int(a) & t.mask for a, t in zip(args, region.params)])

    def _execute(self, region: Region, args: list) -> list:
        """Run ``region`` from its entry with the entry params bound to ``args``; returns the
        ``ret`` values (block regions leave by raising ``RegionExit``)."""
        decoded = self._decoded.get(id(region))
        if decoded is None or decoded[0] is not region:
            decoded = self._decoded[id(region)] = (region, self._decode_region(region))
        step = decoded[1]
        env: dict[int, int] = dict(zip(step.param_ids, args))
        while True:
            if self._steps_left is not None:
                self._steps_left -= step.size
                if self._steps_left < 0:
                    raise InterpError(f"region {region.name}: max_steps exceeded in block "
                                      f"{step.name}")
            for f in step.body:
                f(env)
            step, values = step.term(env)
            if step is None:
                return values
            env.update(zip(step.param_ids, values))

    # --- decoding: one closure per instruction --------------------------------------------

    def _decode_region(self, region: Region) -> _Step:
        """Decode every block; returns the entry's ``_Step``."""
        if not region.blocks:
            raise InterpError(f"region {region.name} has no blocks")
        steps = {id(b): _Step(b) for b in region.blocks}
        for block in region.blocks:
            ends = [i for i, inst in enumerate(block.insts)
                    if inst.op in OPS and OPS[inst.op].is_terminator]
            if ends != [len(block.insts) - 1]:
                raise InterpError(f"{region.name}/{block.name}: a block needs exactly one "
                                  f"terminator, at its end (run the verifier)")
            step = steps[id(block)]
            step.body = [self._decode(region, block, inst, steps) for inst in block.insts[:-1]]
            step.term = self._decode(region, block, block.insts[-1], steps)
        return steps[id(region.entry)]

    def _decode(self, region: Region, block: Block, inst: Inst, steps: dict) -> Callable:
        row = OPS.get(inst.op)
        if row is None:
            raise InterpError(f"{region.name}/{block.name}: unknown op {inst.op!r}")
        if row.is_pure:
            return self._pure(region, inst)
        if row.targets:
            targets = []
            for t in inst.targets:
                if id(t.block) not in steps:
                    raise InterpError(f"{region.name}/{block.name}: {inst.op} targets "
                                      f"{t.block.name}, which is not a block of this region")
                targets.append(self._target(t, steps[id(t.block)]))
            return getattr(self, "_op_" + inst.op)(inst, targets)
        return getattr(self, "_op_" + inst.op)(region, inst)

    def _pure(self, region: Region, inst: Inst) -> Callable:
        fn = SEMANTICS[inst.op]
        ids = [a.id for a in inst.args]
        arg_types = [a.type for a in inst.args]
        result_types = [r.type for r in inst.results]
        rids = [r.id for r in inst.results]
        attrs, rattrs = inst.attrs, region.attrs
        if not ids:                               # constants: evaluate once
            value = fn([], arg_types, result_types, attrs, rattrs)[0]
            rid = rids[0]

            def const(env):
                env[rid] = value
            return const
        if len(rids) == 1:
            rid = rids[0]

            def pure1(env):
                env[rid] = fn([env[i] for i in ids], arg_types, result_types, attrs, rattrs)[0]
            return pure1

        def pure(env):
            env.update(zip(rids, fn([env[i] for i in ids], arg_types, result_types, attrs,
                                    rattrs)))
        return pure

    # guest state, memory, bookkeeping

    def _op_get(self, region, inst):
        ref, rid, mask = inst.attrs["slot"], inst.result.id, inst.result.type.mask
        state = self.state

        def get(env):
            env[rid] = state.get(ref, 0) & mask
        return get

    def _op_put(self, region, inst):
        ref, vid = inst.attrs["slot"], inst.args[0].id
        state = self.state

        def put(env):
            state[ref] = env[vid]
        return put

    def _op_load(self, region, inst):
        addr_id, rid = inst.args[0].id, inst.result.id
        size, mask = inst.result.type.bytes, inst.result.type.mask

        def load(env):
            env[rid] = self._memory(inst).load(env[addr_id], size) & mask
        return load

    def _op_store(self, region, inst):
        addr_id, vid, size = inst.args[0].id, inst.args[1].id, inst.args[1].type.bytes

        def store(env):
            self._memory(inst).store(env[addr_id], size, env[vid])
        return store

    def _memory(self, inst):
        if self.memory is None:
            raise InterpError(f"{inst.op} at pc={self.next_pc:#x}: the interpreter was given "
                              f"no memory")
        return self.memory

    def _op_insn_start(self, region, inst):
        pc, delay = inst.attrs["pc"], inst.attrs.get("delay", 0)

        def insn_start(env):
            self.next_pc = pc
            self.delay = delay
        return insn_start

    def _op_charge(self, region, inst):
        cycles, insns = inst.attrs["cycles"], inst.attrs.get("insns", 0)

        def charge(env):
            self.budget -= cycles
            self.insns += insns
        return charge

    def _op_check_budget(self, region, inst):
        cycles, pc = inst.attrs["cycles"], inst.attrs["pc"]

        def check_budget(env):
            if self.budget < cycles:
                raise RegionExit(Exit(ExitReason.BUDGET, pc, 0))
        return check_budget

    # calls

    def _op_call(self, region, inst):
        name = inst.attrs["helper"]
        sig = self.module.helpers.get(name)
        if sig is None:
            raise InterpError(f"{region.name}: call of undeclared helper {name!r}")
        ids = [a.id for a in inst.args]
        arg_types = [a.type for a in inst.args]
        results = inst.results

        def call(env):
            fn = self.helpers.get(name)
            if fn is None:
                raise InterpError(f"call at pc={self.next_pc:#x}: no Python callable given "
                                  f"for helper {name!r}")
            py_args = [_bits_to_float(t, env[i]) if t.is_float else env[i]
                       for i, t in zip(ids, arg_types)]
            out = fn(*py_args)
            if not results:
                return
            values = out if len(results) > 1 else (out,)
            if not isinstance(values, (tuple, list)) or len(values) != len(results):
                raise InterpError(f"helper {name} returned {out!r}; its signature has "
                                  f"{len(results)} result(s)")
            for r, v in zip(results, values):
                env[r.id] = _float_to_bits(r.type, float(v)) if r.type.is_float \
                    else int(v) & r.type.mask
        return call

    def _op_call_fn(self, region, inst):
        name = inst.attrs["fn"]
        ids = [a.id for a in inst.args]
        rids = [r.id for r in inst.results]

        def call_fn(env):
            callee = self._region(name, "function")
            env.update(zip(rids, self._call_region(callee, [env[i] for i in ids])))
        return call_fn

    # terminators: env -> (_Step, values) to branch, (None, values) to return

    def _op_br(self, inst, targets):
        return targets[0]

    def _op_brif(self, inst, targets):
        cond = inst.args[0].id
        then, other = targets
        return lambda env: then(env) if env[cond] else other(env)

    def _op_br_table(self, inst, targets):
        index = inst.args[0].id
        default, cases = targets[0], targets[1:]
        n = len(cases)
        return lambda env: cases[env[index]](env) if env[index] < n else default(env)

    @staticmethod
    def _target(call, step: _Step) -> Callable:
        ids = [a.id for a in call.args]
        return lambda env: (step, [env[i] for i in ids])

    def _op_ret(self, region, inst):
        ids = [a.id for a in inst.args]
        return lambda env: (None, [env[i] for i in ids])

    def _op_exit(self, region, inst):
        kind = inst.attrs.get("kind", "jump")
        reason = exit_reason(kind)
        info = EXIT_KINDS.index(kind)
        pc_id = inst.args[0].id if inst.args else None
        pc = inst.attrs.get("pc", -1)

        def exit_(env):
            raise RegionExit(Exit(reason, pc if pc_id is None else env[pc_id], info))
        return exit_

    def _op_trap(self, region, inst):
        leave = Exit(ExitReason.EXCEPTION, inst.attrs["pc"], inst.attrs["cause"])

        def trap(env):
            raise RegionExit(leave)
        return trap
