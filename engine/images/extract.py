"""Extract one layer tar into a directory in overlayfs's own format.

OCI layers mark deletions with whiteout files; overlayfs wants character devices 0/0
for deleted entries and the ``trusted.overlay.opaque`` xattr for replaced directories.

Nothing is ever written outside the destination. Entry names are normalized lexically
and refused when ``..`` climbs above the layer; every directory an entry is created in
has been checked to be a real directory (not a symlink) of this layer; the entry itself
is created without following links (``O_NOFOLLOW``, ``mknod``, ``symlink``); hard links
point only at entries of this layer. The destination is private scratch space that
nothing else writes to, so a directory checked once stays checked.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO, Protocol

from engine.errors import BerthError, InvalidArgumentError
from engine.storage.space import is_no_space

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
# Other ".wh..wh." names are aufs bookkeeping (hard link dirs), meaningless to overlay.
_WHITEOUT_META_PREFIX = ".wh..wh."
OPAQUE_XATTR = "trusted.overlay.opaque"
_XATTR_PREFIX = "SCHILY.xattr."
# A layer must not steer overlayfs itself (redirects, metacopy): only markers we set.
_OVERLAY_XATTRS = "trusted.overlay."
_CHUNK = 1 << 20


class FileDataListener(Protocol):
    def file_data(self, path: str, offset: int, size: int) -> None: ...


def extract_layer(
    stream: BinaryIO, destination: Path, listener: FileDataListener | None = None
) -> int:
    """Extract the tar read from ``stream`` into the empty directory ``destination``.

    ``listener`` is told, before each regular file's contents are read, which bytes of
    the stream they are and where they go (tar_layout records the rest).

    Returns the bytes of regular files extracted (hard links counted once). Raises
    InvalidArgumentError for a malformed or unsafe archive and BerthError when the host
    refuses an operation, each naming the entry, or OSError when the disk is full; the
    caller removes ``destination``.
    """
    extractor = _Extractor(str(destination), listener)
    try:
        # A megabyte per read, not tar's 10 KiB: the stream is several Python layers deep.
        with tarfile.open(fileobj=stream, mode="r|", bufsize=_CHUNK) as archive:
            for member in archive:
                extractor.add(archive, member)
    except tarfile.TarError as error:
        raise InvalidArgumentError(f"not a valid tar archive: {error}") from None
    extractor.finish()
    return extractor.size


def record_layout(stream: BinaryIO, listener: FileDataListener) -> int:
    """Read the tar from ``stream`` as :func:`extract_layer` would, telling ``listener``
    of each regular file's bytes, without writing anything: for a tar made from a
    directory that becomes the layer as it is. Returns the bytes of regular files."""
    size = 0
    try:
        with tarfile.open(fileobj=stream, mode="r|", bufsize=_CHUNK) as archive:
            for member in archive:
                parts = _normalized(member.name, member.name)
                if member.isreg() and parts and not parts[-1].startswith(WHITEOUT_PREFIX):
                    if member.sparse is None:
                        listener.file_data("/".join(parts), member.offset_data, member.size)
                    size += member.size
    except tarfile.TarError as error:
        raise InvalidArgumentError(f"not a valid tar archive: {error}") from None
    return size


def without_overlay_bookkeeping(directory: Path) -> None:
    """Drop what overlayfs wrote for itself in an upper directory (origin, impure...),
    keeping the opaque marker: what remains is a layer in extract_layer's format."""
    for root, dirs, files in os.walk(directory):
        for name in (*dirs, *files):
            path = os.path.join(root, name)
            for key in os.listxattr(path, follow_symlinks=False):
                if key.startswith(_OVERLAY_XATTRS) and key != OPAQUE_XATTR:
                    os.removexattr(path, key, follow_symlinks=False)


class _Extractor:
    def __init__(self, root: str, listener: FileDataListener | None) -> None:
        self.root = root
        self._listener = listener
        self.size = 0
        self._directories: set[str] = {""}  # relative paths known to be real directories
        self._times: dict[str, float] = {}  # directory mtimes, set last: entries change them

    def add(self, archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        try:
            self._add(archive, member)
        except OSError as error:
            if is_no_space(error):
                raise  # the caller names the root that is full
            raise BerthError(
                f'cannot extract layer entry "{member.name}": {error.strerror or error}'
            ) from None

    def finish(self) -> None:
        for relative, mtime in self._times.items():
            try:
                os.utime(self._path(relative), (mtime, mtime), follow_symlinks=False)
            except OSError as error:
                raise BerthError(f'cannot set the time of "{relative}": {error.strerror}') from None

    def _add(self, archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = _normalized(member.name, member.name)
        if not parts:
            return  # the layer's root ("./") is the diff directory itself
        parent = "/".join(parts[:-1])
        self._ensure_directory(parts[:-1], member.name)
        name = parts[-1]
        if name == OPAQUE_MARKER:
            os.setxattr(self._path(parent), OPAQUE_XATTR, b"y")
        elif name.startswith(_WHITEOUT_META_PREFIX):
            return
        elif name.startswith(WHITEOUT_PREFIX):
            self._whiteout(parent, name.removeprefix(WHITEOUT_PREFIX), member)
        else:
            self._create(archive, member, f"{parent}/{name}" if parent else name)

    def _whiteout(self, parent: str, hidden: str, member: tarfile.TarInfo) -> None:
        if hidden in ("", ".", ".."):
            raise InvalidArgumentError(f'layer entry "{member.name}" is not a valid whiteout')
        relative = f"{parent}/{hidden}" if parent else hidden
        self._clear(relative, keep_directory=False)
        path = self._path(relative)
        os.mknod(path, stat.S_IFCHR, os.makedev(0, 0))
        os.lchown(path, member.uid, member.gid)

    def _create(self, archive: tarfile.TarFile, member: tarfile.TarInfo, relative: str) -> None:
        self._clear(relative, keep_directory=member.isdir())
        path = self._path(relative)
        if member.isdir():
            if relative not in self._directories:
                os.mkdir(path, 0o700)
                self._directories.add(relative)
            self._times[relative] = member.mtime
        elif member.isreg():
            self._write_file(archive, member, path, relative)
        elif member.issym():
            os.symlink(member.linkname, path)  # interpreted inside the container, never here
        elif member.islnk():
            os.link(self._link_source(member), path, follow_symlinks=False)
            return  # the header repeats the target's metadata; chown would clear its setuid
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
        elif member.isfifo():
            os.mkfifo(path, 0o600)
        else:
            raise InvalidArgumentError(f'layer entry "{member.name}" has an unknown type')
        _apply_metadata(member, path)

    def _write_file(
        self, archive: tarfile.TarFile, member: tarfile.TarInfo, path: str, relative: str
    ) -> None:
        if self._listener and member.sparse is None:  # a sparse one's raw bytes stay recorded
            self._listener.file_data(relative, member.offset_data, member.size)
        source = archive.extractfile(member)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with os.fdopen(os.open(path, flags, 0o600), "wb") as target:
            if member.sparse is None:
                shutil.copyfileobj(source, target, _CHUNK)
            else:
                _write_sparse(source, target, member)
        self.size += member.size

    def _ensure_directory(self, parts: list[str], entry: str, *, create: bool = True) -> None:
        """Make sure ``parts`` is a real directory of the layer, creating missing ones."""
        relative = ""
        for part in parts:
            relative = f"{relative}/{part}" if relative else part
            if relative in self._directories:
                continue
            try:
                mode = os.lstat(self._path(relative)).st_mode
            except FileNotFoundError:
                if not create:
                    raise InvalidArgumentError(
                        f'layer entry "{entry}": "{relative}" is missing'
                    ) from None
                os.mkdir(self._path(relative), 0o755)
                mode = stat.S_IFDIR
            if stat.S_ISLNK(mode):
                raise InvalidArgumentError(
                    f'layer entry "{entry}" lies beneath a symlink ("{relative}"); '
                    "refusing to write through it"
                )
            if not stat.S_ISDIR(mode):
                raise InvalidArgumentError(
                    f'layer entry "{entry}": "{relative}" is not a directory'
                )
            self._directories.add(relative)

    def _link_source(self, member: tarfile.TarInfo) -> str:
        """A hard link's target: an entry already extracted in this layer, not a directory."""
        parts = _normalized(member.linkname, member.name)
        try:
            self._ensure_directory(parts[:-1], member.name, create=False)
            mode = os.lstat(self._path("/".join(parts))).st_mode if parts else stat.S_IFDIR
        except (InvalidArgumentError, FileNotFoundError):
            mode = None
        if mode is None or stat.S_ISDIR(mode):
            raise InvalidArgumentError(
                f'layer entry "{member.name}" links to "{member.linkname}", '
                "which is not a file of this layer"
            )
        return self._path("/".join(parts))

    def _clear(self, relative: str, *, keep_directory: bool) -> None:
        """Make room for a new entry: a later entry replaces an earlier one, as in Docker."""
        path = self._path(relative)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return
        if not stat.S_ISDIR(info.st_mode):
            self.size -= info.st_size if stat.S_ISREG(info.st_mode) and info.st_nlink == 1 else 0
            os.unlink(path)
        elif not keep_directory:
            self.size -= _file_bytes(path)
            shutil.rmtree(path)
            self._forget(relative)

    def _forget(self, relative: str) -> None:
        """Drop what we knew about a removed directory and everything beneath it."""

        def gone(known: str) -> bool:
            return known == relative or known.startswith(relative + "/")

        self._directories = {known for known in self._directories if not gone(known)}
        self._times = {known: mtime for known, mtime in self._times.items() if not gone(known)}

    def _path(self, relative: str) -> str:
        return f"{self.root}/{relative}" if relative else self.root


def _normalized(name: str, entry: str) -> list[str]:
    """``name``'s components with "." and leading "/" dropped and ".." applied lexically."""
    parts: list[str] = []
    for part in name.split("/"):
        if part == "..":
            if not parts:
                raise InvalidArgumentError(
                    f'layer entry "{entry}" climbs out of the layer with ".."'
                )
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return parts


def _write_sparse(source: BinaryIO, target: BinaryIO, member: tarfile.TarInfo) -> None:
    """Only the data regions of a sparse member, its holes left as holes (Docker's tar
    reader seeks over them too): a file of terabytes of holes costs the disk nothing."""
    # The unbuffered reader: its seek only moves the position in the member, where the
    # buffered one asks whether the archive stream can seek (a pipe cannot).
    reader = source.raw  # type: ignore[attr-defined]
    for offset, length in member.sparse or ():
        reader.seek(offset)
        target.seek(offset)
        remaining = length
        while remaining:
            chunk = reader.read(min(remaining, _CHUNK))
            if not chunk:
                raise InvalidArgumentError(f'layer entry "{member.name}" is truncated')
            target.write(chunk)
            remaining -= len(chunk)
    target.truncate(member.size)


def _file_bytes(directory: str) -> int:
    """Bytes of the files only ``directory`` holds (hard-linked ones survive elsewhere)."""
    total = 0
    for parent, _, files in os.walk(directory):
        for name in files:
            info = os.lstat(os.path.join(parent, name))
            if stat.S_ISREG(info.st_mode) and info.st_nlink == 1:
                total += info.st_size
    return total


def _apply_metadata(member: tarfile.TarInfo, path: str) -> None:
    os.lchown(path, member.uid, member.gid)  # first: it clears setuid bits and capabilities
    apply_xattrs(member, path)
    if member.issym():
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
        return
    os.chmod(path, stat.S_IMODE(member.mode))
    if not member.isdir():
        os.utime(path, (member.mtime, member.mtime))


def apply_xattrs(member: tarfile.TarInfo, target: str | int) -> None:
    """Set the xattrs ``member``'s PAX header carries on ``target``: a path (a link
    there is not followed) or an open fd. overlayfs's own are never taken from a tar."""
    for key, value in member.pax_headers.items():
        if key.startswith(_XATTR_PREFIX):
            _set_xattr(target, key.removeprefix(_XATTR_PREFIX), value)


def _set_xattr(target: str | int, key: str, value: str) -> None:
    if key.startswith(_OVERLAY_XATTRS):
        return
    # tarfile decodes PAX values as UTF-8 with surrogateescape; this restores the bytes.
    raw = value.encode("utf-8", "surrogateescape")
    try:
        if isinstance(target, int):
            os.setxattr(target, key, raw)
        else:
            os.setxattr(target, key, raw, follow_symlinks=False)
    except OSError as error:
        # Like Docker: a file system without this xattr namespace still gets the file.
        if error.errno != errno.ENOTSUP:
            raise
