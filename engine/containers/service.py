"""The containers service: create, run, list, inspect, kill and remove containers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from engine.containers.layout import container_dirs
from engine.containers.locks import container_lock, forget, lock_dir, lock_path
from engine.containers.model import Container, CreateOptions, stored_options
from engine.containers.names import generate_name, validate_name
from engine.containers.store import ContainerStore
from engine.errors import (
    BerthError,
    ConflictError,
    ContainerStartError,
    InvalidArgumentError,
    NoSpaceError,
    NotFoundError,
)
from engine.monitor import status
from engine.monitor.restart import RestartPolicy
from engine.monitor.status import RunStatus
from engine.paths import EnginePaths
from engine.process_identity import identity, identity_running, is_running
from engine.signals import parse_signal
from engine.state import Database
from engine.timestamps import now
from engine.volumes.model import MountPoint

if TYPE_CHECKING:  # what only annotations name: the run path's modules load when used
    from engine import cgroups, runtimes
    from engine.attach.client import AttachClient
    from engine.containers.lifecycle import MonitorHandle
    from engine.containers.logs import LogEntry
    from engine.images import Image, ImageService
    from engine.network.model import ContainerNetwork
    from engine.network.service import NetworkService
    from engine.volumes.mountspec import MountRequest
    from engine.volumes.service import VolumeService

_NAME_ATTEMPTS = 20
_POLL_SECONDS = 0.02
_KILL_GRACE = 10.0  # seconds for the kernel to tear a SIGKILLed container down
_LOST = "the container's monitor was lost, so its exit code is unknown; its processes were killed"
# In the run dir while a command (commit) holds the container paused: "PID:START".
_PAUSED_BY = "paused-by"
_RUN_DIR_LOST = (
    "it was running when the host restarted (its run dir is gone), so its exit code is unknown"
)
#: where the engine tells a front end what the host could not apply: one line each, worded
#: for a user ("--pids-limit is not applied: ..."); the CLI prints "WARNING: <line>"
Warn = Callable[[str], None]


class ContainerService:
    def __init__(
        self, paths: EnginePaths, db: Database, images: Callable[[], ImageService],
        networks: Callable[[], NetworkService], volumes: Callable[[], VolumeService],
    ) -> None:  # fmt: skip
        """``images``, ``networks`` and ``volumes`` give the other services when first
        needed: ``ps`` builds none of them."""
        self._paths = paths
        self._services = (images, networks, volumes)
        self._store = ContainerStore(db)
        self._cgroups: dict[str, cgroups.Cgroup] = {}  # by container id: see _cgroup

    @property
    def _images(self) -> ImageService:
        return self._services[0]()

    @property
    def _networks(self) -> NetworkService:
        return self._services[1]()

    @property
    def _volumes(self) -> VolumeService:
        return self._services[2]()

    def collect_leftovers(self) -> None:
        """Remove the directories and lock of containers whose row is gone: an ``rm``
        killed between deleting the row and the files. Best effort, as the engine opens."""
        from engine.storage import scratch

        try:
            bases = (self._paths.containers, self._paths.container_runs,
                     lock_dir(self._paths.runroot))  # fmt: skip
            on_disk = {entry.name for base in bases if base.is_dir() for entry in base.iterdir()}
            if not on_disk:
                return
            # Listed first, then the rows: a row is written before its directories, so
            # what the listing found without a row was left by a removal.
            for container_id in on_disk - self._store.ids():
                for path in self._leftover_paths(container_id):
                    scratch.remove(path)
        except (OSError, sqlite3.Error, BerthError):
            pass  # a later command collects it

    def _leftover_paths(self, container_id: str) -> tuple[Path, Path, Path]:
        """What a container has on disk besides its row: its directories and its lock."""
        return (
            self._paths.container_dir(container_id),
            self._paths.container_run_dir(container_id),
            lock_path(self._paths.runroot, container_id),
        )

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
        from engine.containers import mounts
        from engine.containers.inspect import container_inspect, network_settings

        container = await self.get(ref)
        image = await asyncio.to_thread(self._images.get_by_id, container.image_id)
        pid = await asyncio.to_thread(self._init_pid, container)
        details = container_inspect(
            container, image, self._paths.container_dir(container.id), pid, self._lowers(image)
        )
        details["NetworkSettings"] = network_settings(
            await self._networks.endpoints(container.id),
            await self._networks.ports(container.id),
        )
        kept = await asyncio.to_thread(self._store.mounts, container.id)
        details["Mounts"] = mounts.inspect_mounts(kept, self._paths.volume_data)
        details["HostConfig"].update(mounts.host_config_mounts(container.options, kept))
        return details

    async def mounts(self, ref: str) -> list[MountPoint]:
        """The container's binds, volumes and tmpfs mounts, in mount order."""
        container = await self.get(ref)
        return await asyncio.to_thread(self._store.mounts, container.id)

    # -- create ------------------------------------------------------------------

    async def create(
        self, options: CreateOptions, *, to_run: bool = False, warn: Warn | None = None
    ) -> Container:
        """Record a new container and its directories; nothing runs yet.

        ``to_run``: the caller starts it next (``run``); should the caller die before
        it does, a --rm container is removed rather than left created.
        ``warn`` hears, as Docker's create says, each limit this host cannot apply
        (tried on a scratch cgroup); ``start`` says them again, as it finds them.
        """
        from engine import cgroups, runtimes
        from engine.containers import limits

        # An unknown runtime is refused before anything is made (or pulled).
        runtime_name = options.runtime or runtimes.default_name()
        await asyncio.to_thread(runtimes.resolve, runtime_name)
        image = await self._images.resolve(options.image)
        run_by = identity(os.getpid()) if to_run else None
        container = await asyncio.to_thread(self._create, options, image, run_by, runtime_name)
        wanted = limits.cgroup_limits(container.options)
        if warn is not None and not wanted.is_empty():  # (berth's runtime loads only then)
            runtime = await asyncio.to_thread(runtimes.get, runtime_name, self._paths.runroot)
            notes = await asyncio.to_thread(runtime.unapplied, wanted, cgroups.CONTAINERS_PARENT)
            _tell(warn, notes, container)
        return container

    def _create(
        self, options: CreateOptions, image: Image, run_by: str | None, runtime: str
    ) -> Container:
        from engine.containers import limits, mounts, security
        from engine.containers.command import container_args

        options = limits.checked(options)
        security.check(options)
        if options.workdir and not options.workdir.startswith("/"):
            raise InvalidArgumentError(
                f'the working directory "{options.workdir}" is invalid: it must be an absolute path'
            )
        image_config = image.config.get("config", {})
        args = container_args(
            image_config.get("Entrypoint"), image_config.get("Cmd"),
            options.entrypoint, options.command,
        )  # fmt: skip
        requests = mounts.plan(options, image.config, self._mounts_of)
        container_id = secrets.token_hex(32)
        name = validate_name(options.name) if options.name else self._free_name()
        kept, made = self._volumes_for(requests)
        try:
            self._store.insert(container_id, name, image.id, options, args, now(), run_by,
                               runtime, kept)  # fmt: skip
        except BaseException:
            self._volumes.discard(made)
            raise
        try:
            for directory in container_dirs(self._paths.container_dir(container_id)):
                directory.mkdir(parents=True)
        except BaseException:
            self._discard(container_id)
            self._volumes.discard(made)
            raise
        return self._store.get(container_id)

    def _mounts_of(self, ref: str) -> list[MountPoint]:
        """The mounts of container ``ref`` (for --volumes-from)."""
        return self._store.mounts(self._store.resolve(ref).id)

    def _volumes_for(self, requests: list[MountRequest]) -> tuple[list[MountPoint], list[str]]:
        """The mounts to keep, each volume made if missing; and the volumes made now."""
        kept, made = [], []
        try:
            for request in requests:
                mount = request.mount
                if mount.type == "volume":
                    volume, new = self._volumes.ensure(
                        mount.source or None, anonymous=not mount.source,
                        labels=request.volume_labels, options=request.volume_options,
                    )  # fmt: skip
                    if new:
                        made.append(volume.name)
                    mount = replace(mount, source=volume.name)
                kept.append(mount)
        except BaseException:
            self._volumes.discard(made)
            raise
        return kept, made

    def _free_name(self) -> str:
        for _ in range(_NAME_ATTEMPTS):
            name = generate_name()
            if not self._store.name_taken(name):
                return name
        return f"{generate_name()}_{secrets.token_hex(3)}"

    # -- start, attach, stop ---------------------------------------------------------

    async def start(self, ref: str, *, warn: Warn | None = None) -> Container:
        """Start the container under its monitor and return once it runs (no-op if it does).

        ``warn`` hears each setting the runtime could not apply on this host (the
        container runs without it).
        """
        from engine.containers.lifecycle import read_ready

        container = await self.get(ref)
        if container.running:
            return container
        handle = await self._launch(container, wait_for_attach=False)
        notes = await asyncio.to_thread(read_ready, handle, self._paths.container_dir(container.id))
        _tell(warn, notes, container)
        return await self.get(container.id)

    async def start_attached(
        self, ref: str, terminal_size: tuple[int, int] | None = None, *, warn: Warn | None = None
    ) -> AttachClient:
        """Start the container with a client attached before it runs, so no output is lost.

        ``terminal_size`` (rows, columns) is the container's terminal size from the start;
        ``warn`` as for :meth:`start`.
        """
        container = await self.get(ref)
        if container.running:
            raise ConflictError(f"container {container.name} is already running")
        handle = await self._launch(container, wait_for_attach=True, terminal_size=terminal_size)
        return await self._attach_when_ready(handle, container, warn)

    async def _attach_when_ready(
        self, handle: MonitorHandle, container: Container, warn: Warn | None = None
    ) -> AttachClient:
        """Connect to a monitor that waits for us, then hear whether its process started."""
        from engine.attach.client import AttachClient
        from engine.containers.lifecycle import read_ready

        try:
            client = await AttachClient.connect(handle.socket, container.name)
        except BaseException:
            os.close(handle.ready_fd)
            raise
        try:
            notes = await asyncio.to_thread(
                read_ready, handle, self._paths.container_dir(container.id)
            )
        except BaseException:
            await client.close()
            raise
        _tell(warn, notes, container)
        return client

    async def exec(
        self, ref: str, command: list[str], *, env: Sequence[str] = (), workdir: str | None = None,
        user: str | None = None, tty: bool = False, detach: bool = False,
        terminal_size: tuple[int, int] | None = None, privileged: bool = False,
    ) -> AttachClient | None:  # fmt: skip
        """Start ``command`` in the running container; a client on it unless ``detach``.

        ``privileged``: every capability, as ``docker exec --privileged`` gives (the
        container's seccomp profile still applies).
        """
        from engine.containers.lifecycle import read_ready, spawn_exec_monitor

        container = await self.get(ref)
        if container.state == "paused":
            raise ConflictError(
                f"container {container.name} is paused, unpause the container before exec"
            )
        if container.state != "running":
            raise ConflictError(f"container {container.name} is not running")
        process = await asyncio.to_thread(
            self._exec_process, container, command, env, workdir, user, tty, privileged
        )
        if tty and terminal_size:  # set by the runtime before the process runs
            process["consoleSize"] = {"height": terminal_size[0], "width": terminal_size[1]}
        handle = await asyncio.to_thread(
            spawn_exec_monitor, self._paths, container.id, process, wait_for_attach=not detach,
            terminal_size=terminal_size, runtime=container.runtime,
        )  # fmt: skip
        if detach:
            await asyncio.to_thread(read_ready, handle, self._paths.container_dir(container.id))
            return None
        return await self._attach_when_ready(handle, container)

    def _exec_process(
        self, container: Container, command: list[str], env: Sequence[str],
        workdir: str | None, user: str | None, tty: bool, privileged: bool,
    ) -> dict:  # fmt: skip
        """The container's own process settings, with exec's overrides."""
        from engine.containers.environment import merge_env

        bundle = self._paths.container_dir(container.id)
        process = json.loads((bundle / "config.json").read_text())["process"]
        if workdir and not workdir.startswith("/"):
            raise InvalidArgumentError(f'the working directory "{workdir}" must be absolute')
        extra = [*env, "TERM=xterm"] if tty else list(env)
        process.update(args=command, env=merge_env(process["env"], extra), terminal=tty)
        if workdir:
            process["cwd"] = workdir
        if user:  # (the bundle's and the security modules load only for these options)
            from engine.containers.user import resolve_user

            try:
                found = resolve_user(container_dirs(bundle)[2], user)
            except BerthError as error:  # Docker: the exec'd process could not be made, 126
                raise ContainerStartError(str(error), 126) from None
            process["user"] = {"uid": found.uid, "gid": found.gid,
                               "additionalGids": list(found.additional_gids)}  # fmt: skip
        if user or privileged:  # the capabilities depend on both
            from engine.containers import security

            options = container.options
            caps = security.capabilities(options, privileged=privileged or options.privileged)
            process["capabilities"] = security.capability_sets(
                caps, options.cap_add, process["user"]["uid"]
            )
        return process

    async def attach(self, ref: str) -> tuple[Container, AttachClient]:
        """Connect to a running container's monitor."""
        from engine.attach.client import AttachClient
        from engine.containers.lifecycle import attach_socket

        container = await self.get(ref)
        if not container.running:
            raise ConflictError(
                f"cannot attach to {container.name}: it is not running (start it with berth start)"
            )
        socket = attach_socket(self._paths, container.id)
        return container, await AttachClient.connect(socket, container.name)

    async def _launch(
        self, container: Container, *, wait_for_attach: bool,
        terminal_size: tuple[int, int] | None = None,
    ) -> MonitorHandle:  # fmt: skip
        return await asyncio.to_thread(
            self._launch_locked, container.id, wait_for_attach, terminal_size
        )

    def _launch_locked(
        self, container_id: str, wait_for_attach: bool, terminal_size: tuple[int, int] | None
    ) -> MonitorHandle:
        """Set the run up and start its monitor, holding the container's lock."""
        with container_lock(self._paths.runroot, container_id):
            container = self._store.get(container_id)
            run_dir = self._paths.container_run_dir(container_id)
            if container is None:
                forget(self._paths.runroot, container_id)
                raise NotFoundError(f'no such container: "{container_id}" (see berth ps -a)')
            if status.monitor_alive(run_dir):
                record = status.read(run_dir)
                if record is None or record.state in ("running", "restarting"):
                    raise ConflictError(f"container {container.name} is already running")
                self._wait_for_monitor(run_dir)  # the last run's monitor is winding down
            # What a killed command may have left: runtime state, a mount, leases.
            self._release(container)
            shutil.rmtree(run_dir, ignore_errors=True)
            run_dir.mkdir(parents=True)
            return self._set_up_and_spawn(container, wait_for_attach, terminal_size)

    def _set_up_and_spawn(
        self, container: Container, wait_for_attach: bool, terminal_size: tuple[int, int] | None
    ) -> MonitorHandle:
        from engine.containers.lifecycle import spawn_monitor
        from engine.storage import overlay

        image = self._images.get_by_id(container.image_id)
        bundle = self._paths.container_dir(container.id)
        for directory in container_dirs(bundle):  # a create killed half-way made none
            directory.mkdir(parents=True, exist_ok=True)
        # The network is wired before the runtime runs, and outlives the monitor's restarts.
        network = self._networks.attach(container, image.config.get("config", {}),
                                        self._peer_network)  # fmt: skip
        try:
            self._prepare_bundle(bundle, container, image, network)
            self._store.update(container.id, stop_requested=0)
            return spawn_monitor(
                self._paths, container, _stop_policy(container, image),
                wait_for_attach=wait_for_attach,
                terminal_size=terminal_size,
            )  # fmt: skip
        except BaseException:
            overlay.unmount(container_dirs(bundle)[2])
            self._networks.release(container.id)
            raise

    def _prepare_bundle(
        self, bundle: Path, container: Container, image: Image, network: ContainerNetwork
    ) -> None:
        from engine.containers import bundle as bundles
        from engine.containers import mounts

        lowers = self._lowers(image)
        links = self._images.short_links(image)
        kept = self._store.mounts(container.id)
        _make_bind_sources(kept)
        extra = mounts.oci_mounts(kept, self._volumes.data_path)
        mounts.make_nested_mount_points(extra)
        bundles.prepare(bundle, container, image, lowers, links, self._paths.links, network, extra)
        self._copy_up(kept, container_dirs(bundle)[2])

    def _copy_up(self, kept: list[MountPoint], rootfs: Path) -> None:
        """Fill each new, empty volume from the image's files at its path (Docker's copy-up)."""
        from engine.runtime.rootpath import resolve as resolve_in_root
        from engine.volumes import copyup

        for mount in kept:
            if mount.type != "volume":
                continue
            volume = self._volumes.find(mount.source)
            if volume is None or volume.populated:
                continue
            if mount.copy_up:
                copyup.copy_up(resolve_in_root(rootfs, mount.destination), volume.mountpoint)
            self._volumes.mark_populated(volume.name)

    def _peer_network(self, ref: str) -> tuple[str, Path]:
        """The network namespace and bundle of running container ``ref`` (container:<ref>)."""
        peer = self._get_reconciled(ref)
        pid = self._init_pid(peer)
        if not pid:
            raise ConflictError(f"cannot share the network of {peer.name}: it is not running")
        return f"/proc/{pid}/ns/net", self._paths.container_dir(peer.id)

    def _lowers(self, image: Image) -> list[Path]:
        return self._images.layer_paths(image)

    async def stop(self, ref: str, timeout: float | None = None) -> Container:
        """Send the stop signal, then SIGKILL after ``timeout`` s (default: the container's, 10)."""
        container = await self.get(ref)
        if not container.running:
            return container
        image = await asyncio.to_thread(self._images.get_by_id, container.image_id)
        stop_signal, default_timeout = _stop_policy(container, image)
        if timeout is None:
            timeout = default_timeout
        await asyncio.to_thread(self._request_stop, container.id)
        await asyncio.to_thread(self._signal, container, stop_signal)
        if container.state == "paused":  # let the signal be delivered
            await asyncio.to_thread(self._resume, container)
            await asyncio.to_thread(self._store.update, container.id, state="running")
        # Docker: a negative timeout waits for as long as the container takes.
        if not await self._wait_until_stopped(container.id, math.inf if timeout < 0 else timeout):
            await asyncio.to_thread(self._kill_now, container)
            await self._wait_until_stopped(container.id, _KILL_GRACE)
        return await self.get(container.id)

    async def boot(self) -> list[tuple[Container, BerthError | None]]:
        """Start what the host's restart should bring back (``berth system boot``).

        As Docker's daemon does when it starts: ``always`` containers, and
        ``unless-stopped`` ones that no user stopped. Runs that the restart cut short
        are recorded first (as their monitors were lost). Each container with its
        error, if it could not start.
        """
        started = []
        for container in await self.list(all=True):
            policy = RestartPolicy.parse(container.options.restart).name
            wanted = policy == "always" or (
                policy == "unless-stopped" and not container.stop_requested
            )
            if container.running or not wanted:
                continue
            try:
                started.append((await self.start(container.id), None))
            except BerthError as error:
                started.append((container, error))
        return started

    async def restart(self, ref: str, timeout: float | None = None) -> Container:
        container = await self.stop(ref, timeout)
        return await self.start(container.id)

    async def wait(self, ref: str, *, removed: bool = False) -> int:
        """Block until the container stops (or, with ``removed``, is gone); its exit code.

        With ``removed``, a container already gone is no error (its --rm was quicker).
        """
        exit_code = 0
        while True:
            try:
                container = await self.get(ref)
            except NotFoundError:
                if removed:
                    return exit_code
                raise
            ref, exit_code = container.id, container.exit_code or 0
            if not (container.running or removed):
                return exit_code
            await asyncio.sleep(_POLL_SECONDS)

    async def _wait_until_stopped(self, container_id: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if not (await self.get(container_id)).running:
                    return True
            except NotFoundError:
                return True
            await asyncio.sleep(_POLL_SECONDS)
        return False

    def _request_stop(self, container_id: str, *, removing: bool = False) -> None:
        """No restart policy brings it back: the monitor and the next boot both know."""
        status.request_stop(self._paths.container_run_dir(container_id), removing=removing)
        with contextlib.suppress(NoSpaceError):  # the monitor knows: stopping goes on
            self._store.update(container_id, stop_requested=1)

    # -- pause, rename, top, logs --------------------------------------------------

    async def pause(self, ref: str) -> Container:
        """Freeze every process of the container (cgroup freezer)."""
        container = await self.get(ref)
        if container.state != "running":
            raise ConflictError(f"container {container.name} is not running")
        await asyncio.to_thread(self._runtime(container).pause, container.id)
        await asyncio.to_thread(self._store.update, container.id, state="paused")
        return container

    async def unpause(self, ref: str) -> Container:
        container = await self.get(ref)
        if container.state != "paused":
            raise ConflictError(f"container {container.name} is not paused")
        await asyncio.to_thread(self._runtime(container).resume, container.id)
        await asyncio.to_thread(self._store.update, container.id, state="running")
        return container

    def _resume(self, container: Container) -> None:
        """Thaw it if it is paused (by the runtime that paused it)."""
        with contextlib.suppress(NotFoundError, ConflictError):
            self._runtime(container).resume(container.id)

    # -- commit --------------------------------------------------------------------

    async def commit(
        self, ref: str, reference: str | None = None, *, author: str = "",
        changes: Sequence[str] = (), message: str = "", pause: bool = True,
    ) -> Image:  # fmt: skip
        """docker commit: a new image of the container's image plus its changes as a layer.

        Its config is the one the container runs with (run_config), then ``changes``. A running
        container is paused meanwhile (unless not ``pause``), so the layer is one instant
        of its files; a paused one stays paused, a stopped one is read as it is.
        """
        from engine.containers import bundle as bundles
        from engine.containers.run_config import run_config

        container = await self.get(ref)
        image = await asyncio.to_thread(self._images.get_by_id, container.image_id)
        bundle = self._paths.container_dir(container.id)
        upper = container_dirs(bundle)[0]
        mount_points = await asyncio.to_thread(bundles.mount_points, bundle)
        async with self._paused(container, pause):
            return await self._images.commit(
                image.id, upper, reference, fields=run_config(container, image),
                changes=changes, message=message, author=author,
                created_by=" ".join(container.args), mount_points=mount_points,
            )  # fmt: skip

    @contextlib.asynccontextmanager
    async def _paused(self, container: Container, pause: bool) -> AsyncIterator[None]:
        """Paused meanwhile; should we die first, the next look at it thaws it."""
        if not pause or container.state != "running":
            yield
            return
        marker = self._paths.container_run_dir(container.id) / _PAUSED_BY
        await asyncio.to_thread(marker.write_text, identity(os.getpid()))
        try:
            await self.pause(container.id)
            yield
        finally:
            with contextlib.suppress(ConflictError):  # someone unpaused it meanwhile
                await self.unpause(container.id)
            marker.unlink(missing_ok=True)

    def _cgroup(self, container_id: str) -> cgroups.Cgroup:
        """The container's cgroup, whichever runtime made it (the engine names its path)."""
        from engine import cgroups

        # One handle per container for the service's life: making one reads
        # /proc/self/mountinfo, and every listing asks for each running container's (is
        # it frozen?); a TUI lists every second.
        cgroup = self._cgroups.get(container_id)
        if cgroup is None:
            cgroup = cgroups.get(cgroups.container_path(container_id))
            self._cgroups[container_id] = cgroup
        return cgroup

    def _runtime(self, container: Container) -> runtimes.OciRuntime:
        """The OCI runtime the container was created with (``--runtime``)."""
        from engine import runtimes

        return runtimes.get(container.runtime, self._paths.runroot)

    async def update(self, ref: str, changes: Mapping[str, int | str]) -> list[str]:
        """Change resource limits (fields in limits.LIMIT_FIELDS), live if it runs.

        Returns a note for each limit this host cannot set (the rest are set).
        """
        from engine.containers import limits

        container = await self.get(ref)
        options = limits.updated(container.options, changes)
        notes = []
        if container.running:
            notes = await asyncio.to_thread(self._update_live, container, options)
        stored = stored_options(options, container.args)
        await asyncio.to_thread(self._store.update, container.id, options=stored)
        return notes

    def _update_live(self, container: Container, options: CreateOptions) -> list[str]:
        from engine.containers import limits
        from engine.linux.syscalls import describe

        changed = limits.live_resources(container.options, options)
        try:
            notes = self._runtime(container).update(container.id, changed)
            return limits.warnings(notes, options)
        except NotFoundError:  # it stopped meanwhile: the next start applies the options
            return []
        except OSError as error:
            raise BerthError(
                f"cannot update container {container.name}: {describe(error)}"
            ) from None

    async def rename(self, ref: str, new_name: str) -> Container:
        container = await self.get(ref)
        await asyncio.to_thread(self._store.rename, container.id, validate_name(new_name))
        return await self.get(container.id)

    async def processes(self, ref: str) -> list[int]:
        """Host pids of every process in the container, the monitor's exec sessions included."""
        container = await self.get(ref)
        if not container.running:
            raise ConflictError(f"container {container.name} is not running")
        return await asyncio.to_thread(self._cgroup(container.id).pids)

    async def logs(
        self, ref: str, *, follow: bool = False, since: float | None = None,
        until: float | None = None, tail: int | None = None,
    ) -> AsyncIterator[LogEntry]:  # fmt: skip
        """The container's log entries; with ``follow``, new ones until it stops."""
        from engine.containers.logs import follow_logs, read_logs

        container = await self.get(ref)
        path = self._paths.container_dir(container.id) / "ctr.log"
        if not follow:
            for entry in await asyncio.to_thread(
                read_logs, path, since=since, until=until, tail=tail
            ):
                yield entry
            return

        run_dir = self._paths.container_run_dir(container.id)

        async def running() -> bool:
            """Whether more may come: the exit is recorded before the monitor drains it."""
            try:
                if (await self.get(container.id)).running:
                    return True
            except NotFoundError:
                return False
            return await asyncio.to_thread(status.monitor_alive, run_dir)

        async for entry in follow_logs(path, running, since=since, until=until, tail=tail):
            yield entry

    # -- signals and removal ---------------------------------------------------------

    async def kill(self, ref: str, signum: int) -> Container:
        """Send ``signal`` to the container's main process."""
        container = await self.get(ref)
        if not container.running:
            raise ConflictError(f"container {container.name} is not running")
        await asyncio.to_thread(self._signal, container, signum)
        return container

    def _signal(self, container: Container, signum: int) -> None:
        with contextlib.suppress(NotFoundError):  # it stopped meanwhile: nothing to signal
            self._runtime(container).kill(container.id, signum)

    def _kill_now(self, container: Container) -> None:
        """SIGKILL every process of the container, thawing it first if it was paused."""
        cgroup = self._cgroup(container.id)
        if cgroup.exists():
            cgroup.thaw()  # a frozen process holds its SIGKILL until it thaws
        # A runtime binary may call a container whose init is gone "not running".
        with contextlib.suppress(NotFoundError, ConflictError):
            self._runtime(container).kill(container.id, signal.SIGKILL, all=True)

    async def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> Container:
        """Remove a container and everything it holds; a running one only with ``force``.

        ``volumes`` (rm -v): its anonymous volumes too, those no other container mounts.
        """
        container = await self.get(ref)
        if container.running and not force:
            raise ConflictError(
                f"cannot remove container {container.name}: it is running; "
                "stop it first or use rm -f"
            )
        await asyncio.to_thread(self._remove, container, volumes)
        return container

    def _remove(self, container: Container, volumes: bool) -> None:
        from engine.storage import space

        run_dir = self._paths.container_run_dir(container.id)
        if status.monitor_alive(run_dir):
            # No restart policy may bring it back while it goes.
            self._request_stop(container.id, removing=True)
            self._kill_now(container)
            self._wait_for_monitor(run_dir)
        with container_lock(self._paths.runroot, container.id):
            if self._store.get(container.id) is None:  # by another rm, or its own --rm
                forget(self._paths.runroot, container.id)
                return
            if status.monitor_alive(run_dir):
                raise ConflictError(f"container {container.name} was started again meanwhile")
            try:
                self._release(container)
                self._discard(container.id, volumes=volumes)
            except NoSpaceError:
                # Deleting rows needs room in the database's WAL: make it with the
                # reserve and the container's own files (unmounted by now), then again.
                space.release_reserve(self._paths.root)
                self._remove_files(container.id)
                self._release(container)
                self._discard(container.id, volumes=volumes)

    def _wait_for_monitor(self, run_dir: Path) -> None:
        """Let the monitor finish; one that outlives the grace period is killed."""
        deadline = time.monotonic() + _KILL_GRACE
        while status.monitor_alive(run_dir):
            if time.monotonic() > deadline:
                record = status.read(run_dir)
                if record and is_running(record.monitor_pid, record.monitor_start):
                    os.kill(record.monitor_pid, signal.SIGKILL)
            time.sleep(_POLL_SECONDS)

    def _release(self, container: Container) -> None:
        """Remove the runtime's state and cgroup, unmount the rootfs, release the network."""
        from engine import runtimes
        from engine.storage import overlay

        container_id = container.id
        # No state directory, nothing to delete: a first start need not load the runtime.
        state = runtimes.state_root(container.runtime, self._paths.runroot) / container_id
        if state.exists():
            with contextlib.suppress(NotFoundError):
                self._runtime(container).delete(container_id, force=True)
        overlay.unmount(container_dirs(self._paths.container_dir(container_id))[2])
        self._networks.release(container_id)

    def _discard(self, container_id: str, *, volumes: bool = False) -> None:
        """Delete the row, then the container's directories (upper dir and log included);
        with ``volumes``, then its anonymous volumes that no other container mounts."""
        mounted = [mount.source for mount in self._store.mounts(container_id)
                   if mount.type == "volume"] if volumes else []  # fmt: skip
        self._store.delete(container_id)
        self._remove_files(container_id)
        forget(self._paths.runroot, container_id)
        if mounted:
            self._volumes.remove_anonymous(mounted)

    def _remove_files(self, container_id: str) -> None:
        shutil.rmtree(self._paths.container_dir(container_id), ignore_errors=True)
        shutil.rmtree(self._paths.container_run_dir(container_id), ignore_errors=True)

    # -- reconciliation ------------------------------------------------------------

    def _list_reconciled(self) -> list[Container]:
        reconciled = (self._reconcile(container) for container in self._store.all())
        return [container for container in reconciled if container is not None]

    def _get_reconciled(self, ref: str) -> Container:
        container = self._store.resolve(ref)
        found = self._reconcile(container)
        if found is None:  # a --rm container, finished just now
            raise NotFoundError(f'no such container: "{ref}" (see berth ps -a)')
        return found

    def _reconcile(self, container: Container) -> Container | None:
        """The container as its monitor last recorded it; None if finishing removed it."""
        run_dir = self._paths.container_run_dir(container.id)
        record = status.read(run_dir)
        if record is None and not container.running and not self._abandoned(container):
            return container
        if record is not None and status.monitor_alive(run_dir):
            return self._fold(container, record)
        try:
            return self._finish(container.id)
        except NoSpaceError:  # a full disk: show the record; it is finished once there's room
            return self._fold(container, record) if record else container

    async def finish(self, container_id: str) -> None:
        """Fold an ended run into the database and release it (the monitor's exit command)."""
        await asyncio.to_thread(self._finish, container_id)

    def _finish(self, container_id: str) -> Container | None:
        """Record how the last run ended and give back what it held; None once removed.

        Whoever comes first does it — the monitor's exit command, or any command that
        finds the monitor gone — under the container's lock, so exactly once.
        """
        with container_lock(self._paths.runroot, container_id):
            container = self._store.get(container_id)
            if container is None:  # removed meanwhile: its lock file goes too
                forget(self._paths.runroot, container_id)
                return None
            run_dir = self._paths.container_run_dir(container_id)
            record = status.read(run_dir)
            if status.monitor_alive(run_dir):  # a new run began meanwhile (unrecorded yet?)
                return self._fold(container, record) if record else container
            if record is None and not container.running:
                if not self._abandoned(container):
                    return container  # finished by someone else meanwhile
            elif record is None or record.state in ("running", "restarting"):
                self._kill_now(container)  # its monitor died under it
                record = _lost(container, record)
            self._release(container)
            if container.options.auto_remove:  # with its anonymous volumes, as Docker's --rm
                self._discard(container_id, volumes=True)
                return None
            self._store.update(
                container_id, **{**_fields(record), "monitor_pid": None, "monitor_start": None}
            )
            shutil.rmtree(run_dir, ignore_errors=True)
            return self._store.get(container_id)

    def _abandoned(self, container: Container) -> bool:
        """A --rm container whose run command died before any monitor took it over."""
        return (
            container.options.auto_remove and container.state == "created"
            and container.run_by is not None and not identity_running(container.run_by)
            and not status.monitor_alive(self._paths.container_run_dir(container.id))
        )  # fmt: skip

    def _fold(self, container: Container, record: RunStatus) -> Container:
        """Bring the row up to date with a live monitor's record (written only if changed)."""
        fields = _fields(record)
        if record.state == "running":  # or paused: the freezer says, not the monitor
            fields["state"] = self._running_state(container.id)
        changed = {key: value for key, value in fields.items()
                   if getattr(container, key) != value}  # fmt: skip
        if changed:
            with contextlib.suppress(NoSpaceError):  # a full disk: report, record later
                self._store.update(container.id, **changed)
        return replace(container, **changed)

    def _running_state(self, container_id: str) -> str:
        """running or paused, as the kernel's freezer has it. A pause whose maker died
        (a commit killed half-way) is undone: nobody else would."""
        cgroup = self._cgroup(container_id)
        if not cgroup.is_frozen():
            return "running"
        marker = self._paths.container_run_dir(container_id) / _PAUSED_BY
        with contextlib.suppress(FileNotFoundError):
            if not identity_running(marker.read_text()):
                cgroup.thaw()
                marker.unlink(missing_ok=True)
                return "running"
        return "paused"

    def _init_pid(self, container: Container) -> int:
        if not container.running:
            return 0
        try:
            return self._runtime(container).state(container.id)["pid"]
        except NotFoundError:
            return 0


def _make_bind_sources(kept: list[MountPoint]) -> None:
    """Docker's -v makes a missing host directory; --mount refuses one (at create)."""
    for mount in kept:
        if mount.type == "bind" and mount.from_flag == "-v" and not os.path.lexists(mount.source):
            Path(mount.source).mkdir(mode=0o755, parents=True, exist_ok=True)


def _stop_policy(container: Container, image: Image) -> tuple[int, float]:
    """The signal that stops the container and the seconds before SIGKILL, as Docker's."""
    stop_signal = container.options.stop_signal or image.config.get("config", {}).get("StopSignal")
    timeout = container.options.stop_timeout
    return parse_signal(stop_signal or "SIGTERM"), 10.0 if timeout is None else timeout


def _fields(record: RunStatus) -> dict[str, object]:
    """The container columns a monitor's record sets."""
    return {
        "state": record.state, "exit_code": record.exit_code, "started_at": record.started_at,
        "finished_at": record.finished_at, "oom_killed": record.oom_killed,
        "restart_count": record.restart_count, "error": record.error,
        "monitor_pid": record.monitor_pid, "monitor_start": record.monitor_start,
    }  # fmt: skip


def _lost(container: Container, record: RunStatus | None) -> RunStatus:
    """The record of a run whose monitor died before the container's end was known."""
    if record is None:
        return RunStatus(
            "exited", 0, None, container.started_at, now(), 255,
            restart_count=container.restart_count, error=_RUN_DIR_LOST,
        )  # fmt: skip
    return record.changed(state="exited", exit_code=255, finished_at=now(), error=_LOST)


def _tell(warn: Warn | None, notes: list[str], container: Container) -> None:
    """Pass the runtime's notes on to ``warn``, worded for a user."""
    from engine.containers import limits

    if warn is not None:
        for text in limits.warnings(notes, container.options):
            warn(text)
