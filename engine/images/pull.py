"""Pulling an image from a registry: resolve the reference to a manifest (the host's
platform's, from an index), fetch its config, then its layers, three at a time, each
streamed from the network through decompression and hashing into its extracted files
in one pass (no temporary file). Each blob's digest and each layer's diffID is checked
as it streams; only when every one is right is anything registered, in one transaction.
A pull that fails or is cancelled leaves only scratch space, which it removes (or, if
the process died, the next berth command does).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import urllib3

from engine.errors import IntegrityError, InvalidArgumentError, NotFoundError, RegistryError
from engine.images.compression import decompressed
from engine.images.config import image_id
from engine.images.layers import LayerStore, StagedLayer
from engine.images.progress import Progress, Reporter
from engine.images.reference import Reference
from engine.registry import credentials
from engine.registry.client import CHUNK, Fetched, RegistryClient
from engine.registry.endpoint import TransportOptions
from engine.registry.manifests import (
    ACCEPTED,
    Descriptor,
    ImageManifest,
    Platform,
    choose,
    host,
    is_index,
    parse_manifest,
    parse_platform,
)

if TYPE_CHECKING:
    from engine.images.model import Image, ImageStore

PARALLEL_DOWNLOADS = 3  # as Docker
_REPORT_EVERY = 512 * 1024


@dataclass(frozen=True)
class PulledImage:
    """What a pull registers: the layers it staged, the config, and where it came from."""

    staged: list[StagedLayer]
    staged_ids: list[str]  # the short digests the progress named them by, in order
    config: bytes  # exact bytes: the image id is their sha256
    manifest: Fetched  # the image manifest (the platform's, for an index)
    repo_digest: str  # what the reference resolved to: the index's digest for one
    layers: tuple[Descriptor, ...]
    diff_ids: list[str]
    source: str  # host/repository


__all__ = ["TransportOptions", "platform", "pull"]


def platform(text: str | None) -> Platform:
    """The platform ``--platform`` names, or the host's."""
    return parse_platform(text) if text else host()


def short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


def fetch(
    client: RegistryClient, reference: Reference, platform: Platform, layers: LayerStore,
    report: Reporter, *, has_layer: Callable[[str], bool],
) -> PulledImage:  # fmt: skip
    """Fetch and stage everything ``reference`` needs that the store lacks (``has_layer``
    tells). The caller registers the result, then discards its staged layers."""
    top = client.manifest(reference.pinned, ACCEPTED)
    report(Progress("", f"{reference.digest or reference.tag}: Pulling from {reference.path}"))
    fetched = top
    if is_index(top.media_type, top.body):
        chosen = choose(top.body, platform)
        fetched = client.manifest(chosen.digest, ACCEPTED)
    manifest = parse_manifest(fetched.body, fetched.media_type)
    config = client.blob(manifest.config.digest)
    diff_ids = _diff_ids(config, manifest, reference)
    wanted = _missing(manifest, diff_ids, report, has_layer)
    staged = _fetch_layers(client, wanted, layers, report)
    return PulledImage(
        staged, [short(descriptor.digest) for descriptor, _ in wanted], config, fetched,
        top.digest, manifest.layers, diff_ids, f"{client.host}/{client.repository}",
    )  # fmt: skip


def _diff_ids(config: bytes, manifest: ImageManifest, reference: Reference) -> list[str]:
    try:
        diff_ids = json.loads(config)["rootfs"]["diff_ids"]
    except (ValueError, KeyError, TypeError):
        raise RegistryError(f"the config of {reference} has no rootfs.diff_ids") from None
    if len(diff_ids) != len(manifest.layers):
        raise RegistryError(
            f"{reference}: its manifest has {len(manifest.layers)} layers but its config "
            f"{len(diff_ids)}; the image is malformed"
        )
    return list(diff_ids)


def _missing(
    manifest: ImageManifest, diff_ids: list[str], report: Reporter,
    has_layer: Callable[[str], bool],
) -> list[tuple[Descriptor, str]]:  # fmt: skip
    """The layers to download (each diffID once), reporting those the store has."""
    wanted: dict[str, tuple[Descriptor, str]] = {}
    for descriptor, diff_id in zip(manifest.layers, diff_ids, strict=True):
        if has_layer(diff_id):
            report(Progress(short(descriptor.digest), "Already exists"))
        elif diff_id not in wanted:
            wanted[diff_id] = (descriptor, diff_id)
            report(Progress(short(descriptor.digest), "Pulling fs layer"))
    for index, (descriptor, _) in enumerate(wanted.values()):
        if index >= PARALLEL_DOWNLOADS:
            report(Progress(short(descriptor.digest), "Waiting"))
    return list(wanted.values())


def _fetch_layers(
    client: RegistryClient, wanted: list[tuple[Descriptor, str]], layers: LayerStore,
    report: Reporter,
) -> list[StagedLayer]:  # fmt: skip
    staged: list[StagedLayer] = []
    with ThreadPoolExecutor(PARALLEL_DOWNLOADS, thread_name_prefix="pull") as pool:
        futures = [
            pool.submit(_fetch_layer, client, descriptor, diff_id, layers, report)
            for descriptor, diff_id in wanted
        ]
        try:
            for future in futures:
                staged.append(future.result())
        except BaseException:
            report.cancel()  # the other downloads stop at their next chunk
            for future in futures:
                if future.exception() is None:
                    layers.discard(future.result())
            raise
    return staged


def _fetch_layer(
    client: RegistryClient, descriptor: Descriptor, diff_id: str, layers: LayerStore,
    report: Reporter,
) -> StagedLayer:  # fmt: skip
    response = client.open_blob(descriptor.digest)
    blob = _VerifiedBlob(response, descriptor, report)
    try:
        try:
            staged = layers.stage(decompressed(blob, f"layer {short(descriptor.digest)}"))
        except InvalidArgumentError:
            blob.finish()  # bytes damaged on the way say so first, as a digest mismatch
            raise
        blob.finish()
    finally:
        response.release_conn()
    if staged.id != diff_id:
        layers.discard(staged)
        raise IntegrityError(
            f"layer {short(descriptor.digest)} unpacks to {staged.id}, not the {diff_id} "
            "its image's config names; refused (the image is damaged)"
        )
    report(Progress(short(descriptor.digest), "Download complete"))
    return staged


class _VerifiedBlob:
    """A blob's bytes off the network, hashed and counted as they pass, with progress."""

    def __init__(
        self, response: urllib3.BaseHTTPResponse, descriptor: Descriptor, report: Reporter
    ) -> None:
        self._response = response
        self._descriptor = descriptor
        self._report = report
        self._hash = hashlib.sha256()
        self._count = 0
        self._reported = 0
        self._id = short(descriptor.digest)
        self._buffer = b""
        self._offset = 0

    def read(self, size: int = -1) -> bytes:
        # Decompressors ask for 8 KiB at a time; a network read each costs more than the
        # bytes are worth, so a megabyte is fetched and handed out from memory.
        if self._offset >= len(self._buffer):
            self._buffer = self._fetch()
            self._offset = 0
        end = len(self._buffer) if size < 0 else self._offset + size
        data = self._buffer[self._offset : end]
        self._offset += len(data)
        return data

    def _fetch(self) -> bytes:
        self._report.check()
        data = self._response.read(CHUNK)
        self._hash.update(data)
        self._count += len(data)
        if self._count > self._descriptor.size:
            raise self._mismatch("is longer than its manifest says")
        if self._count - self._reported >= _REPORT_EVERY or (
            not data and self._reported != self._count
        ):
            self._reported = self._count
            self._report(Progress(self._id, "Downloading", self._count, self._descriptor.size))
        return data

    def finish(self) -> None:
        """Read what the decompressor left (padding, a trailer), then check the digest."""
        while self.read(CHUNK):
            pass
        if self._count != self._descriptor.size:
            raise self._mismatch(f"ended after {self._count} of {self._descriptor.size} bytes")
        actual = "sha256:" + self._hash.hexdigest()
        if actual != self._descriptor.digest:
            raise self._mismatch(f"has digest {actual}")
        self._report(Progress(self._id, "Verifying Checksum"))

    def _mismatch(self, what: str) -> IntegrityError:
        return IntegrityError(
            f"layer {self._id}: the blob {what}, not {self._descriptor.digest}; refused, "
            "nothing stored (the registry's copy is damaged, or the connection was)"
        )


def pull(
service: ImageStore, reference: Reference, platform: Platform, all_tags: bool,
    options: TransportOptions, report: Reporter,
) -> Image:  # fmt: skip
    client = RegistryClient(
        reference.domain, reference.path, credentials=credentials.lookup(reference.domain),
        options=options,
    )  # fmt: skip
    try:
        if not all_tags:
            return _pull_one(service, client, reference, platform, report)
        images = [
            _pull_one(service, client, Reference(reference.repository, tag), platform, report)
            for tag in client.tags()
        ]
    finally:
        client.close()
    if not images:
        raise NotFoundError(f"{reference.repository} has no tags on {reference.domain}")
    return images[-1]


def _pull_one(
    service: ImageStore, client: RegistryClient, reference: Reference, platform: Platform,
    report: Reporter,
) -> Image:  # fmt: skip
    store = service.layer_store
    pulled = fetch(client, reference, platform, store, report, has_layer=service.has_layer)
    tag = None if reference.digest else str(reference)
    known = service.db.query(
        "SELECT 1 FROM images i LEFT JOIN tags t ON t.image_id = i.id AND t.name = ?"
        " WHERE i.id = ? AND (? IS NULL OR t.name IS NOT NULL)",
        (tag, image_id(pulled.config), tag),
    )
    repo_digest = str(reference.with_digest(pulled.repo_digest))

    def record(tx: sqlite3.Connection, new_id: str) -> None:
        manifest = pulled.manifest
        tx.execute(
            "INSERT OR REPLACE INTO repo_digests (name, image_id, manifest, media_type)"
            " VALUES (?, ?, ?, ?)", (repo_digest, new_id, manifest.body, manifest.media_type),
        )  # fmt: skip
        tx.executemany(
            "INSERT OR IGNORE INTO layer_blobs (layer_id, digest, media_type, size, source)"
            " VALUES (?, ?, ?, ?, ?)",
            [(diff_id, blob.digest, blob.media_type, blob.size, pulled.source)
             for blob, diff_id in zip(pulled.layers, pulled.diff_ids, strict=True)],
        )  # fmt: skip

    report.check()  # the last moment a cancel can undo the pull
    image = service.register(pulled.staged, pulled.config, [tag] if tag else [], record)
    for layer in pulled.staged_ids:
        report.notify(Progress(layer, "Pull complete"))
    report.notify(Progress("", f"Digest: {pulled.repo_digest}"))
    news = "Image is up to date" if known else "Downloaded newer image"
    report.notify(Progress("", f"Status: {news} for {reference}"))
    return image
