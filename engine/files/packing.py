"""A tar stream of one file tree, as ``cp`` and ``export`` send it.

The first member is the tree's root under the name the copy gives it (its base name,
or "." when its contents are copied); an export leaves the root out. Owners are
numeric only: nothing here looks up a user or group name, which would load the libnss
modules of whatever root the process is in (CVE-2019-14271). A file's capabilities
(``security.capability``) go along, as in Docker's archives. No symlink below the root
is followed, files are opened ``O_NOFOLLOW`` and streamed a megabyte at a time.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Collection
from typing import BinaryIO

from engine.errors import BerthError
from engine.images.commit import tar_header

CHUNK = 1 << 20
_CAPABILITY = "security.capability"
_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK  # a FIFO swapped in never blocks


def write_tree(
    out: BinaryIO, path: str, name: str, *, follow_link: bool = False,
    one_file_system: bool = False, skip_devices: Collection[int] = (),
) -> None:  # fmt: skip
    """Write the tree at ``path`` to ``out`` as a tar whose root member is ``name``.

    ``name`` "" leaves the root member out (its children are named from the root).
    ``follow_link``: a symlink at ``path`` itself is followed (cp -L); below it none is.
    ``one_file_system``: entries on another file system than the root's (mount points)
    are archived as themselves but not descended into; nor are directories on the file
    systems ``skip_devices`` (st_dev numbers).
    """
    info = os.stat(path) if follow_link else os.lstat(path)
    tar = tarfile.open(  # noqa: SIM115 (ended by _end, not close: see there)
        fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, bufsize=CHUNK, copybufsize=CHUNK
    )
    try:
        packer = _Packer(tar, info.st_dev if one_file_system else None, skip_devices)
        if name:
            packer.add(path, name, info, follow=follow_link)
        elif stat.S_ISDIR(info.st_mode):
            packer.children(path, "")
    except BaseException:
        tar.close()
        raise
    _end(tar)


def _end(tar: tarfile.TarFile) -> None:
    """End the archive as Go's tar writer (Docker's) does: two zero blocks, without the
    padding to 10 KiB records tarfile's close adds, so cp counts the bytes Docker does
    (a small file: 2.05kB, not 10.24kB). Every tar reader takes either."""
    tar.fileobj.write(tarfile.NUL * (2 * tarfile.BLOCKSIZE))
    tar.closed = True  # close() would write the end again, padded
    tar.fileobj.close()  # tarfile's stream buffer: flushed to ``out``, which stays open


def _capabilities(path: str) -> tuple[tuple[str, bytes], ...]:
    """A file's capabilities, the one xattr Docker's archives carry (no SELinux labels)."""
    try:
        return ((_CAPABILITY, os.getxattr(path, _CAPABILITY, follow_symlinks=False)),)
    except OSError:  # ENODATA: it has none
        return ()


class _Packer:
    def __init__(self, tar: tarfile.TarFile, device: int | None, skip: Collection[int]) -> None:
        self._tar = tar
        self._device = device  # only this file system's entries are descended into
        self._skip = skip
        self._hardlinks: dict[tuple[int, int], str] = {}

    def add(self, path: str, name: str, info: os.stat_result, *, follow: bool = False) -> None:
        mode = info.st_mode
        header = tar_header(name, info, _capabilities(path) if stat.S_ISREG(mode) else ())
        if stat.S_ISDIR(mode):
            header.type = tarfile.DIRTYPE
            self._tar.addfile(header)
            if info.st_dev not in self._skip and self._device in (None, info.st_dev):
                self.children(path, name)
        elif stat.S_ISREG(mode):
            self._add_file(path, header, info, follow)
        elif stat.S_ISLNK(mode):
            header.type, header.linkname = tarfile.SYMTYPE, os.readlink(path)
            self._tar.addfile(header)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            header.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            header.devmajor, header.devminor = os.major(info.st_rdev), os.minor(info.st_rdev)
            self._tar.addfile(header)
        elif stat.S_ISFIFO(mode):
            header.type = tarfile.FIFOTYPE
            self._tar.addfile(header)
        # Sockets belong to a process, not to a file system: tar, like Docker, skips them.

    def children(self, path: str, prefix: str) -> None:
        with os.scandir(path) as scan:
            names = sorted(entry.name for entry in scan)
        for child in names:
            child_path = f"{path.rstrip('/')}/{child}"
            try:
                info = os.lstat(child_path)
            except FileNotFoundError:
                continue  # removed while we walked: as if it never was
            self.add(child_path, f"{prefix}/{child}" if prefix else child, info)
            self._tar.members.clear()  # tarfile keeps every header: a big tree's would add up

    def _add_file(
        self, path: str, header: tarfile.TarInfo, info: os.stat_result, follow: bool
    ) -> None:
        if info.st_nlink > 1:
            inode = (info.st_dev, info.st_ino)
            if inode in self._hardlinks:
                header.type, header.linkname = tarfile.LNKTYPE, self._hardlinks[inode]
                self._tar.addfile(header)
                return
            self._hardlinks[inode] = header.name
        flags = _OPEN_FLAGS if follow else _OPEN_FLAGS | os.O_NOFOLLOW
        with os.fdopen(os.open(path, flags), "rb", buffering=0) as source:
            opened = os.fstat(source.fileno())
            if not stat.S_ISREG(opened.st_mode):  # swapped between lstat and open
                raise BerthError(f"{path} changed while it was copied; try again")
            header.size = opened.st_size
            self._tar.addfile(header, source)
