"""Manifests and indexes: Docker schema 2 and OCI, their media types, and picking the
manifest of a platform from a list.
"""

from __future__ import annotations

import json
import platform as host_platform
from dataclasses import dataclass
from typing import Any

from engine.errors import InvalidArgumentError, RegistryError, UnsupportedError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"

MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEXES = (OCI_INDEX, DOCKER_LIST)
ACCEPTED = (*MANIFESTS, *INDEXES)
# How each layer media type is compressed (None: a plain tar).
LAYER_COMPRESSION: dict[str, str | None] = {
    OCI_LAYER: None,
    OCI_LAYER_GZIP: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    DOCKER_LAYER_GZIP: "gzip",
    "application/vnd.docker.image.rootfs.diff.tar": None,
}
_NON_DISTRIBUTABLE = "application/vnd.oci.image.layer.nondistributable."
# Go's names for the machines Python's platform.machine() reports.
_ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
                  "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}  # fmt: skip
_VARIANTS = {"armv7l": "v7", "aarch64": "v8"}


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    @classmethod
    def of(cls, raw: Any, what: str) -> Descriptor:
        try:
            return cls(raw["mediaType"], raw["digest"], int(raw["size"]))
        except (KeyError, TypeError, ValueError):
            raise RegistryError(f"malformed {what} descriptor: {json.dumps(raw)[:200]}") from None

    def as_json(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(part for part in (self.os, self.architecture, self.variant) if part)


@dataclass(frozen=True)
class ImageManifest:
    config: Descriptor
    layers: tuple[Descriptor, ...]


def host() -> Platform:
    machine = host_platform.machine()
    return Platform("linux", _ARCHITECTURES.get(machine, machine), _VARIANTS.get(machine, ""))


def parse_platform(text: str) -> Platform:
    """``os/arch[/variant]`` as ``--platform`` takes it (``linux/arm64/v8``)."""
    parts = text.split("/")
    if not 2 <= len(parts) <= 3 or not all(parts):
        raise InvalidArgumentError(
            f'invalid platform "{text}": give os/arch[/variant], e.g. linux/amd64 or linux/arm/v7'
        )
    return Platform(*parts)


def is_index(media_type: str, body: bytes) -> bool:
    if media_type in INDEXES:
        return True
    if media_type in MANIFESTS:
        return False
    return "manifests" in _json(body, "manifest")  # an OCI index may omit its mediaType


def choose(body: bytes, wanted: Platform) -> Descriptor:
    """The manifest for ``wanted`` in an index or manifest list.

    A variant given must match; without one, the host's own variant is preferred (arm64
    lists say v8), then any.
    """
    entries = _json(body, "index").get("manifests") or []
    candidates = []
    for raw in entries:
        platform = raw.get("platform") or {}
        if platform.get("os") == wanted.os and platform.get("architecture") == wanted.architecture:
            variant = platform.get("variant", "")
            if (
                not wanted.variant
                or variant == wanted.variant
                or (wanted.architecture == "arm64" and wanted.variant == "v8" and not variant)
            ):
                candidates.append(raw)
    if not candidates:
        offered = sorted({_platform_text(raw.get("platform") or {}) for raw in entries})
        raise UnsupportedError(
            f"no image for platform {wanted} in the manifest list (it has: "
            f"{', '.join(offered) or 'none'}; choose one with --platform)"
        )
    return Descriptor.of(candidates[0], "manifest")


def parse_manifest(body: bytes, media_type: str) -> ImageManifest:
    """The config and layers of an image manifest; foreign and non-distributable layers
    (which the registry does not hold: Windows base layers) are refused by name."""
    if media_type == DOCKER_SCHEMA1 or _json(body, "manifest").get("schemaVersion") == 1:
        raise UnsupportedError(
            "the image has a Docker schema 1 manifest, which berth does not pull (it is "
            "deprecated: push the image again with a current client)"
        )
    raw = _json(body, "manifest")
    layers = tuple(Descriptor.of(layer, "layer") for layer in raw.get("layers") or [])
    for layer in layers:
        if layer.media_type == DOCKER_FOREIGN_LAYER or layer.media_type.startswith(
            _NON_DISTRIBUTABLE
        ):
            raise UnsupportedError(
                f"layer {layer.digest[:19]} is a foreign (non-distributable) layer of type "
                f"{layer.media_type}, which berth does not fetch: use an image without it"
            )
        if layer.media_type not in LAYER_COMPRESSION:
            raise UnsupportedError(
                f"layer {layer.digest[:19]} has a media type berth cannot unpack: "
                f"{layer.media_type}"
            )
    return ImageManifest(Descriptor.of(raw.get("config"), "config"), layers)


def _platform_text(raw: dict[str, Any]) -> str:
    return str(Platform(raw.get("os", "?"), raw.get("architecture", "?"), raw.get("variant", "")))


def _json(body: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError as error:
        raise RegistryError(f"the registry sent a {what} that is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise RegistryError(f"the registry sent a {what} that is not a JSON object")
    return value
