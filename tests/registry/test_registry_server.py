"""The registry fixtures are real: skopeo and plain HTTP against them, no berth involved."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.oci_images import (
    INDEX,
    LAYER_GZIP,
    LAYER_ZSTD,
    MANIFEST,
    SkopeoError,
    busybox_rootfs_layer,
    docker_ref,
    file_layer,
    skopeo,
    skopeo_copy_out,
    skopeo_inspect,
    skopeo_push,
    write_oci_index,
    write_oci_layout,
)
from tests.registry_server import RegistryServer

CREDS = "alice:wonderland"


def _busybox_layout(tmp_path: Path) -> tuple[Path, str]:
    layout = tmp_path / "layout"
    return layout, write_oci_layout(layout, [busybox_rootfs_layer()])


def test_push_busybox_and_inspect(registry: RegistryServer, tmp_path: Path) -> None:
    layout, digest = _busybox_layout(tmp_path)
    assert skopeo_push(layout, "latest", registry, "library/busybox") == digest
    info = skopeo_inspect(registry, "library/busybox:latest")
    assert (info["Digest"], info["Architecture"], info["Os"]) == (digest, "amd64", "linux")
    manifest = skopeo_inspect(registry, "library/busybox:latest", raw=True)
    layer = manifest["layers"][0]
    assert layer["mediaType"] == LAYER_GZIP
    assert registry.blob_path(layer["digest"]).stat().st_size == layer["size"]


def test_two_platform_index(registry: RegistryServer, tmp_path: Path) -> None:
    platforms = [
        ("linux", "amd64", None, [file_layer({"/etc/arch": b"amd64\n"})]),
        ("linux", "arm64", "v8", [file_layer({"/etc/arch": b"arm64\n"})]),
    ]
    digest = write_oci_index(tmp_path / "layout", platforms)
    pushed = skopeo_push(tmp_path / "layout", "latest", registry, "multi", all_platforms=True)
    assert pushed == digest
    index = skopeo_inspect(registry, "multi:latest", raw=True)
    assert index["mediaType"] == INDEX
    found = [m["platform"] for m in index["manifests"]]
    assert found == [
        {"os": "linux", "architecture": "amd64"},
        {"os": "linux", "architecture": "arm64", "variant": "v8"},
    ]
    for entry in index["manifests"]:
        manifest = skopeo_inspect(registry, f"multi@{entry['digest']}", raw=True)
        assert manifest["mediaType"] == MANIFEST


def test_zstd_push_has_zstd_media_type(registry: RegistryServer, tmp_path: Path) -> None:
    layout, _ = _busybox_layout(tmp_path)
    skopeo_push(layout, "latest", registry, "zstd", compress_format="zstd")
    manifest = skopeo_inspect(registry, "zstd:latest", raw=True)
    assert [layer["mediaType"] for layer in manifest["layers"]] == [LAYER_ZSTD]


def test_tls_needs_the_test_ca(tls_registry: RegistryServer, tmp_path: Path) -> None:
    assert tls_registry.url.startswith("https://127.0.0.1:")
    certs = tls_registry.certs_dir(tmp_path / "certs.d")
    assert (certs / "ca.crt").read_bytes() == tls_registry.ca_cert.read_bytes()
    layout, digest = _busybox_layout(tmp_path)
    assert skopeo_push(layout, "latest", tls_registry, "secure") == digest
    context = ssl.create_default_context(cafile=tls_registry.ca_cert)
    with urllib.request.urlopen(f"{tls_registry.url}/v2/", context=context) as response:
        assert response.status == 200
    with pytest.raises(SkopeoError, match="certificate signed by unknown authority"):
        skopeo("inspect", "--raw", docker_ref(tls_registry, "secure:latest"))


def test_htpasswd_checks_credentials(htpasswd_registry: RegistryServer, tmp_path: Path) -> None:
    layout, digest = _busybox_layout(tmp_path)
    with pytest.raises(SkopeoError, match="authentication required"):
        skopeo_push(layout, "latest", htpasswd_registry, "private", creds="alice:wrong")
    assert skopeo_push(layout, "latest", htpasswd_registry, "private", creds=CREDS) == digest
    assert skopeo_inspect(htpasswd_registry, "private:latest", creds=CREDS)["Digest"] == digest
    with pytest.raises(SkopeoError, match="authentication required"):
        skopeo_inspect(htpasswd_registry, "private:latest")


def test_token_auth(token_registry: RegistryServer, tmp_path: Path) -> None:
    tokens = token_registry.token_server
    assert tokens is not None
    layout, digest = _busybox_layout(tmp_path)
    assert skopeo_push(layout, "latest", token_registry, "team/app", creds=CREDS) == digest
    pushes = [r for r in tokens.requests if r.credentialed and r.user == "alice" and r.access]
    assert any("push" in access["actions"] for r in pushes for access in r.access)
    with pytest.raises(SkopeoError, match="authentication required"):
        skopeo_inspect(token_registry, "team/app:latest")
    assert not tokens.requests[-1].credentialed and tokens.requests[-1].access == []


def test_token_server_refuses_wrong_password(token_registry: RegistryServer) -> None:
    tokens = token_registry.token_server
    assert tokens is not None
    basic = base64.b64encode(b"alice:wrong").decode()
    request = urllib.request.Request(
        f"{tokens.realm}?service=berth-test-registry&scope=repository:team/app:pull",
        headers={"Authorization": f"Basic {basic}"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 401
    assert json.loads(refused.value.read())["errors"][0]["code"] == "UNAUTHORIZED"


def test_corrupt_blob_fails_a_pull(registry: RegistryServer, tmp_path: Path) -> None:
    layout, _ = _busybox_layout(tmp_path)
    skopeo_push(layout, "latest", registry, "broken")
    layer = skopeo_inspect(registry, "broken:latest", raw=True)["layers"][0]
    registry.corrupt_blob(layer["digest"])
    with pytest.raises(SkopeoError, match="Digest did not match"):
        skopeo_copy_out(registry, "broken:latest", f"oci:{tmp_path / 'out'}:latest")
