"""The shared sampler: each container is read once per tick, however many listen.

One sampler runs per interval while anyone listens. Every tick it lists the
containers once, reads the union of what its listeners want (in a thread: a few small
files per container), and hands every listener the same snapshot: the listing and the
readings. A listener that falls behind gets only the newest tick, never a backlog.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from engine import cgroups, runtimes
from engine.containers.model import Container
from engine.errors import BerthError, NotFoundError
from engine.stats import baseline
from engine.stats.reading import (
    ContainerStats,
    Previous,
    container_stats,
    read_host,
    stopped_stats,
)

Tick = list[ContainerStats]


@dataclass(frozen=True)
class Selection:
    """Which containers a listener wants."""

    ids: tuple[str, ...] = ()  # these, in this order, running or not; empty: see ``all``
    all: bool = False  # with no ids: every container, not only the running ones

    def pick(self, containers: list[Container]) -> list[Container]:
        if self.ids:
            by_id = {container.id: container for container in containers}
            return [by_id[container_id] for container_id in self.ids if container_id in by_id]
        return [container for container in containers if self.all or container.running]


@dataclass(frozen=True)
class Snapshot:
    """One tick: the containers as listed (all of them, newest first) and their readings.

    ``stats`` holds, by id, the containers some listener selected. A front end that shows
    containers with their usage takes both from here: one listing per tick, not two.
    """

    containers: list[Container]
    stats: dict[str, ContainerStats]
    listed_at: float  # time.monotonic() as the listing began: older than a later listing

    def pick(self, selection: Selection) -> Tick:
        """The readings of ``selection``, in its order."""
        return [self.stats[container.id] for container in selection.pick(self.containers)]


class _Listener:
    def __init__(self, selection: Selection) -> None:
        self.selection = selection
        self._latest: Snapshot | Exception | None = None
        self._ready = asyncio.Event()

    def offer(self, item: Snapshot | Exception) -> None:
        self._latest = item  # an unread older tick is replaced
        self._ready.set()

    async def next(self) -> Snapshot:
        await self._ready.wait()
        self._ready.clear()
        item, self._latest = self._latest, None
        if isinstance(item, Exception):
            raise item
        assert item is not None
        return item


class Sampler:
    def __init__(
        self, list_containers: Callable[[], Awaitable[list[Container]]], runroot: Path,
        interval: float,
    ) -> None:  # fmt: skip
        self.interval = interval
        self._list = list_containers
        self._reader = Reader(runroot)
        self._listeners: set[_Listener] = set()
        self._task: asyncio.Task[None] | None = None

    async def listen(self, selection: Selection) -> AsyncIterator[Snapshot]:
        """A snapshot per tick, with ``selection``'s readings, until the caller stops
        iterating (close it: aclosing)."""
        listener = _Listener(selection)
        self._listeners.add(listener)
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        try:
            while True:
                yield await listener.next()
        finally:
            self._listeners.discard(listener)
            if not self._listeners and self._task is not None:
                self._task.cancel()
                self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            await self.tick()
            await asyncio.sleep(max(0.0, self.interval - (loop.time() - began)))

    async def tick(self) -> None:
        """List and read every wanted container once; every listener gets the snapshot."""
        listeners = list(self._listeners)
        listed_at = time.monotonic()
        try:
            containers = await self._list()
            wanted = {c.id: c for lst in listeners for c in lst.selection.pick(containers)}
            readings = await asyncio.to_thread(self._reader.read, list(wanted.values()))
        except (BerthError, OSError) as error:  # told to every listener, who may go on
            for listener in listeners:
                listener.offer(error)
            return
        snapshot = Snapshot(containers, readings, listed_at)
        for listener in listeners:
            listener.offer(snapshot)


class Reader:
    """Reads containers' stats, keeping what the next reading's rates need."""

    def __init__(self, runroot: Path) -> None:
        self._runroot = runroot
        self._layout = cgroups.detect()
        # per run of a container, (id, started_at): its cgroup and init, and last reading
        self._targets: dict[tuple[str, str | None], tuple[cgroups.Cgroup, int] | None] = {}
        self._previous: dict[tuple[str, str | None], Previous] = {}

    def read(
        self, containers: list[Container], *, over_run: bool = False
    ) -> dict[str, ContainerStats]:
        """Each container's figures; a CPU % against its last reading, else None, or with
        ``over_run`` against the baseline a single reading has (engine/stats/baseline.py)."""
        host = read_host()
        now = time.time()
        keys = {(container.id, container.started_at) for container in containers}
        # Forget containers no longer sampled (stopped, removed, restarted).
        self._targets = {key: value for key, value in self._targets.items() if key in keys}
        self._previous = {key: value for key, value in self._previous.items() if key in keys}
        result = {}
        for container in containers:
            key = (container.id, container.started_at)
            target = self._target(key, container.runtime) if container.running else None
            if target is None:
                result[container.id] = stopped_stats(container.id, container.name)
                continue
            previous = self._previous.get(key)
            run_dir = self._runroot / "containers" / container.id
            if previous is None and over_run:
                previous = baseline.load(run_dir, host, now)
            try:
                stats, self._previous[key] = container_stats(
                    container.id, container.name, *target, host, previous
                )
            except OSError:  # it stopped between the listing and the reading
                stats = stopped_stats(container.id, container.name)
            else:
                if over_run:
                    baseline.keep(run_dir, self._previous[key])
            result[container.id] = stats
        return result

    def _target(
        self, key: tuple[str, str | None], runtime: str
    ) -> tuple[cgroups.Cgroup, int] | None:
        """The run's cgroup and init, once per run: its runtime knows the init's pid."""
        if key not in self._targets:
            try:
                pid = runtimes.get(runtime, self._runroot).state(key[0])["pid"]
            except NotFoundError:  # between restarts, or its runtime is gone
                return None
            cgroup = cgroups.get(cgroups.container_path(key[0]), self._layout)
            self._targets[key] = (cgroup, pid)
        return self._targets[key]
