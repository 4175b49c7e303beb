"""Resolve a container path against its rootfs without ever leaving it.

A mount destination like /etc/resolv.conf may be a symlink in the image, even an
absolute one (``-> /run/resolv.conf``) or one climbing out (``-> ../../../host``).
Before pivot_root the rootfs is a host directory, so following links naively could
mount over the host's files. Here every link is read and resolved as if the rootfs
were ``/``, with ``..`` stopping at it, like chroot would.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

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
