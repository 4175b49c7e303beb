"""Resolve a container path against its rootfs without ever leaving it.

A mount destination like /etc/resolv.conf may be a symlink in the image, even an
absolute one (``-> /run/resolv.conf``) or one climbing out (``-> ../../../host``).
Before pivot_root the rootfs is a host directory, so following links naively could
mount over the host's files. Here every link is read and resolved as if the rootfs
were ``/``, with ``..`` stopping at it, like chroot would.

:class:`Root` adds what the runtime needs while it mounts: which places inside the
rootfs are the container's own, the only ones it may create files in.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from engine.errors import ContainerStartError

_MAX_LINKS = 40  # as the kernel's path walk


def resolve(root: Path, path: str) -> Path:
    """The host path of ``path`` inside ``root``, symlinks followed; missing parts kept."""
    pending = _parts(path)
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop()
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        target = _readlink(root.joinpath(*resolved, part))
        if target is None:
            resolved.append(part)
            continue
        links += 1
        if links > _MAX_LINKS:
            raise OSError(errno.ELOOP, f"too many symbolic links resolving {path}")
        if target.startswith("/"):
            resolved.clear()
        pending.extend(_parts(target))
    return root.joinpath(*resolved)


def _parts(path: str) -> list[str]:
    """The components of ``path`` in reverse, so that pop() yields the next one."""
    return [part for part in reversed(path.split("/")) if part not in ("", ".")]


def _readlink(path: Path) -> str | None:
    try:
        return os.readlink(path)
    except OSError as error:
        if error.errno in (errno.EINVAL, errno.ENOENT, errno.ENOTDIR):
            return None
        raise


class Root:
    """The rootfs being assembled, and which of its places are the container's own.

    The runtime creates mount points, device nodes and links only where it knows the
    files are this container's: the rootfs itself, and a tmpfs it mounted empty. A bind
    mount shows someone else's files (the host's /dev, a volume) and a kernel file
    system (proc, sysfs, devpts) is not the runtime's to fill: nothing is created in
    either. Each mount is recorded as the runtime makes it, never guessed afterwards
    from the mount table; a later mount at or above a recorded one hides it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        # mount point (a resolved host path) -> whether the runtime mounted it empty
        self._mounts: dict[Path, bool] = {}

    def resolve(self, path: str) -> Path:
        """The host path of container path ``path`` (see :func:`resolve`)."""
        return resolve(self.path, path)

    def mounted(self, target: Path, *, fresh: bool) -> None:
        """Record a mount just made at ``target``; ``fresh``: an empty file system of ours."""
        for point in [point for point in self._mounts if _within(point, target)]:
            del self._mounts[point]
        self._mounts[target] = fresh

    def is_fresh(self, path: str) -> bool:
        """Whether container path ``path`` is a mount point the runtime made empty."""
        return self._mounts.get(self.resolve(path), False)

    def owns(self, target: Path) -> bool:
        """Whether the file system holding host path ``target`` is the container's own."""
        point = self._mount_holding(target)
        return point is None or self._mounts[point]

    def check_owned(self, target: Path, what: str) -> None:
        """Refuse to create ``what`` at ``target`` unless the container owns that place."""
        point = self._mount_holding(target)
        if point is None or self._mounts[point]:
            return
        inside = "/" + "/".join(point.relative_to(self.path).parts)
        raise ContainerStartError(
            f"cannot create {what}: {inside} is a bind mount or a kernel file system, "
            "where the runtime creates nothing"
        )

    def _mount_holding(self, target: Path) -> Path | None:
        """The deepest recorded mount point at or above ``target``; None: the rootfs."""
        points = [point for point in self._mounts if _within(target, point)]
        return max(points, key=lambda point: len(point.parts), default=None)


def _within(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents
