"""The containers service: create, run, list, inspect, kill and remove containers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import shutil
import sys
from pathlib import Path

from engine import runtime
from engine.containers import bundle as bundles
from engine.containers.command import container_args
from engine.containers.inspect import container_inspect
from engine.containers.model import Container, CreateOptions
from engine.containers.names import generate_name, validate_name
from engine.containers.store import ContainerStore
from engine.errors import (
    ConflictError,
    ContainerStartError,
    InvalidArgumentError,
    NotFoundError,
)
from engine.images import Image, ImageService
from engine.paths import EnginePaths
from engine.process_identity import is_running, start_time
from engine.state import Database
from engine.storage import overlay
from engine.timestamps import now

_NAME_ATTEMPTS = 20


class ContainerService:
    def __init__(self, paths: EnginePaths, db: Database, images: ImageService) -> None:
        self._paths = paths
        self._images = images
        self._store = ContainerStore(db)

    # -- queries -----------------------------------------------------------------

    async def list(self, *, all: bool = False) -> list[Container]:
        """Containers, newest first; only running ones unless ``all``."""
        containers = await asyncio.to_thread(self._list_reconciled)
        return containers if all else [c for c in containers if c.running]

    async def get(self, ref: str) -> Container:
        """The container named by id, name or unique id prefix."""
        return await asyncio.to_thread(self._get_reconciled, ref)

    async def inspect(self, ref: str) -> dict:
        """Docker-shaped ``inspect`` JSON of a container."""
        container = await self.get(ref)
        image = await asyncio.to_thread(self._images.get_by_id, container.image_id)
        pid = await asyncio.to_thread(self._init_pid, container)
        return container_inspect(
            container, image, self._paths.container_dir(container.id), pid, self._lowers(image)
        )

    # -- create ------------------------------------------------------------------

    async def create(self, options: CreateOptions) -> Container:
        """Record a new container and its directories; nothing runs yet."""
        image = await self._images.resolve(options.image)
        return await asyncio.to_thread(self._create, options, image)

    def _create(self, options: CreateOptions, image: Image) -> Container:
        if options.workdir and not options.workdir.startswith("/"):
            raise InvalidArgumentError(
                f'the working directory "{options.workdir}" is invalid: it must be an absolute path'
            )
        image_config = image.config.get("config", {})
        args = container_args(
            image_config.get("Entrypoint"), image_config.get("Cmd"),
            options.entrypoint, options.command,
        )  # fmt: skip
        container_id = secrets.token_hex(32)
        name = validate_name(options.name) if options.name else self._free_name()
        self._store.insert(container_id, name, image.id, options, args, now())
        try:
            for directory in bundles.container_dirs(self._paths.container_dir(container_id)):
                directory.mkdir(parents=True)
        except BaseException:
            self._discard(container_id)
            raise
        return self._store.get(container_id)

    def _free_name(self) -> str:
        for _ in range(_NAME_ATTEMPTS):
            name = generate_name()
            if not self._store.name_taken(name):
                return name
        return f"{generate_name()}_{secrets.token_hex(3)}"

    # -- run in the foreground -------------------------------------------------------

    async def run_attached(self, ref: str) -> int:
        """Start a created or exited container with this process's stdio; its exit code.

        The runtime inherits stdin, stdout and stderr, so the container's output goes
        straight to the caller's. Raises ContainerStartError if it never ran.
        """
        container = await self.get(ref)
        if container.running:
            raise ConflictError(f"container {container.name} is already running")
        image = await asyncio.to_thread(self._images.get_by_id, container.image_id)
        bundle = self._paths.container_dir(container.id)
        await asyncio.to_thread(self._prepare_bundle, bundle, container, image)
        log = bundle / "runtime.log"
        log.unlink(missing_ok=True)
        process = await asyncio.create_subprocess_exec(
            *self._runtime_command(log),
            "run",
            "--bundle",
            str(bundle),
            container.id,
            # Its own session: a Ctrl-C on the terminal reaches only the front end, which
            # decides what the container gets (Docker's sig-proxy).
            start_new_session=True,
        )
        await asyncio.to_thread(
            self._store.update, container.id, state="running", monitor_pid=process.pid,
            monitor_start=start_time(process.pid), started_at=now(), finished_at=None,
            exit_code=None, error=None,
        )  # fmt: skip
        try:
            code = await process.wait()
        except BaseException:
            await asyncio.to_thread(self._kill_now, container.id)
            await process.wait()
            raise
        finally:
            error = _runtime_error(log)
            await asyncio.to_thread(
                self._finish, container, process.returncode, error=error, ran=error is None
            )
        if error is not None:
            raise ContainerStartError(error, code)
        return code

    def _runtime_command(self, log: Path) -> list[str]:
        return [
            sys.executable, "-m", "engine.runtime.cli",
            "--root", str(self._paths.runtime_state), "--log", str(log), "--log-format", "json",
        ]  # fmt: skip

    def _prepare_bundle(self, bundle: Path, container: Container, image: Image) -> None:
        lowers = self._lowers(image)
        links = self._images.short_links(image)
        bundles.prepare(bundle, container, image, lowers, links, self._paths.links)

    def _lowers(self, image: Image) -> list[Path]:
        return self._images.layer_paths(image)

    def _finish(
        self, container: Container, code: int | None, *, error: str | None, ran: bool
    ) -> None:
        """Release what a stopped container held, record how it ended, honour --rm."""
        self._release(container.id)
        if container.options.auto_remove:
            self._discard(container.id)
            return
        # Like Docker, a container whose process never started stays "created".
        state = "exited" if ran else "created"
        self._store.update(
            container.id, state=state, exit_code=code, error=error,
            finished_at=now(), monitor_pid=None, monitor_start=None,
        )  # fmt: skip

    def _release(self, container_id: str) -> None:
        """Remove the runtime's state and cgroup and unmount the rootfs."""
        with contextlib.suppress(NotFoundError):
            runtime.delete(container_id, state_root=self._paths.runtime_state, force=True)
        _, _, merged = bundles.container_dirs(self._paths.container_dir(container_id))
        overlay.unmount(merged)

    # -- signals and removal ---------------------------------------------------------

    async def kill(self, ref: str, signal: int) -> Container:
        """Send ``signal`` to the container's main process."""
        container = await self.get(ref)
        if not container.running:
            raise ConflictError(f"container {container.name} is not running")
        runtime.kill(container.id, signal, state_root=self._paths.runtime_state)
        return container

    def _kill_now(self, container_id: str) -> None:
        with contextlib.suppress(NotFoundError):
            runtime.kill(container_id, 9, state_root=self._paths.runtime_state, all=True)

    async def remove(self, ref: str, *, force: bool = False) -> Container:
        """Remove a container and everything it holds; a running one only with ``force``."""
        container = await self.get(ref)
        if container.running and not force:
            raise ConflictError(
                f"cannot remove container {container.name}: it is running; "
                "stop it first or use rm -f"
            )
        await asyncio.to_thread(self._remove, container)
        return container

    def _remove(self, container: Container) -> None:
        if container.running:
            self._kill_now(container.id)
        self._release(container.id)
        self._discard(container.id)

    def _discard(self, container_id: str) -> None:
        """Delete the row and the container's directory (upper dir included)."""
        self._store.delete(container_id)
        shutil.rmtree(self._paths.container_dir(container_id), ignore_errors=True)

    # -- reconciliation ------------------------------------------------------------

    def _list_reconciled(self) -> list[Container]:
        return [self._reconcile(container) for container in self._store.all()]

    def _get_reconciled(self, ref: str) -> Container:
        return self._reconcile(self._store.resolve(ref))

    def _reconcile(self, container: Container) -> Container:
        """A container marked running whose supervisor is gone has exited: record it."""
        if not container.running or is_running(container.monitor_pid, container.monitor_start):
            return container
        self._kill_now(container.id)
        lost = "the process supervising the container was lost; its exit code is unknown"
        self._finish(container, 255, error=lost, ran=True)
        return self._store.get(container.id) or container

    def _init_pid(self, container: Container) -> int:
        if not container.running:
            return 0
        try:
            return runtime.state(container.id, state_root=self._paths.runtime_state)["pid"]
        except NotFoundError:
            return 0


def _runtime_error(log: Path) -> str | None:
    """The runtime's error message, if it failed before the container's process ran."""
    try:
        lines = log.read_text().splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("level") == "error":
            return entry.get("msg") or "the runtime failed"
    return None
