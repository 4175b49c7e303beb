"""config.json's ``linux.resources``: read it, set it on the container's cgroup, change it live.

Only the fields Docker's flags fill are read (cpu, memory, pids, blockIO weight);
another field is refused with its name rather than silently ignored, as everywhere in
the runtime's spec loader.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from engine import cgroups
from engine.cgroups import Limits
from engine.errors import InvalidArgumentError, NotFoundError, UnsupportedError
from engine.runtime import statedir as states

# OCI field -> Limits field, per section of linux.resources
_FIELDS: dict[str, dict[str, str]] = {
    "cpu": {"shares": "cpu_shares", "quota": "cpu_quota", "period": "cpu_period",
            "cpus": "cpuset_cpus", "mems": "cpuset_mems"},
    "memory": {"limit": "memory", "reservation": "memory_reservation", "swap": "memory_swap"},
    "pids": {"limit": "pids"},
    "blockIO": {"weight": "blkio_weight"},
}  # fmt: skip
_STRINGS = frozenset({"cpuset_cpus", "cpuset_mems"})
# Present in configs other tools write, harmless to leave unset here.
_IGNORED = frozenset({"devices"})


def parse(resources: dict[str, Any]) -> Limits:
    """The Limits of an OCI ``linux.resources`` object; InvalidArgumentError if malformed."""
    values: dict[str, Any] = {}
    for section, entries in resources.items():
        if section in _IGNORED:
            continue
        if section not in _FIELDS:
            raise UnsupportedError(f"config.json: linux.resources.{section} is not supported")
        if not isinstance(entries, dict):
            raise InvalidArgumentError(f"config.json: linux.resources.{section} must be an object")
        for key, value in entries.items():
            if value is None:
                continue
            name = _FIELDS[section].get(key)
            if name is None:
                raise UnsupportedError(
                    f"config.json: linux.resources.{section}.{key} is not supported"
                )
            values[name] = _checked(value, name, f"linux.resources.{section}.{key}")
    return Limits(**values)


def _checked(value: Any, name: str, where: str) -> int | str:
    kind = str if name in _STRINGS else int
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InvalidArgumentError(f"config.json: {where} must be a{'' if kind is str else 'n'} "
                                   f"{kind.__name__}")  # fmt: skip
    return value


def to_oci(limits: Limits) -> dict[str, Any]:
    """The ``linux.resources`` object for ``limits`` (sections with nothing set left out)."""
    resources: dict[str, Any] = {}
    for section, entries in _FIELDS.items():
        values = {key: getattr(limits, name) for key, name in entries.items()}
        values = {key: value for key, value in values.items() if value is not None}
        if values:
            resources[section] = values
    return resources


def apply(cgroup: cgroups.Cgroup, limits: Limits) -> None:
    """Set a new container's limits; what the host cannot set is warned about on stderr."""
    if limits.is_empty():
        return
    for note in cgroup.apply(limits):
        # Like runc: the container still runs, and whoever reads our stderr learns why
        # a limit is missing.
        print(f"berth-runtime: warning: {note}", file=sys.stderr)


def update(container_id: str, resources: dict[str, Any], *, state_root: Path) -> list[str]:
    """Change a running container's limits (runc update -r); the notes of what was not set."""
    saved = states.load(state_root, container_id)
    return cgroups.get(saved.cgroup_path).apply(parse(resources))


def oom_killed(container_id: str, *, state_root: Path) -> bool:
    """Whether the OOM killer killed a process of the container; ask before ``delete``.

    False when the container is already deleted: the kernel's counter went with it.
    """
    try:
        saved = states.load(state_root, container_id)
    except NotFoundError:
        return False
    return cgroups.get(saved.cgroup_path).oom_kills() > 0
