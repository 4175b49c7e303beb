"""Facts about the host that hold until it reboots, kept in the run dir.

Probing them (``nft list tables``, a routing dump) on every container start cost more
than wiring the container. Each fact is stored with the kernel's boot id: a run dir on
a disk (a test's, a ``--runroot`` off tmpfs) outlives a reboot, and a fact from an
earlier boot is probed again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from engine.linux.files import write_atomically

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")

T = TypeVar("T")


def directory(runroot: Path) -> Path:
    return runroot / "host"


def cached(runroot: Path, name: str, probe: Callable[[], T],
           keep: Callable[[T], bool] = lambda _: True) -> T:  # fmt: skip
    """The fact ``name`` as stored this boot, else ``probe()``'s answer, stored if ``keep``
    says it will hold (a JSON value)."""
    boot = _BOOT_ID.read_text().strip()
    path = directory(runroot) / f"{name}.json"
    try:
        stored = json.loads(path.read_text())
        if stored["boot"] == boot:
            return stored["value"]
    except (OSError, ValueError, KeyError, TypeError):
        pass  # none yet, or unreadable: probe
    value = probe()
    if keep(value):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomically(path, json.dumps({"boot": boot, "value": value}))
    return value
