"""The package layout: every source folder is installed, entry points resolve."""

import pathlib
import pytest

tomllib = pytest.importorskip("tomllib")

from dynarec.registry import available_hosts, load_host

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for top, dotted in (("dynarec", "dynarec"), ("guests", "dynarec.guests"),
                        ("hosts", "dynarec.hosts"), ("examples/gameboy", "dynarec_gameboy")):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top).parts
            found.add(".".join((dotted,) + rel))
    assert found == listed


def test_native_host_is_registered_through_its_entry_point():
    assert "x86_64" in available_hosts()
    assert load_host("x86_64").name == "x86_64"
