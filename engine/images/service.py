"""The images service: import, commit, list, resolve, tag, remove, inspect, history and
what the layers hold.

The public coroutines run their blocking work (extraction, SQLite) in a thread; the
``_``-prefixed sync halves do the work and run in that thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import sqlite3
import tempfile
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from engine.errors import (
    AmbiguousError,
    BerthError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
)
from engine.images.commit import write_layer
from engine.images.compression import decompressed
from engine.images.config import (
    apply_changes,
    image_config,
    image_id,
    replaced_fields,
    serialize,
)
from engine.images.layer_files import (
    LayerChange,
    LayerInfo,
    MergedEntry,
    layer_changes,
    merged_files,
)
from engine.images.layers import LayerStore, StagedLayer
from engine.images.model import Image, ImageSummary
from engine.images.progress import Operation
from engine.images.reference import HUB_DOMAIN, matches_reference, parse_reference, parse_tag
from engine.images.sources import opened, source_name
from engine.images.starter import STARTER_CONFIG, STARTER_REFERENCE, starter_layer
from engine.paths import EnginePaths
from engine.state import Database
from engine.storage import scratch, space
from engine.storage.space import reported_as_no_space
from engine.timestamps import format_ns, now

_HEX = re.compile(r"[0-9a-f]+")
_FULL_ID_LENGTH = 64
_NO_TIME = "0001-01-01T00:00:00Z"  # what Docker shows for an image config without "created"


class ImageService:
    def __init__(self, paths: EnginePaths, db: Database) -> None:
        self._paths = paths
        self._db = db
        self._layers = LayerStore(paths, db)

    @property
    def layer_store(self) -> LayerStore:
        return self._layers

    @property
    def db(self) -> Database:
        return self._db

    @property
    def paths(self) -> EnginePaths:
        return self._paths

    def raw_config(self, image_id: str) -> bytes:
        """The image's config, the exact bytes its id is the sha256 of."""
        rows = self._db.query("SELECT config FROM images WHERE id = ?", (image_id,))
        if not rows:
            raise NotFoundError(f'no such image: "{image_id}" (see berth images)')
        return bytes(rows[0]["config"])

    def collect_leftovers(self) -> None:
        """Remove what crashed or failed berth processes left: their scratch space in
        ``tmp/`` and layer directories no row names. Best effort: it runs as the engine
        opens, for every command, and must not stop one (on a full disk, say)."""
        try:
            scratch.collect(self._paths.tmp)
            self._layers.collect_orphans()
        except (OSError, sqlite3.Error, BerthError):
            pass  # what is left now is collected by a later command

    # -- making images -----------------------------------------------------------

    async def import_(
        self, source: str | Path | BinaryIO, reference: str | None = None, *,
        changes: Sequence[str] = (), message: str | None = None,
    ) -> Image:  # fmt: skip
        """An image from a root file system tarball: plain, gzip, bzip2 or xz, told apart by
        content. ``source`` is a path, a binary stream (need not seek), or "-" for stdin.
        The image has no Cmd unless ``changes`` sets one, as with docker import.
        """
        tag = str(parse_tag(reference)) if reference else None
        config = apply_changes({}, changes)
        name = source_name(source)
        comment = message or f"Imported from {name}"
        return await asyncio.to_thread(self._import, source, name, tag, config, comment)

    def _import(
        self, source: str | Path | BinaryIO, name: str, tag: str | None,
        config: dict[str, Any], comment: str,
    ) -> Image:  # fmt: skip
        if name.startswith(("http://", "https://")):
            raise InvalidArgumentError(
                f'berth cannot import from a URL ("{name}"): download the file, then import it'
            )
        with opened(source, name, "a tarball") as stream:
            staged = self._layers.stage(decompressed(stream, name))
        created = now()
        history = [{"created": created, "created_by": "", "comment": comment}]
        return self._store(staged, image_config(config, [staged.id], history, created), tag)

    async def create_starter(
        self, reference: str = STARTER_REFERENCE, busybox: Path = Path("/bin/busybox")
    ) -> Image:
        """busybox:latest from the host's static busybox, offline; the same binary, the same id.

        Running it again only re-tags. Raises NotFoundError or UnsupportedError, naming
        busybox-static, when the binary is missing or dynamically linked.
        """
        tag = str(parse_tag(reference))
        return await asyncio.to_thread(self._create_starter, tag, busybox)

    def _create_starter(self, tag: str, busybox: Path) -> Image:
        staged = self._layers.stage(io.BytesIO(starter_layer(busybox)))
        created = format_ns(int(busybox.stat().st_mtime) * 1_000_000_000)
        history = [{"created": created, "created_by": f"berth starter (from {busybox})"}]
        config = image_config(dict(STARTER_CONFIG), [staged.id], history, created)
        return self._store(staged, config, tag)

    async def commit(
        self, base: str, upper: Path, reference: str | None = None, *,
        fields: Mapping[str, Any] | None = None, changes: Sequence[str] = (),
        message: str = "", author: str = "", created_by: str = "",
        mount_points: Collection[str] = (), adopt: bool = False,
    ) -> Image:  # fmt: skip
        """A new image: the image with id ``base`` plus one layer of the overlay upper
        directory ``upper`` (a container's changes), as docker commit makes it.

        The config is the base image's with ``fields`` (a container's own Cmd, Env...)
        in place of its own, None removing one, then ``changes`` applied. The new history
        step has ``created_by``, ``message`` as its comment and ``author``. ``mount_points``
        (relative paths) are what the engine mounted over the root file system: see
        commit.write_layer. An upper directory without changes adds no layer, only an
        empty_layer history step, as in Docker. Nothing is stored when this fails.
        ``adopt``: ``upper`` (no longer mounted, nothing engine-made in it) becomes the
        layer's directory itself, moved in rather than copied (a build step's files).
        """
        tag = str(parse_tag(reference)) if reference else None
        image = await asyncio.to_thread(self.get_by_id, base)
        config = apply_changes(
            replaced_fields(image.config.get("config", {}), fields or {}), changes, command="commit"
        )
        step = {"created": now(), "created_by": created_by}
        step.update(
            {key: value for key, value in (("comment", message), ("author", author)) if value}
        )
        return await asyncio.to_thread(
            self._commit_upper, image, upper, config, step, tag, mount_points, adopt
        )

    def _commit_upper(
        self, base: Image, upper: Path, config: dict[str, Any], step: dict[str, Any],
        tag: str | None, mount_points: Collection[str], adopt: bool = False,
    ) -> Image:  # fmt: skip
        # O_TMPFILE: a crash leaves no name behind in tmp/.
        with (
            reported_as_no_space(self._paths.root),
            tempfile.TemporaryFile(dir=self._paths.tmp) as tar,
        ):
            lowers = self.layer_paths(base)
            count = write_layer(upper, tar, mount_points=mount_points, lowers=lowers)
            tar.seek(0)
            if not count:
                staged = None
            elif adopt:
                staged = self._layers.adopt(upper, tar)
            else:
                staged = self._layers.stage(tar)
        layers = [*base.layers, *([staged.id] if staged else [])]
        # Docker's commit of an unchanged container: a history step, no layer.
        history = [
            *base.config.get("history", []),
            step if staged else {**step, "empty_layer": True},
        ]
        full = image_config(config, layers, history, step["created"])
        if "author" in step:
            full["author"] = step["author"]
        return self._store(staged, full, tag)

    def _store(self, staged: StagedLayer | None, config: dict[str, Any], tag: str | None) -> Image:
        """Store the new layer (if any, the config's last), the image and its tag."""
        return self.register([staged] if staged else [], serialize(config), [tag] if tag else [])

    def register(
        self, staged: Sequence[StagedLayer], raw: bytes, tags: Sequence[str] = (),
        record: Callable[[sqlite3.Connection, str], None] | None = None,
    ) -> Image:  # fmt: skip
        """Store the image whose config is the bytes ``raw``, the ``staged`` layers it
        adds, its ``tags`` (normalized names) and what ``record(tx, image_id)`` writes, in
        one transaction; the staged layers are discarded whatever happens."""
        config = json.loads(raw)
        new_id = image_id(raw)
        layers = config["rootfs"]["diff_ids"]
        try:
            self._layers.persist(staged)  # outside the lock: others need not wait for the disk
            with self._db.write() as tx:
                added = {layer.id for layer in staged}
                _check_layers(tx, [layer for layer in layers if layer not in added])
                for layer in staged:
                    self._layers.register(tx, layer)
                inserted = tx.execute(
                    "INSERT OR IGNORE INTO images (id, config, created) VALUES (?, ?, ?)",
                    (new_id, raw, config.get("created") or _NO_TIME),
                ).rowcount
                if inserted:
                    tx.executemany(
                        "INSERT INTO image_layers (image_id, position, layer_id) VALUES (?, ?, ?)",
                        [(new_id, position, layer) for position, layer in enumerate(layers)],
                    )
                tx.executemany("INSERT OR REPLACE INTO tags (name, image_id) VALUES (?, ?)",
                               [(tag, new_id) for tag in tags])  # fmt: skip
                if record:
                    record(tx, new_id)
        finally:
            for layer in staged:
                self._layers.discard(layer)
        return self.get_by_id(new_id)

    def has_layer(self, layer_id: str) -> bool:
        return bool(self._db.query("SELECT 1 FROM layers WHERE id = ?", (layer_id,)))

    # -- registries -------------------------------------------------------------------

    def pull(
        self, reference: str, *, platform: str | None = None, all_tags: bool = False,
        tls_verify: bool | None = None, cert_dir: str | None = None,
    ) -> Operation[Image]:  # fmt: skip
        """Docker's pull, as an Operation: iterate it for its Progress, then await its
        result, the image (the last tag's, with ``all_tags``).

        ``tls_verify`` False allows an unverified or plain HTTP registry (None: as
        /etc/berth/registries.conf says); ``cert_dir`` replaces certs.d for its CAs. A bad
        reference or platform raises InvalidArgumentError here; what the registry says
        (NotFoundError for an unknown manifest, RegistryError, IntegrityError for damaged
        content) comes from the iteration. Nothing is stored unless all of the image
        arrived intact.
        """
        parsed = parse_reference(reference)
        if all_tags and (parsed.digest or ":" in reference.rsplit("/", 1)[-1]):
            raise InvalidArgumentError(
                f'pull --all-tags takes a repository without a tag or digest, not "{reference}"'
            )
        from engine.images import pull  # lazily: urllib3 and ssl cost other commands ~40 ms

        wanted = pull.platform(platform)
        options = pull.TransportOptions(tls_verify, Path(cert_dir) if cert_dir else None)
        return Operation(lambda report: pull.pull(self, parsed, wanted, all_tags, options, report))

    def push(
        self, reference: str, *, tls_verify: bool | None = None, cert_dir: str | None = None
    ) -> Operation[str]:
        """Docker's push of the image named ``reference`` (a tag: its repository names
        the registry), as an Operation whose result is the manifest's digest. Blobs the
        registry has are skipped, mounted from another of its repositories where known,
        else uploaded (compressed as they stream)."""
        parsed = parse_tag(reference)
        from engine.images import push  # lazily, as pull

        options = push.TransportOptions(tls_verify, Path(cert_dir) if cert_dir else None)
        return Operation(lambda report: push.push(self, parsed, options, report))

    async def login(
        self, server: str, username: str, password: str, *,
        tls_verify: bool | None = None, cert_dir: str | None = None,
    ) -> Path:  # fmt: skip
        """Check the credentials with the registry ``server`` (host[:port]; Docker Hub if
        empty), then store them where Docker does; returns where (config.json, or the
        credential helper's path)."""
        from engine.images import push  # lazily, as pull

        options = push.TransportOptions(tls_verify, Path(cert_dir) if cert_dir else None)
        return await asyncio.to_thread(push.login, server, username, password, options)

    async def logout(self, server: str) -> bool:
        """Forget the credentials for ``server``; False if there were none."""
        from engine.registry import credentials

        return await asyncio.to_thread(credentials.erase, server or HUB_DOMAIN)

    async def save(self, references: Sequence[str], destination: str | Path | BinaryIO) -> None:
        """Docker's save: the images as a docker-archive tar (with an OCI layout inside,
        as current Docker writes), to a path or a binary stream."""
        from engine.images import archive

        await asyncio.to_thread(archive.save, self, references, destination)

    def load(self, source: str | Path | BinaryIO) -> Operation[list[str]]:
        """Docker's load of a docker-archive or OCI layout archive (gzip or plain), as an
        Operation whose result is the "Loaded image: ..." names (ids where untagged)."""
        from engine.images import archive

        return Operation(lambda report: archive.load(self, source, report))

    # -- finding images ----------------------------------------------------------

    async def list(
        self, *, dangling: bool | None = None, references: Sequence[str] = (),
        intermediate: bool = False,
    ) -> list[ImageSummary]:  # fmt: skip
        """Every image, newest first, dangling ones (no tags) included; Docker's filters:
        ``dangling`` keeps only untagged (True) or tagged (False) images, ``references``
        (globs: ``busybox``, ``*/app:v*``) only images with a name one of them matches.
        A build's intermediate images (untagged, a later cached step built on them) are
        left out unless ``intermediate`` (images -a)."""
        return await asyncio.to_thread(self._list, dangling, references, intermediate)

    def _list(self, dangling: bool | None, references: Sequence[str],
              intermediate: bool = False) -> list[ImageSummary]:  # fmt: skip
        tags = self._names_by_image("SELECT name, image_id FROM tags")
        digests = self._names_by_image("SELECT name, image_id FROM repo_digests")
        counts = self._db.query("SELECT image_id, COUNT(*) AS n FROM containers GROUP BY image_id")
        users = {row["image_id"]: row["n"] for row in counts}
        rows = self._db.query(
            "SELECT i.id, i.created, COALESCE(SUM(l.size), 0) AS size FROM images i"
            " LEFT JOIN image_layers il ON il.image_id = i.id"
            " LEFT JOIN layers l ON l.id = il.layer_id GROUP BY i.id ORDER BY i.created DESC"
        )
        summaries = [
            ImageSummary(
                row["id"],
                sorted(tags.get(row["id"], [])),
                row["created"],
                row["size"],
                users.get(row["id"], 0),
                sorted(digests.get(row["id"], [])),
            )
            for row in rows
        ]
        parents = set() if intermediate else self._build_parents()
        return [
            summary for summary in summaries
            if (dangling is None or dangling == (not summary.repo_tags))
            and (not references or matches_reference(summary.repo_tags, references))
            and (summary.repo_tags or summary.repo_digests or summary.id not in parents)
        ]  # fmt: skip

    def _build_parents(self) -> set[str]:
        """Images a cached build step was made on: a build's intermediate ones."""
        return {row[0] for row in self._db.query("SELECT DISTINCT parent_id FROM build_cache")}

    def _names_by_image(self, query: str) -> dict[str, list[str]]:
        names: dict[str, list[str]] = {}
        for row in self._db.query(query):
            names.setdefault(row["image_id"], []).append(row["name"])
        return names

    async def resolve(self, ref: str) -> Image:
        """The image ``ref`` names: repository[:tag], a full id, or a unique id prefix.

        A name wins over an id prefix that happens to spell it, as in Docker. Raises
        NotFoundError, or AmbiguousError for a prefix of several ids.
        """
        return await asyncio.to_thread(self._resolve, ref)

    def _resolve(self, ref: str) -> Image:
        return self.get_by_id(self._resolve_id(ref)[0])

    def find(self, ref: str) -> Image:
        """The sync half of :meth:`resolve`, for work already in a thread."""
        return self._resolve(ref)

    def _resolve_id(self, ref: str) -> tuple[str, str | None]:
        """The image id for ``ref``, and the tag if ``ref`` named one."""
        if "@" in ref:  # repository@sha256:<hex>: what it was pulled or pushed as
            name = str(parse_reference(ref).with_digest(ref.rsplit("@", 1)[1]))
            rows = self._db.query("SELECT image_id FROM repo_digests WHERE name = ?", (name,))
            if rows:
                return rows[0]["image_id"], name
            raise NotFoundError(f'no such image: "{ref}" (see berth images --digests)')
        hex_part = ref.removeprefix("sha256:")
        is_hex = bool(_HEX.fullmatch(hex_part))
        if not is_hex or (len(hex_part) < _FULL_ID_LENGTH and hex_part == ref):
            with contextlib.suppress(InvalidArgumentError):
                tag = str(parse_reference(ref))
                rows = self._db.query("SELECT image_id FROM tags WHERE name = ?", (tag,))
                if rows:
                    return rows[0]["image_id"], tag
        if is_hex:
            rows = self._db.query(
                "SELECT id FROM images WHERE id >= ? AND id < ?",
                (f"sha256:{hex_part}", f"sha256:{hex_part}g"),  # every id that starts so
            )
            if len(rows) > 1:
                raise AmbiguousError(
                    f'image id prefix "{ref}" matches {len(rows)} images: give more characters'
                )
            if rows:
                return rows[0]["id"], None
        raise NotFoundError(f'no such image: "{ref}" (see berth images)')

    def get_by_id(self, image_id: str) -> Image:
        """The image with this full ``sha256:<hex>`` id; NotFoundError if it is gone."""
        rows = self._db.query("SELECT * FROM images WHERE id = ?", (image_id,))
        if not rows:
            raise NotFoundError(f'no such image: "{image_id}" (see berth images)')
        layers = self._layer_rows(image_id)
        tags = self._db.query("SELECT name FROM tags WHERE image_id = ? ORDER BY name", (image_id,))
        digests = self._db.query(
            "SELECT name FROM repo_digests WHERE image_id = ? ORDER BY name", (image_id,)
        )
        return Image(
            id=image_id,
            config=json.loads(rows[0]["config"]),
            layers=tuple(row["layer_id"] for row in layers),
            tags=tuple(row["name"] for row in tags),
            created=rows[0]["created"],
            size=sum(row["size"] for row in layers),
            digests=tuple(row["name"] for row in digests),
        )

    def _layer_rows(self, image_id: str) -> list[sqlite3.Row]:
        return self._db.query(
            "SELECT il.layer_id, l.size FROM image_layers il JOIN layers l ON l.id = il.layer_id"
            " WHERE il.image_id = ? ORDER BY il.position",
            (image_id,),
        )

    def layer_paths(self, image: Image) -> list[Path]:
        """The layers' diff directories, base first (overlay's lowerdir lists them reversed)."""
        return [self._layers.diff_path(layer) for layer in image.layers]

    def short_links(self, image: Image) -> list[str]:
        """Names in ``paths.links`` of the layers' diff directories, base first."""
        return [self._layers.short_link(layer) for layer in image.layers]

    # -- names and removal ---------------------------------------------------------

    async def tag(self, source: str, target: str) -> Image:
        """Give the image ``source`` names the name ``target``, moving it if taken."""
        name = str(parse_tag(target))
        return await asyncio.to_thread(self._tag, source, name)

    def _tag(self, source: str, name: str) -> Image:
        with self._db.write() as tx:
            image_id, _ = self._resolve_id(source)
            tx.execute(
                "INSERT OR REPLACE INTO tags (name, image_id) VALUES (?, ?)", (name, image_id)
            )
        return self.get_by_id(image_id)

    async def remove(self, ref: str, *, force: bool = False) -> list[str]:
        """Docker's rmi; returns its output lines ("Untagged: ...", "Deleted: ...").

        A name of an image with several names only untags. Deleting needs ``force`` when
        the image has several names; a container using it refuses unless ``force``, which
        then only untags, leaving the image for the container. Layers no other image uses
        go with the image: their rows in the transaction, their files after it.
        """
        return await asyncio.to_thread(
            space.freeing, self._paths.root, lambda: self._remove(ref, force)
        )

    def _remove(self, ref: str, force: bool) -> list[str]:
        with self._db.write() as tx:  # resolved under the lock: no one changes it meanwhile
            image_id, name = self._resolve_id(ref)
            tags = _names(tx, "tags", image_id)
            digests = _names(tx, "repo_digests", image_id)
            if name in digests and len(tags) + len(digests) > 1:  # as in Docker: only it goes
                tx.execute("DELETE FROM repo_digests WHERE name = ?", (name,))
                return [f"Untagged: {name}"]
            if name in tags and len(tags) > 1:  # one of several names: only that name goes
                tx.execute("DELETE FROM tags WHERE name = ?", (name,))
                return [f"Untagged: {name}"]
            self._check_removable(tx, image_id, name, tags, force)
            lines, orphans = self._delete_names_and_image(tx, image_id)
        return self._finish_removal(image_id, lines, orphans)

    def _delete_names_and_image(
        self, tx: sqlite3.Connection, image_id: str
    ) -> tuple[list[str], list[str] | None]:
        """Delete the image's names and, unless a container uses it, its rows: the
        "Untagged:" lines and the layers left orphaned (None if the image stays)."""
        names = sorted(_names(tx, "tags", image_id) + _names(tx, "repo_digests", image_id))
        tx.execute("DELETE FROM tags WHERE image_id = ?", (image_id,))
        tx.execute("DELETE FROM repo_digests WHERE image_id = ?", (image_id,))
        lines = [f"Untagged: {name}" for name in names]
        if self._user(tx, image_id):  # forced while in use: the image stays, nameless
            return lines, None
        return lines, self._delete_image(tx, image_id)

    def _finish_removal(
        self, image_id: str, lines: list[str], orphans: list[str] | None
    ) -> list[str]:
        if orphans is None:
            return lines
        for layer in orphans:  # files go only once no row refers to them
            self._layers.remove_files(layer)
        return [*lines, f"Deleted: {image_id}", *(f"Deleted: {layer}" for layer in orphans)]

    async def prune(
        self, *, all_unused: bool = False, only: Collection[str] | None = None
    ) -> tuple[list[str], int]:
        """Docker's image prune: remove dangling images (no tag) no container uses, or
        with ``all_unused`` every image no container uses; of the ids in ``only`` alone if
        given (what a prune's --filter let through). Returns the "Untagged:" / "Deleted:"
        lines and the bytes of the layers deleted."""
        return await asyncio.to_thread(
            space.freeing, self._paths.root, lambda: self._prune(all_unused, only)
        )

    def _prune(self, all_unused: bool, only: Collection[str] | None) -> tuple[list[str], int]:
        sizes = {row["id"]: row["size"] for row in self._db.query("SELECT id, size FROM layers")}
        lines: list[str] = []
        reclaimed = 0
        for summary in self._list(None if all_unused else True, (), all_unused):
            if only is not None and summary.id not in only:
                continue
            with self._db.write() as tx:  # checked again under the lock
                tagged = tx.execute(
                    "SELECT 1 FROM tags WHERE image_id = ?", (summary.id,)
                ).fetchone()
                if self._user(tx, summary.id) or (tagged and not all_unused):
                    continue
                removed, orphans = self._delete_names_and_image(tx, summary.id)
            lines += self._finish_removal(summary.id, removed, orphans)
            reclaimed += sum(sizes.get(layer, 0) for layer in orphans or ())
        return lines, reclaimed

    def _check_removable(
        self, tx: sqlite3.Connection, image_id: str, tag: str | None, tags: list[str], force: bool
    ) -> None:
        if force:
            return
        short = image_id.removeprefix("sha256:")[:12]
        if len(tags) > 1:
            raise ConflictError(
                f"unable to delete image {short}: it has {len(tags)} names ({', '.join(tags)}); "
                "remove them one by one or use rmi -f"
            )
        user = self._user(tx, image_id)
        if user:
            named = f"{tag} ({short})" if tag else short
            raise ConflictError(
                f"unable to remove image {named}: container {user['id'][:12]} ({user['name']}) "
                "is using it; remove it first (berth rm) or use rmi -f"
            )

    @staticmethod
    def _user(tx: sqlite3.Connection, image_id: str) -> sqlite3.Row | None:
        return tx.execute(
            "SELECT id, name FROM containers WHERE image_id = ? LIMIT 1", (image_id,)
        ).fetchone()

    @staticmethod
    def _delete_image(tx: sqlite3.Connection, image_id: str) -> list[str]:
        """Delete the image's rows, and those of its layers no other image uses; those."""
        layers = [row["layer_id"] for row in tx.execute(
            "SELECT layer_id FROM image_layers WHERE image_id = ?", (image_id,))]  # fmt: skip
        tx.execute("DELETE FROM images WHERE id = ?", (image_id,))
        orphans = [
            layer for layer in layers
            if not tx.execute("SELECT 1 FROM image_layers WHERE layer_id = ?", (layer,)).fetchone()
        ]  # fmt: skip
        tx.executemany("DELETE FROM layers WHERE id = ?", [(layer,) for layer in orphans])
        return orphans

    # -- inspect and history -------------------------------------------------------

    async def inspect(self, ref: str) -> dict[str, Any]:
        """``docker image inspect``'s object for the image ``ref`` names."""
        image = await self.resolve(ref)
        return self._inspect(image)

    def _inspect(self, image: Image) -> dict[str, Any]:
        config = image.config
        history = config.get("history") or [{}]
        lower = ":".join(str(path) for path in reversed(self.layer_paths(image)))
        return {
            "Id": image.id,
            "RepoTags": list(image.tags),
            "RepoDigests": list(image.digests),
            "Parent": "",
            "Comment": history[-1].get("comment", ""),
            "Created": image.created,
            "Author": config.get("author", ""),
            "Config": config.get("config", {}),
            "Architecture": config.get("architecture", ""),
            "Os": config.get("os", ""),
            "Size": image.size,
            "GraphDriver": {"Name": "overlay", "Data": {"LowerDir": lower}},
            "RootFS": {"Type": "layers", "Layers": list(image.layers)},
            "History": config.get("history", []),
        }

    async def history(self, ref: str) -> list[dict[str, Any]]:
        """``docker history``'s rows, newest first: Id, Created, CreatedBy, Size, Comment, Tags.

        Only the newest row has an id (the image's); the others read ``<missing>``, as in
        Docker for steps whose images are not stored. Size is the row's layer's, or 0.
        """
        return await asyncio.to_thread(self._history, ref)

    def _history(self, ref: str) -> list[dict[str, Any]]:
        image = self._resolve(ref)
        sizes = iter([row["size"] for row in self._layer_rows(image.id)])
        rows = [
            {
                "Id": "<missing>",
                "Created": step.get("created", ""),
                "CreatedBy": step.get("created_by", ""),
                "Size": 0 if step.get("empty_layer") else next(sizes, 0),
                "Comment": step.get("comment", ""),
                "Tags": [],
            }
            for step in image.config.get("history", [])
        ]
        rows.reverse()
        if rows:
            rows[0].update(Id=image.id, Tags=list(image.tags))
        return rows

    # -- what the layers hold ------------------------------------------------------

    async def layers(self, ref: str) -> list[LayerInfo]:
        """The image's layers, base first, each with the history step that made it."""
        return await asyncio.to_thread(self._layer_infos, ref)

    def _layer_infos(self, ref: str) -> list[LayerInfo]:
        image = self._resolve(ref)
        rows = self._layer_rows(image.id)
        steps = _pair_history(image.config.get("history", []), len(rows))
        return [
            LayerInfo(
                index,
                row["layer_id"],
                row["size"],
                step.get("created", ""),
                step.get("created_by", ""),
                step.get("comment", ""),
            )
            for index, (row, step) in enumerate(zip(rows, steps, strict=True))
        ]

    async def layer_changes(self, ref: str, index: int) -> list[LayerChange]:
        """What layer ``index`` (0 = base) of the image adds, modifies and deletes, by path.

        Raises NotFoundError for an index the image does not have.
        """
        return await asyncio.to_thread(self._layer_changes, ref, index)

    def _layer_changes(self, ref: str, index: int) -> list[LayerChange]:
        image = self._resolve(ref)
        if not 0 <= index < len(image.layers):
            raise NotFoundError(
                f"image {image.short_id} has no layer {index}: its layers are "
                f"0 (the base) to {len(image.layers) - 1} (see berth history)"
            )
        return layer_changes(self.layer_paths(image), index)

    async def merged_files(self, ref: str) -> list[MergedEntry]:
        """Every path a container of the image sees, by path, with the layer it comes from."""
        return await asyncio.to_thread(self._merged_files, ref)

    def _merged_files(self, ref: str) -> list[MergedEntry]:
        return merged_files(self.layer_paths(self._resolve(ref)))


def _check_layers(tx: sqlite3.Connection, layers: Sequence[str]) -> None:
    """A new image may only name layers the store still has (an rmi may have run since)."""
    for layer in layers:
        if not tx.execute("SELECT 1 FROM layers WHERE id = ?", (layer,)).fetchone():
            short = layer.removeprefix("sha256:")[:12]
            raise ConflictError(
                f"layer {short} of the image was removed meanwhile (an rmi): try again"
            )


def _names(tx: sqlite3.Connection, table: str, image_id: str) -> list[str]:
    """The image's names in ``table`` (tags or repo_digests), sorted."""
    query = f"SELECT name FROM {table} WHERE image_id = ? ORDER BY name"
    return [row["name"] for row in tx.execute(query, (image_id,))]


def _pair_history(history: Sequence[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The history step that made each of ``count`` layers, base first ({} where none did),
    skipping empty_layer steps as docker history does."""
    steps = [step for step in history if not step.get("empty_layer")]
    return [steps[index] if index < len(steps) else {} for index in range(count)]
