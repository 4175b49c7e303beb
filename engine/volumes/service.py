"""The volumes service: named and anonymous volumes of the local driver.

A volume is a row of ``volumes`` and the directory ``<root>/volumes/<name>/_data``. It
is made row first, then directories, and removed the other way round (file system
unmounted, row, directories): a crash leaves a row whose directories ``data_path``
makes, or directories without a row, which the next create of that name clears.

A volume created with ``-o`` (Docker's local driver options: ``type``, ``device``,
``o``) has that file system mounted on ``_data`` by :meth:`VolumeService.data_path`
when a container first needs it. It stays mounted while the volume exists, until
``remove`` or ``prune`` (Docker's daemon unmounts when the last container using it
stops; berth has no daemon to count them), and is mounted again after a reboot.

The public coroutines run their blocking work in a thread; the sync methods are the
containers service's, called from its worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.errors import BerthError, ConflictError, InvalidArgumentError, NotFoundError
from engine.images.layer_files import MergedEntry, directory_files
from engine.linux import syscalls as sc
from engine.paths import EnginePaths
from engine.runtime import mountoptions
from engine.state import Database
from engine.storage import scratch
from engine.timestamps import now
from engine.volumes.filters import LS_KEYS, PRUNE_KEYS, VolumeFilter
from engine.volumes.model import ANONYMOUS_LABEL, VOLUME_NAME, Volume, VolumeUsage
from engine.volumes.store import VolumeStore

DRIVER = "local"
_OPTIONS = ("type", "device", "o")
# Docker's local driver: each option needs these others given with it
_NEEDS = {"type": ("device",), "device": ("type",), "o": ("type", "device")}
# Docker's: the volume's own directory only root may list, its data anyone may enter
_DIR_MODE, _DATA_MODE = 0o701, 0o755


class VolumeService:
    def __init__(self, paths: EnginePaths, db: Database) -> None:
        self._paths = paths
        self._store = VolumeStore(paths, db)

    # -- the public coroutines -----------------------------------------------------------

    async def create(self, name: str | None = None, *, driver: str = DRIVER,
                     labels: Mapping[str, str] = {},
                     options: Mapping[str, str] = {}) -> Volume:  # fmt: skip
        """A new volume, or the existing ``name`` as Docker returns it, unless other
        ``options`` were asked for it. Without ``name``, an anonymous one (Docker 23+'s:
        a random 64-hex name and the anonymous label, so ``prune`` takes it)."""
        _check(name, driver, options)
        return await asyncio.to_thread(self._create, name, dict(labels), dict(options))

    def _create(self, name: str | None, labels: dict[str, str], options: dict[str, str]) -> Volume:
        volume, made = self.ensure(name, labels=labels, options=options)
        if not made and options and options != volume.options:
            raise ConflictError(
                f'volume "{volume.name}" already exists with options '
                f"{_words(volume.options) or 'none'}: remove it first "
                f"(berth volume rm {volume.name}), or create it without -o to use it as it is"
            )
        return volume

    async def get(self, name: str) -> Volume:
        return await asyncio.to_thread(self._get, name)

    async def list(self, filters: Sequence[str] = ()) -> list[Volume]:
        """Volumes by name; ``filters``: dangling=, driver=, label=, label!=, name=."""
        wanted = VolumeFilter.parse(filters, LS_KEYS, "volume ls")
        return await asyncio.to_thread(self._list, wanted)

    def _list(self, wanted: VolumeFilter) -> list[Volume]:
        users = self._store.users()
        return [v for v in self._store.all() if wanted.matches(v, v.name in users)]

    async def inspect(self, name: str) -> dict[str, Any]:
        """``docker volume inspect``'s object."""
        volume = await self.get(name)
        return {
            "CreatedAt": volume.created.partition(".")[0].removesuffix("Z") + "Z",
            "Driver": volume.driver, "Labels": volume.labels,
            "Mountpoint": str(volume.mountpoint), "Name": volume.name,
            "Options": volume.options, "Scope": "local",
        }  # fmt: skip

    async def remove(self, name: str, *, force: bool = False) -> None:
        """Remove the volume and its data; refused while a container mounts it, ``force``
        or not (as Docker's): ``force`` only makes a missing volume no error."""
        await asyncio.to_thread(self._remove_named, name, force)

    def _remove_named(self, name: str, force: bool) -> None:
        volume = self._store.find(name)
        if volume is None:
            if force:
                return
            raise _not_found(name)
        self._remove(volume)

    async def prune(
        self, *, all: bool = False, filters: Sequence[str] = ()
    ) -> tuple[list[str], int]:
        """Remove the anonymous volumes no container uses (``all``: every unused volume),
        of those ``filters`` (label=, label!=) keep; their names and the bytes reclaimed."""
        wanted = VolumeFilter.parse(filters, PRUNE_KEYS, "volume prune")
        return await asyncio.to_thread(self._prune, all, wanted)

    def _prune(self, everything: bool, wanted: VolumeFilter) -> tuple[list[str], int]:
        users = self._store.users()
        removed, reclaimed = [], 0
        for volume in self._store.all():
            unused = volume.name not in users and (everything or volume.anonymous)
            if not unused or not wanted.matches(volume, False):
                continue
            size = self._size(volume)  # before it goes
            try:
                self._remove(volume)
            except ConflictError:  # a container took it meanwhile
                continue
            removed.append(volume.name)
            reclaimed += max(size, 0)
        return removed, reclaimed

    async def usage(self, *, sizes: bool = True) -> dict[str, VolumeUsage]:
        """Each volume's size and the containers that mount it; without ``sizes`` only
        the containers (a size walks the volume's whole tree), the sizes -1."""
        return await asyncio.to_thread(self._usage, sizes)

    def _usage(self, sizes: bool = True) -> dict[str, VolumeUsage]:
        users = self._store.users()
        return {v.name: VolumeUsage(self._size(v) if sizes else -1,
                                    tuple(users.get(v.name, ())))
                for v in self._store.all()}  # fmt: skip

    async def files(self, name: str) -> list[MergedEntry]:
        """The volume's tree (layer 0), sorted as an image's merged tree is."""
        volume = await self.get(name)
        return await asyncio.to_thread(_files, volume.mountpoint)

    # -- the containers service's, in its worker threads ---------------------------------

    def ensure(self, name: str | None, *, anonymous: bool = False,
               labels: Mapping[str, str] = {},
               options: Mapping[str, str] = {}) -> tuple[Volume, bool]:  # fmt: skip
        """The volume ``name``, made now if missing (then with ``labels`` and ``options``),
        or, without ``name``, a new anonymous one; and whether it was made now."""
        _check(name, DRIVER, options)
        labels = dict(labels)
        anonymous = anonymous or name is None
        if anonymous:
            labels[ANONYMOUS_LABEL] = ""
        return self._ensure(name or secrets.token_hex(32), labels, dict(options), anonymous)

    def find(self, name: str) -> Volume | None:
        return self._store.find(name)

    def discard(self, names: Iterable[str]) -> None:
        """Remove the volumes made for a create that then failed; one a container
        references (another create took it meanwhile) stays."""
        for name in names:
            volume = self._store.find(name)
            if volume is not None:
                with contextlib.suppress(ConflictError):
                    self._remove(volume)

    def data_path(self, name: str) -> Path:
        """The volume's ``_data``, made if missing, with its ``-o`` file system mounted on
        it if it has one: ready to be bind-mounted into a container."""
        volume = self._get(name)
        _make_dirs(volume)
        if volume.options:
            with _locked(self._paths.volume_dir(name)):  # two starts never mount it twice
                if str(volume.mountpoint) not in scratch.mount_points():
                    _mount(volume)
        return volume.mountpoint

    def mark_populated(self, name: str) -> None:
        self._store.mark_populated(name)

    def remove_anonymous(self, names: Iterable[str]) -> list[str]:
        """Remove those of ``names`` that are anonymous volumes no container references any
        longer (rm -v, --rm); the names removed."""
        users = self._store.users()
        removed = []
        for name in names:
            volume = self._store.find(name)
            if volume is None or not volume.anonymous or name in users:
                continue
            with contextlib.suppress(ConflictError):
                self._remove(volume)
                removed.append(name)
        return removed

    # -- the work ------------------------------------------------------------------------

    def _get(self, name: str) -> Volume:
        volume = self._store.find(name)
        if volume is None:
            raise _not_found(name)
        return volume

    def _ensure(self, name: str, labels: dict[str, str], options: dict[str, str],
                anonymous: bool) -> tuple[Volume, bool]:  # fmt: skip
        mountpoint = self._paths.volume_data(name)
        volume = Volume(name, DRIVER, mountpoint, now(), labels, options, anonymous)
        while not self._store.insert(volume):
            existing = self._store.find(name)
            if existing is not None:  # else removed since: insert again
                return existing, False
        directory = self._paths.volume_dir(name)
        try:
            if os.path.lexists(directory):  # without a row: a remove crashed before its files
                scratch.unmount_below(directory)
                scratch.remove(directory)
            _make_dirs(volume)
        except BaseException:
            self._remove(volume)
            raise
        return volume, True

    def _remove(self, volume: Volume) -> None:
        """Unmount, delete the row (refused if a container references it), then the files."""
        directory = self._paths.volume_dir(volume.name)
        with _locked(directory):
            self._store.delete(volume.name, before=lambda: _unmount(volume))
        scratch.remove(directory)

    def _size(self, volume: Volume) -> int:
        """Bytes of its files; -1 for a file system of its own other than tmpfs (a device or
        a bind of a host directory: removing the volume does not free those)."""
        if volume.options and volume.options["type"] != "tmpfs":
            return -1
        return tree_size(volume.mountpoint)


def _check(name: str | None, driver: str, options: Mapping[str, str]) -> None:
    """Refuse a bad name, driver or option set before anything is made."""
    if name is not None and not VOLUME_NAME.fullmatch(name):
        raise InvalidArgumentError(
            f'invalid volume name "{name}": it needs two or more characters, the first a '
            "letter or digit (use letters, digits, _ . -)"
        )
    if driver != DRIVER:
        raise InvalidArgumentError(
            f'volume driver "{driver}" is not available: berth has only the local driver'
        )
    for key in options:
        if key not in _OPTIONS:
            raise InvalidArgumentError(
                f'invalid volume option "{key}": the local driver takes type, device and o '
                "(e.g. -o type=tmpfs -o device=tmpfs -o o=size=64m)"
            )
        missing = [needed for needed in _NEEDS[key] if needed not in options]
        if missing:
            raise InvalidArgumentError(
                f'volume option "{key}" needs {" and ".join(missing)} too '
                "(e.g. -o type=tmpfs -o device=tmpfs, or -o type=none -o device=/dir -o o=bind)"
            )


def tree_size(directory: Path) -> int:
    """Bytes of the files under ``directory``, as Docker counts a volume's: the apparent
    size (st_size) of everything but directories, each inode once (hard links)."""
    total, seen = 0, set()
    pending = [str(directory)]
    while pending:
        try:
            scan = os.scandir(pending.pop())
        except (FileNotFoundError, NotADirectoryError):  # removed while we looked
            continue
        with scan:
            for entry in scan:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                        continue
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if info.st_nlink > 1:
                    if (info.st_dev, info.st_ino) in seen:
                        continue
                    seen.add((info.st_dev, info.st_ino))
                total += info.st_size
    return total


def _files(data: Path) -> list[MergedEntry]:
    if not data.is_dir():  # created, never used (its directory comes with the first mount)
        return []
    return directory_files(data)


def _make_dirs(volume: Volume) -> None:
    directory = volume.mountpoint.parent
    for path, mode in ((directory, _DIR_MODE), (volume.mountpoint, _DATA_MODE)):
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=mode)
            path.chmod(mode)  # mkdir's mode is masked by the umask


def _mount(volume: Volume) -> None:
    """Mount the volume's ``-o`` file system on its ``_data`` (as Docker's local driver)."""
    options = volume.options
    given = mountoptions.parse(options["o"].split(",") if options.get("o") else [])
    target = str(volume.mountpoint)
    try:
        sc.mount(options["device"], target, options["type"], given.flags, given.data)
        try:
            if given.flags & sc.MS_BIND and given.remount_flags:  # ro, nosuid... of a bind
                sc.mount(None, target, None, sc.MS_REMOUNT | sc.MS_BIND | given.remount_flags)
            for propagation in given.propagation:
                sc.mount(None, target, None, propagation)
        except OSError:
            sc.umount2(target, sc.MNT_DETACH)
            raise
    except OSError as error:
        raise BerthError(
            f'cannot mount volume "{volume.name}" ({_words(options)}): {sc.describe(error)} '
            f"(fix its options: berth volume rm {volume.name}, then create it again)"
        ) from None


def _unmount(volume: Volume) -> None:
    if volume.options:
        scratch.unmount_below(volume.mountpoint)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An flock on the volume's directory: its mount is set up or taken down by one at once."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:  # no directory: nothing mounted on it to guard
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _words(options: Mapping[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in options.items())


def _not_found(name: str) -> NotFoundError:
    return NotFoundError(f'no such volume: "{name}" (see berth volume ls)')
