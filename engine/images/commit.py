"""The layer tar of a container's changes: its overlay upper directory, in OCI's format.

overlayfs marks a deleted entry with a 0/0 character device and a replaced directory
with the ``trusted.overlay.opaque`` xattr; an OCI layer says the same with ``.wh.<name>``
and ``.wh..wh..opq`` files. Everything else is copied as it is.

The tar is deterministic: entries in path order (each directory's names sorted), numeric
owners without names, whole-second times, xattrs sorted. The same upper directory gives
the same bytes, so the same diffID.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from engine.errors import BerthError, UnsupportedError
from engine.images.extract import OPAQUE_MARKER, OPAQUE_XATTR, WHITEOUT_PREFIX
from engine.storage.space import is_no_space

_XATTR_PREFIX = "SCHILY.xattr."
_OVERLAY_XATTRS = "trusted.overlay."
# overlayfs features that keep a change outside the upper directory's own files.
_UNCOPYABLE = {"trusted.overlay.redirect": "redirect_dir", "trusted.overlay.metacopy": "metacopy"}


@dataclass(frozen=True)
class _Entry:
    relative: str  # inside the layer, e.g. "etc/passwd"
    info: os.stat_result
    xattrs: tuple[tuple[str, bytes], ...]  # the entry's own, sorted
    opaque: bool


def write_layer(
    upper: Path, out: BinaryIO, *, mount_points: Collection[str] = (),
    lowers: Sequence[Path] = (),
) -> int:  # fmt: skip
    """Write the layer tar of the overlay upper directory ``upper`` to ``out``.

    ``mount_points`` are paths (relative, e.g. "etc/hosts") the engine mounted over the
    root file system: the empty files and directories made there to mount on are the
    engine's, not the container's, so they are left out, as are directories made only
    to hold them that no layer of ``lowers`` (the image's diff directories) has.
    Returns how many entries of ``upper`` the tar holds (0: the container changed
    nothing). Raises BerthError naming the path that could not be read, or OSError when
    ``out``'s disk is full.
    """
    try:
        entries = list(_plan(str(upper), "", frozenset(mount_points), lowers))
        hardlinks: dict[tuple[int, int], str] = {}
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for entry in entries:
                _add(archive, upper, entry, hardlinks)
    except OSError as error:
        if is_no_space(error):
            raise  # writing ``out``: the caller names the root that is full
        if not error.filename:  # tarfile's: a file shrank while read (--pause=false)
            raise BerthError(f"cannot commit the container's files: {error}") from None
        where = os.path.relpath(error.filename, upper)
        raise BerthError(f'cannot commit "/{where}": {error.strerror or error}') from None
    return len(entries)


def _plan(
    root: str, relative: str, mount_points: frozenset[str], lowers: Sequence[Path]
) -> Iterator[_Entry]:
    """The entries below ``relative``, in the order the tar holds them."""
    with os.scandir(f"{root}/{relative}" if relative else root) as scan:
        names = sorted(entry.name for entry in scan)
    for name in names:
        path = f"{relative}/{name}" if relative else name
        info = os.lstat(f"{root}/{path}")
        if path in mount_points and is_mount_stub(f"{root}/{path}", info):
            continue
        entry = _entry(f"{root}/{path}", path, info)
        if not stat.S_ISDIR(info.st_mode):
            yield entry
            continue
        below = list(_plan(root, path, mount_points, lowers))
        if not below and holds_mount_point(path, mount_points) and not _in_lowers(path, lowers):
            continue  # made only to mount on, by the runtime
        yield entry
        yield from below


def is_mount_stub(path: str, info: os.stat_result) -> bool:
    """Whether ``path`` at a mount point is what a runtime makes to mount on: an empty
    file or an empty directory (a container's own writes there went to the mount)."""
    if stat.S_ISREG(info.st_mode):
        return info.st_size == 0
    return stat.S_ISDIR(info.st_mode) and not os.listdir(path)


def holds_mount_point(path: str, mount_points: Collection[str]) -> bool:
    """Whether directory ``path`` lies above one of ``mount_points`` (all relative)."""
    return any(point.startswith(f"{path}/") for point in mount_points)


def _in_lowers(path: str, lowers: Sequence[Path]) -> bool:
    return any(os.path.lexists(lower / path) for lower in lowers)


def _entry(host_path: str, relative: str, info: os.stat_result) -> _Entry:
    """The entry with its xattrs; overlayfs's bookkeeping ones are not the layer's."""
    if stat.S_ISLNK(info.st_mode) or (stat.S_ISCHR(info.st_mode) and info.st_rdev == 0):
        return _Entry(relative, info, (), False)
    xattrs, opaque = [], False
    for key in sorted(os.listxattr(host_path, follow_symlinks=False)):
        if key in _UNCOPYABLE:
            raise UnsupportedError(
                f'cannot commit "/{relative}": overlayfs {_UNCOPYABLE[key]} is on for this '
                f"container's mount; mount overlays with {_UNCOPYABLE[key]}=off"
            )
        value = os.getxattr(host_path, key, follow_symlinks=False)
        if key == OPAQUE_XATTR:
            opaque = value == b"y"
        elif not key.startswith(_OVERLAY_XATTRS):
            xattrs.append((key, value))
    return _Entry(relative, info, tuple(xattrs), opaque)


def _add(
    archive: tarfile.TarFile, upper: Path, entry: _Entry, hardlinks: dict[tuple[int, int], str]
) -> None:
    info = entry.info
    mode = info.st_mode
    header = tar_header(entry.relative, info, entry.xattrs)
    if stat.S_ISCHR(mode) and info.st_rdev == 0:
        parent, _, name = entry.relative.rpartition("/")
        header.name = f"{parent}/{WHITEOUT_PREFIX}{name}" if parent else WHITEOUT_PREFIX + name
        header.mode = 0o600
        archive.addfile(header)
    elif stat.S_ISDIR(mode):
        header.type = tarfile.DIRTYPE
        archive.addfile(header)
        if entry.opaque:
            archive.addfile(tar_header(f"{entry.relative}/{OPAQUE_MARKER}", info))
    elif stat.S_ISREG(mode):
        _add_file(archive, upper, entry, header, hardlinks)
    elif stat.S_ISLNK(mode):
        header.type, header.linkname = tarfile.SYMTYPE, os.readlink(upper / entry.relative)
        archive.addfile(header)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        header.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        header.devmajor, header.devminor = os.major(info.st_rdev), os.minor(info.st_rdev)
        archive.addfile(header)
    elif stat.S_ISFIFO(mode):
        header.type = tarfile.FIFOTYPE
        archive.addfile(header)
    # Sockets belong to a process, not to a file system: tar, like Docker, skips them.


def _add_file(
    archive: tarfile.TarFile, upper: Path, entry: _Entry, header: tarfile.TarInfo,
    hardlinks: dict[tuple[int, int], str],
) -> None:  # fmt: skip
    info = entry.info
    if info.st_nlink > 1:
        inode = (info.st_dev, info.st_ino)
        if inode in hardlinks:
            header.type, header.linkname = tarfile.LNKTYPE, hardlinks[inode]
            archive.addfile(header)
            return
        hardlinks[inode] = entry.relative
    header.size = info.st_size
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    with os.fdopen(os.open(upper / entry.relative, flags), "rb") as source:
        archive.addfile(header, source)


def tar_header(
    name: str, info: os.stat_result, xattrs: Sequence[tuple[str, bytes]] = ()
) -> tarfile.TarInfo:
    """A tar header for ``info`` with numeric owners only: it never looks up a user or
    group name (tarfile's gettarinfo would, loading whatever libnss the root holds)."""
    header = tarfile.TarInfo(name)
    # tarfile writes PAX values as UTF-8 with surrogateescape; extraction undoes it.
    header.pax_headers = {
        _XATTR_PREFIX + key: value.decode("utf-8", "surrogateescape") for key, value in xattrs
    }
    header.mode = stat.S_IMODE(info.st_mode)
    header.uid, header.gid = info.st_uid, info.st_gid
    header.uname = header.gname = ""
    header.mtime = int(info.st_mtime)
    return header
