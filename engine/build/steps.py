"""How a build step touches the engine: images derived, files written, RUN containers.

Blocking work runs in a thread that cleans up after itself; a cancelled build waits for
that thread before it unwinds, so no mount, scratch directory or container survives it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from engine.containers import bundle as bundles
from engine.containers.layout import container_dirs
from engine.containers.model import CreateOptions
from engine.containers.service import ContainerService
from engine.errors import BerthError, NotFoundError
from engine.images import Image, ImageService
from engine.images.config import image_config, serialize
from engine.paths import EnginePaths
from engine.storage import overlay, scratch
from engine.timestamps import now

T = TypeVar("T")

# scratch: no layers, no config; a fixed time, so every engine has the same id for it.
_SCRATCH_TIME = "1970-01-01T00:00:00Z"


async def in_thread(work: Callable[[], T]) -> T:
    """``work()`` in a thread; a cancel waits for it to end before it goes on."""
    future = asyncio.ensure_future(asyncio.to_thread(work))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait({future})
        raise


class StepRunner:
    def __init__(self, paths: EnginePaths, images: ImageService,
                 containers: ContainerService) -> None:  # fmt: skip
        self._paths = paths
        self._images = images
        self._containers = containers

    async def image(self, image_id: str) -> Image:
        return await asyncio.to_thread(self._images.get_by_id, image_id)

    async def scratch(self) -> Image:
        """The empty image FROM scratch starts from."""
        config = image_config({}, [], [], _SCRATCH_TIME)
        return await in_thread(lambda: self._images.register([], serialize(config)))

    @property
    def tmp(self) -> Path:
        return self._paths.tmp

    @property
    def cache_mounts(self) -> Path:
        """Where RUN --mount=type=cache directories are kept, across builds."""
        return self._paths.root / "build-cache"

    async def derive(self, base: Image, config: dict[str, Any], steps: Sequence[str]) -> Image:
        """``base`` with ``config`` and a history entry for each of ``steps``; no layer."""
        created = now()
        entries = [{"created": created, "created_by": step, "empty_layer": True} for step in steps]
        full = {**base.config, "config": config, "created": created,
                "history": [*base.config.get("history", []), *entries]}  # fmt: skip
        return await in_thread(lambda: self._images.register([], serialize(full)))

    async def relabel(self, image: Image, config: dict[str, Any]) -> Image:
        """The image with ``config`` (build --label), its history as it was."""
        full = {**image.config, "config": config}
        return await in_thread(lambda: self._images.register([], serialize(full)))

    async def files(self, base: Image, config: dict[str, Any], created_by: str,
                    write: Callable[[Path], None]) -> Image:  # fmt: skip
        """``base`` plus a layer of what ``write(rootfs)`` did to its mounted files; the
        upper directory, once unmounted, becomes the layer's directory itself."""
        with self.scratch_dir("build") as directory:
            upper = directory / "upper"
            await in_thread(lambda: self._write_mounted(base, directory, write))
            return await self._images.commit(base.id, upper, fields=_all_fields(config),
                                             created_by=created_by, adopt=True)  # fmt: skip

    def _write_mounted(self, base: Image, directory: Path, write: Callable[[Path], None]) -> None:
        with self._overlay(base, directory) as merged:
            _written(merged, write)

    @contextlib.contextmanager
    def read_only(self, image: Image) -> Iterator[Path]:
        """The image's files, mounted for reading (COPY --from)."""
        with self.scratch_dir("build") as directory, self._overlay(image, directory) as merged:
            yield merged

    @contextlib.contextmanager
    def scratch_dir(self, kind: str) -> Iterator[Path]:
        """An empty directory of this process's in the root's tmp/, gone afterwards."""
        directory = scratch.new_dir(self._paths.tmp, kind)
        try:
            yield directory
        finally:
            scratch.remove(directory)

    @contextlib.contextmanager
    def documents(self, files: dict[str, str]) -> Iterator[Path]:
        """A directory holding ``files`` (name: text), mode 0644: COPY <<EOF's sources."""
        with self.scratch_dir("heredoc") as directory:
            for name, text in files.items():
                path = directory / name
                path.write_text(text)
                path.chmod(0o644)
            yield directory

    @contextlib.contextmanager
    def _overlay(self, image: Image, directory: Path) -> Iterator[Path]:
        """The image's layers with ``directory``/upper on top, mounted at .../merged."""
        upper, work, merged, empty = (directory / name
                                      for name in ("upper", "work", "merged", "empty"))  # fmt: skip
        for path in (upper, work, merged, empty):
            path.mkdir()
        lowers = self._images.layer_paths(image) or [empty]
        overlay.mount_overlay(lowers, self._images.short_links(image), self._paths.links,
                              upper, work, merged)  # fmt: skip
        try:
            yield merged
        finally:
            overlay.unmount(merged)

    async def run(self, base: Image, argv: Sequence[str], *, env: Sequence[str], network: str,
                  mounts: Sequence[str], tmpfs: Sequence[str], config: dict[str, Any],
                  created_by: str, output: Callable[[str], None]) -> Image:  # fmt: skip
        """``base`` plus a layer of what ``argv`` changed, run in a real container; a
        BerthError saying BuildKit's words when it exits non-zero."""
        options = CreateOptions(
            image=base.id, command=list(argv), entrypoint="", env=list(env), network=network,
            mounts=list(mounts), tmpfs=list(tmpfs), workdir=config.get("WorkingDir") or None,
            user=config.get("User") or None,
        )  # fmt: skip
        async with self._container(options) as container_id:
            await self._containers.start(container_id)
            async for entry in self._containers.logs(container_id, follow=True):
                output(entry.text)
            exit_code = await self._containers.wait(container_id)
            if exit_code != 0:
                shown = " ".join(argv)
                raise BerthError(
                    f'process "{shown}" did not complete successfully: exit code: {exit_code}'
                )
            bundle = self._paths.container_dir(container_id)
            upper = container_dirs(bundle)[0]
            points = await asyncio.to_thread(bundles.mount_points, bundle)
            return await self._images.commit(
                base.id,
                upper,
                fields=_all_fields(config),
                created_by=created_by,
                mount_points=points,
            )

    @contextlib.asynccontextmanager
    async def _container(self, options: CreateOptions) -> AsyncIterator[str]:
        container = await self._containers.create(options)
        try:
            yield container.id
        finally:
            # shielded: a cancelled build still removes what it made, and waits for it
            with contextlib.suppress(NotFoundError):
                await asyncio.shield(
                    self._containers.remove(container.id, force=True, volumes=True)
                )


def _written(merged: Path, write: Callable[[Path], None]) -> None:
    try:
        write(merged)
    except OSError as error:
        raise BerthError(f"cannot write the step's files: {error}") from None


def _all_fields(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` as commit's fields: every key of it, and None for what it dropped."""
    known = ("Cmd", "Entrypoint", "Env", "WorkingDir", "User", "Labels", "ExposedPorts",
             "Volumes", "StopSignal", "Healthcheck", "OnBuild", "Shell")  # fmt: skip
    return {**{key: None for key in known}, **config}
