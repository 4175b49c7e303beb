"""docker load: images from a docker-archive (docker save, old and new; podman save;
skopeo's docker-archive) or an OCI layout archive (oci-archive), plain or compressed.

The archive must be read out of order (the metadata says what each layer is, and it
may come last), so it is read from a seekable plain tar: a plain file is used where it
lies; stdin and compressed files are first decompressed into an unnamed temporary file
in the engine's ``tmp/`` (O_TMPFILE: a crash leaves nothing). Layers the store has are
seeked past unread. Every blob named by a digest is checked against it and every
layer's tar against its diffID; nothing is registered until the whole archive checked.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from engine.errors import BerthError, IntegrityError, InvalidArgumentError
from engine.images.archive_save import CONTAINERD_NAME, REF_NAME, blob_path
from engine.images.compression import decompressed
from engine.images.config import image_id
from engine.images.progress import Progress, Reporter
from engine.images.reference import parse_tag
from engine.images.sources import opened, source_name
from engine.registry.manifests import choose, host, is_index
from engine.storage.space import reported_as_no_space

if TYPE_CHECKING:
    from engine.images.layers import StagedLayer
    from engine.images.model import ImageStore

_CHUNK = 1 << 20
_REPORT_EVERY = 512 * 1024
_NAMED_BY_DIGEST = re.compile(r"(?:.*/)?(?:blobs/sha256/)?([0-9a-f]{64})(?:\.json)?")


@dataclass
class _Image:
    """One image the archive holds: its config's bytes, the archive paths of its layer
    tars (base first, with the digest a path names, if any) and its names."""

    config: bytes
    layers: list[tuple[str, str | None]]
    names: list[str] = field(default_factory=list)

    @property
    def diff_ids(self) -> list[str]:
        return list(json.loads(self.config)["rootfs"]["diff_ids"])


def load(service: ImageStore, source: str | Path | BinaryIO, report: Reporter) -> list[str]:
    """Load every image of the archive; Docker's "Loaded image" names (ids if untagged)."""
    name = source_name(source, stdin="stdin")
    with _plain_tar(service, source, name) as tar:
        members = _members(tar, name)
        images = _images(tar, members, name)
        staged = _stage_all(service, tar, members, images, report)
    try:
        return [loaded for image in images for loaded in _register(service, image, staged)]
    finally:
        for layer in staged.values():  # left by a failed registration
            service.layer_store.discard(layer)


# -- reading the archive ----------------------------------------------------------------


@contextlib.contextmanager
def _plain_tar(
    service: ImageStore, source: str | Path | BinaryIO, name: str
) -> Iterator[tarfile.TarFile]:
    with opened(source, name, "an image archive") as stream:
        tar = _as_tar(stream) if _seekable(stream) else None
        if tar is not None:
            with tar:
                yield tar
            return
        paths = service.paths
        with reported_as_no_space(paths.root), tempfile.TemporaryFile(dir=paths.tmp) as spool:
            shutil.copyfileobj(decompressed(stream, name), spool, _CHUNK)  # type: ignore[misc]
            spool.seek(0)
            tar = _as_tar(spool)
            if tar is None:
                raise _not_an_archive(name)
            with tar:
                yield tar


def _as_tar(stream: BinaryIO) -> tarfile.TarFile | None:
    """The plain tar file ``stream`` is, or None (rewound) if it is not one."""
    try:
        return tarfile.open(fileobj=stream, mode="r:")
    except tarfile.ReadError:
        stream.seek(0)  # compressed, or no tar at all: decompressing tells
        return None


def _members(tar: tarfile.TarFile, name: str) -> dict[str, tarfile.TarInfo]:
    try:
        return {member.name.removeprefix("./").lstrip("/"): member for member in tar}
    except tarfile.ReadError as error:
        raise InvalidArgumentError(f'"{name}" is a damaged tar archive: {error}') from None


def _images(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str) -> list[_Image]:
    """The images, from Docker's manifest.json where there is one (Docker's own choice
    for an archive holding both), else from the OCI layout's index.json."""
    try:
        if "manifest.json" in members:
            images = _docker_images(tar, members)
        elif "index.json" in members:
            images = _oci_images(tar, members)
        else:
            raise _not_an_archive(name)
        for image in images:
            if len(image.diff_ids) != len(image.layers):
                raise IntegrityError(
                    f"image {image_id(image.config)[7:19]} of {name}: its config names "
                    f"{len(image.diff_ids)} layers, its manifest {len(image.layers)}"
                )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise InvalidArgumentError(f'"{name}" has a malformed image manifest: {error}') from None
    return _merged(images)


def _docker_images(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo]) -> list[_Image]:
    images = []
    for item in json.loads(_read(tar, members, "manifest.json")):
        config = _read(tar, members, item["Config"], _named_digest(item["Config"]))
        layers = [(path, _named_digest(path)) for path in item["Layers"]]
        names = [str(parse_tag(tag)) for tag in item.get("RepoTags") or []]
        images.append(_Image(config, layers, names))
    return images


def _oci_images(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo]) -> list[_Image]:
    images = []
    for descriptor in json.loads(_read(tar, members, "index.json"))["manifests"]:
        manifest = _blob(tar, members, descriptor)
        if is_index(descriptor.get("mediaType", ""), manifest):  # several platforms: ours
            chosen = choose(manifest, host())
            manifest = _read(tar, members, blob_path(chosen.digest), chosen.digest)
        parsed = json.loads(manifest)
        config = _blob(tar, members, parsed["config"])
        layers = [(blob_path(layer["digest"]), layer["digest"]) for layer in parsed["layers"]]
        images.append(_Image(config, layers, _oci_names(descriptor.get("annotations") or {})))
    return images


def _oci_names(annotations: dict[str, str]) -> list[str]:
    """The image's name: containerd's full reference, else the OCI ref name where it is
    one (skopeo's ``oci-archive:FILE:app:v1``); a bare tag ("latest") names no image."""
    name = annotations.get(CONTAINERD_NAME) or annotations.get(REF_NAME, "")
    if not name or (CONTAINERD_NAME not in annotations and ":" not in name and "/" not in name):
        return []
    with contextlib.suppress(InvalidArgumentError):
        return [str(parse_tag(name))]
    return []


def _merged(images: list[_Image]) -> list[_Image]:
    """Each image once (an OCI index lists an image once per tag), with all its names."""
    merged: dict[str, _Image] = {}
    for image in images:
        known = merged.setdefault(image_id(image.config), image)
        if known is not image:
            known.names += [name for name in image.names if name not in known.names]
    return list(merged.values())


def _read(
    tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], path: str,
    digest: str | None = None,
) -> bytes:  # fmt: skip
    """A small file of the archive (JSON), checked against ``digest`` if given."""
    stream = _extract(tar, members, path)
    data = stream.read()
    if digest and image_id(data) != digest:
        raise IntegrityError(
            f"{path} in the archive has digest {image_id(data)}, not {digest}; refused, "
            "nothing loaded (the archive is damaged)"
        )
    return data


def _blob(
    tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], descriptor: dict[str, Any]
) -> bytes:
    data = _read(tar, members, blob_path(descriptor["digest"]), descriptor["digest"])
    if "size" in descriptor and len(data) != descriptor["size"]:
        raise IntegrityError(f"blob {descriptor['digest']} is not {descriptor['size']} bytes")
    return data


def _extract(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], path: str) -> BinaryIO:
    member = members.get(path.removeprefix("./"))
    stream = tar.extractfile(member) if member else None
    if stream is None:
        raise InvalidArgumentError(f"the archive lacks {path}, which its manifest names")
    return stream  # type: ignore[return-value]


def _named_digest(path: str) -> str | None:
    """The digest a path names (blobs/sha256/<hex>, <hex>.json), which its bytes must have."""
    matched = _NAMED_BY_DIGEST.fullmatch(path)
    return f"sha256:{matched[1]}" if matched else None


# -- layers -----------------------------------------------------------------------------


def _stage_all(
    service: ImageStore, tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo],
    images: list[_Image], report: Reporter,
) -> dict[str, StagedLayer]:  # fmt: skip
    """Every layer the store lacks, extracted and checked, by diffID; all or none."""
    staged: dict[str, StagedLayer] = {}
    try:
        for image in images:
            for (path, digest), diff_id in zip(image.layers, image.diff_ids, strict=True):
                if diff_id not in staged and not service.has_layer(diff_id):
                    stream = _Counted(_extract(tar, members, path), digest, diff_id, report)
                    staged[diff_id] = _stage(service, stream, diff_id)
    except BaseException:
        for layer in staged.values():
            service.layer_store.discard(layer)
        raise
    return staged


def _stage(service: ImageStore, stream: _Counted, diff_id: str) -> StagedLayer:
    short = diff_id.removeprefix("sha256:")[:12]
    staged = service.layer_store.stage(decompressed(stream, f"layer {short}"))  # type: ignore[arg-type]
    try:
        stream.finish()
        if staged.id != diff_id:
            raise IntegrityError(
                f"layer {short} unpacks to {staged.id}, not the {diff_id} its image's config "
                "names; refused, nothing loaded (the archive is damaged)"
            )
    except BaseException:
        service.layer_store.discard(staged)
        raise
    return staged


class _Counted:
    """A layer's bytes in the archive, hashed and counted as they pass, with progress."""

    def __init__(self, stream: BinaryIO, digest: str | None, diff_id: str, report: Reporter):
        self._stream = stream
        self._digest = digest
        self._hash = hashlib.sha256()
        self._total = stream.seek(0, 2)  # a member of a seekable tar: its size
        stream.seek(0)
        self._count = self._reported = 0
        self._id = (digest or diff_id).removeprefix("sha256:")[:12]
        self._report = report

    def read(self, size: int = -1) -> bytes:
        self._report.check()
        try:
            data = self._stream.read(_CHUNK if size < 0 else min(size, _CHUNK))
        except tarfile.ReadError as error:  # the archive ends inside this layer
            raise InvalidArgumentError(f"layer {self._id}: the archive is truncated") from error
        self._hash.update(data)
        self._count += len(data)
        if data and (self._count - self._reported >= _REPORT_EVERY or self._count == self._total):
            self._reported = self._count
            self._report(Progress(self._id, "Loading layer", self._count, self._total))
        return data

    def finish(self) -> None:
        """Read what the decompressor left, then check the bytes against their name."""
        while self.read(_CHUNK):
            pass
        actual = "sha256:" + self._hash.hexdigest()
        if self._digest and actual != self._digest:
            raise IntegrityError(
                f"layer {self._id}: its blob has digest {actual}, not {self._digest}; "
                "refused, nothing loaded (the archive is damaged)"
            )


# -- registering ------------------------------------------------------------------------


def _register(service: ImageStore, image: _Image, staged: dict[str, StagedLayer]) -> list[str]:
    """Register the image with the staged layers it is the first to use; its names."""
    mine = [staged.pop(diff_id) for diff_id in dict.fromkeys(image.diff_ids) if diff_id in staged]
    registered = service.register(mine, image.config, image.names)
    return image.names or [registered.id]


# -- the source -------------------------------------------------------------------------


def _seekable(stream: BinaryIO) -> bool:
    try:
        return stream.seekable() and stream.tell() == 0
    except (AttributeError, OSError):
        return False


def _not_an_archive(name: str) -> BerthError:
    return InvalidArgumentError(f'"{name}" is not an image archive (docker save or OCI layout)')
