"""Pushing an image to a registry, and logging in to one.

Each layer goes as the cheapest of: nothing, when the registry's repository has a blob
of it already (HEAD); a cross-repository mount, when another repository of the same
registry is known to hold one (the token asks pull access there too); or an upload of
the layer's exact tar (rebuilt from its files and layout), gzip-compressed as it
streams. What is learnt (diffID -> blob digest, per repository) is recorded, as
Docker's distribution metadata, so a re-push uploads nothing. A pulled image pushed to
where its blobs are goes with its original manifest, byte for byte: same digest.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.images.progress import Progress, Reporter
from engine.images.pull import PARALLEL_DOWNLOADS, short
from engine.images.reference import HUB_DOMAIN, Reference
from engine.registry import credentials
from engine.registry.client import RegistryClient
from engine.registry.endpoint import TransportOptions
from engine.registry.manifests import (
    LAYER_COMPRESSION,
    OCI_CONFIG,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
    OCI_MANIFEST,
    Descriptor,
    parse_manifest,
)

if TYPE_CHECKING:
    from engine.images.model import Image, ImageStore

__all__ = ["TransportOptions", "login", "push"]
_GZIP_LEVEL = 6  # Docker's (Go's default); zlib releases the GIL: layers compress in parallel
_OCI_TYPES = {None: OCI_LAYER, "gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD}
_REPORT_EVERY = 512 * 1024


@dataclass(frozen=True)
class _KnownBlob:
    descriptor: Descriptor
    source: str  # "host/repository" it was seen in


def push(
    service: ImageStore, reference: Reference, options: TransportOptions, report: Reporter
) -> str:
    """Push the image tagged ``reference``; returns the manifest's digest."""
    image = service.find(str(reference))
    report(Progress("", f"The push refers to repository [{reference.domain}/{reference.path}]"))
    original = _original_manifest(service, image)
    known = _known_blobs(service, image, original)
    here = f"{reference.domain}/{reference.path}"
    mountable = {
        blob.source.split("/", 1)[1]
        for blobs in known.values() for blob in blobs
        if blob.source.split("/", 1)[0] == reference.domain and blob.source != here
    }  # fmt: skip
    client = RegistryClient(
        reference.domain, reference.path, actions=("pull", "push"),
        credentials=credentials.lookup(reference.domain), options=options, mount_from=mountable,
    )  # fmt: skip
    try:
        layers = _push_layers(service, client, image, known, report)
        config = service.raw_config(image.id)
        if not client.has_blob(image.id):
            client.upload_blob([config], lambda: image.id)
        body, media_type = _manifest(image, config, layers, original)
        digest = client.put_manifest(reference.tag or "latest", body, media_type)
    finally:
        client.close()
    _record(service, image, reference, here, layers, body, media_type, digest)
    report(Progress("", f"{reference.tag}: digest: {digest} size: {len(body)}"))
    return digest


def login(server: str, username: str, password: str, options: TransportOptions) -> Path:
    """Check the credentials with ``server`` (Docker Hub if empty), then store them."""
    host = server.removeprefix("https://").removeprefix("http://").rstrip("/") or HUB_DOMAIN
    secret = credentials.Credentials(username, password)
    client = RegistryClient(host, "", credentials=secret, options=options)
    try:
        client.login()
    finally:
        client.close()
    return credentials.store(host, secret)


def _known_blobs(
    service: ImageStore, image: Image, original: _Manifest | None
) -> dict[str, list[_KnownBlob]]:
    """Every blob known for each of the image's layers, its original manifest's first."""
    rows = service.db.query(
        "SELECT layer_id, digest, media_type, size, source FROM layer_blobs WHERE layer_id IN"
        f" ({','.join('?' * len(image.layers))})",
        tuple(image.layers),
    )
    first = {layer.digest for layer in original.layers} if original else set()
    known: dict[str, list[_KnownBlob]] = {}
    for row in sorted(rows, key=lambda row: row["digest"] not in first):
        descriptor = Descriptor(row["media_type"], row["digest"], row["size"])
        known.setdefault(row["layer_id"], []).append(_KnownBlob(descriptor, row["source"]))
    return known


def _push_layers(
    service: ImageStore, client: RegistryClient, image: Image,
    known: dict[str, list[_KnownBlob]], report: Reporter,
) -> list[tuple[str, Descriptor]]:  # fmt: skip
    """Each layer's blob at the registry: (diffID, descriptor)."""
    for layer in image.layers:
        report(Progress(short(layer), "Preparing"))
    with ThreadPoolExecutor(PARALLEL_DOWNLOADS, thread_name_prefix="push") as pool:
        futures = [
            pool.submit(_push_layer, service, client, layer, known.get(layer, []), report)
            for layer in image.layers
        ]
        try:
            return [future.result() for future in futures]
        except BaseException:
            report.cancel()  # the other uploads stop at their next chunk
            raise


def _push_layer(
    service: ImageStore, client: RegistryClient, layer: str, known: list[_KnownBlob],
    report: Reporter,
) -> tuple[str, Descriptor]:  # fmt: skip
    progress_id = short(layer)
    for blob in known:
        if client.has_blob(blob.descriptor.digest):
            report(Progress(progress_id, "Layer already exists"))
            return layer, blob.descriptor
    for blob in known:
        host, _, repository = blob.source.partition("/")
        if (
            host == client.host
            and repository != client.repository
            and client.mount_blob(blob.descriptor.digest, repository)
        ):
            report(Progress(progress_id, f"Mounted from {repository}"))
            return layer, blob.descriptor
    total = service.layer_store.tar_size(layer)
    upload = _GzipUpload(service.layer_store.tar(layer), progress_id, total, report)
    digest = client.upload_blob(upload, upload.digest)
    report(Progress(progress_id, "Pushed"))
    return layer, Descriptor(OCI_LAYER_GZIP, digest, upload.size)


class _GzipUpload:
    """A layer's tar, gzip-compressed as the upload reads it, hashed and counted."""

    def __init__(self, tar: Iterator[bytes], progress_id: str, total: int, report: Reporter):
        self._tar = tar
        self._id = progress_id
        self._total = total
        self._report = report
        self._hash = hashlib.sha256()
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: a gzip stream
        done = reported = 0
        for chunk in self._tar:
            self._report.check()
            done += len(chunk)
            if done - reported >= _REPORT_EVERY:
                reported = done
                self._report(Progress(self._id, "Pushing", min(done, self._total), self._total))
            yield from self._counted(compressor.compress(chunk))
        yield from self._counted(compressor.flush())

    def _counted(self, data: bytes) -> Iterator[bytes]:
        if data:
            self._hash.update(data)
            self.size += len(data)
            yield data

    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()


@dataclass(frozen=True)
class _Manifest:
    """The manifest the image was pulled (or last pushed) with, exact bytes."""

    body: bytes
    media_type: str
    layers: tuple[Descriptor, ...]


def _original_manifest(service: ImageStore, image: Image) -> _Manifest | None:
    rows = service.db.query(
        "SELECT manifest, media_type FROM repo_digests WHERE image_id = ? LIMIT 1", (image.id,)
    )
    if not rows:
        return None
    body, media_type = bytes(rows[0]["manifest"]), rows[0]["media_type"]
    return _Manifest(body, media_type, parse_manifest(body, media_type).layers)


def _manifest(
    image: Image, config: bytes, layers: list[tuple[str, Descriptor]], original: _Manifest | None
) -> tuple[bytes, str]:
    """The original manifest if the registry got exactly its blobs, else a new OCI one."""
    pushed = tuple(descriptor.digest for _, descriptor in layers)
    if original and tuple(layer.digest for layer in original.layers) == pushed:
        return original.body, original.media_type
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": image.id, "size": len(config)},
        "layers": [_oci_descriptor(descriptor) for _, descriptor in layers],
    }
    return json.dumps(manifest, separators=(",", ":")).encode(), OCI_MANIFEST


def _oci_descriptor(descriptor: Descriptor) -> dict[str, Any]:
    """The blob as an OCI manifest names it (a Docker gzip layer is the same bytes)."""
    media_type = _OCI_TYPES.get(LAYER_COMPRESSION.get(descriptor.media_type), OCI_LAYER_GZIP)
    return {"mediaType": media_type, "digest": descriptor.digest, "size": descriptor.size}


def _record(
    service: ImageStore, image: Image, reference: Reference, here: str,
    layers: list[tuple[str, Descriptor]], body: bytes, media_type: str, digest: str,
) -> None:  # fmt: skip
    """Remember the repository's digest of the image and where its blobs now are."""
    with service.db.write() as tx:
        if not tx.execute("SELECT 1 FROM images WHERE id = ?", (image.id,)).fetchone():
            return  # removed while it was pushed: nothing to remember it by
        tx.execute(
            "INSERT OR REPLACE INTO repo_digests (name, image_id, manifest, media_type)"
            " VALUES (?, ?, ?, ?)",
            (str(reference.with_digest(digest)), image.id, body, media_type),
        )
        _remember_blobs(tx, layers, here)


def _remember_blobs(
    tx: sqlite3.Connection, layers: list[tuple[str, Descriptor]], here: str
) -> None:
    tx.executemany(
        "INSERT OR IGNORE INTO layer_blobs (layer_id, digest, media_type, size, source)"
        " SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM layers WHERE id = ?)",
        [(layer, blob.digest, blob.media_type, blob.size, here, layer)
         for layer, blob in layers],
    )  # fmt: skip
