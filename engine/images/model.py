"""What the images service hands out (Image, ImageSummary), and what its registry and
archive operations (pull, push, save, load) need of it: ``ImageStore``, so that they
depend on this, not on the service that lazily imports them."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.images.layers import LayerStore, StagedLayer
from engine.paths import EnginePaths
from engine.state import Database


@dataclass(frozen=True)
class Image:
    id: str  # sha256:<hex>
    config: dict[str, Any]  # the OCI image config
    layers: tuple[str, ...]  # diffIDs, base first
    tags: tuple[str, ...]
    created: str
    size: int  # bytes of its layers' files
    digests: tuple[str, ...] = ()  # "repository@sha256:..." it was pulled or pushed as

    @property
    def short_id(self) -> str:
        return self.id.removeprefix("sha256:")[:12]


@dataclass(frozen=True)
class ImageSummary:
    id: str
    repo_tags: list[str]
    created: str
    size: int
    containers: int  # how many containers use it
    repo_digests: list[str] = field(default_factory=list)


class ImageStore(Protocol):
    @property
    def layer_store(self) -> LayerStore: ...

    @property
    def db(self) -> Database: ...

    @property
    def paths(self) -> EnginePaths: ...

    def raw_config(self, image_id: str) -> bytes: ...

    def get_by_id(self, image_id: str) -> Image: ...

    def find(self, ref: str) -> Image:
        """The image ``ref`` names (a tag, digest reference or id); NotFoundError if none."""
        ...

    def has_layer(self, layer_id: str) -> bool: ...

    def register(
        self, staged: Sequence[StagedLayer], raw: bytes, tags: Sequence[str] = (),
        record: Callable[[sqlite3.Connection, str], None] | None = None,
    ) -> Image:  # fmt: skip
        """Store the image whose config is ``raw``, its staged layers, its tags and what
        ``record`` writes, in one transaction (see ImageService.register)."""
        ...
