"""The counters every command prints: one table per Machine.

Counters are plain integers or floats kept in a dict, named in one place (``COUNTERS``) so every
command prints the same rows in the same order. Counters that would cost instructions on the hot
path (jump-cache and return-stack-buffer hits) are only kept when the machine is built with
``stats=True``.
"""

from __future__ import annotations

from tabulate import tabulate

# name -> (description, unit)
COUNTERS = {
    "regions_compiled": ("regions compiled", ""),
    "guest_insns_compiled": ("guest instructions compiled", ""),
    "ir_ops_compiled": ("IR ops after passes", ""),
    "host_insns": ("host instructions generated", ""),
    "host_bytes": ("host code bytes", "B"),
    "compile_time": ("compile time", "s"),
    "code_cache_flushes": ("code cache flushes", ""),
    "entries": ("entries into generated code", ""),
    "exits_next": ("exits: next region", ""),
    "exits_budget": ("exits: cycle budget", ""),
    "exits_halt": ("exits: halt", ""),
    "exits_breakpoint": ("exits: breakpoint", ""),
    "exits_exception": ("exits: guest exception", ""),
    "exits_error": ("exits: handler error", ""),
    "exits_link": ("exits: unlinked site", ""),
    "exits_miss": ("exits: jump-cache miss", ""),
    "links_patched": ("exit sites linked to a region", ""),
    "links_routed": ("exit sites routed through the jump cache", ""),
    "links_restored": ("exit sites unlinked", ""),
    "jump_cache_fills": ("jump-cache fills", ""),
    "invalidations": ("regions invalidated", ""),
    "jump_cache_hits": ("jump-cache hits (stats build)", ""),
    "rsb_hits": ("return-stack-buffer hits (stats build)", ""),
    "rsb_misses": ("return-stack-buffer misses (stats build)", ""),
    "slow_memory_accesses": ("memory slow-path accesses", ""),
    "events_fired": ("scheduler events fired", ""),
    "cycles": ("guest cycles run", ""),
}


class Stats:
    """Named counters: ``stats["regions_compiled"] += 1``; ``str(stats)`` is the table.

    Unknown names raise ``KeyError`` (a typo must not create a silent new counter); guests and
    hosts add their own rows with ``declare(name, description, unit)``.
    """

    def __init__(self):
        self._desc = dict(COUNTERS)
        self.values = {name: 0 for name in self._desc}

    def declare(self, name: str, description: str, unit: str = "") -> None:
        if name not in self._desc:
            self._desc[name] = (description, unit)
            self.values[name] = 0

    def __getitem__(self, name: str):
        return self.values[name]

    def __setitem__(self, name: str, value) -> None:
        if name not in self.values:
            raise KeyError(f"unknown counter {name!r}; declare it first")
        self.values[name] = value

    def as_dict(self) -> dict:
        return dict(self.values)

    def table(self) -> str:
        """A two-column table of every counter, in declaration order."""
        rows = []
        for name, (desc, unit) in self._desc.items():
            v = self.values[name]
            text = f"{v:.4f}" if isinstance(v, float) else f"{v:,}"
            rows.append((desc, f"{text} {unit}".strip()))
        return tabulate(rows, headers=("counter", "value"), colalign=("left", "right"))

    def __str__(self) -> str:
        return self.table()
