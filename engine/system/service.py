"""The engine as a whole: ``system df``'s disk usage, and the prunes that free it.

The prunes go through the services that own each kind of object (their removal keeps
their rules: a running container, a network in use, an image a container uses stay),
in Docker's order: containers first, so that what they used becomes unused.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from engine.build import cache as build_cache
from engine.containers.layout import container_dirs
from engine.containers.model import Container
from engine.containers.service import ContainerService
from engine.errors import ConflictError, NotFoundError
from engine.images.model import ImageSummary
from engine.images.service import ImageService
from engine.network.service import NetworkService
from engine.paths import EnginePaths
from engine.state import Database
from engine.system.filters import PruneFilter
from engine.system.usage import (
    Category,
    ContainerUsage,
    DiskUsage,
    VolumeSpace,
    container_category,
    image_usage,
    volume_category,
)
from engine.volumes.model import VolumeUsage
from engine.volumes.service import tree_size

_NO_FILTER = PruneFilter()


class Volumes(Protocol):
    """What this service needs of the volumes service (engine.volumes)."""

    async def usage(self) -> dict[str, VolumeUsage]: ...

    async def prune(
        self, *, all: bool = False, filters: Sequence[str] = ()
    ) -> tuple[list[str], int]: ...


@dataclass(frozen=True)
class Pruned:
    removed: list[str]  # container ids
    reclaimed: int  # bytes


@dataclass(frozen=True)
class SystemPruned:
    containers: list[str]  # ids
    networks: list[str]  # names
    volumes: list[str]  # names
    images: list[str]  # "Untagged: ..." / "Deleted: ..." lines, as rmi words them
    reclaimed: int  # bytes: writable layers, volumes' files and image layers removed


class SystemService:
    def __init__(
        self, paths: EnginePaths, db: Database, images: ImageService,
        containers: ContainerService, networks: NetworkService, volumes: Volumes,
    ) -> None:  # fmt: skip
        self._paths = paths
        self._db = db
        self._images = images
        self._containers = containers
        self._networks = networks
        self._volumes = volumes

    async def disk_usage(self) -> DiskUsage:
        """What ``system df`` shows: images, containers, volumes and their rows."""
        summaries = await self._images.list()
        containers = await self._containers.list(all=True)
        volumes = await self._volumes.usage()
        return await asyncio.to_thread(self._disk_usage, summaries, containers, volumes)

    def _disk_usage(
        self, summaries: Sequence[ImageSummary], containers: Sequence[Container],
        volumes: Mapping[str, VolumeUsage],
    ) -> DiskUsage:  # fmt: skip
        images, image_row = image_usage(summaries, *self._image_layers())
        mounts = Counter(user for usage in volumes.values() for user in usage.containers)
        container_rows = [
            ContainerUsage(container, tree_size(self._upper(container.id)), mounts[container.id])
            for container in containers
        ]
        volume_rows = [
            VolumeSpace(name, len(usage.containers), usage.size)
            for name, usage in sorted(volumes.items())
        ]
        entries, cache_bytes = build_cache.usage(self._db)
        rows = [
            image_row, container_category(container_rows), volume_category(volume_rows),
            Category("Build Cache", entries, 0, cache_bytes, cache_bytes),
        ]  # fmt: skip
        return DiskUsage(images, container_rows, volume_rows, rows)

    def _image_layers(self) -> tuple[dict[str, set[str]], dict[str, int]]:
        """Each image's layer ids, and each layer's bytes, in one read."""
        layers: dict[str, set[str]] = {}
        sizes: dict[str, int] = {}
        rows = self._db.query(
            "SELECT il.image_id, l.id, l.size FROM image_layers il"
            " JOIN layers l ON l.id = il.layer_id"
        )
        for row in rows:
            layers.setdefault(row["image_id"], set()).add(row["id"])
            sizes[row["id"]] = row["size"]
        return layers, sizes

    def _upper(self, container_id: str) -> Path:
        return container_dirs(self._paths.container_dir(container_id))[0]

    # -- prune -------------------------------------------------------------------------

    async def prune_containers(self, filters: PruneFilter = _NO_FILTER) -> Pruned:
        """Docker's container prune: remove every container that is not running (created
        or exited) and that ``filters`` let through; the bytes of their writable layers."""
        removed, reclaimed = [], 0
        for container in await self._containers.list(all=True):
            # berth's containers carry no labels (run has no --label): a label= filter
            # matches none of them, a label!= one all of them
            if container.running or not filters.matches(container.created, {}):
                continue
            size = await asyncio.to_thread(tree_size, self._upper(container.id))
            try:
                await self._containers.remove(container.id)
            except (ConflictError, NotFoundError):  # started, or removed, meanwhile
                continue
            removed.append(container.id)
            reclaimed += size
        return Pruned(removed, reclaimed)

    async def prune(
        self, *, all_images: bool = False, volumes: bool = False,
        filters: PruneFilter = _NO_FILTER,
    ) -> SystemPruned:  # fmt: skip
        """Docker's system prune: stopped containers, networks no container uses, with
        ``volumes`` anonymous volumes no container uses, then dangling images (with
        ``all_images`` every image no container uses); ``filters`` restrict each."""
        if volumes:
            filters.check_volumes()
        containers = await self.prune_containers(filters)
        networks = await self._networks.prune(only=await self._matching_networks(filters))
        volume_names, volume_bytes = (
            await self._volumes.prune(filters=filters.given) if volumes else ([], 0)
        )
        only = await self._matching_images(filters)
        image_lines, image_bytes = await self._images.prune(all_unused=all_images, only=only)
        _, cache_bytes = await self.prune_build_cache()
        return SystemPruned(
            containers.removed, [network.name for network in networks], volume_names,
            image_lines, containers.reclaimed + volume_bytes + image_bytes + cache_bytes,
        )  # fmt: skip

    async def prune_build_cache(self) -> tuple[list[str], int]:
        """builder prune: every build cache entry, and the intermediate images only the
        cache kept (untagged, no container's); their ids and the bytes freed."""
        intermediate = await asyncio.to_thread(build_cache.intermediate_images, self._db)
        await asyncio.to_thread(build_cache.forget, self._db)
        _, reclaimed = await self._images.prune(all_unused=True, only=set(intermediate))
        return intermediate, reclaimed

    async def _matching_networks(self, filters: PruneFilter) -> Collection[str]:
        # networks carry no labels in berth (network create has no --label)
        return {net.id for net in await self._networks.list() if filters.matches(net.created, {})}

    async def _matching_images(self, filters: PruneFilter) -> Collection[str]:
        summaries = await self._images.list()
        return await asyncio.to_thread(self._images_matching, summaries, filters)

    def _images_matching(
        self, summaries: Sequence[ImageSummary], filters: PruneFilter
    ) -> Collection[str]:
        matching = set()
        for summary in summaries:
            try:  # the config is read only when a label decides
                config = self._images.get_by_id(summary.id).config if filters.has_labels else {}
            except NotFoundError:  # removed meanwhile
                continue
            labels = (config.get("config") or {}).get("Labels") or {}
            if filters.matches(summary.created, labels):
                matching.add(summary.id)
        return matching
