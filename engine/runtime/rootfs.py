"""Assemble the container's root file system, in its own mount namespace.

:func:`prepare` runs before pivot_root (host paths, the rootfs a host directory):
propagation, the rootfs bind, config.json's mounts, device nodes, then pivot_root.
Files are created only where :class:`rootpath.Root` says the container owns them.
:func:`finish` runs after it, with the container's /proc: a read-only root, masked
paths and read-only paths.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from engine.cgroups import Cgroup
from engine.linux import syscalls as sc
from engine.runtime import devices, mountoptions, rootpath, terminal
from engine.runtime.cgroupmount import mount_cgroups
from engine.runtime.spec import Mount, Spec

_DEFAULT_PROPAGATION = sc.MS_PRIVATE | sc.MS_REC


def prepare(spec: Spec, bundle: Path, cgroup: Cgroup) -> None:
    """Mount everything under the rootfs and make it ``/``."""
    # No mount made from here on may propagate back to the host.
    sc.mount(None, "/", None, _initial_propagation(spec))
    root = rootpath.Root(spec.root)
    # pivot_root needs the new root to be a mount point of its own.
    sc.mount(str(root.path), str(root.path), None, sc.MS_BIND | sc.MS_REC)
    namespaced = spec.namespace("cgroup") is not None
    for mount in spec.mounts:
        _mount(root, mount, bundle, cgroup, namespaced)
    # The default devices go only into a /dev the runtime mounted empty, never into
    # one bound from the host (which has its own, as runc leaves it).
    if root.is_fresh("/dev"):
        devices.create_defaults(root)
    for device in spec.devices:
        devices.make_node(root, device)
    if spec.process.terminal:
        # The init binds its pty over it (terminal.attach), after pivot_root.
        _target(root, terminal.CONSOLE, directory=False)
    _pivot(str(root.path))
    wanted = _wanted_propagation(spec)
    if wanted is not None and wanted != _initial_propagation(spec):
        sc.mount(None, "/", None, wanted)


def finish(spec: Spec) -> None:
    """What must wait until /proc and /dev are the container's own."""
    if spec.root_readonly:
        _remount_bind("/", sc.MS_RDONLY)
    for path in spec.masked_paths:
        _mask(path)
    for path in spec.readonly_paths:
        _make_readonly(path)


def _wanted_propagation(spec: Spec) -> int | None:
    if spec.rootfs_propagation is None:
        return None
    return mountoptions.PROPAGATION[spec.rootfs_propagation]


def _initial_propagation(spec: Spec) -> int:
    # A slave root keeps receiving the host's mounts, as asked; anything else starts
    # private, because pivot_root refuses shared mounts and a bind of an unbindable one
    # fails. The wanted propagation is applied to the new root after pivot_root.
    wanted = _wanted_propagation(spec)
    if wanted is not None and wanted & (sc.MS_SLAVE | sc.MS_PRIVATE):
        return wanted
    return _DEFAULT_PROPAGATION


def _mount(
    root: rootpath.Root, mount: Mount, bundle: Path, cgroup: Cgroup, namespaced: bool
) -> None:
    options = mountoptions.parse(mount.options)
    if mount.is_bind:
        source = bundle / mount.source  # a relative source is relative to the bundle
        target = _target(root, mount.destination, directory=source.is_dir())
        sc.mount(str(source), str(target), None, options.flags & (sc.MS_BIND | sc.MS_REC))
        if options.remount_flags:
            _remount_bind(target, options.remount_flags)
        if options.recursive_readonly:
            _make_recursively_readonly(target)
    else:
        target = _target(root, mount.destination, directory=True)
        if mount.type == "cgroup":
            mount_cgroups(target, options, cgroup, namespaced)
        else:
            source = mount.source or mount.type
            sc.mount(source, str(target), mount.type, options.flags, options.data)
    # Only a tmpfs of our own making is empty and the container's: the place to create
    # /dev's nodes and further mount points in.
    root.mounted(target, fresh=mount.type == "tmpfs" and not mount.is_bind)
    for propagation in options.propagation:
        sc.mount(None, str(target), None, propagation)


def _target(root: rootpath.Root, destination: str, *, directory: bool) -> Path:
    """The mount point inside ``root``, created (a directory or a file) if missing.

    Only in the container's own files: never through a bind mount onto the host's.
    """
    target = root.resolve(destination)
    if os.path.lexists(target):
        return target
    root.check_owned(target, f"mount point {destination}")
    if directory:
        target.mkdir(mode=0o755, parents=True)
    else:
        target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644))
    return target


def _remount_bind(target: Path | str, flags: int) -> None:
    # A bind mount takes its flags only through a second, remounting call.
    locked = mountoptions.locked_flags(os.statvfs(target).f_flag)
    sc.mount(None, str(target), None, sc.MS_REMOUNT | sc.MS_BIND | flags | locked)


def _make_recursively_readonly(target: Path) -> None:
    """Read-only all the way down: a remount reaches the top mount of a bind only."""
    try:
        sc.mount_setattr(str(target), sc.MOUNT_ATTR_RDONLY, recursive=True)
    except OSError as error:
        if error.errno != errno.ENOSYS:
            raise
        # Before Linux 5.12 only the top is read-only, as with Docker on such kernels.


def _pivot(root: str) -> None:
    # pivot_root(".", ".") stacks the old root on top of the new one, at the same
    # place; detaching the top mount then drops the old root without needing a
    # directory for it inside the container.
    os.chdir(root)
    sc.pivot_root(".", ".")
    # Unmounting must not propagate to the host's copy of these mounts.
    sc.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC)
    sc.umount2(".", sc.MNT_DETACH)
    os.chdir("/")


def _mask(path: str) -> None:
    """Hide ``path``: /dev/null over a file, an empty read-only tmpfs over a directory."""
    try:
        if os.path.isdir(path):
            sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY)
        else:
            sc.mount("/dev/null", path, None, sc.MS_BIND)
    except FileNotFoundError:  # nothing there to hide
        pass


def _make_readonly(path: str) -> None:
    try:
        sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
    except FileNotFoundError:
        return
    _remount_bind(path, sc.MS_RDONLY)
