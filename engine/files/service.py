"""A container's files: ``cp`` both ways, ``diff`` and ``export``.

Public (``engine.files``, a :class:`ContainerFiles`):

- ``await copy_from(ref, source, destination, *, archive=False, follow_link=False) -> int``
  container path ``source`` to the host path ``destination`` by Docker's cp rules, or,
  with a binary stream as ``destination``, as a tar written to it (``cp CTR:SRC -``)
- ``await copy_to(ref, source, destination, *, archive=False, follow_link=False) -> int``
  host path ``source`` to container path ``destination``, or, with a binary stream as
  ``source``, the tar read from it unpacked into the directory ``destination``
- ``await diff(ref) -> list[LayerChange]`` what the container added, changed, deleted
- ``await export(ref, destination) -> None`` its merged file system (its overlay, no
  volumes or binds) as one tar, to a path (written under a temporary name, then renamed)
  or a binary stream

The copies return the bytes of tar they moved (Docker's "Successfully copied"). Without
``archive`` what they write is owned by root (the caller's ids on the host); with it,
the source's numeric ids are kept. ``follow_link``: a symlink that is the source itself
is followed (cp -L).

Security: every container path is resolved by the helper process engine.files.inside,
from inside the container's root (see there). The host side is plain path handling in
this process; what comes from the container is unpacked without following links it
made (engine.files.unpacking).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from engine import runtimes
from engine.containers.bundle import mount_points
from engine.containers.layout import container_dirs
from engine.containers.locks import container_lock
from engine.containers.model import Container
from engine.containers.service import ContainerService
from engine.errors import BerthError, ConflictError, InvalidArgumentError, NotFoundError
from engine.files import packing, unpacking
from engine.files.changes import container_changes
from engine.images import ImageService
from engine.images.layer_files import LayerChange
from engine.monitor import status
from engine.paths import EnginePaths
from engine.process_identity import identity
from engine.volumes.model import MountPoint

_HELPER = [sys.executable, "-I", "-m", "engine.files.inside"]


class ContainerFiles:
    def __init__(
        self, paths: EnginePaths, containers: ContainerService, images: ImageService
    ) -> None:
        self._paths = paths
        self._containers = containers
        self._images = images

    async def copy_from(
        self, ref: str, source: str, destination: str | BinaryIO, *, archive: bool = False,
        follow_link: bool = False,
    ) -> int:  # fmt: skip
        """Copy container path ``source`` to host path ``destination`` by Docker's cp
        rules, or as a tar to a binary stream; the bytes of tar copied."""
        container = await self._containers.get(ref)
        mounts = await self._containers.mounts(container.id)
        spec = {"operation": "read", "path": source, "follow_link": follow_link,
                "shown": f"{container.name}: {source}"}  # fmt: skip
        if isinstance(destination, str):
            owner = None if archive else (os.getuid(), os.getgid())

            def consume(stream: BinaryIO) -> None:
                unpacking.place(stream, destination, owner=owner, follow_links=False,
                                shown=destination)  # fmt: skip
        else:

            def consume(stream: BinaryIO) -> None:
                shutil.copyfileobj(stream, destination, packing.CHUNK)

        return await asyncio.to_thread(self._run, container, mounts, spec, consume, reading=True)

    async def copy_to(
        self, ref: str, source: str | BinaryIO, destination: str, *, archive: bool = False,
        follow_link: bool = False,
    ) -> int:  # fmt: skip
        """Copy host path ``source`` to container path ``destination`` by Docker's cp
        rules, or unpack the tar read from a binary stream into that directory; the bytes
        of tar copied."""
        container = await self._containers.get(ref)
        mounts = await self._containers.mounts(container.id)
        spec = {"path": destination, "archive": archive,
                "shown": f"{container.name}:{destination}"}  # fmt: skip
        if isinstance(source, str):
            path, name = await asyncio.to_thread(_host_source, source, follow_link)
            spec["operation"] = "place"

            def produce(out: BinaryIO) -> None:
                packing.write_tree(out, path, name, follow_link=follow_link)
        else:
            spec["operation"] = "extract"

            def produce(out: BinaryIO) -> None:
                shutil.copyfileobj(source, out, packing.CHUNK)

        return await asyncio.to_thread(self._run, container, mounts, spec, produce, reading=False)

    async def diff(self, ref: str) -> list[LayerChange]:
        """What the container added, changed and deleted (docker diff), sorted by path."""
        container = await self._containers.get(ref)
        mounts = await self._containers.mounts(container.id)
        return await asyncio.to_thread(self._diff, container, mounts)

    async def export(self, ref: str, destination: str | Path | BinaryIO) -> None:
        """Its overlay's files as one tar: to a path (complete, or not there at all) or
        to a binary stream."""
        container = await self._containers.get(ref)
        await asyncio.to_thread(self._export, container, destination)

    # -- in worker threads ---------------------------------------------------------------

    def _run(
        self, container: Container, mounts: Sequence[MountPoint] | None, spec: dict,
        transfer: Callable[[BinaryIO], None], *, reading: bool,
    ) -> int:  # fmt: skip
        """Run the helper inside the container (``mounts``: see :meth:`_root`); ``transfer``
        gets its stdout (``reading``) or its stdin. The bytes of tar moved."""
        with self._root(container, mounts) as root:
            return _Helper({**spec, "root": root}, reading=reading).run(transfer)

    def _diff(self, container: Container, mounts: Sequence[MountPoint]) -> list[LayerChange]:
        image = self._images.get_by_id(container.image_id)
        bundle = self._paths.container_dir(container.id)
        # Those of its last start, and its own: a cp into a stopped one mounts them too.
        points = {*mount_points(bundle), *(mount.destination.lstrip("/") for mount in mounts)}
        return container_changes(self._images.layer_paths(image), container_dirs(bundle)[0], points)

    def _export(self, container: Container, destination: str | Path | BinaryIO) -> None:
        def tar_to(out: BinaryIO) -> None:
            self._run(container, None, {"operation": "export"},
                      lambda stream: shutil.copyfileobj(stream, out, packing.CHUNK),
                      reading=True)  # fmt: skip

        if not isinstance(destination, (str, Path)):
            tar_to(destination)
            return
        target = Path(destination)
        # Written beside the target, renamed over it once complete: never half a tar there.
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        with os.fdopen(os.open(temporary, flags, 0o666), "wb") as out:
            try:
                tar_to(out)
                out.flush()
                os.fsync(out.fileno())
                os.replace(temporary, target)
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise

    @contextlib.contextmanager
    def _root(self, container: Container, mounts: Sequence[MountPoint] | None) -> Iterator[dict]:
        """How the helper enters the container, held for the copy. ``mounts``: the
        container's binds and volumes, to see through; None: the overlay alone (export)."""
        pid = self._init_pid(container) if container.running else 0
        if pid and mounts is not None:
            yield {"pid": pid, "identity": identity(pid), "name": container.name}
            return
        if pid:  # its start mounted the overlay on the host; the container's mounts aren't
            yield self._overlay(container, may_mount=False, mounts=())
            return
        # Stopped: no start may mount the same upper dir while the helper has it mounted.
        with container_lock(self._paths.runroot, container.id):
            if status.monitor_alive(self._paths.container_run_dir(container.id)):
                raise ConflictError(f"container {container.name} was started meanwhile; try again")
            yield self._overlay(container, may_mount=True, mounts=mounts or ())

    def _overlay(
        self, container: Container, *, may_mount: bool, mounts: Sequence[MountPoint]
    ) -> dict:
        image = self._images.get_by_id(container.image_id)
        upper, work, merged = container_dirs(self._paths.container_dir(container.id))
        binds = [
            {"source": mount.source if mount.type == "bind"
                       else str(self._paths.volume_data(mount.source)),
             "destination": mount.destination, "readonly": mount.readonly}
            for mount in sorted(mounts, key=lambda mount: mount.destination.count("/"))
            if mount.type != "tmpfs"  # a stopped container's tmpfs holds nothing
        ]  # fmt: skip
        return {
            "name": container.name, "may_mount": may_mount, "binds": binds,
            "merged": str(merged), "upper": str(upper), "work": str(work),
            "lowers": [str(path) for path in self._images.layer_paths(image)],
            "short_links": self._images.short_links(image), "links_dir": str(self._paths.links),
        }  # fmt: skip

    def _init_pid(self, container: Container) -> int:
        try:
            return runtimes.get(container.runtime, self._paths.runroot).state(container.id)["pid"]
        except NotFoundError:
            return 0


def _host_source(source: str, follow_link: bool) -> tuple[str, str]:
    """The host path to copy and the name its tar's root gets ("." for "dir/.")."""
    contents = source == "." or source.endswith("/.")
    try:
        info = os.stat(source) if follow_link else os.lstat(source)
    except (FileNotFoundError, NotADirectoryError):
        if not os.path.lexists(source.rstrip("/")):  # else "file/": it is no directory
            raise NotFoundError(f"no such file or directory: {source}") from None
        info = os.lstat(source.rstrip("/"))
    if (contents or source.endswith("/")) and not stat.S_ISDIR(info.st_mode):
        raise InvalidArgumentError(f"not a directory: {source}")
    name = "." if contents else os.path.basename(os.path.abspath(source))
    return source, name


class _Helper:
    """One run of the helper process; should it fail, its error is the copy's."""

    def __init__(self, spec: dict, *, reading: bool) -> None:
        self._spec = json.dumps(spec)
        self._reading = reading

    def run(self, transfer: Callable[[BinaryIO], None]) -> int:
        """Start it, hand ``transfer`` its stdout (reading) or stdin; the bytes moved."""
        pipe, null = subprocess.PIPE, subprocess.DEVNULL
        process = subprocess.Popen(
            [*_HELPER, self._spec], stdin=null if self._reading else pipe,
            stdout=pipe if self._reading else null, stderr=pipe,
        )  # fmt: skip
        stream = process.stdout if self._reading else process.stdin
        assert stream is not None
        counted = _Counted(stream)
        try:
            transfer(counted)  # type: ignore[arg-type]
            if self._reading:
                while counted.read(packing.CHUNK):  # tar's padding after its end
                    pass
            else:
                stream.close()
        except BrokenPipeError as error:
            if self._reading:  # our own reader went (export | head): the helper must stop
                process.kill()
                _finish(process, error)
            # Else it stopped reading us: its own error says why, if it failed.
        except BaseException as error:
            process.kill()
            _finish(process, error)
        _finish(process, None)
        return counted.count


def _finish(process: subprocess.Popen, error: BaseException | None) -> None:
    """Reap the helper; raise its error, else ``error``."""
    with contextlib.suppress(OSError):
        (process.stdout or process.stdin).close()  # type: ignore[union-attr]
    assert process.stderr is not None
    message = process.stderr.read().decode(errors="replace").strip()
    process.stderr.close()
    process.wait()
    if process.returncode != 0 and message:
        raise BerthError(message.splitlines()[-1]) from None
    if error is not None:
        raise error
    if process.returncode != 0:
        raise BerthError(f"the copy's helper process failed (status {process.returncode})")


class _Counted:
    """A pipe's reads or writes, counted."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.count += len(data)
        return data

    def write(self, data: bytes) -> int:
        written = self._stream.write(data)
        self.count += len(data)
        return written

    def flush(self) -> None:
        self._stream.flush()
