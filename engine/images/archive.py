"""docker save / docker load: images as tar archives other engines and tools read.

Two formats meet here. docker-archive is Docker's: ``manifest.json`` lists each image's
config, tags and layer tars by path (``repositories`` is its older index of tags).
An OCI image layout is the OCI's: ``oci-layout``, ``index.json`` and content-addressed
``blobs/sha256/<hex>``. Docker 25+ writes both in one tar, which berth's save does too
(archive_save); load reads either, compressed or not (archive_load). This module holds
what the two share and their entry points, which the service calls in a thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from collections.abc import Sequence

    from engine.images.progress import Reporter
    from engine.images.service import ImageService

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
    service: ImageService, references: Sequence[str], destination: str | Path | BinaryIO
) -> None:
    from engine.images import archive_save

    archive_save.save(service, references, destination)


def load(service: ImageService, source: str | Path | BinaryIO, report: Reporter) -> list[str]:
    from engine.images import archive_load

    return archive_load.load(service, source, report)
