"""Images the tests make in plain Python, and skopeo to put them in (and read them from) a registry.

The layouts are written here byte by byte (tar, gzip with mtime 0, JSON), so a test knows
every digest; skopeo, a client berth did not write, moves them, so a bug in berth's registry
client cannot hide behind the same bug on the other side.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Literal

from tests.registry_server import RegistryServer

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
REF_NAME = "org.opencontainers.image.ref.name"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUSYBOX = Path("/bin/busybox")
BUSYBOX_LINKS = ("sh", "echo", "cat", "ls")

Compression = Literal["gzip"] | None
Platform = tuple[str, str, str | None, list[bytes]]  # os, architecture, variant, layers


class SkopeoError(RuntimeError):
    """skopeo failed; the message holds its stderr."""

    def __init__(self, command: Sequence[str], stderr: str) -> None:
        super().__init__(f"{' '.join(command)}: {stderr.strip()}")
        self.stderr = stderr


# --- layers -------------------------------------------------------------------------------


def _tar(add: Callable[[tarfile.TarFile], None]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        add(tar)
    return buffer.getvalue()


def _entry(name: str, kind: bytes, mode: int, size: int = 0, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname = kind, mode, size, target
    info.mtime = 0  # the same bytes, so the same digests, on every run
    return info


def _add_dirs(tar: tarfile.TarFile, paths: Sequence[str]) -> None:
    """Each path's parent directories, once each, before the path itself."""
    seen: set[str] = set()
    for path in paths:
        for parent in reversed(PurePosixPath(path).parents[:-1]):
            if str(parent) not in seen:
                seen.add(str(parent))
                tar.addfile(_entry(str(parent), tarfile.DIRTYPE, 0o755))


def busybox_rootfs_layer() -> bytes:
    """An uncompressed tar of a minimal runnable root: the host's static busybox and a few links."""
    binary = BUSYBOX.read_bytes()

    def add(tar: tarfile.TarFile) -> None:
        for name, mode in (("bin", 0o755), ("etc", 0o755), ("tmp", 0o1777)):
            tar.addfile(_entry(name, tarfile.DIRTYPE, mode))
        for name in ("proc", "sys", "dev"):
            tar.addfile(_entry(name, tarfile.DIRTYPE, 0o555 if name != "dev" else 0o755))
        tar.addfile(_entry("bin/busybox", tarfile.REGTYPE, 0o755, len(binary)), io.BytesIO(binary))
        for link in BUSYBOX_LINKS:
            tar.addfile(_entry(f"bin/{link}", tarfile.SYMTYPE, 0o777, target="busybox"))

    return _tar(add)


def file_layer(files: Mapping[str, bytes], *, mode: int = 0o644) -> bytes:
    """An uncompressed tar of ``files`` (path -> content), their parent directories first."""
    names = [name.lstrip("/") for name in files]

    def add(tar: tarfile.TarFile) -> None:
        _add_dirs(tar, names)
        for name, content in zip(names, files.values(), strict=True):
            tar.addfile(_entry(name, tarfile.REGTYPE, mode, len(content)), io.BytesIO(content))

    return _tar(add)


def sized_layers(count: int, total_bytes: int, seed: int, files_per_layer: int = 3) -> list[bytes]:
    """``count`` layers of incompressible pseudo-random files, ``total_bytes`` of content in all."""
    rng = random.Random(seed)
    layers = []
    for layer in range(count):
        size = total_bytes // count + (total_bytes % count if layer == count - 1 else 0)
        sizes = [size // files_per_layer] * files_per_layer
        sizes[-1] += size % files_per_layer
        files = {f"data/{layer}/file{i}.bin": rng.randbytes(n) for i, n in enumerate(sizes)}
        layers.append(file_layer(files))
    return layers


# --- OCI image layouts --------------------------------------------------------------------


def _digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def _put_blob(directory: Path, media_type: str, data: bytes) -> dict[str, object]:
    """Store ``data`` under blobs/sha256 and return its descriptor."""
    digest = _digest(data)
    path = directory / "blobs" / "sha256" / digest.removeprefix("sha256:")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def _put_json(directory: Path, media_type: str, document: dict[str, object]) -> dict[str, object]:
    return _put_blob(directory, media_type, json.dumps(document, indent=2).encode())


def _put_image(
    directory: Path,
    layers: Sequence[bytes],
    config: Mapping[str, object] | None,
    platform: dict[str, str],
    compression: Compression,
) -> dict[str, object]:
    """The layers, config and manifest blobs of one image; returns the manifest's descriptor."""
    descriptors = [
        _put_blob(directory, LAYER_GZIP, gzip.compress(layer, compresslevel=1, mtime=0))
        if compression == "gzip"
        else _put_blob(directory, LAYER, layer)
        for layer in layers
    ]
    image_config = {
        "created": "1970-01-01T00:00:00Z",
        **platform,
        "config": {"Env": [DEFAULT_PATH], "Cmd": ["sh"], **(config or {})},
        "rootfs": {"type": "layers", "diff_ids": [_digest(layer) for layer in layers]},
        "history": [
            {"created": "1970-01-01T00:00:00Z", "created_by": f"berth tests: layer {i}"}
            for i in range(len(layers))
        ],
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": _put_json(directory, CONFIG, image_config),
        "layers": descriptors,
    }
    return _put_json(directory, MANIFEST, manifest)


def _platform(os: str, architecture: str, variant: str | None) -> dict[str, str]:
    platform = {"architecture": architecture, "os": os}
    return platform | ({"variant": variant} if variant else {})


def _tag_in_layout(directory: Path, descriptor: dict[str, object], tag: str) -> None:
    """Point ``tag`` in index.json at ``descriptor``, keeping the layout's other tags."""
    (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    index_file = directory / "index.json"
    index = json.loads(index_file.read_text()) if index_file.exists() else {}
    kept = [m for m in index.get("manifests", []) if m.get("annotations", {}).get(REF_NAME) != tag]
    entry = {**descriptor, "annotations": {REF_NAME: tag}}
    index = {"schemaVersion": 2, "mediaType": INDEX, "manifests": [*kept, entry]}
    index_file.write_text(json.dumps(index, indent=2))


def write_oci_layout(
    directory: Path,
    layers: Sequence[bytes],
    *,
    tag: str = "latest",
    config: Mapping[str, object] | None = None,
    architecture: str = "amd64",
    os: str = "linux",
    variant: str | None = None,
    compression: Compression = "gzip",
) -> str:
    """Write (or add ``tag`` to) an OCI image layout holding one image; returns its digest.

    ``layers`` are uncompressed tars, stored gzip-compressed or (``compression=None``) as
    they are. ``config`` is merged over the image config's default ``config`` section
    ({"Env": [PATH], "Cmd": ["sh"]}).
    """
    platform = _platform(os, architecture, variant)
    descriptor = _put_image(directory, layers, config, platform, compression)
    _tag_in_layout(directory, descriptor, tag)
    return str(descriptor["digest"])


def write_oci_index(
    directory: Path,
    platforms: Sequence[Platform],
    *,
    tag: str = "latest",
    config: Mapping[str, object] | None = None,
    compression: Compression = "gzip",
) -> str:
    """Write a multi-platform image: one manifest per (os, arch, variant, layers) and an index
    listing them with their ``platform``; returns the index's digest."""
    manifests = []
    for os, architecture, variant, layers in platforms:
        platform = _platform(os, architecture, variant)
        descriptor = _put_image(directory, layers, config, platform, compression)
        manifests.append({**descriptor, "platform": platform})
    index = {"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests}
    descriptor = _put_json(directory, INDEX, index)
    _tag_in_layout(directory, descriptor, tag)
    return str(descriptor["digest"])


# --- skopeo ---------------------------------------------------------------------------------


def _tls_flags(server: RegistryServer, prefix: str) -> list[str]:
    """skopeo's flags to reach ``server``: ``prefix`` is "src-", "dest-" or "" (inspect)."""
    if server.ca_cert is None:
        return [f"--{prefix}tls-verify=false"]
    cert_dir = server.certs_dir(server.workdir / "skopeo-certs.d")
    return [f"--{prefix}cert-dir={cert_dir}"]


def _creds_flags(creds: str | None, prefix: str) -> list[str]:
    return [f"--{prefix}creds={creds}"] if creds else []


def skopeo(*args: str) -> str:
    """Run skopeo with ``args``; its stdout, or SkopeoError with its stderr."""
    # --insecure-policy: the host's /etc/containers/policy.json is not the tests' business.
    command = ["skopeo", "--insecure-policy", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    if result.returncode != 0:
        raise SkopeoError(command, result.stderr)
    return result.stdout


def docker_ref(server: RegistryServer, ref: str) -> str:
    """``docker://HOST/ref`` for a repository reference like ``library/busybox:latest``."""
    return f"docker://{server.host}/{ref}"


def skopeo_push(
    layout: Path,
    tag: str,
    server: RegistryServer,
    repository_ref: str,
    *,
    all_platforms: bool = False,
    compress_format: str | None = None,
    creds: str | None = None,
) -> str:
    """``skopeo copy oci:LAYOUT:TAG docker://HOST/REPO[:TAG]``; returns the pushed manifest's
    digest. ``repository_ref`` without a tag or digest gets ``tag``."""
    name = repository_ref.rsplit("/", 1)[-1]
    if ":" not in name and "@" not in name:
        repository_ref = f"{repository_ref}:{tag}"
    with tempfile.TemporaryDirectory() as scratch:
        digest_file = Path(scratch) / "digest"
        skopeo(
            "copy", f"--digestfile={digest_file}",
            *(["--all"] if all_platforms else []),
            *([f"--dest-compress-format={compress_format}"] if compress_format else []),
            *_tls_flags(server, "dest-"), *_creds_flags(creds, "dest-"),
            f"oci:{layout}:{tag}", docker_ref(server, repository_ref),
        )  # fmt: skip
        return digest_file.read_text().strip()


def skopeo_inspect(
    server: RegistryServer, ref: str, *, raw: bool = False, creds: str | None = None
) -> dict[str, object]:
    """``skopeo inspect [--raw]`` of ``HOST/ref``: the image summary, or the manifest as stored."""
    output = skopeo(
        "inspect", *(["--raw"] if raw else []),
        *_tls_flags(server, ""), *_creds_flags(creds, ""), docker_ref(server, ref),
    )  # fmt: skip
    return json.loads(output)


def skopeo_copy_out(
    server: RegistryServer, ref: str, destination: str, *, creds: str | None = None
) -> None:
    """Copy ``HOST/ref`` to a skopeo destination (``oci:DIR:TAG``, ``docker-archive:FILE``);
    skopeo checks every blob's digest on the way."""
    skopeo(
        "copy", *_tls_flags(server, "src-"), *_creds_flags(creds, "src-"),
        docker_ref(server, ref), destination,
    )  # fmt: skip
