"""docker save: images as a tar that both Docker's loaders and OCI tools read.

The layout is what Docker 25+ writes (moby image/tarexport/save.go): an OCI image
layout (``oci-layout``, ``index.json``, ``blobs/sha256/``) whose layers are the
uncompressed tars, named by their diffIDs, plus Docker's own ``manifest.json`` and
``repositories``. The metadata goes first, then the blobs, so a reader of a pipe knows
what each layer is before its bytes arrive. Layers stream straight from the layer
store into the tar: their sizes come from their tar layouts, so no layer is copied or
held in memory; a layer whose files changed fails the save at its end (tar_layout).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from engine.errors import InvalidArgumentError
from engine.images.config import image_id
from engine.images.reference import parse_reference, parse_tag

if TYPE_CHECKING:
    from engine.images.model import Image, ImageStore

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'
REF_NAME = "org.opencontainers.image.ref.name"  # the OCI layout's name: a tag, or a reference
CONTAINERD_NAME = "io.containerd.image.name"  # the full reference, as Docker 25+ writes it


def blob_path(digest: str) -> str:
    """Where an OCI layout keeps the blob ``sha256:<hex>``."""
    algorithm, _, encoded = digest.partition(":")
    return f"blobs/{algorithm}/{encoded}"


def save(
    service: ImageStore, references: Sequence[str], destination: str | Path | BinaryIO
) -> None:
    """Write the images ``references`` name (tags, names, ids, digests) to ``destination``:
    a path (written under a temporary name, renamed when complete), "-" for stdout, or a
    binary stream."""
    chosen = _chosen(service, references)  # every name resolved before a byte is written
    with _output(destination) as out:
        _write(service, chosen, out)


def _chosen(service: ImageStore, references: Sequence[str]) -> list[tuple[Image, list[str]]]:
    """Each image once, in the order first named, with the tags to save it under."""
    chosen: dict[str, tuple[Image, list[str]]] = {}
    for ref in references:
        for image, tag in _named(service, ref):
            _, tags = chosen.setdefault(image.id, (image, []))
            if tag and tag not in tags:
                tags.append(tag)
    return list(chosen.values())


def _named(service: ImageStore, ref: str) -> list[tuple[Image, str | None]]:
    """What ``ref`` names, as Docker reads it: a tag saves that tag; a repository alone
    every tag of it; an id or a digest the image without names."""
    try:
        parsed = parse_tag(ref) if "@" not in ref else None
    except InvalidArgumentError:
        parsed = None
    if parsed and ":" not in ref.rsplit("/", 1)[-1]:
        tagged = [
            (service.get_by_id(row["image_id"]), row["name"])
            for row in service.db.query("SELECT name, image_id FROM tags ORDER BY name")
            if parse_reference(row["name"]).repository == parsed.repository
        ]
        if tagged:
            return tagged
    image = service.find(ref)
    return [(image, str(parsed) if parsed and str(parsed) in image.tags else None)]


@contextlib.contextmanager
def _output(destination: str | Path | BinaryIO) -> Iterator[BinaryIO]:
    """The stream to write; for a path, a temporary file beside it that becomes it only
    when complete, so a failed save leaves no file (nor a half one) behind."""
    if destination == "-":
        yield sys.stdout.buffer
        return
    if not isinstance(destination, (str, Path)):
        yield destination
        return
    target = Path(destination)
    temporary = target.with_name(f".{target.name}.berth-{os.getpid()}")
    try:
        with open(temporary, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.rename(temporary, target)
    except FileNotFoundError:
        temporary.unlink(missing_ok=True)
        raise InvalidArgumentError(f'cannot write "{target}": no such directory') from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _write(service: ImageStore, chosen: list[tuple[Image, list[str]]], out: BinaryIO) -> None:
    configs = {image.id: service.raw_config(image.id) for image, _ in chosen}
    manifests = {image.id: _manifest(image, configs[image.id], service) for image, _ in chosen}
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "oci-layout", OCI_LAYOUT)
        _add(tar, "index.json", _json(_index(chosen, manifests)))
        _add(tar, "manifest.json", _json(_docker_manifest(chosen)))
        repositories = _repositories(chosen)
        if repositories:
            _add(tar, "repositories", _json(repositories))
        for name in ("blobs", "blobs/sha256"):
            tar.addfile(_info(name, 0, tarfile.DIRTYPE, 0o755))
        for image, _ in chosen:
            _add(tar, blob_path(image.id), configs[image.id])
            _add(tar, blob_path(_digest(manifests[image.id])), manifests[image.id])
        written: set[str] = set()
        for image, _ in chosen:
            for layer in image.layers:
                if layer not in written:  # a layer several images share goes once
                    written.add(layer)
                    _add_layer(tar, service, layer)


def _manifest(image: Image, config: bytes, service: ImageStore) -> bytes:
    layers = [
        {"mediaType": OCI_LAYER, "digest": layer, "size": service.layer_store.tar_size(layer)}
        for layer in image.layers
    ]
    return _json({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": image.id, "size": len(config)},
        "layers": layers,
    })  # fmt: skip


def _index(chosen: list[tuple[Image, list[str]]], manifests: dict[str, bytes]) -> dict[str, Any]:
    """One descriptor per tag, annotated with its name as Docker and containerd write it;
    one without names for an image saved by id."""
    entries = []
    for image, tags in chosen:
        manifest = manifests[image.id]
        descriptor = {
            "mediaType": OCI_MANIFEST,
            "digest": _digest(manifest),
            "size": len(manifest),
            "platform": _platform(image),
        }
        entries += [{**descriptor, "annotations": _annotations(tag)} for tag in tags] or [
            descriptor
        ]
    return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}


def _annotations(tag: str) -> dict[str, str]:
    reference = parse_reference(tag)
    full = f"{reference.domain}/{reference.path}:{reference.tag}"
    return {CONTAINERD_NAME: full, REF_NAME: reference.tag or "latest"}


def _platform(image: Image) -> dict[str, str]:
    config = image.config
    platform = {"architecture": config.get("architecture", ""), "os": config.get("os", "")}
    return platform | ({"variant": config["variant"]} if config.get("variant") else {})


def _docker_manifest(chosen: list[tuple[Image, list[str]]]) -> list[dict[str, Any]]:
    return [
        {
            "Config": blob_path(image.id),
            "RepoTags": tags or None,  # Docker writes null for an image saved by id
            "Layers": [blob_path(layer) for layer in image.layers],
        }
        for image, tags in chosen
    ]


def _repositories(chosen: list[tuple[Image, list[str]]]) -> dict[str, dict[str, str]]:
    """Docker's legacy file: repository -> tag -> the hex of the image's top diffID."""
    repositories: dict[str, dict[str, str]] = {}
    for image, tags in chosen:
        for tag in tags:
            reference = parse_reference(tag)
            top = image.layers[-1].removeprefix("sha256:") if image.layers else ""
            repositories.setdefault(reference.repository, {})[reference.tag or "latest"] = top
    return repositories


def _add_layer(tar: tarfile.TarFile, service: ImageStore, layer: str) -> None:
    size = service.layer_store.tar_size(layer)
    tar.addfile(_info(blob_path(layer), size), _ChunkReader(service.layer_store.tar(layer)))


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_info(name, len(data)), io.BytesIO(data))


def _info(
    name: str, size: int, kind: bytes = tarfile.REGTYPE, mode: int = 0o644
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.mode, info.mtime = size, kind, mode, 0  # the same bytes each save
    return info


def _json(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def _digest(data: bytes) -> str:
    return image_id(data)  # sha256:<hex> of the bytes, as for any blob


class _ChunkReader:
    """The chunks of an iterator as a stream tarfile copies from (16 KiB at a time)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._chunk = memoryview(b"")

    def read(self, size: int = -1) -> bytes:
        parts = []
        wanted = size
        while wanted:  # whole reads: tarfile takes a short one for the end of the data
            if not self._chunk:
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                self._chunk = memoryview(chunk)
            part = self._chunk[:wanted] if wanted > 0 else self._chunk
            self._chunk = self._chunk[len(part) :]
            parts.append(part)
            wanted -= len(part) if wanted > 0 else 0
        return b"".join(parts)
