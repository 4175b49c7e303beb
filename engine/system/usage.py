"""Disk usage as ``docker system df`` counts it: the arithmetic over what the services list.

Every number is bytes as Docker's daemon counts them: a layer's regular files (the
layers table), a container's writable layer (its upper directory) and a volume's files
as Docker sizes a directory (engine.volumes.service.tree_size). An image's layers shared
with another image are counted once in the totals; what an image has alone is its unique
size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from engine.containers.model import Container
from engine.images.model import ImageSummary


@dataclass(frozen=True)
class Category:
    """One row of ``system df``: how many, how many in use, their bytes, and the bytes
    that removing the unused ones would free."""

    kind: str  # "Images", "Containers", "Local Volumes", "Build Cache"
    total: int
    active: int
    size: int
    reclaimable: int


@dataclass(frozen=True)
class ImageUsage:
    summary: ImageSummary
    size: int  # bytes of its layers, each once
    shared_size: int  # bytes of those of its layers another image has too

    @property
    def unique_size(self) -> int:
        return self.size - self.shared_size


@dataclass(frozen=True)
class ContainerUsage:
    container: Container
    size: int  # bytes of its writable layer (Docker's SizeRw)
    local_volumes: int  # volumes it mounts


@dataclass(frozen=True)
class VolumeSpace:
    name: str
    links: int  # containers that mount it, running or not
    size: int  # bytes of its files; -1 when not measurable


@dataclass(frozen=True)
class DiskUsage:
    images: list[ImageUsage]
    containers: list[ContainerUsage]
    volumes: list[VolumeSpace]
    categories: list[Category]  # Images, Containers, Local Volumes, Build Cache

    def category(self, kind: str) -> Category:
        """The row of ``kind`` ("Images", "Containers", "Local Volumes", "Build Cache")."""
        return next(row for row in self.categories if row.kind == kind)


def image_usage(
    summaries: Sequence[ImageSummary],
    layers: Mapping[str, Collection[str]],
    sizes: Mapping[str, int],
) -> tuple[list[ImageUsage], Category]:
    """Each image's size, shared and unique size, and the Images row.

    ``layers`` maps an image id to its layer ids, ``sizes`` a layer id to its bytes. An
    image is active while a container uses it; what is reclaimable is what removing
    every image no container uses would free: the layers no used image has.
    """
    users = Counter(layer for summary in summaries for layer in set(layers.get(summary.id, ())))
    rows = []
    for summary in summaries:
        own = set(layers.get(summary.id, ()))
        shared = sum(sizes.get(layer, 0) for layer in own if users[layer] > 1)
        rows.append(ImageUsage(summary, _bytes(own, sizes), shared))
    active = [summary for summary in summaries if summary.containers]
    kept = {layer for summary in active for layer in layers.get(summary.id, ())}
    total = _bytes(users, sizes)
    category = Category("Images", len(summaries), len(active), total, total - _bytes(kept, sizes))
    return rows, category


def container_category(containers: Sequence[ContainerUsage]) -> Category:
    """The Containers row: active ones run (or are paused, or restarting); the others'
    writable layers are reclaimable."""
    active = [usage for usage in containers if usage.container.running]
    size = sum(usage.size for usage in containers)
    idle = size - sum(usage.size for usage in active)
    return Category("Containers", len(containers), len(active), size, idle)


def volume_category(volumes: Sequence[VolumeSpace]) -> Category:
    """The Local Volumes row: active ones are mounted by a container, running or not; the
    others' bytes are reclaimable. A volume that cannot be measured adds nothing."""
    measured = [volume for volume in volumes if volume.size >= 0]
    return Category(
        "Local Volumes",
        len(volumes),
        sum(1 for volume in volumes if volume.links),
        sum(volume.size for volume in measured),
        sum(volume.size for volume in measured if not volume.links),
    )


def _bytes(layers: Iterable[str], sizes: Mapping[str, int]) -> int:
    return sum(sizes.get(layer, 0) for layer in layers)
