"""A container's own mounts: planned at create from its flags and image, made at each start.

``plan`` reads -v, --mount, --volumes-from and the image's VOLUME entries into the list
the container keeps (anonymous volumes still unnamed); ``oci_mounts`` turns the kept list
into config.json's mounts; ``inspect_mounts`` is Docker's view of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine import ocispec as oci
from engine.containers.model import CreateOptions
from engine.containers.security import tmpfs_mount
from engine.runtime.rootpath import resolve as resolve_in_root
from engine.volumes import mountspec
from engine.volumes.model import MountPoint
from engine.volumes.mountspec import MountRequest

#: a container's kept mounts, by its id or name (for --volumes-from)
MountsOf = Callable[[str], list[MountPoint]]


def plan(options: CreateOptions, image_config: dict, mounts_of: MountsOf) -> list[MountRequest]:
    """Every mount ``options`` and the image ask for, in that order; or InvalidArgumentError.

    An explicit -v or --mount wins over --volumes-from on the same path, and both over
    the image's VOLUME; two explicit ones on one path are an error, as in Docker.
    """
    explicit = [mountspec.parse_volume_flag(spec) for spec in options.volumes]
    explicit += [mountspec.parse_mount_flag(spec) for spec in options.mounts]
    mountspec.check_targets([request.mount for request in explicit], options.tmpfs)
    taken = {request.mount.destination for request in explicit}
    taken |= {os.path.normpath(entry.partition(":")[0]) for entry in options.tmpfs}
    shared = []
    for spec in options.volumes_from:
        ref, readonly = mountspec.parse_volumes_from(spec)
        for mount in mountspec.shared_mounts(mounts_of(ref), readonly):
            if mount.destination not in taken:
                taken.add(mount.destination)
                shared.append(MountRequest(mount))
    return explicit + shared + mountspec.image_volumes(image_config, taken)


def oci_mounts(mounts: Sequence[MountPoint], volume_path: Callable[[str], Path]) -> list[oci.Mount]:
    """config.json's mounts for ``mounts``; ``volume_path`` gives a volume's ready ``_data``.

    Parents come before what is mounted inside them, as Docker orders them.
    """
    result = []
    for mount in sorted(mounts, key=lambda mount: mount.destination.count("/")):
        if mount.type == "tmpfs":
            entry = f"{mount.destination}:{','.join(mount.tmpfs_options)}"
            tmpfs = tmpfs_mount(entry)
            if mount.readonly:
                tmpfs.options = [*(tmpfs.options or []), "ro"]
            result.append(tmpfs)
            continue
        source = mount.source if mount.type == "bind" else str(volume_path(mount.source))
        options = ["rbind" if mount.recursive else "bind", mount.propagation or "rprivate"]
        if mount.readonly:  # and every mount under a recursive bind too, as Docker 25+
            options.append("rro" if mount.recursive and mount.readonly_below else "ro")
        result.append(oci.Mount(mount.destination, "bind", source, options))
    return result


def make_nested_mount_points(mounts: Sequence[oci.Mount]) -> None:
    """Make the mount point of each bind that lands inside another bind's source.

    The runtime creates nothing inside a bind mount (it may be the host's); these are the
    user's own nestings (-v data:/srv -v /conf:/srv/conf), made inside the outer source as
    Docker's runtime makes them, never outside it: links resolve within that source.
    """
    binds = {mount.destination: mount for mount in mounts if mount.type == "bind"}
    for mount in binds.values():
        outer = _enclosing(mount.destination, binds)
        if outer is None:
            continue
        relative = os.path.relpath(mount.destination, outer.destination)
        target = resolve_in_root(Path(outer.source), relative)
        if os.path.lexists(target):
            continue
        if os.path.isdir(mount.source):
            target.mkdir(mode=0o755, parents=True)
        else:
            target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            target.touch(mode=0o644)


def _enclosing(destination: str, binds: dict[str, oci.Mount]) -> oci.Mount | None:
    """The innermost other bind whose destination holds ``destination``."""
    parent = os.path.dirname(destination)
    while parent != "/":
        if parent in binds:
            return binds[parent]
        parent = os.path.dirname(parent)
    return None  # a mount on "/" itself is refused at create


def inspect_mounts(mounts: Sequence[MountPoint], volume_path: Callable[[str], Path]) -> list[dict]:
    """``inspect``'s Mounts, as Docker shows them."""
    shown = []
    for mount in mounts:
        entry: dict[str, Any] = {"Type": mount.type}
        if mount.type == "volume":
            entry["Name"] = mount.source
        entry["Source"] = str(volume_path(mount.source)) if mount.type == "volume" else mount.source
        entry.update(Destination=mount.destination)
        if mount.type == "volume":
            entry["Driver"] = "local"
        entry.update(Mode=mount.mode, RW=not mount.readonly, Propagation=mount.propagation)
        shown.append(entry)
    return shown


def host_config_mounts(options: CreateOptions, mounts: Sequence[MountPoint]) -> dict[str, Any]:
    """HostConfig's Binds, Mounts and VolumesFrom: what -v, --mount and --volumes-from gave."""
    return {
        "Binds": list(options.volumes) or None,
        "Mounts": [_mount_config(mount) for mount in mounts
                   if mount.from_flag == "--mount"] or None,
        "VolumesFrom": list(options.volumes_from) or None,
    }  # fmt: skip


def _mount_config(mount: MountPoint) -> dict[str, Any]:
    config: dict[str, Any] = {"Type": mount.type}
    if mount.source:
        config["Source"] = mount.source
    config["Target"] = mount.destination
    if mount.readonly:
        config["ReadOnly"] = True
    if mount.type == "bind":
        config["BindOptions"] = {"Propagation": mount.propagation}
        if not mount.recursive:
            config["BindOptions"]["NonRecursive"] = True
    elif mount.type == "volume" and not mount.copy_up:
        config["VolumeOptions"] = {"NoCopy": True}
    elif mount.type == "tmpfs":
        config["TmpfsOptions"] = _tmpfs_config(mount.tmpfs_options)
    return config


def _tmpfs_config(options: Sequence[str]) -> dict[str, int]:
    config = {}
    for option in options:
        key, _, value = option.partition("=")
        if key == "size":
            config["SizeBytes"] = int(value)
        elif key == "mode":
            config["Mode"] = int(value, 8)
    return config
