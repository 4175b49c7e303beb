"""Extract one layer tar into a directory in overlayfs's own format.

OCI layers mark deletions with whiteout files; overlayfs wants character devices 0/0
for deleted entries and the ``trusted.overlay.opaque`` xattr for replaced directories.
Nothing is ever written outside the destination: paths climbing out with ``..`` and
entries beneath a symlink are refused, and no link is followed while creating files.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO

from engine.errors import InvalidArgumentError

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
_XATTR_PREFIX = "SCHILY.xattr."
_CHUNK = 1 << 20


def extract_layer(stream: BinaryIO, destination: Path) -> int:
    """Extract the tar read from ``stream`` into ``destination``; bytes of regular files."""
    size = 0
    directories: list[tuple[Path, tarfile.TarInfo]] = []
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                size += _extract_member(archive, member, destination, directories)
    except tarfile.TarError as error:
        raise InvalidArgumentError(f"not a valid tar archive: {error}") from None
    # Directory times last: creating their entries changed them.
    for path, member in reversed(directories):
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
    return size


def _extract_member(
    archive: tarfile.TarFile, member: tarfile.TarInfo, root: Path,
    directories: list[tuple[Path, tarfile.TarInfo]],
) -> int:  # fmt: skip
    parts = _safe_parts(member.name)
    if not parts:
        return 0  # the root itself ("./")
    parent = _ensure_parent(root, parts[:-1], member.name)
    name = parts[-1]
    if name == OPAQUE_MARKER:
        os.setxattr(parent, "trusted.overlay.opaque", b"y")
        return 0
    if name.startswith(WHITEOUT_PREFIX):
        target = parent / name.removeprefix(WHITEOUT_PREFIX)
        _clear(target, keep_directory=False)
        os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0))
        return 0
    path = parent / name
    _clear(path, keep_directory=member.isdir())
    written = _create(archive, member, path, root)
    _apply_metadata(member, path)
    if member.isdir():
        directories.append((path, member))
    return written


def _safe_parts(name: str) -> list[str]:
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise InvalidArgumentError(f'layer entry "{name}" climbs out of the layer with ".."')
    return parts


def _ensure_parent(root: Path, parts: list[str], name: str) -> Path:
    """The entry's parent directory, created if missing; never through a symlink."""
    current = root
    for part in parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            os.mkdir(current, 0o755)
            continue
        if stat.S_ISLNK(mode):
            raise InvalidArgumentError(
                f'layer entry "{name}" lies beneath a symlink ({"/".join(parts)}); refusing '
                "to write through it"
            )
        if not stat.S_ISDIR(mode):
            raise InvalidArgumentError(f'layer entry "{name}": a parent is not a directory')
    return current


def _clear(path: Path, *, keep_directory: bool) -> None:
    """Make room for a new entry: a later entry replaces an earlier one, as in Docker."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        if not keep_directory:
            shutil.rmtree(path)
    else:
        os.unlink(path)


def _create(archive: tarfile.TarFile, member: tarfile.TarInfo, path: Path, root: Path) -> int:
    if member.isdir():
        if not path.is_dir():
            os.mkdir(path, 0o700)
        return 0
    if member.isreg():
        return _write_file(archive, member, path)
    if member.issym():
        os.symlink(member.linkname, path)  # interpreted inside the container, never here
    elif member.islnk():
        os.link(_link_source(member, root), path, follow_symlinks=False)
    elif member.ischr() or member.isblk():
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
    elif member.isfifo():
        os.mkfifo(path, 0o600)
    else:
        raise InvalidArgumentError(f'layer entry "{member.name}" has an unknown type')
    return 0


def _write_file(archive: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> int:
    source = archive.extractfile(member)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as target:
        shutil.copyfileobj(source, target, _CHUNK)
    return member.size


def _link_source(member: tarfile.TarInfo, root: Path) -> Path:
    """A hard link's target: an entry already extracted in this layer, not a symlink."""
    parts = _safe_parts(member.linkname)
    source = root.joinpath(*parts)
    if not parts or not os.path.lexists(source) or os.path.islink(source.parent):
        raise InvalidArgumentError(
            f'layer entry "{member.name}" links to "{member.linkname}", which is not in the layer'
        )
    return source


def _apply_metadata(member: tarfile.TarInfo, path: Path) -> None:
    os.lchown(path, member.uid, member.gid)
    for key, value in member.pax_headers.items():
        if key.startswith(_XATTR_PREFIX):
            raw = value.encode("utf-8", "surrogateescape")
            os.setxattr(path, key.removeprefix(_XATTR_PREFIX), raw, follow_symlinks=False)
    if member.issym():
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
        return
    if not member.islnk():
        os.chmod(path, stat.S_IMODE(member.mode))  # after chown, which clears setuid bits
        os.utime(path, (member.mtime, member.mtime))
