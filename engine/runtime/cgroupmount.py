"""The "cgroup" mount type: the container's view of its cgroups at /sys/fs/cgroup.

On cgroup v2 it is one cgroup2 mount. On v1 and hybrid hosts it is a tmpfs holding
one mount per hierarchy, named as on the host (cpu, memory, systemd, unified...). In a
cgroup namespace a fresh mount shows the container's own cgroup as its root; without
one, the container's directory on each hierarchy is bind-mounted instead, so it still
sees only itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.cgroups import CGROUP_ROOT, Cgroup, Hierarchy, Layout
from engine.linux import syscalls as sc
from engine.runtime.mountoptions import BIND_REMOUNT_FLAGS, MountOptions


def mount_cgroups(target: Path, options: MountOptions, cgroup: Cgroup, namespaced: bool) -> None:
    flags = options.flags & BIND_REMOUNT_FLAGS
    if cgroup.layout is Layout.UNIFIED:
        _mount_hierarchy(target, cgroup, cgroup.hierarchies[0], flags, namespaced)
        return
    # The tmpfs goes read-only only once the hierarchies' directories exist in it.
    sc.mount("tmpfs", str(target), "tmpfs", flags & ~sc.MS_RDONLY, "mode=755")
    for hierarchy in cgroup.hierarchies:
        directory = target / hierarchy.mountpoint.name
        directory.mkdir(mode=0o755)
        _mount_hierarchy(directory, cgroup, hierarchy, flags, namespaced)
    _copy_links(target)
    if flags & sc.MS_RDONLY:
        sc.mount(None, str(target), None, sc.MS_REMOUNT | flags)


def _mount_hierarchy(
    target: Path, cgroup: Cgroup, hierarchy: Hierarchy, flags: int, namespaced: bool
) -> None:
    if namespaced:
        sc.mount(hierarchy.fstype, str(target), hierarchy.fstype, flags, hierarchy.options or None)
        return
    sc.mount(str(cgroup.directory(hierarchy)), str(target), None, sc.MS_BIND)
    if flags:
        sc.mount(None, str(target), None, sc.MS_REMOUNT | sc.MS_BIND | flags)


def _copy_links(target: Path) -> None:
    """The host's aliases of co-mounted controllers, e.g. ``cpu -> cpu,cpuacct``."""
    for entry in os.scandir(CGROUP_ROOT):
        if entry.is_symlink():
            link = os.readlink(entry.path)
            if (target / link).is_dir():
                os.symlink(link, target / entry.name)
