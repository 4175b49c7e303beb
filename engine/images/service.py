"""The images service: import, list, resolve, tag, remove and inspect images."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import shutil
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from engine.errors import AmbiguousError, ConflictError, InvalidArgumentError, NotFoundError
from engine.images.compression import decompressed
from engine.images.config import apply_changes, image_config, image_id, serialize
from engine.images.layers import LayerStore
from engine.images.reference import parse_reference
from engine.images.starter import STARTER_CONFIG, STARTER_REFERENCE, starter_layer
from engine.paths import EnginePaths
from engine.state import Database
from engine.timestamps import format_ns, now


@dataclass(frozen=True)
class Image:
    id: str  # sha256:<hex>
    config: dict[str, Any]  # the OCI image config
    layers: tuple[str, ...]  # diffIDs, base first
    tags: tuple[str, ...]
    created: str
    size: int

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


class ImageService:
    def __init__(self, paths: EnginePaths, db: Database) -> None:
        self._paths = paths
        self._db = db
        self._layers = LayerStore(paths)

    # -- making images -----------------------------------------------------------

    async def import_(
        self, source: str | Path | BinaryIO, reference: str | None = None, *,
        changes: Sequence[str] = (), message: str | None = None,
    ) -> Image:  # fmt: skip
        """An image from a root file system tarball (plain, gzip, bzip2 or xz); "-" is stdin."""
        tag = str(parse_reference(reference)) if reference else None
        config = apply_changes({}, changes)
        name = "-" if source == "-" else str(getattr(source, "name", source))
        comment = message or f"Imported from {name}"
        return await asyncio.to_thread(self._import, source, name, tag, config, comment)

    def _import(
        self, source: str | Path | BinaryIO, name: str, tag: str | None,
        config: dict[str, Any], comment: str,
    ) -> Image:  # fmt: skip
        with _open_source(source, name) as stream:
            layer_id, size, scratch = self._layers.extract(decompressed(stream, name))
        created = now()
        history = [{"created": created, "created_by": "", "comment": comment}]
        return self._commit(
            layer_id, size, scratch, image_config(config, [layer_id], history, created), tag
        )

    async def create_starter(
        self, reference: str = STARTER_REFERENCE, busybox: Path = Path("/bin/busybox")
    ) -> Image:
        """busybox:latest from the host's static busybox, offline; the same binary, the same id."""
        tag = str(parse_reference(reference))
        return await asyncio.to_thread(self._create_starter, tag, busybox)

    def _create_starter(self, tag: str, busybox: Path) -> Image:
        layer_id, size, scratch = self._layers.extract(io.BytesIO(starter_layer(busybox)))
        created = format_ns(int(busybox.stat().st_mtime) * 1_000_000_000)
        history = [{"created": created, "created_by": f"berth starter (from {busybox})"}]
        config = image_config(dict(STARTER_CONFIG), [layer_id], history, created)
        return self._commit(layer_id, size, scratch, config, tag)

    def _commit(
        self, layer_id: str, size: int, scratch: Path, config: dict[str, Any], tag: str | None
    ) -> Image:
        raw = serialize(config)
        new_id = image_id(raw)
        try:
            with self._db.write() as tx:
                self._layers.register(tx, layer_id, size, scratch)
                inserted = tx.execute(
                    "INSERT OR IGNORE INTO images (id, config, created) VALUES (?, ?, ?)",
                    (new_id, raw, config["created"]),
                ).rowcount
                if inserted:
                    tx.execute(
                        "INSERT INTO image_layers (image_id, position, layer_id) VALUES (?, 0, ?)",
                        (new_id, layer_id),
                    )
                if tag:
                    tx.execute("INSERT OR REPLACE INTO tags (name, image_id) VALUES (?, ?)",
                               (tag, new_id))  # fmt: skip
        finally:
            if scratch.exists():  # not moved in: a rollback, or the layer was already there
                shutil.rmtree(scratch, ignore_errors=True)
        return self.get_by_id(new_id)

    # -- finding images ----------------------------------------------------------

    async def list(self) -> list[ImageSummary]:
        """Every image, newest first, dangling ones (no tags) included."""
        return await asyncio.to_thread(self._list)

    def _list(self) -> list[ImageSummary]:
        tags = self._tags_by_image()
        counts = self._db.query("SELECT image_id, COUNT(*) AS n FROM containers GROUP BY image_id")
        users = {row["image_id"]: row["n"] for row in counts}
        rows = self._db.query(
            "SELECT i.id, i.created, COALESCE(SUM(l.size), 0) AS size FROM images i"
            " LEFT JOIN image_layers il ON il.image_id = i.id"
            " LEFT JOIN layers l ON l.id = il.layer_id GROUP BY i.id ORDER BY i.created DESC"
        )
        return [
            ImageSummary(
                row["id"],
                sorted(tags.get(row["id"], [])),
                row["created"],
                row["size"],
                users.get(row["id"], 0),
            )
            for row in rows
        ]

    def _tags_by_image(self) -> dict[str, list[str]]:
        tags: dict[str, list[str]] = {}
        for row in self._db.query("SELECT name, image_id FROM tags"):
            tags.setdefault(row["image_id"], []).append(row["name"])
        return tags

    async def resolve(self, ref: str) -> Image:
        """The image ``ref`` names: repository[:tag], a full id, or a unique id prefix."""
        return await asyncio.to_thread(self._resolve, ref)

    def _resolve(self, ref: str) -> Image:
        return self.get_by_id(self._resolve_id(ref)[0])

    def _resolve_id(self, ref: str) -> tuple[str, str | None]:
        """The image id for ``ref``, and the tag if ``ref`` named one."""
        hex_part = ref.removeprefix("sha256:")
        if hex_part and all(c in "0123456789abcdef" for c in hex_part):
            rows = self._db.query(
                "SELECT id FROM images WHERE id >= ? AND id < ?",
                (f"sha256:{hex_part}", f"sha256:{hex_part}g"),
            )
            if len(rows) > 1:
                raise AmbiguousError(
                    f'image id prefix "{ref}" matches {len(rows)} images: give more characters'
                )
            if rows:
                return rows[0]["id"], None
        try:
            tag = str(parse_reference(ref))
        except InvalidArgumentError:
            tag = None
        rows = self._db.query("SELECT image_id FROM tags WHERE name = ?", (tag,)) if tag else []
        if not rows:
            raise NotFoundError(f'no such image: "{ref}" (see berth images)')
        return rows[0]["image_id"], tag

    def get_by_id(self, image_id: str) -> Image:
        rows = self._db.query("SELECT * FROM images WHERE id = ?", (image_id,))
        if not rows:
            raise NotFoundError(f'no such image: "{image_id}" (see berth images)')
        layers = self._db.query(
            "SELECT il.layer_id, l.size FROM image_layers il JOIN layers l ON l.id = il.layer_id"
            " WHERE il.image_id = ? ORDER BY il.position",
            (image_id,),
        )
        tags = self._db.query("SELECT name FROM tags WHERE image_id = ? ORDER BY name", (image_id,))
        return Image(
            id=image_id,
            config=json.loads(rows[0]["config"]),
            layers=tuple(row["layer_id"] for row in layers),
            tags=tuple(row["name"] for row in tags),
            created=rows[0]["created"],
            size=sum(row["size"] for row in layers),
        )

    def layer_paths(self, image: Image) -> list[Path]:
        """The layers' directories, base first (overlay lower dirs, reversed)."""
        return [self._layers.diff_path(layer) for layer in image.layers]

    def short_links(self, image: Image) -> list[str]:
        return [self._layers.short_link(layer) for layer in image.layers]

    # -- names and removal ---------------------------------------------------------

    async def tag(self, source: str, target: str) -> Image:
        image = await self.resolve(source)
        name = str(parse_reference(target))
        with self._db.write() as tx:
            tx.execute(
                "INSERT OR REPLACE INTO tags (name, image_id) VALUES (?, ?)", (name, image.id)
            )
        return image

    async def remove(self, ref: str, *, force: bool = False) -> list[str]:
        """Docker's rmi: untag, then delete the image and its unshared layers; output lines."""
        return await asyncio.to_thread(self._remove, ref, force)

    def _remove(self, ref: str, force: bool) -> list[str]:
        image_id, tag = self._resolve_id(ref)
        image = self.get_by_id(image_id)
        lines: list[str] = []
        with self._db.write() as tx:
            tags = [row["name"] for row in tx.execute(
                "SELECT name FROM tags WHERE image_id = ? ORDER BY name", (image_id,))]  # fmt: skip
            if tag and len(tags) > 1:  # one of several names: only that name goes
                tx.execute("DELETE FROM tags WHERE name = ?", (tag,))
                return [f"Untagged: {tag}"]
            if len(tags) > 1 and not force:
                raise ConflictError(
                    f"unable to delete {image.short_id}: it is referenced by {len(tags)} names "
                    f"({', '.join(tags)}); remove them one by one or use rmi -f"
                )
            user = tx.execute(
                "SELECT id, name FROM containers WHERE image_id = ? LIMIT 1", (image_id,)
            ).fetchone()
            if user and not force:
                raise ConflictError(
                    f"unable to remove image {tag or image.short_id}: container "
                    f"{user['id'][:12]} ({user['name']}) uses it; remove it first (berth rm) "
                    "or use rmi -f"
                )
            tx.execute("DELETE FROM tags WHERE image_id = ?", (image_id,))
            lines += [f"Untagged: {name}" for name in tags]
            if user:  # forced while in use: the image stays, nameless, for its containers
                return lines
            orphans = self._delete_image(tx, image_id)
            lines.append(f"Deleted: {image_id}")
            lines += [f"Deleted: {layer}" for layer in orphans]
        for layer in orphans:  # files go only once no row refers to them
            self._layers.remove_files(layer)
        return lines

    def _delete_image(self, tx: sqlite3.Connection, image_id: str) -> list[str]:
        """Delete the image's rows; the layers no other image uses, whose rows also go."""
        layers = [row["layer_id"] for row in tx.execute(
            "SELECT layer_id FROM image_layers WHERE image_id = ?", (image_id,))]  # fmt: skip
        tx.execute("DELETE FROM images WHERE id = ?", (image_id,))
        orphans = [
            layer for layer in layers
            if not tx.execute("SELECT 1 FROM image_layers WHERE layer_id = ?", (layer,)).fetchone()
        ]  # fmt: skip
        tx.executemany("DELETE FROM layers WHERE id = ?", [(layer,) for layer in orphans])
        return orphans

    # -- inspect -----------------------------------------------------------------

    async def inspect(self, ref: str) -> dict[str, Any]:
        image = await self.resolve(ref)
        return self._inspect(image)

    def _inspect(self, image: Image) -> dict[str, Any]:
        config = image.config
        history = config.get("history") or [{}]
        return {
            "Id": image.id,
            "RepoTags": list(image.tags),
            "RepoDigests": [],
            "Parent": "",
            "Comment": history[-1].get("comment", ""),
            "Created": image.created,
            "Author": config.get("author", ""),
            "Config": config.get("config", {}),
            "Architecture": config.get("architecture", ""),
            "Os": config.get("os", ""),
            "Size": image.size,
            "GraphDriver": {
                "Name": "overlay",
                "Data": {"LowerDir": ":".join(str(p) for p in reversed(self.layer_paths(image)))},
            },
            "RootFS": {"Type": "layers", "Layers": list(image.layers)},
            "History": config.get("history", []),
        }


@contextlib.contextmanager
def _open_source(source: str | Path | BinaryIO, name: str) -> Iterator[BinaryIO]:
    """The import source as a binary stream; stdin for "-"."""
    if source == "-":
        yield sys.stdin.buffer
    elif not isinstance(source, (str, Path)):
        yield source
    else:
        try:
            stream = open(source, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise NotFoundError(f'no such file: "{name}"') from None
        except IsADirectoryError:
            raise InvalidArgumentError(f'"{name}" is a directory, not a tarball') from None
        with stream:
            yield stream
