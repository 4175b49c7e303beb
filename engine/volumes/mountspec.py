"""Docker's mount flags, read as Docker reads them: ``-v``, ``--mount``, ``--volumes-from``.

Each gives a :class:`MountRequest`: the mount as the container will have it, but an
anonymous volume has no name yet (create gives it one) and a named one may not exist yet.
Everything a user can get wrong is refused here, before anything is made.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from engine.errors import InvalidArgumentError
from engine.units import parse_size
from engine.volumes.model import VOLUME_NAME, MountPoint

_PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
_LABELS = ("z", "Z")  # SELinux relabelling: accepted, as there is nothing to relabel here
_CONSISTENCY = ("consistent", "cached", "delegated")  # Docker for Mac's: accepted, ignored
_TRUE = ("", "1", "true")
_FALSE = ("0", "false")


@dataclass(frozen=True)
class MountRequest:
    """One mount a user asked for; ``volume_*``: settings for a volume made for it."""

    mount: MountPoint
    create_host_path: bool = False  # -v makes a missing bind source; --mount refuses it
    volume_labels: dict[str, str] = field(default_factory=dict)
    volume_options: dict[str, str] = field(default_factory=dict)


def parse_volume_flag(spec: str) -> MountRequest:
    """``-v [SOURCE:]TARGET[:MODE]``: a bind (absolute SOURCE), a named volume, or an
    anonymous one (no SOURCE)."""
    parts = spec.split(":")
    if len(parts) == 1:
        source, target, mode = "", parts[0], ""
    elif len(parts) == 2:
        source, target, mode = parts[0], parts[1], ""
        if _is_mode(target):  # "/data:ro": Docker refuses a mode without a source
            raise _bad_volume(spec, "an anonymous volume takes no mode; give SOURCE:TARGET:MODE")
    elif len(parts) == 3:
        source, target, mode = parts
    else:
        raise _bad_volume(spec, "use [SOURCE:]TARGET[:MODE]")
    kind = "bind" if source.startswith("/") else "volume"
    if kind == "volume" and source and not VOLUME_NAME.fullmatch(source):
        raise _bad_volume(
            spec, f'"{source}" is neither an absolute host path nor a volume name '
            "(letters, digits, _ . -); a bind mount needs an absolute path",
        )  # fmt: skip
    options = _volume_mode(spec, kind, mode)
    mount = MountPoint(
        type=kind,
        destination=_target(spec, target),
        source=os.path.normpath(source) if kind == "bind" else source,
        readonly="ro" in options,
        mode=mode,
        propagation=next((o for o in options if o in _PROPAGATIONS), "rprivate")
        if kind == "bind" else "",
        copy_up="nocopy" not in options,
        from_flag="-v",
    )  # fmt: skip
    return MountRequest(mount, create_host_path=kind == "bind")


def _is_mode(text: str) -> bool:
    return bool(text) and all(
        option in ("ro", "rw", "nocopy", *_PROPAGATIONS, *_LABELS, *_CONSISTENCY)
        for option in text.split(",")
    )


def _volume_mode(spec: str, kind: str, mode: str) -> list[str]:
    """-v's MODE, checked: at most one of each kind of option, each valid for ``kind``."""
    options = mode.split(",") if mode else []
    for option in options:
        if not _is_mode(option):
            raise _bad_volume(spec, f'unknown mode "{option}" (use ro, rw, z, Z, nocopy, or '
                                    "a propagation: " + ", ".join(_PROPAGATIONS) + ")")  # fmt: skip
        if option in _PROPAGATIONS and kind != "bind":
            raise _bad_volume(spec, f'"{option}": propagation is for bind mounts only')
        if option == "nocopy" and kind != "volume":
            raise _bad_volume(spec, '"nocopy" is for volumes only')
    for group in (("ro", "rw"), _PROPAGATIONS, _LABELS, ("nocopy",), _CONSISTENCY):
        if sum(option in group for option in options) > 1:
            raise _bad_volume(spec, f'more than one of {", ".join(group)} in "{mode}"')
    return options


def _bad_volume(spec: str, why: str) -> InvalidArgumentError:
    return InvalidArgumentError(f'invalid volume "{spec}": {why}')


def _target(spec: str, target: str) -> str:
    if not target.startswith("/"):
        raise InvalidArgumentError(
            f'invalid mount "{spec}": the container path "{target}" must be absolute'
        )
    target = os.path.normpath(target)
    if target == "/":
        raise InvalidArgumentError(f'invalid mount "{spec}": the container path cannot be "/"')
    return target


# --mount's keys, by the types they apply to; their values are checked by _MountFields.
_MOUNT_KEYS = {
    "type": None, "source": None, "src": None, "target": None, "dst": None,
    "destination": None, "readonly": None, "ro": None, "consistency": None,
    "bind-propagation": "bind", "bind-recursive": "bind", "bind-nonrecursive": "bind",
    "volume-nocopy": "volume", "volume-driver": "volume", "volume-label": "volume",
    "volume-opt": "volume", "tmpfs-size": "tmpfs", "tmpfs-mode": "tmpfs",
}  # fmt: skip


def parse_mount_flag(spec: str) -> MountRequest:
    """``--mount type=bind|volume|tmpfs,source=…,target=…,…`` (comma-separated, CSV-quoted)."""
    fields = _mount_fields(spec)
    kind = fields.pop("type", ["volume"])[-1]
    if kind not in ("bind", "volume", "tmpfs"):
        raise InvalidArgumentError(
            f'invalid --mount "{spec}": unknown type "{kind}" (use bind, volume or tmpfs)'
        )
    for key in fields:
        if _MOUNT_KEYS[key] not in (None, kind):
            raise InvalidArgumentError(f'invalid --mount "{spec}": {key} is not valid for {kind}')
    source = _last(fields, "source", "src")
    target = _last(fields, "target", "dst", "destination")
    if target is None:
        raise InvalidArgumentError(f'invalid --mount "{spec}": target is required')
    readonly = _flag(spec, fields, "readonly", "ro")
    if kind == "bind":
        return _bind_mount(spec, fields, source, _target(spec, target), readonly)
    if kind == "tmpfs":
        if source:
            raise InvalidArgumentError(f'invalid --mount "{spec}": a tmpfs takes no source')
        return MountRequest(MountPoint(
            "tmpfs", _target(spec, target), readonly=readonly,
            tmpfs_options=_tmpfs_options(spec, fields), from_flag="--mount",
        ))  # fmt: skip
    return _volume_mount(spec, fields, source or "", _target(spec, target), readonly)


def _mount_fields(spec: str) -> dict[str, list[str]]:
    try:
        items = next(csv.reader([spec]))
    except (csv.Error, StopIteration):
        raise InvalidArgumentError(
            f'invalid --mount "{spec}": cannot read it as key=value,…'
        ) from None
    fields: dict[str, list[str]] = {}
    for item in items:
        key, _, value = item.partition("=")
        key = key.strip().lower()
        if key not in _MOUNT_KEYS:
            raise InvalidArgumentError(
                f"invalid --mount \"{spec}\": unexpected key '{key}' in '{item}' (keys: "
                "type, source, target, readonly, bind-propagation, bind-recursive, "
                "volume-nocopy, volume-opt, volume-label, volume-driver, tmpfs-size, tmpfs-mode)"
            )
        fields.setdefault(key, []).append(value)
    return fields


def _last(fields: dict[str, list[str]], *keys: str) -> str | None:
    values = [value for key in keys for value in fields.get(key, [])]
    return values[-1] if values else None


def _flag(spec: str, fields: dict[str, list[str]], *keys: str) -> bool:
    """A boolean key: present alone or =1/=true is true, =0/=false is false."""
    value = _last(fields, *keys)
    if value is None:
        return False
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InvalidArgumentError(f'invalid --mount "{spec}": {keys[0]}={value} is not true or false')


# Docker's bind-recursive: rbind with read-only submounts when readonly (enabled, readonly),
# rbind with only the top read-only (writable), or a plain bind (disabled).
_RECURSIVE = ("enabled", "disabled", "writable", "readonly")


def _bind_mount(
    spec: str, fields: dict[str, list[str]], source: str | None, target: str, readonly: bool
) -> MountRequest:
    if not source:
        raise InvalidArgumentError(f'invalid --mount "{spec}": a bind needs a source')
    if not source.startswith("/"):
        raise InvalidArgumentError(
            f'invalid --mount "{spec}": the bind source "{source}" must be an absolute path'
        )
    if not os.path.exists(source):  # Docker's --mount, unlike -v, makes nothing
        raise InvalidArgumentError(
            f'invalid --mount "{spec}": bind source path does not exist: {source}'
        )
    propagation = _last(fields, "bind-propagation") or "rprivate"
    if propagation not in _PROPAGATIONS:
        raise InvalidArgumentError(
            f'invalid --mount "{spec}": bind-propagation "{propagation}" '
            f"(use {', '.join(_PROPAGATIONS)})"
        )
    recursive = _last(fields, "bind-recursive") or "enabled"
    if recursive not in _RECURSIVE:
        raise InvalidArgumentError(
            f'invalid --mount "{spec}": bind-recursive "{recursive}" (use {", ".join(_RECURSIVE)})'
        )
    if recursive == "readonly" and not readonly:
        raise InvalidArgumentError(
            f'invalid --mount "{spec}": bind-recursive=readonly needs readonly as well'
        )
    nonrecursive = _flag(spec, fields, "bind-nonrecursive")
    return MountRequest(MountPoint(
        "bind", target, os.path.normpath(source), readonly=readonly, propagation=propagation,
        recursive=recursive != "disabled" and not nonrecursive,
        readonly_below=recursive != "writable", from_flag="--mount",
    ))  # fmt: skip


def _volume_mount(
    spec: str, fields: dict[str, list[str]], source: str, target: str, readonly: bool
) -> MountRequest:
    if source and not VOLUME_NAME.fullmatch(source):
        raise InvalidArgumentError(
            f'invalid --mount "{spec}": "{source}" is not a volume name (letters, digits, '
            "_ . -; for a host path use type=bind)"
        )
    driver = _last(fields, "volume-driver") or "local"
    if driver != "local":
        raise InvalidArgumentError(
            f'invalid --mount "{spec}": volume driver "{driver}": berth has the local driver only'
        )
    return MountRequest(
        MountPoint("volume", target, source, readonly=readonly,
                   copy_up=not _flag(spec, fields, "volume-nocopy"), from_flag="--mount"),
        volume_labels=_pairs(spec, fields.get("volume-label", []), "volume-label"),
        volume_options=_pairs(spec, fields.get("volume-opt", []), "volume-opt"),
    )  # fmt: skip


def _pairs(spec: str, items: list[str], key: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not name or not equals:
            raise InvalidArgumentError(f'invalid --mount "{spec}": {key} "{item}" is not K=V')
        pairs[name] = value
    return pairs


def _tmpfs_options(spec: str, fields: dict[str, list[str]]) -> tuple[str, ...]:
    options = []
    size = _last(fields, "tmpfs-size")
    if size is not None:
        try:
            options.append(f"size={parse_size(size, 'tmpfs-size')}")
        except InvalidArgumentError as error:
            raise InvalidArgumentError(f'invalid --mount "{spec}": {error}') from None
    mode = _last(fields, "tmpfs-mode")
    if mode is not None:
        if not re.fullmatch(r"0?[0-7]{1,4}", mode):
            raise InvalidArgumentError(
                f'invalid --mount "{spec}": tmpfs-mode "{mode}" (use octal, such as 1777)'
            )
        options.append(f"mode={int(mode, 8):o}")
    return tuple(options)


def parse_volumes_from(spec: str) -> tuple[str, bool | None]:
    """``--volumes-from CONTAINER[:ro|rw]``: the container, and the mode it forces (if any)."""
    ref, _, mode = spec.partition(":")
    if not ref or mode not in ("", "ro", "rw"):
        raise InvalidArgumentError(f'invalid --volumes-from "{spec}" (use CONTAINER[:ro|rw])')
    return ref, None if not mode else mode == "ro"


def shared_mounts(mounts: Iterable[MountPoint], readonly: bool | None) -> list[MountPoint]:
    """Another container's binds and volumes, as --volumes-from gives them (not its tmpfs)."""
    return [
        replace(mount, readonly=mount.readonly if readonly is None else readonly,
                from_flag="--volumes-from", copy_up=False)
        for mount in mounts if mount.type in ("bind", "volume")
    ]  # fmt: skip


def image_volumes(config: dict, taken: Iterable[str]) -> list[MountRequest]:
    """The image's VOLUME entries not already mounted over: anonymous volumes."""
    taken = set(taken)
    requests = []
    for path in sorted((config.get("config") or {}).get("Volumes") or {}):
        target = os.path.normpath("/" + path.lstrip("/"))
        if target not in taken and target != "/":
            taken.add(target)
            requests.append(MountRequest(MountPoint("volume", target, from_flag="VOLUME")))
    return requests


def check_targets(mounts: Sequence[MountPoint], tmpfs_targets: Iterable[str]) -> None:
    """Docker's "Duplicate mount point": two mounts on one container path."""
    seen = set()
    for target in [mount.destination for mount in mounts] + [
        os.path.normpath(entry.partition(":")[0]) for entry in tmpfs_targets
    ]:
        if target in seen:
            raise InvalidArgumentError(
                f"duplicate mount point: {target} (two mounts on one container path)"
            )
        seen.add(target)
