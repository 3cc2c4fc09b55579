"""Cycle accounting ("cycle_accounting"): insert ``charge`` and ``check_budget``. Runs last.

The model (DESIGN.md section 5, "Cycle budget" and "Precise state"):

* Each ``insn_start pc=P cost=C`` begins a guest instruction of ``C`` cycles. An instruction
  *retires* when the next ``insn_start`` is reached or the region ends normally (``exit``,
  ``ret``). It has not retired at a ``trap`` inside it, nor at a ``load``/``store``/``call``/
  ``call_fn`` inside it: a helper or MMIO handler runs *during* the instruction, so it sees the
  counters of the instructions before it only.
* ``charge cycles=C insns=K`` subtracts ``C`` from the budget and adds ``K`` to the retired
  count. Charges are placed so that at every point where control can leave generated code
  (``load``, ``store``, ``call``, ``call_fn``, ``check_budget``, ``exit``, ``trap``) and at
  ``ret`` the counters are exact: they include every instruction retired before that point and
  nothing else. Branches inside the region (``br``, ``brif``, ``br_table``) are not such
  points; a charge may sit before one on behalf of an instruction that retires at the start
  of the successor, when nothing can observe the counters in between.
* ``check_budget cycles=N pc=P`` exits with BUDGET at ``P`` (nothing of ``P`` has run) if the
  budget is below ``N``. One goes right before the first ``insn_start`` of the entry block and
  of every loop header (the target of a back edge; every cycle of the graph passes one) --
  after the tail of the previous instruction, so the state it exits with is precise -- and
  ``P`` is that instruction's pc. ``N`` is the largest sum of instruction costs on any path
  from the check to the next check or the region's end, so the budget never goes negative.
  (An entry block without ``insn_start`` gets its check at its head, with the region's pc.)

Placement: a walk keeps ``R``, the cost of retired but uncharged instructions, and ``X``, the
cost of the current one (``(cycles, insns)`` pairs). ``R`` is charged just before each point
that must be exact (one charge covers every instruction retired since the last one); ``X``
joins ``R`` at the next ``insn_start``, or is charged with it before ``exit``/``ret``. Into a
block with one predecessor both carry over, so a straight-line superblock costs one charge per
exit. A join needs one state on all its incoming edges: ``R`` is charged before a branch to
it, and ``X`` must be the same instruction on every edge. Where it is not (a loop header; a
block after a diamond of different instructions), the edges charge ``X`` as well: the branch
charges ``R + X`` for all its successors when none of them observes the counters before its
first ``insn_start`` (the usual case), otherwise the edge gets a new block that charges ``X``.

Taken costs more. A frontend may put ``charge cycles=K`` (``insns=0``) on a path inside an
instruction -- a conditional branch's taken edge -- to say that the instruction costs ``K``
more cycles along that path. The pass removes it and adds ``K`` to the instruction in
progress (``X``), so the extra cycles are charged when, and only when, that instruction
retires, and count in the budget checks' stretch costs; a join reached by the instruction
with and without its extra cycles is a join of different costs (above). Extra cycles where no
instruction is in progress (before the first ``insn_start``, or after ``X`` was charged on an
edge) are charged as they are.

Errors (``IRError``, naming the region and blocks): the region already has ``check_budget``
(the pass ran on it); a ``charge`` with ``insns`` other than 0 before the pass; a loop with
guest instructions whose header has no ``insn_start`` (no precise place for its check); a join
reached by different instructions whose counters can be observed before its first
``insn_start``. Frontends that start every block reached by a jump
with an ``insn_start`` never meet the last two.
"""

from __future__ import annotations

from ..errors import IRError
from ..ir.nodes import Block, BlockCall, Inst, Module, Region
from .analysis import CFG, LEAVING_OPS, branch_targets

_NOTHING = (0, 0)
#: ops that observe the counters while the current instruction has not retired
_MID_INSTRUCTION_OBSERVERS = LEAVING_OPS - {"exit"}
_END_OPS = frozenset({"exit", "ret"})
_BRANCH_OPS = frozenset({"br", "brif", "br_table"})


class _BlockFacts:
    """Per block: ``first`` insn_start (or None), ``cost`` (sum of its instructions' cycles,
    extra cycles included), ``last`` ((cycles, 1) of its last instruction with the extra
    cycles charged after it, or None), ``lead`` (extra cycles charged before ``first``),
    ``observes`` (whether an op before ``first`` observes the counters mid-instruction)."""

    __slots__ = ("first", "cost", "last", "lead", "observes")

    def __init__(self, block: Block, region: Region):
        self.first = None
        self.cost = 0
        self.last = None
        self.lead = 0
        self.observes = False
        for inst in block.insts:
            op = inst.op
            if op == "insn_start":
                cost = inst.attrs.get("cost", 1)
                if self.first is None:
                    self.first = inst
                self.cost += cost
                self.last = (cost, 1)
            elif op == "charge":
                extra = _extra_cycles(inst, block, region)
                self.cost += extra
                if self.last is None:
                    self.lead += extra
                else:
                    self.last = _extend(self.last, extra)
            elif op == "check_budget":
                raise IRError(f"cycle_accounting: region {region.name} already has cycle "
                              f"accounting ({op} in {block.name}); run the pass once")
            elif self.first is None and op in _MID_INSTRUCTION_OBSERVERS:
                self.observes = True


def _extra_cycles(inst: Inst, block: Block, region: Region) -> int:
    """The cycles of a frontend's ``charge`` (extra cycles of the instruction in progress);
    ``IRError`` if it also retires instructions."""
    if inst.attrs.get("insns", 0):
        raise IRError(f"cycle_accounting: region {region.name}, {block.name}: a charge before "
                      f"cycle accounting adds cycles to the instruction in progress; it "
                      f"cannot retire instructions (insns={inst.attrs['insns']})")
    return inst.attrs["cycles"]


def _extend(current: tuple, extra: int) -> tuple:
    """The instruction in progress ``current`` with ``extra`` more cycles (nothing stays
    nothing: extra cycles without an instruction are charged on their own)."""
    return (current[0] + extra, current[1]) if current != _NOTHING else current


def run(region: Region, module: Module) -> int:
    """Insert the charges and budget checks of ``region`` in place (see the module docstring);
    return how many instructions and blocks were inserted. A region without ``insn_start`` is
    left alone."""
    facts = {b: _BlockFacts(b, region) for b in region.blocks}
    if all(f.first is None for f in facts.values()):
        return 0
    cfg = CFG(region)
    entry = region.blocks[0]
    if entry in cfg.back_edge_targets and facts[entry].first is None:
        raise IRError(f"cycle_accounting: region {region.name}: the entry block is a loop "
                      f"header without insn_start; no precise place for its budget check")
    checked = {entry} | {h for h in cfg.back_edge_targets if facts[h].first is not None}
    budget = _stretch_costs(region, cfg, facts, checked)
    return _place(region, cfg, facts, checked, budget, _Plan(region, cfg, facts))


def _successors(block: Block) -> list:
    return [c.block for c in branch_targets(block)]


def _stretch_costs(region: Region, cfg: CFG, facts: dict, checked: set) -> dict:
    """``Block -> cycles``: the largest cost of the instructions on any path from the block's
    head (for a checked block: from its check) to the next check or the region's end.

    Longest paths over the graph without edges into checked blocks. That graph may still have
    cycles (loops inside one instruction, whose header has no ``insn_start``), but they must
    cost nothing; its strongly connected components (Tarjan's algorithm, which finishes each
    component after every component it reaches) then give every path cost in one walk.
    """
    succ = {b: [s for s in _successors(b) if s not in checked] for b in cfg.rpo}
    cost: dict = {}
    index: dict = {}
    low: dict = {}
    stack: list = []
    on_stack: set = set()

    def finish(component: list) -> None:
        members = set(component)
        head = component[-1]
        if len(component) > 1 or head in succ[head]:
            looping = [b.name for b in component if facts[b].first is not None]
            if looping:
                raise IRError(f"cycle_accounting: region {region.name}: a loop through "
                              f"{', '.join(looping)} has guest instructions but its header "
                              f"has no insn_start; no precise place for its budget check")
        best = max((cost[s] for b in component for s in succ[b] if s not in members),
                   default=0)
        for b in component:
            cost[b] = facts[b].cost + best

    for root in [b for b in cfg.rpo if b in checked]:
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(succ[root]))]
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(succ[w])))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    u = work[-1][0]
                    low[u] = min(low[u], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w is v:
                            break
                    finish(component)
    return cost


class _Plan:
    """Where the current instruction's cost is charged, found by a forward data-flow over
    reverse postorder repeated until stable.

    ``head``: ``Block -> (cycles, insns)`` of the instruction in progress at the block's head
    (``(0, 0)``: none, or already charged). ``conflicts``: join blocks whose incoming edges
    bring different instructions; their incoming edges charge that instruction instead (so
    their ``head`` is ``(0, 0)``), which is exact only for blocks not in ``observed``.
    ``charge_all``: blocks whose branch charges everything pending, for every successor,
    because some successor is in ``conflicts`` and none is in ``observed``. ``observed``:
    blocks from whose head an op observing the counters mid-instruction is reachable before
    any ``insn_start``. Conflicts never go away once found (a conservative choice that keeps
    the iteration finite).
    """

    def __init__(self, region: Region, cfg: CFG, facts: dict):
        self.observed = _mid_instruction_observed(cfg, facts)
        self.conflicts: set = set()
        self.head: dict = {}
        entry = region.blocks[0]
        succs = {b: _successors(b) for b in cfg.rpo}
        out: dict = {}             # block -> the instruction in progress at its end
        changed = True
        while changed:
            changed = False
            for b in cfg.rpo:
                if b not in self.conflicts:
                    seen = [_NOTHING] if b is entry else []
                    seen += [_NOTHING if self._charges_all(p, succs[p]) else out[p]
                             for p, _ in cfg.preds[b] if p in out]
                    if all(v == seen[0] for v in seen):
                        new = seen[0]
                    else:
                        new = _NOTHING
                        self.conflicts.add(b)
                    if new != self.head.get(b):
                        self.head[b] = new
                        changed = True
                last = facts[b].last
                out[b] = last if last is not None else _extend(self.head[b], facts[b].lead)
        self.charge_all = {b for b in cfg.rpo if self._charges_all(b, succs[b])}
        for b in self.conflicts & self.observed:
            raise IRError(f"cycle_accounting: region {region.name}: block {b.name} is "
                          f"reached in the middle of different guest instructions and "
                          f"observes the counters before its first insn_start")

    def _charges_all(self, block: Block, succs: list) -> bool:
        return any(s in self.conflicts for s in succs) and \
            not any(s in self.observed for s in succs)


def _mid_instruction_observed(cfg: CFG, facts: dict) -> set:
    """Blocks from whose head an op observing the counters mid-instruction is reachable before
    any ``insn_start``."""
    found = {b for b in cfg.rpo if facts[b].observes}
    work = list(found)
    while work:
        b = work.pop()
        for p, _ in cfg.preds[b]:
            if p not in found and facts[p].first is None:
                found.add(p)
                work.append(p)
    return found


def _add(a: tuple, b: tuple) -> tuple:
    return (a[0] + b[0], a[1] + b[1])


def _charge(out: list, amount: tuple, block: Block) -> int:
    """Append ``charge`` of ``amount`` to ``out`` unless it is nothing; return 1 if it did."""
    if amount == _NOTHING:
        return 0
    out.append(Inst("charge", [], [], {"cycles": amount[0], "insns": amount[1]}, [], block))
    return 1


def _place(region: Region, cfg: CFG, facts: dict, checked: set, budget: dict,
           plan: _Plan) -> int:
    """Rewrite every reachable block with its charges and checks; return how many
    instructions and blocks were inserted."""
    entry = region.blocks[0]

    def single_pred(b: Block) -> bool:
        return b is not entry and len(cfg.preds[b]) == 1

    names = {b.name for b in region.blocks}
    new_blocks: list = []
    carried = {}
    inserted = 0
    for block in cfg.rpo:
        # retired: retired but not yet charged; cur: the instruction in progress
        retired, cur = carried.pop(block, None) or (_NOTHING, plan.head[block])
        check_at = facts[block].first if block in checked else None
        out: list = []
        if block in checked and check_at is None:
            out.append(_check(budget[block], region.pc, block))
            inserted += 1
        for inst in block.insts:
            op = inst.op
            if op == "insn_start":
                retired = _add(retired, cur)
                if inst is check_at:
                    inserted += _charge(out, retired, block) + 1
                    retired = _NOTHING
                    out.append(_check(budget[block], inst.attrs["pc"], block))
                cur = (inst.attrs.get("cost", 1), 1)
            elif op == "charge":                    # the frontend's extra cycles
                extra = inst.attrs["cycles"]
                if cur == _NOTHING:
                    retired = _add(retired, (extra, 0))
                else:
                    cur = _extend(cur, extra)
                continue
            elif op in _MID_INSTRUCTION_OBSERVERS:
                inserted += _charge(out, retired, block)
                retired = _NOTHING
            elif op in _END_OPS:
                inserted += _charge(out, _add(retired, cur), block)
                retired = cur = _NOTHING
            elif op in _BRANCH_OPS:
                successors = [c.block for c in inst.targets]
                split = False
                if block in plan.charge_all:
                    before, retired, cur = _add(retired, cur), _NOTHING, _NOTHING
                elif all(single_pred(s) for s in successors):
                    before = _NOTHING
                else:
                    before, retired = retired, _NOTHING
                    split = cur != _NOTHING
                inserted += _charge(out, before, block)
                for s in successors:
                    if single_pred(s):
                        carried[s] = (retired, cur)
                if split:
                    for call in inst.targets:
                        if call.block in plan.conflicts:
                            new_blocks.append(_split(call, cur, names))
            out.append(inst)
        block.insts = out
    region.blocks.extend(new_blocks)
    return inserted + 2 * len(new_blocks)


def _check(cycles: int, pc: int, block: Block) -> Inst:
    return Inst("check_budget", [], [], {"cycles": cycles, "pc": pc}, [], block)


def _split(call: BlockCall, amount: tuple, names: set) -> Block:
    """Route the edge ``call`` through a new block that charges ``amount``; return the block."""
    n = len(names)
    while f"block{n}" in names:
        n += 1
    block = Block(f"block{n}")
    names.add(block.name)
    charge = []
    _charge(charge, amount, block)
    block.insts = charge + [Inst("br", [], [], {}, [BlockCall(call.block, call.args)], block)]
    call.block, call.args = block, []
    return block
