"""Live resource usage of containers: Docker's ``stats`` figures, sampled once per tick."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from engine.containers.service import ContainerService
from engine.stats.reading import ContainerStats
from engine.stats.sampler import Reader, Sampler, Selection, Snapshot, Tick

__all__ = ["ContainerStats", "Snapshot", "StatsService", "Tick"]


class StatsService:
    def __init__(self, containers: ContainerService, runroot: Path) -> None:
        self._containers = containers
        self._runroot = runroot
        self._samplers: dict[float, Sampler] = {}

    async def stream(
        self, refs: Sequence[str] = (), *, all: bool = False, interval: float = 1.0
    ) -> AsyncIterator[Tick]:
        """A list of ContainerStats per tick, every ``interval`` seconds, until closed.

        ``refs``: these containers, in this order (NotFoundError at once if one does not
        exist); none: every running container (with ``all``, every container), listed
        anew each tick. The first tick's cpu_percent is None (a rate needs two readings).
        Listeners with the same interval share one sampler, so a container is read once
        per tick however many listen. Close the iterator (``contextlib.aclosing``) when
        done; the sampler stops with its last listener.
        """
        ids = tuple([(await self._containers.get(ref)).id for ref in refs])
        selection = Selection(ids, all)
        async with contextlib.aclosing(self._listen(selection, interval)) as snapshots:
            async for snapshot in snapshots:
                yield snapshot.pick(selection)

    async def snapshot(self, refs: Sequence[str] = (), *, all: bool = False) -> Tick:
        """One reading now (``stats --no-stream``), selected as :meth:`stream` does; each
        CPU % is the container's average since it started, as podman's single reading
        is: no second reading a second later to wait for."""
        ids = tuple([(await self._containers.get(ref)).id for ref in refs])
        containers = Selection(ids, all).pick(await self._containers.list(all=True))
        reader = Reader(self._runroot)
        readings = await asyncio.to_thread(reader.read, containers, over_run=True)
        return [readings[container.id] for container in containers]

    def watch(self, *, interval: float = 1.0) -> AsyncIterator[Snapshot]:
        """Every container and the running ones' stats, per tick, from the shared sampler.

        For a view of all containers with their usage: the listing comes with the tick
        (``containers.list(all=True)``'s, made once for every listener), so the view
        needs no listing of its own. ``stats`` holds every running container's reading
        (and those other listeners asked for). Close it as ``stream``.
        """
        return self._listen(Selection(), interval)

    def _listen(self, selection: Selection, interval: float) -> AsyncIterator[Snapshot]:
        # Listeners with the same interval share one sampler: one listing and one reading
        # of each container per tick.
        sampler = self._samplers.get(interval)
        if sampler is None:
            containers = functools.partial(self._containers.list, all=True)
            sampler = Sampler(containers, self._runroot, interval)
            self._samplers[interval] = sampler
        return sampler.listen(selection)
