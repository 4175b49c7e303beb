"""Mount a container's root file system: image layers below, its own upper dir on top.

The classic mount(2) call passes every lower dir in one option string, which the
kernel caps at a page (4 KiB): about 50 layers with full paths. Kernels >= 6.8 take
lower dirs one at a time through fsconfig("lowerdir+"), which has no such cap; older
kernels get short symlinks (``l/<26 chars>``) given relative to the links directory,
the way podman does, mounted from a child whose working directory is that directory.
"""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Sequence
from pathlib import Path

from engine.errors import UnsupportedError
from engine.linux import syscalls

_PAGE = 4096


def overlay_supported() -> bool:
    try:
        return "\toverlay\n" in Path("/proc/filesystems").read_text()
    except OSError:
        return False


def mount_overlay(
    lowers: Sequence[Path], short_links: Sequence[str], links_dir: Path,
    upper: Path, work: Path, target: Path,
) -> None:  # fmt: skip
    """Mount overlayfs at ``target``; ``lowers`` and ``short_links`` are base layer first."""
    if not overlay_supported():
        raise UnsupportedError(
            "overlayfs is not available in this kernel: load it with `modprobe overlay`"
        )
    try:
        _mount_per_layer(lowers, upper, work, target)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise
        _mount_with_short_links(short_links, links_dir, upper, work, target)


def _mount_per_layer(lowers: Sequence[Path], upper: Path, work: Path, target: Path) -> None:
    # overlayfs stacks lowerdir+ in the order given, first on top.
    options = [("lowerdir+", str(path)) for path in reversed(lowers)]
    options += [("upperdir", str(upper)), ("workdir", str(work))]
    syscalls.mount_new_api("overlay", "overlay", str(target), options)


def _mount_with_short_links(
    short_links: Sequence[str], links_dir: Path, upper: Path, work: Path, target: Path
) -> None:
    lower = ":".join(reversed(short_links))
    data = f"lowerdir={lower},upperdir={upper},workdir={work}"
    if len(data) >= _PAGE:
        raise UnsupportedError(
            f"this kernel cannot mount {len(short_links)} layers: the overlay options exceed "
            "one page; use a kernel >= 6.8 or an image with fewer layers"
        )
    # Relative lower dirs resolve against the mounting process's working directory.
    result = subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", data, str(target)],
        cwd=links_dir, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise OSError(
            errno.EIO, f"mounting the overlay at {target} failed: {result.stderr.strip()}"
        )


def unmount(target: Path) -> None:
    """Detach the mount at ``target``; a target that is not mounted is fine."""
    try:
        syscalls.umount2(str(target), syscalls.MNT_DETACH)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOENT):
            raise
