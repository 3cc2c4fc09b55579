"""CPU feature detection for the x86-64 backend.

The backend uses an optional instruction only when the feature is in ``Host.features``; every
use has a baseline (x86-64 v1: SSE2 only) fallback, so ``X86_64Host(features=set())`` produces
code for any x86-64 CPU and tests use it to cover the fallbacks.

Feature names (the Linux ``/proc/cpuinfo`` flag that reports each, per the kernel's
``arch/x86/include/asm/cpufeatures.h``):

=========  ===========  ==========================================================
feature    cpuinfo flag  instructions used
=========  ===========  ==========================================================
movbe      movbe        ``movbe`` for big-endian guest loads/stores
lzcnt      abm          ``lzcnt`` for ``clz`` (without it the encoding runs as ``bsr``!)
popcnt     popcnt       ``popcnt``
bmi1       bmi1         ``tzcnt`` for ``ctz`` (without it the encoding runs as ``bsf``)
bmi2       bmi2         ``shlx``/``shrx``/``sarx`` (shift count in any register)
sse4_1     sse4_1       ``roundsd``/``roundss`` for float -> int with a rounding attribute
=========  ===========  ==========================================================
"""

from __future__ import annotations

from typing import Iterable, Optional

KNOWN = frozenset({"movbe", "lzcnt", "popcnt", "bmi1", "bmi2", "sse4_1"})

_CPUINFO_FLAG = {"movbe": "movbe", "lzcnt": "abm", "popcnt": "popcnt", "bmi1": "bmi1",
                 "bmi2": "bmi2", "sse4_1": "sse4_1"}


def detect(cpuinfo_path: str = "/proc/cpuinfo") -> frozenset:
    """The subset of ``KNOWN`` the running CPU reports in the first ``flags`` line of
    ``cpuinfo_path``; the empty set (baseline code) if the file cannot be read."""
    try:
        with open(cpuinfo_path, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return frozenset(name for name, flag in _CPUINFO_FLAG.items()
                                     if flag in flags)
    except OSError:
        pass
    return frozenset()


def resolve(features: Optional[Iterable[str]]) -> frozenset:
    """``None`` -> the detected features; otherwise the given names, which must be in
    ``KNOWN`` (``ValueError`` naming the unknown ones)."""
    if features is None:
        return detect()
    chosen = frozenset(features)
    unknown = chosen - KNOWN
    if unknown:
        raise ValueError(f"unknown x86-64 feature(s) {sorted(unknown)}; known: {sorted(KNOWN)}")
    return chosen
