"""Optimisation passes over one IR region, and the pass manager that runs them.

Each pass is a function ``run(region, module) -> int`` in its own module that rewrites the
region in place, keeps it valid for ``dynarec.ir.verifier``, and returns how many changes it
made (instructions/blocks/parameters deleted, folded or inserted). Every pass is linear in the
size of the region.

``PASSES`` is the ordered registry, by name:

=====================  ==============================================================
``state_forwarding``   reuse guest-state values across get/put; delete overwritten puts
                       (``forward.py``; keeps state precise wherever control can leave)
``flags``              dead-flag elimination for regions with ``flags=<slot>``: delete
                       flag puts no one reads, zero flag bits no one reads (``flags.py``)
``constfold``          fold constant operands and exact identities (``constfold.py``)
``copyprop``           replace copies: block params, ``select c, x, x`` (``copyprop.py``)
``dce``                delete unreachable blocks, unused pure ops and params (``dce.py``)
``cycle_accounting``   insert ``charge``/``check_budget`` (``cycles.py``); must be last
=====================  ==============================================================

``DEFAULT_PIPELINE`` is the order compiles use. ``run_passes(region, module, disabled=...)``
runs it with some passes switched off by name (``dynarec-diff --disable-pass NAME`` bisects a
divergence this way). Switching off ``cycle_accounting`` leaves the region without budget
checks or charges, so its counters stop matching the interpreter's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence

from ..ir.nodes import Module, Region
from . import constfold, copyprop, cycles, dce, flags, forward


@dataclass(frozen=True)
class Pass:
    """A named pass: ``run(region, module) -> changes`` and one line saying what it does."""

    name: str
    run: Callable[[Region, Module], int]
    doc: str


PASSES: dict = {p.name: p for p in (
    Pass("state_forwarding", forward.run, "forward guest-state get/put values; delete dead puts"),
    Pass("flags", flags.run, "delete dead flag-register puts; zero flag bits no one reads"),
    Pass("constfold", constfold.run, "fold constants and exact algebraic identities"),
    Pass("copyprop", copyprop.run, "replace copies (uniform block params, select c, x, x)"),
    Pass("dce", dce.run, "delete unreachable blocks, unused pure ops and block params"),
    Pass("cycle_accounting", cycles.run, "insert charge/check_budget for the cycle budget"),
)}

#: The passes a compile runs, in order. Forwarding exposes constants (a ``put`` of a constant
#: read back by a ``get``); folding turns constant branches into ``br``; copy propagation then
#: finds parameters that every edge passes the same value; ``dce`` sweeps what became unused.
DEFAULT_PIPELINE: tuple = ("state_forwarding", "flags", "constfold", "copyprop", "dce",
                           "cycle_accounting")


def check_names(names: Iterable[str]) -> list:
    """Return ``names`` as a list after checking each is a key of ``PASSES``; ``ValueError``
    naming the unknown ones and listing the valid ones otherwise."""
    names = list(names)
    unknown = [n for n in names if n not in PASSES]
    if unknown:
        raise ValueError(f"unknown pass name(s) {', '.join(map(repr, unknown))}; "
                         f"valid names: {', '.join(PASSES)}")
    return names


def run_passes(region: Region, module: Module, disabled: Iterable[str] = (),
               names: Optional[Sequence[str]] = None,
               stats: Optional[dict] = None) -> Region:
    """Run the passes ``names`` (default ``DEFAULT_PIPELINE``) in order over ``region`` in
    place, skipping every pass named in ``disabled``; return ``region``.

    ``stats``, if given, is a dict the changes each pass made are added to, under the pass's
    name (``stats[name] += changes``). Raises ``ValueError`` for an unknown name in ``names``
    or ``disabled``, and whatever a pass raises (``IRError`` for IR it cannot handle).
    """
    pipeline = check_names(DEFAULT_PIPELINE if names is None else names)
    off = set(check_names(disabled))
    for name in pipeline:
        if name in off:
            continue
        changes = PASSES[name].run(region, module)
        if stats is not None:
            stats[name] = stats.get(name, 0) + changes
    return region


__all__ = ["Pass", "PASSES", "DEFAULT_PIPELINE", "run_passes", "check_names"]
