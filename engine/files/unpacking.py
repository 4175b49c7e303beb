"""Unpack a cp tar stream where Docker's cp puts it.

:func:`place` follows Docker's rules for ``cp SRC DEST``: the stream's first member is
the source (its base name, or "." when its contents are copied), and what exists at
DEST decides where it lands. :func:`extract` unpacks a user's tar (``cp - CTR:DIR``)
into a directory.

Nothing is written outside the destination: a member's name is refused when it is
absolute or climbs out with "..", each entry is created without following a link at
its own name (``O_NOFOLLOW``, ``O_EXCL``; an existing entry is removed first, a
directory's contents through its fd), and directories below the destination are
opened one component at a time from the destination's fd. Only ``follow_links`` lets
those components be symlinks: inside a container's root, where the kernel keeps every
link inside that root (and a merged-/usr image's ``lib -> usr/lib`` must work), not
on the host, where a link the container chose could point anywhere.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tarfile
from collections.abc import Iterator
from typing import BinaryIO

from engine.errors import BerthError, InvalidArgumentError, NotFoundError
from engine.files.packing import CHUNK
from engine.images.extract import apply_xattrs
from engine.storage.space import is_no_space

#: (uid, gid) every entry gets; None keeps the archive's own (cp -a)
Owner = tuple[int, int] | None

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def place(
    stream: BinaryIO, destination: str, *, owner: Owner, follow_links: bool, shown: str
) -> None:
    """Unpack the copy read from ``stream`` at ``destination``, by Docker's cp rules.

    ``shown`` names the destination in messages ("web:/tmp/x"). Raises NotFoundError or
    InvalidArgumentError, naming it, before anything is written when the rules refuse.
    """
    with _open(stream) as tar, _tar_errors():
        first = tar.next()
        if first is None:
            raise InvalidArgumentError("the copy's archive is empty")
        root = _parts(first.name)
        if len(root) > 1:
            raise InvalidArgumentError(f'the copy\'s first entry "{first.name}" is not its source')
        directory, top = _destination(destination, first.isdir(), root[0] if root else None, shown)
        prefix = [top] if top else []
        with _Unpacker(directory, owner, follow_links) as unpacker:
            if top:
                unpacker.add(tar, first, prefix, prefix)
            for member in _members(tar):
                parts = _parts(member.name)
                if parts[: len(root)] != root:
                    raise InvalidArgumentError(
                        f'archive entry "{member.name}" lies outside the copy\'s source'
                    )
                link = _parts(member.linkname)[len(root) :] if member.islnk() else []
                unpacker.add(tar, member, prefix + parts[len(root) :], prefix + link)


def extract(
    stream: BinaryIO, directory: str, *, owner: Owner, follow_links: bool, shown: str
) -> None:
    """Unpack the tar read from ``stream`` into the existing directory ``directory``."""
    info = _stat(directory)
    if info is None or not stat.S_ISDIR(info.st_mode):
        raise InvalidArgumentError(f'destination "{shown}" must be a directory')
    with _open(stream) as tar, _tar_errors(), _Unpacker(directory, owner, follow_links) as unpacker:
        for member in _members(tar):
            link = _parts(member.linkname) if member.islnk() else []
            unpacker.add(tar, member, _parts(member.name), link)


def _open(stream: BinaryIO) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=stream, mode="r|*", bufsize=CHUNK)
    except tarfile.TarError as error:
        raise InvalidArgumentError(f"not a valid tar archive: {error}") from None


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """The members not read yet, one at a time (iterating a TarFile starts over, and keeps
    every header: a big archive's would add up)."""
    while (member := tar.next()) is not None:
        tar.members.clear()
        yield member


@contextlib.contextmanager
def _tar_errors() -> Iterator[None]:
    try:
        yield
    except tarfile.TarError as error:
        raise InvalidArgumentError(f"not a valid tar archive: {error}") from None


def _destination(
    destination: str, source_is_dir: bool, name: str | None, shown: str
) -> tuple[str, str | None]:
    """Where the source lands: (an existing directory, the name it takes there), or
    (an existing directory, None) when a directory's contents go straight into it."""
    wants_directory = destination.endswith(("/", "/."))
    path = os.path.normpath(destination)
    info = _stat(path)
    if info is not None and stat.S_ISDIR(info.st_mode):
        return path, name
    if info is not None:
        if source_is_dir:
            raise InvalidArgumentError(f"cannot copy a directory to a file: {shown}")
        if wants_directory:
            raise InvalidArgumentError(f"not a directory: {shown}")
        return os.path.split(path)
    if wants_directory and not source_is_dir:
        raise NotFoundError(f"destination directory must exist: {shown}")
    parent, base = os.path.split(path)
    found = _stat(parent or ".")
    if found is None or not stat.S_ISDIR(found.st_mode):
        raise NotFoundError(f"no such directory: {shown} (its parent directory must exist)")
    return parent or ".", base


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _parts(name: str) -> list[str]:
    """``name``'s components, "." dropped and ".." applied; refused if it leaves the root."""
    if name.startswith("/"):
        raise InvalidArgumentError(f'archive entry "{name}" has an absolute name; refusing it')
    parts: list[str] = []
    for part in name.split("/"):
        if part == "..":
            if not parts:
                raise InvalidArgumentError(
                    f'archive entry "{name}" climbs out of the destination with ".."'
                )
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return parts


class _Unpacker:
    """Creates entries below one directory, holding an fd of each directory on the way."""

    def __init__(self, directory: str, owner: Owner, follow_links: bool) -> None:
        self._root = os.open(directory, _DIRECTORY)
        self._directory = directory
        self._owner = owner
        self._follow = follow_links
        self._chain: list[tuple[str, int]] = []  # the open directories of the last parent
        self._times: list[tuple[list[str], float]] = []  # set last: entries change them

    def __enter__(self) -> _Unpacker:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        try:
            if kind is None:
                self._set_directory_times()
        finally:
            self._descend([])
            os.close(self._root)

    def add(
        self, tar: tarfile.TarFile, member: tarfile.TarInfo, parts: list[str], link: list[str]
    ) -> None:
        """Create ``member`` at ``parts`` (below the directory); ``link``: a hard link's
        target, as parts too. The root itself ("." in a user's tar) is left as it is."""
        if not parts:
            return
        try:
            self._create(tar, member, self._descend(parts[:-1]), parts, link)
        except OSError as error:
            if is_no_space(error):
                raise
            reason = error.strerror or str(error)
            raise BerthError(f'cannot write "{self._shown(parts)}": {reason}') from None

    def _shown(self, parts: list[str]) -> str:
        return os.path.join(self._directory, *parts)

    def _descend(self, parts: list[str]) -> int:
        """The fd of directory ``parts``, missing ones made; the chain reused where it can."""
        keep = 0
        while keep < min(len(parts), len(self._chain)) and self._chain[keep][0] == parts[keep]:
            keep += 1
        for _, fd in reversed(self._chain[keep:]):
            os.close(fd)
        del self._chain[keep:]
        for index in range(keep, len(parts)):
            parent = self._chain[-1][1] if self._chain else self._root
            self._chain.append((parts[index], self._open_directory(parent, parts[: index + 1])))
        return self._chain[-1][1] if self._chain else self._root

    def _open_directory(self, parent: int, parts: list[str], *, create: bool = True) -> int:
        name = parts[-1]
        flags = _DIRECTORY if self._follow else _DIRECTORY | os.O_NOFOLLOW
        try:
            return os.open(name, flags, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise
            os.mkdir(name, 0o755, dir_fd=parent)  # a parent the archive did not list
            fd = os.open(name, flags | os.O_NOFOLLOW, dir_fd=parent)
            self._chown(fd, None)
            return fd
        except OSError as error:
            if error.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            shown = self._shown(parts)
            if stat.S_ISLNK(os.lstat(name, dir_fd=parent).st_mode):
                raise InvalidArgumentError(
                    f'refusing to write through the symlink "{shown}" of the destination'
                ) from None
            raise InvalidArgumentError(f'"{shown}" is not a directory') from None

    def _create(
        self, tar: tarfile.TarFile, member: tarfile.TarInfo, parent: int, parts: list[str],
        link: list[str],
    ) -> None:  # fmt: skip
        name = parts[-1]
        self._clear(parent, name, keep_directory=member.isdir())
        if member.isdir():
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o700, dir_fd=parent)
            fd = os.open(name, _DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
            try:
                self._chown(fd, member)
                self._xattrs(fd, member)
                os.chmod(fd, stat.S_IMODE(member.mode))
            finally:
                os.close(fd)
            self._times.append((parts, member.mtime))
        elif member.isreg():
            self._write_file(tar, member, parent, name)
        elif member.issym():
            os.symlink(member.linkname, name, dir_fd=parent)  # meant for where it lands
            self._set_node(member, parent, name)
        elif member.islnk():
            self._hard_link(member, parent, name, link)
        elif member.ischr() or member.isblk() or member.isfifo():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            kind = stat.S_IFIFO if member.isfifo() else kind
            os.mknod(name, kind | 0o600, os.makedev(member.devmajor, member.devminor),
                     dir_fd=parent)  # fmt: skip
            self._set_node(member, parent, name)

    def _set_node(self, member: tarfile.TarInfo, parent: int, name: str) -> None:
        """Owner, mode and time of an entry that cannot be opened (link, device, FIFO)."""
        uid, gid = self._ids(member)
        os.chown(name, uid, gid, dir_fd=parent, follow_symlinks=False)
        if not member.issym():  # a symlink's mode means nothing; chmod would follow it
            os.chmod(name, stat.S_IMODE(member.mode), dir_fd=parent)
        os.utime(name, (member.mtime,) * 2, dir_fd=parent, follow_symlinks=False)

    def _write_file(
        self, tar: tarfile.TarFile, member: tarfile.TarInfo, parent: int, name: str
    ) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with os.fdopen(os.open(name, flags, 0o600, dir_fd=parent), "wb") as target:
            source = tar.extractfile(member)
            if source is not None:
                shutil.copyfileobj(source, target, CHUNK)
            target.flush()
            self._chown(target.fileno(), member)  # first: it clears setuid bits, capabilities
            self._xattrs(target.fileno(), member)
            os.chmod(target.fileno(), stat.S_IMODE(member.mode))
            os.utime(target.fileno(), (member.mtime,) * 2)

    def _hard_link(self, member: tarfile.TarInfo, parent: int, name: str, link: list[str]) -> None:
        if not link:
            raise InvalidArgumentError(f'archive entry "{member.name}" links to nothing')
        source_parent = self._walk(link[:-1])
        try:
            os.link(link[-1], name, src_dir_fd=source_parent, dst_dir_fd=parent,
                    follow_symlinks=False)  # fmt: skip
        finally:
            if source_parent != self._root:
                os.close(source_parent)

    def _walk(self, parts: list[str]) -> int:
        """A new fd of existing directory ``parts``, by the same rules as the chain."""
        fd = self._root
        for index in range(len(parts)):
            inner = self._open_directory(fd, parts[: index + 1], create=False)
            if fd != self._root:
                os.close(fd)
            fd = inner
        return fd

    def _clear(self, parent: int, name: str, *, keep_directory: bool) -> None:
        """Make room for a new entry: what was there goes, but a directory stays for one."""
        try:
            info = os.lstat(name, dir_fd=parent)
        except FileNotFoundError:
            return
        if not stat.S_ISDIR(info.st_mode):
            os.unlink(name, dir_fd=parent)
        elif not keep_directory:
            shutil.rmtree(name, dir_fd=parent)  # by fds: it follows no link inside

    def _ids(self, member: tarfile.TarInfo | None) -> tuple[int, int]:
        if self._owner is not None:
            return self._owner
        return (member.uid, member.gid) if member is not None else (0, 0)

    def _chown(self, fd: int, member: tarfile.TarInfo | None) -> None:
        os.fchown(fd, *self._ids(member))

    def _xattrs(self, fd: int, member: tarfile.TarInfo) -> None:
        """With -a, the xattrs (file capabilities) too: who keeps owners keeps those."""
        if self._owner is None:
            apply_xattrs(member, fd)

    def _set_directory_times(self) -> None:
        self._descend([])
        for parts, mtime in reversed(self._times):  # the deepest first
            try:
                fd = self._walk(parts)
            except (FileNotFoundError, InvalidArgumentError):
                continue  # replaced by a later entry
            try:
                os.utime(fd, (mtime, mtime))
            finally:
                os.close(fd)
