"""Resolve a path inside a container's root file system as the container would.

Symlinks in an image are meant for the container's view: ``/etc/passwd ->
/data/passwd`` must mean ``<rootfs>/data/passwd``, never the host's file. This
follows every link inside ``root`` and clamps ``..`` at the root, like chroot.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

_MAX_SYMLINKS = 40  # the kernel's own limit


def resolve_in_root(root: Path, path: str) -> Path:
    """The host path of ``path`` seen from inside ``root``; missing tails are kept as is."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        try:
            target = os.readlink(candidate)
        except OSError as error:
            if error.errno not in (errno.EINVAL, errno.ENOENT, errno.ENOTDIR):
                raise
            resolved.append(part)
            continue
        links += 1
        if links > _MAX_SYMLINKS:
            raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
        if target.startswith("/"):
            resolved = []
        parts = [p for p in target.split("/") if p not in ("", ".")] + parts
    return root.joinpath(*resolved)
