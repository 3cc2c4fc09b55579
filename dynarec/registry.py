"""Finding guests and hosts by name.

Built-in guests and hosts are registered exactly as third-party ones are: through the entry
point groups ``dynarec.guests`` and ``dynarec.hosts`` (see ``pyproject.toml``). The core never
imports a particular guest or host module directly.
"""

from __future__ import annotations

import os
import platform
from importlib.metadata import entry_points

from .errors import RegistryError

_MACHINE_TO_HOST = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64",
                    "arm64": "aarch64"}


def _group(group: str) -> dict:
    return {ep.name: ep for ep in entry_points(group=group)}


def available_guests() -> list:
    """Names of every registered guest."""
    return sorted(_group("dynarec.guests"))


def available_hosts() -> list:
    """Names of every registered host backend."""
    return sorted(_group("dynarec.hosts"))


def native_host_name() -> str:
    """The host backend for this CPU (``platform.machine()``), or ``$DYNAREC_HOST``."""
    env = os.environ.get("DYNAREC_HOST")
    if env:
        return env
    return _MACHINE_TO_HOST.get(platform.machine().lower(), platform.machine().lower())


def load_guest(name: str):
    """The guest class registered as ``name``; ``RegistryError`` listing the known names."""
    eps = _group("dynarec.guests")
    if name not in eps:
        raise RegistryError(f"unknown guest {name!r}; available: "
                            f"{', '.join(sorted(eps)) or 'none'}")
    return eps[name].load()


def load_host(name: str = None):
    """The host class registered as ``name`` (default: the native host)."""
    name = name or native_host_name()
    eps = _group("dynarec.hosts")
    if name not in eps:
        raise RegistryError(f"unknown host {name!r}; available: "
                            f"{', '.join(sorted(eps)) or 'none'}")
    return eps[name].load()
