"""Suite-wide settings: the time budget of each test family, reported after every run.

The default run (what CI runs) must stay well inside 15 minutes on a 2-core machine. Each
family (top-level folder under tests/) has a budget in seconds, listed here and in
docs/testing.md; the terminal summary prints what each family took against its budget, so a
family that grows past it is seen at once. Budgets are for the default run (``-m 'not full'``).
"""

import collections
import pathlib
import time

from hypothesis import HealthCheck, settings

settings.register_profile("dynarec", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("dynarec")

BUDGET_SECONDS = {
    "core": 60,
    "ir": 90,
    "passes": 60,
    "hosts": 120,
    "guests": 300,
    "examples": 240,
    "cli": 60,
}

_spent = collections.Counter()
_start = {}


def _family(item) -> str:
    parts = pathlib.Path(str(item.fspath)).parts
    return parts[parts.index("tests") + 1] if "tests" in parts else "other"


def pytest_runtest_setup(item):
    _start[item.nodeid] = time.perf_counter()


def pytest_runtest_teardown(item):
    t0 = _start.pop(item.nodeid, None)
    if t0 is not None:
        _spent[_family(item)] += time.perf_counter() - t0


def pytest_terminal_summary(terminalreporter):
    if not _spent:
        return
    tr = terminalreporter
    tr.section("time per test family (budget for the default run)")
    for fam, secs in sorted(_spent.items()):
        budget = BUDGET_SECONDS.get(fam)
        mark = "" if budget is None or secs <= budget else "  <-- over budget"
        tr.write_line(f"{fam:10s} {secs:7.1f} s / {budget or '-'} s{mark}")
