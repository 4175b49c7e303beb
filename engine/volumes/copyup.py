"""Docker's copy-up: a new, empty volume mounted over an image directory starts with its files.

The copy keeps what an image's files carry: owners, modes, times, extended attributes
(file capabilities), symlinks, device nodes, fifos and hard links. It never follows a
symlink: the source is a container's root file system, whose links point into it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from pathlib import Path


def copy_up(source: Path, volume_data: Path) -> bool:
    """Fill ``volume_data`` from directory ``source`` if it is empty; whether it copied.

    The volume's directory takes the source directory's owner and mode too, so a
    service that owns /var/lib/app in its image owns its volume.
    """
    if not source.is_dir() or source.is_symlink() or any(volume_data.iterdir()):
        return False
    links: dict[tuple[int, int], str] = {}
    for entry in os.scandir(source):
        _copy_entry(entry, str(volume_data / entry.name), links)
    _copy_metadata(str(source), str(volume_data), os.lstat(source))
    return True


def _copy_entry(entry: os.DirEntry[str], target: str, links: dict[tuple[int, int], str]) -> None:
    info = entry.stat(follow_symlinks=False)
    linked = not stat.S_ISDIR(info.st_mode) and info.st_nlink > 1
    inode = (info.st_dev, info.st_ino)
    if linked and inode in links:  # a hard link to a file copied already
        os.link(links[inode], target)
        return
    if stat.S_ISDIR(info.st_mode):
        os.mkdir(target, 0o700)
        for child in os.scandir(entry.path):
            _copy_entry(child, os.path.join(target, child.name), links)
    elif stat.S_ISREG(info.st_mode):
        shutil.copyfile(entry.path, target, follow_symlinks=False)
    elif stat.S_ISLNK(info.st_mode):
        os.symlink(os.readlink(entry.path), target)
    elif stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) or stat.S_ISFIFO(info.st_mode):
        os.mknod(target, info.st_mode, info.st_rdev)
    else:
        return  # a socket is a live endpoint, not data: Docker's copy skips it too
    if linked:
        links[inode] = target
    _copy_metadata(entry.path, target, info)


def _copy_metadata(source: str, target: str, info: os.stat_result) -> None:
    os.chown(target, info.st_uid, info.st_gid, follow_symlinks=False)
    _copy_xattrs(source, target)
    if not stat.S_ISLNK(info.st_mode):  # Linux has no lchmod; a link's mode means nothing
        os.chmod(target, stat.S_IMODE(info.st_mode))  # after chown, which clears setuid
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns), follow_symlinks=False)


def _copy_xattrs(source: str, target: str) -> None:
    try:
        names = os.listxattr(source, follow_symlinks=False)
    except OSError as error:
        if error.errno in (errno.ENOTSUP, errno.EPERM):
            return
        raise
    for name in names:
        if name.startswith("trusted.overlay."):  # overlayfs's own bookkeeping, not data
            continue
        with contextlib.suppress(OSError):  # a namespace the volume's fs lacks (user.* on tmpfs)
            os.setxattr(
                target, name, os.getxattr(source, name, follow_symlinks=False),
                follow_symlinks=False,
            )  # fmt: skip
