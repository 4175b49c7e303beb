"""COPY and ADD: sources written into a stage's root file system, by BuildKit's rules.

The root is the stage's overlay, mounted on the host for the step: every destination is
resolved inside it (its links followed as if it were ``/``), and entries are created
without following a link at their own name. A directory source stands for its
contents; a file goes into a directory destination under its own name.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tarfile
from collections.abc import Sequence
from pathlib import Path

from engine.build.sources import Selected, Tree
from engine.containers.user import resolve_user
from engine.errors import InvalidArgumentError
from engine.files import unpacking
from engine.runtime.rootpath import resolve

#: (uid, gid) every copied entry gets; None keeps the source's (COPY --from does)
Owner = tuple[int, int] | None

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def owner(rootfs: Path, chown: str | None, *, keep: bool) -> Owner:
    """What ``--chown`` gives, names looked up in the stage's own /etc/passwd and
    /etc/group; without it root, or (``keep``) the sources' own owners."""
    if chown is None:
        return None if keep else (0, 0)
    user = resolve_user(rootfs, chown)
    if ":" not in chown and chown.isdigit():
        return user.uid, user.uid  # Docker: a lone UID is the GID too
    return user.uid, user.gid


def copy(
    rootfs: Path, tree: Tree, selected: Sequence[Selected], destination: str, *,
    owner: Owner, mode: int | None, stamp: int, keyword: str = "COPY", extract: bool = False,
) -> None:  # fmt: skip
    """Write ``selected`` (from ``tree``) at the absolute container path ``destination``;
    with ``extract`` (ADD), a local tar archive is unpacked there instead. Directories on
    the way keep their times, and those made get ``stamp`` (ns): the same inputs give
    the same layer."""
    into_directory = destination.endswith("/") or _is_directory(rootfs, destination)
    if len(selected) > 1 and not destination.endswith("/"):
        raise InvalidArgumentError(
            f"When using {keyword} with more than one source file, the destination must be "
            "a directory and end with a /"
        )
    writer = _Writer(owner, mode)
    times = DirectoryTimes(rootfs, stamp)
    times.note(destination if into_directory or len(selected) > 1 else os.path.dirname(destination))
    for item in selected:
        if extract and stat.S_ISREG(item.info.st_mode) and _is_archive(item.host):
            _unpack(item.host, make_directory(rootfs, destination), owner)
        elif stat.S_ISDIR(item.info.st_mode):
            target = make_directory(rootfs, destination)
            for inner, host, info in tree.entries(item):
                writer.add(host, os.path.join(target, inner), info)
        elif into_directory:
            target = make_directory(rootfs, destination)
            writer.add(item.host, os.path.join(target, os.path.basename(item.relative)), item.info)
        else:
            parent, name = os.path.split(destination.rstrip("/"))
            writer.add(item.host, os.path.join(make_directory(rootfs, parent), name), item.info)
    writer.finish()
    times.restore()


class DirectoryTimes:
    """The times of the directories on a path, put back once entries were written there."""

    def __init__(self, rootfs: Path, stamp: int) -> None:
        self._rootfs = rootfs
        self._stamp = stamp
        self._times: dict[Path, tuple[int, int] | None] = {}

    def note(self, path: str) -> None:
        """Remember the directories from the root down to ``path`` (None: to be made)."""
        host = resolve(self._rootfs, path)
        chain = [host, *host.parents]
        for directory in chain[: chain.index(self._rootfs) + 1]:
            if directory not in self._times:
                info = _stat(directory)
                self._times[directory] = (info.st_atime_ns, info.st_mtime_ns) if info else None

    def restore(self) -> None:
        for directory, times in self._times.items():
            with contextlib.suppress(FileNotFoundError):
                os.utime(directory, ns=times or (self._stamp, self._stamp))


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def make_directory(rootfs: Path, path: str, owner: tuple[int, int] = (0, 0)) -> str:
    """The host path of directory ``path`` in ``rootfs``, made (mode 0755) where missing."""
    host = resolve(rootfs, path)
    missing = []
    probe = host
    while not probe.exists() and probe != rootfs:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        directory.mkdir(0o755)
        os.chown(directory, *owner)
    if not host.is_dir():
        raise InvalidArgumentError(f'cannot copy to "{path}": it is not a directory')
    return str(host)


def _is_archive(path: str) -> bool:
    """Whether ADD unpacks the file: a tar, plain or compressed (told by its content)."""
    try:
        with tarfile.open(path, "r:*") as archive:
            return archive.next() is not None
    except (tarfile.TarError, OSError, EOFError):
        return False


def _unpack(path: str, directory: str, owner: Owner) -> None:
    with open(path, "rb") as stream:
        unpacking.extract(stream, directory, owner=owner, follow_links=False, shown=directory)


def _is_directory(rootfs: Path, path: str) -> bool:
    return resolve(rootfs, path).is_dir()


class _Writer:
    """Creates entries; directories get their times last, once their contents are in."""

    def __init__(self, owner: Owner, mode: int | None) -> None:
        self._owner = owner
        self._mode = mode
        self._directories: list[tuple[str, os.stat_result]] = []

    def add(self, source: str, target: str, info: os.stat_result) -> None:
        kind = stat.S_IFMT(info.st_mode)
        if kind == stat.S_IFDIR:
            self._directory(target, info)
            return
        _remove(target)
        if kind == stat.S_IFREG:
            self._file(source, target, info)
        elif kind == stat.S_IFLNK:
            os.symlink(os.readlink(source), target)
        elif kind in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO):
            os.mknod(target, info.st_mode, info.st_rdev)
        else:
            return  # a socket belongs to a process, not to a file system
        self._finish_entry(target, info)

    def finish(self) -> None:
        for target, info in reversed(self._directories):
            os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))

    def _directory(self, target: str, info: os.stat_result) -> None:
        if os.path.islink(target) or (os.path.lexists(target) and not os.path.isdir(target)):
            os.unlink(target)
        if not os.path.isdir(target):
            os.mkdir(target, 0o700)
        self._finish_entry(target, info, times=False)
        self._directories.append((target, info))

    def _file(self, source: str, target: str, info: os.stat_result) -> None:
        descriptor = os.open(target, _CREATE, 0o600)
        try:
            with open(source, "rb") as reader:
                remaining = info.st_size
                while remaining > 0:
                    sent = os.sendfile(descriptor, reader.fileno(), None, min(remaining, 1 << 30))
                    if sent == 0:
                        break  # the file shrank while copied
                    remaining -= sent
        finally:
            os.close(descriptor)

    def _finish_entry(self, target: str, info: os.stat_result, *, times: bool = True) -> None:
        uid, gid = self._owner if self._owner is not None else (info.st_uid, info.st_gid)
        os.chown(target, uid, gid, follow_symlinks=False)
        if not stat.S_ISLNK(info.st_mode):
            # chmod after chown: chown clears set-id bits
            os.chmod(target, self._mode if self._mode is not None else stat.S_IMODE(info.st_mode))
        if times:
            os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns), follow_symlinks=False)


def _remove(target: str) -> None:
    """Make way for a new entry: a file or link is replaced, a directory is refused."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISDIR(os.lstat(target).st_mode):
            raise InvalidArgumentError(f'cannot copy a file over the directory "{target}"')
        os.unlink(target)
