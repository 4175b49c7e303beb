"""Which cgroup hierarchies the host has mounted, and how they are laid out.

The layout is probed the way runc does: the file system type of /sys/fs/cgroup says
unified (cgroup2 itself), hybrid (a tmpfs of v1 controllers plus a cgroup2 at
``unified``) or legacy (v1 controllers only).
"""

from __future__ import annotations

import enum
import functools
import os
from dataclasses import dataclass
from pathlib import Path

from engine.linux import syscalls

CGROUP_ROOT = Path("/sys/fs/cgroup")

# v1 super-block options that are not controllers; mounting a hierarchy again must name
# only its controllers (and name=), and a release agent must never be copied.
_V1_FLAGS = frozenset(
    {"rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode", "favordynmods"}
)


class Layout(enum.Enum):
    UNIFIED = "unified"
    HYBRID = "hybrid"
    LEGACY = "legacy"


@dataclass(frozen=True)
class Hierarchy:
    """One mounted cgroup hierarchy."""

    mountpoint: Path
    #: "cgroup" (v1) or "cgroup2"
    fstype: str
    #: the mount data that selects this hierarchy again: "cpu,cpuacct", "name=systemd";
    #: empty for cgroup2
    options: str

    @property
    def controllers(self) -> frozenset[str]:
        return frozenset(self.options.split(",")) if self.options else frozenset()


def detect() -> Layout:
    """The host's cgroup layout."""
    magic = syscalls.statfs_type(str(CGROUP_ROOT))
    if magic == syscalls.CGROUP2_SUPER_MAGIC:
        return Layout.UNIFIED
    unified = CGROUP_ROOT / "unified"
    if unified.is_dir() and _is_cgroup2(unified):
        return Layout.HYBRID
    return Layout.LEGACY


def _is_cgroup2(path: Path) -> bool:
    try:
        return syscalls.statfs_type(str(path)) == syscalls.CGROUP2_SUPER_MAGIC
    except OSError:
        return False


def mounted_hierarchies(layout: Layout) -> list[Hierarchy]:
    """The hierarchies a container's cgroup lives on, for ``layout``.

    v1 hierarchies come from /proc/self/mountinfo (one entry per hierarchy, whichever
    mount point is seen first); hybrid adds the unified cgroup2 at /sys/fs/cgroup/unified.
    """
    if layout is Layout.UNIFIED:
        return [Hierarchy(CGROUP_ROOT, "cgroup2", "")]
    return list(_v1_hierarchies(layout, os.stat("/proc/self/ns/mnt").st_ino))


# Per mount namespace: hierarchies are mounted at boot, and a listing asks for each
# running container's cgroup (mountinfo read 20 times for one ps of 20 containers).
@functools.lru_cache(maxsize=4)
def _v1_hierarchies(layout: Layout, _mount_namespace: int) -> tuple[Hierarchy, ...]:
    found: dict[str, Hierarchy] = {}
    for mountpoint, fstype, options in _cgroup_mounts():
        if fstype == "cgroup" and options not in found:
            found[options] = Hierarchy(mountpoint, fstype, options)
    hierarchies = list(found.values())
    if layout is Layout.HYBRID:
        hierarchies.append(Hierarchy(CGROUP_ROOT / "unified", "cgroup2", ""))
    return tuple(hierarchies)


def _cgroup_mounts() -> list[tuple[Path, str, str]]:
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        # "36 25 0:31 / /sys/fs/cgroup/cpu rw,relatime shared:1 - cgroup cgroup rw,cpu"
        fields, _, tail = line.partition(" - ")
        fstype, _source, super_options = tail.split(" ", 2)
        if fstype not in ("cgroup", "cgroup2"):
            continue
        mountpoint = _unescape(fields.split(" ")[4])
        selectors = "" if fstype == "cgroup2" else _selectors(super_options)
        mounts.append((Path(mountpoint), fstype, selectors))
    return mounts


def _selectors(super_options: str) -> str:
    """The controllers and ``name=`` of a v1 mount, without its behaviour flags."""
    return ",".join(
        option
        for option in super_options.split(",")
        if option not in _V1_FLAGS and not option.startswith("release_agent=")
    )


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (\\040)."""
    return field.encode().decode("unicode_escape") if "\\" in field else field
