"""config.json's ``linux.resources``: read it, set it on the container's cgroup, change it live.

Only the fields Docker's flags fill are read (cpu, memory, pids, blockIO weight);
another field is refused with its name rather than silently ignored, as everywhere in
the runtime's spec loader.

A setting the host cannot have (its controller is not mounted, the kernel lacks its
file) is no error: the container runs without it, as with runc, and each such
setting is returned as a note that names it —
``linux.resources.pids.limit is not applied (no pids.max): <why>`` — for the
caller to pass on; :func:`setting` reads the setting back out of a note.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from pathlib import Path
from typing import Any

from engine import cgroups
from engine import ocispec as oci
from engine.cgroups import Limits
from engine.errors import NotFoundError
from engine.runtime import devicecgroup
from engine.runtime import statedir as states

# OCI field -> Limits field, per section of linux.resources
_FIELDS: dict[str, dict[str, str]] = {
    "cpu": {"shares": "cpu_shares", "quota": "cpu_quota", "period": "cpu_period",
            "cpus": "cpuset_cpus", "mems": "cpuset_mems"},
    "memory": {"limit": "memory", "reservation": "memory_reservation", "swap": "memory_swap"},
    "pids": {"limit": "pids"},
    "blockIO": {"weight": "blkio_weight"},
}  # fmt: skip
# cgroup file (v1 and v2) -> the OCI setting it carries, for the notes of what was not set
_SETTING_OF_FILE = {
    "cpu.shares": "cpu.shares", "cpu.weight": "cpu.shares",
    "cpu.cfs_quota_us": "cpu.quota", "cpu.max": "cpu.quota",
    "cpu.cfs_period_us": "cpu.period",
    "cpuset.cpus": "cpu.cpus", "cpuset.mems": "cpu.mems",
    "memory.limit_in_bytes": "memory.limit", "memory.max": "memory.limit",
    "memory.soft_limit_in_bytes": "memory.reservation", "memory.low": "memory.reservation",
    "memory.memsw.limit_in_bytes": "memory.swap", "memory.swap.max": "memory.swap",
    "pids.max": "pids.limit",
    "blkio.weight": "blockIO.weight", "blkio.bfq.weight": "blockIO.weight",
    "io.weight": "blockIO.weight", "io.bfq.weight": "blockIO.weight",
}  # fmt: skip
# A cgroup driver's note on a file it could not write: "<file> is not set: <why>".
_DRIVER_NOTE = re.compile(r"(?P<file>[\w.]+) is not set: (?P<why>.+)", re.DOTALL)
# Ours: "linux.resources.<section>.<key> is not applied (no <file>): <why>".
_NOTE = re.compile(
    r"linux\.resources\.(?P<section>\w+)\.(?P<key>\w+) is not applied \(no [^)]*\): "
    r"(?P<why>.+)",
    re.DOTALL,
)


def parse(resources: dict[str, Any]) -> Limits:
    """The Limits of an OCI ``linux.resources`` object; InvalidArgumentError if malformed.

    It is read by :mod:`engine.ocispec`'s model, which refuses a field berth cannot honour
    with its name (UnsupportedError); devices are :mod:`engine.runtime.devicecgroup`'s.
    """
    read = oci.Resources.from_dict(resources, "linux.resources").to_dict()
    values: dict[str, Any] = {}
    for section, entries in _FIELDS.items():
        for key, value in read.get(section, {}).items():
            values[entries[key]] = value
    return Limits(**values)


def to_oci(limits: Limits) -> dict[str, Any]:
    """The ``linux.resources`` object for ``limits`` (sections with nothing set left out)."""
    resources: dict[str, Any] = {}
    for section, entries in _FIELDS.items():
        values = {key: getattr(limits, name) for key, name in entries.items()}
        values = {key: value for key, value in values.items() if value is not None}
        if values:
            resources[section] = values
    return resources


def apply(cgroup: cgroups.Cgroup, limits: Limits) -> list[str]:
    """Set a new container's limits; a note for each setting the host cannot have.

    The rest are set: like runc, the container runs without what the host lacks.
    """
    if limits.is_empty():
        return []
    return _named(cgroup.apply(limits))


def update(container_id: str, resources: dict[str, Any], *, state_root: Path) -> list[str]:
    """Change a running container's limits (runc update -r); the notes of what was not set.

    Device rules given replace the container's whole set, as at create (on cgroup v2
    its device filter is swapped for a new one).
    """
    saved = states.load(state_root, container_id)
    cgroup = cgroups.get(saved.cgroup_path)
    notes = _named(cgroup.apply(parse(resources)))
    if "devices" in resources:
        notes += devicecgroup.apply(cgroup, devicecgroup.parse(resources["devices"]))
    return notes


def unapplied(limits: Limits, parent: str) -> list[str]:
    """The notes :func:`apply` would give on this host, before any container exists.

    The limits are set on a scratch cgroup made under ``parent`` and removed at once
    (it holds no process, so no limit bites). [] when the host will not even let us
    make it, or refuses a value: the container's own create says so then.
    """
    if limits.is_empty():
        return []
    cgroup = cgroups.get(f"{parent}/probe-{secrets.token_hex(8)}")
    try:
        cgroup.create()
        return apply(cgroup, limits)
    except OSError:
        return []
    finally:
        with contextlib.suppress(OSError):
            cgroup.remove()


def setting(note: str) -> tuple[str, str] | None:
    """The Limits field a note of :func:`apply` is about, and why it was not set.

    None for a note about no single setting.
    """
    match = _NOTE.fullmatch(note)
    if match is None:
        return None
    name = _FIELDS.get(match["section"], {}).get(match["key"])
    return None if name is None else (name, match["why"])


def _named(notes: list[str]) -> list[str]:
    """The driver's notes ("<file> is not set: <why>") reworded to name the OCI setting."""
    named = []
    for note in notes:
        match = _DRIVER_NOTE.fullmatch(note)
        oci = _SETTING_OF_FILE.get(match["file"]) if match else None
        if match is None or oci is None:
            named.append(note)  # a note of another shape is passed on as it is
        else:
            named.append(f"linux.resources.{oci} is not applied (no {match['file']}): "
                         f"{match['why']}")  # fmt: skip
    return named


def oom_killed(container_id: str, *, state_root: Path) -> bool:
    """Whether the OOM killer killed a process of the container; ask before ``delete``.

    False when the container is already deleted: the kernel's counter went with it.
    """
    try:
        saved = states.load(state_root, container_id)
    except NotFoundError:
        return False
    return cgroups.get(saved.cgroup_path).oom_kills() > 0
