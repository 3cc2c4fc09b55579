"""Facts the passes share: op classes drawn from the opcode table, the control-flow graph in
reverse postorder, and value substitution.

Every helper here is linear in the size of the region (one walk over blocks and edges), so a
pass built from them stays linear too.
"""

from __future__ import annotations

from typing import Optional

from ..ir.nodes import Block, Inst, Module, Region, Value
from ..ir.opcodes import CALL, LEAVES, OPS, READS_STATE, WRITES_STATE

# --- op classes (sets of op names, so the hot loops test membership, not flags) -------------

#: ops with no side effect at all (opcode flag ``pure``): foldable and deletable when unused
PURE_OPS = frozenset(name for name, row in OPS.items() if row.is_pure)
#: ops where control may leave generated code: the precise-state points (DESIGN.md section 5)
LEAVING_OPS = frozenset(name for name, row in OPS.items() if row.has(LEAVES))
#: ops that read guest state other than through a ``get`` of one slot
STATE_READING_OPS = frozenset(name for name, row in OPS.items()
                              if row.has(READS_STATE) and name != "get")
#: ops after which guest state may hold anything: calls (a helper or another region may write
#: guest state) and writers other than ``put`` of one slot. ``charge`` is excluded: it writes
#: the budget and instruction counters of the context header, not guest state.
STATE_CLOBBERING_OPS = frozenset(name for name, row in OPS.items()
                                 if (row.has(WRITES_STATE) or row.has(CALL))
                                 and name not in ("put", "charge"))
TERMINATOR_OPS = frozenset(name for name, row in OPS.items() if row.is_terminator)
CONST_OPS = frozenset({"iconst", "fconst"})


def is_removable(inst: Inst, module: Optional[Module]) -> bool:
    """True if deleting ``inst`` (when its results are unused) cannot change behaviour: a pure
    op, a ``get`` (reading guest state has no effect and cannot trap) or a ``call`` of a helper
    whose ``HelperSig`` says ``pure``. ``module`` may be ``None`` (then no call is removable)."""
    op = inst.op
    if op in PURE_OPS or op == "get":
        return True
    if op == "call" and module is not None:
        sig = module.helpers.get(inst.attrs.get("helper"))
        return sig is not None and sig.pure
    return False


def const_value(v: Value) -> Optional[int]:
    """The bit pattern of ``v`` if an ``iconst``/``fconst`` defines it, else ``None``."""
    d = v.defn
    if d is None:
        return None
    if d.op == "iconst":
        return d.attrs["value"] & v.type.mask
    if d.op == "fconst":
        return d.attrs["bits"] & v.type.mask
    return None


# --- control flow ----------------------------------------------------------------------------

class CFG:
    """The control-flow graph of ``region`` as one depth-first walk from the entry finds it.

    ``rpo``: reachable blocks in reverse postorder (every block comes after its dominators, so
    a walk in this order sees each value's definition before its uses); ``order``: ``rpo``
    followed by the unreachable blocks in layout order; ``reachable``: set of blocks;
    ``preds``: ``Block -> list[(Block, BlockCall)]``, one entry per edge from a reachable block
    (a ``brif`` with both targets equal gives two); ``back_edge_targets``: blocks some edge
    reaches while they are on the walk's stack (loop headers; every cycle contains one).
    """

    def __init__(self, region: Region):
        entry = region.blocks[0]
        preds: dict = {b: [] for b in region.blocks}
        visited = {entry}
        on_stack = {entry}
        post: list = []
        back = set()
        stack = [(entry, iter(branch_targets(entry)))]
        while stack:
            block, it = stack[-1]
            call = next(it, None)
            if call is None:
                stack.pop()
                on_stack.discard(block)
                post.append(block)
                continue
            succ = call.block
            preds.setdefault(succ, []).append((block, call))
            if succ not in visited:
                visited.add(succ)
                on_stack.add(succ)
                stack.append((succ, iter(branch_targets(succ))))
            elif succ in on_stack:
                back.add(succ)
        post.reverse()
        self.rpo: list = post
        self.reachable: set = visited
        self.order: list = post + [b for b in region.blocks if b not in visited]
        self.preds: dict = preds
        self.back_edge_targets: set = back


def branch_targets(block: Block) -> list:
    """The ``BlockCall``\\ s of ``block``'s terminator (empty without one)."""
    if block.insts:
        last = block.insts[-1]
        if last.op in TERMINATOR_OPS:
            return last.targets
    return []


# --- substitution ----------------------------------------------------------------------------

class Substitution:
    """A map from values to the values that replace them (``v -> w`` where ``w`` dominates
    every use of ``v``). Chains resolve: after ``s[a] = b; s[b] = c``, ``s.find(a) is c``."""

    __slots__ = ("map",)

    def __init__(self):
        self.map: dict = {}

    def __setitem__(self, old: Value, new: Value) -> None:
        self.map[old] = new

    def __contains__(self, v: Value) -> bool:
        return v in self.map

    def __len__(self) -> int:
        return len(self.map)

    def find(self, v: Value) -> Value:
        """The final replacement of ``v`` (``v`` itself if it has none); compresses the chain."""
        m = self.map
        w = m.get(v)
        if w is None:
            return v
        root = w
        while root in m:
            root = m[root]
        while w is not root:        # path compression
            m[v] = root
            v, w = w, m[w]
        return root

    def rewrite(self, inst: Inst) -> None:
        """Replace, in place, every operand and branch argument of ``inst`` that has a
        replacement."""
        m = self.map
        if not m:
            return
        args = inst.args
        for i, a in enumerate(args):
            if a in m:
                args[i] = self.find(a)
        for call in inst.targets:
            cargs = call.args
            for i, a in enumerate(cargs):
                if a in m:
                    cargs[i] = self.find(a)

    def apply(self, blocks) -> None:
        """``rewrite`` every instruction of ``blocks``."""
        if self.map:
            for b in blocks:
                for inst in b.insts:
                    self.rewrite(inst)


__all__ = ["PURE_OPS", "LEAVING_OPS", "STATE_READING_OPS", "STATE_CLOBBERING_OPS",
           "TERMINATOR_OPS", "CONST_OPS", "is_removable", "const_value", "CFG",
           "branch_targets", "Substitution"]
