"""berth pull against a real registry on loopback, images put there by skopeo: plain HTTP,
TLS, token and basic auth, manifest lists, zstd, damaged blobs, cancellation, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.api import Engine
from engine.errors import (
    IntegrityError,
    InvalidArgumentError,
    NotFoundError,
    RegistryError,
    UnsupportedError,
)
from tests.oci_images import (
    busybox_rootfs_layer,
    file_layer,
    sized_layers,
    skopeo_push,
    write_oci_index,
    write_oci_layout,
)
from tests.registry_server import RegistryServer

pytestmark = pytest.mark.usefixtures("docker_config")


def push_app(server: RegistryServer, tmp_path: Path, name: str = "app", **push) -> str:
    layout = tmp_path / f"layout-{name}"
    write_oci_layout(layout, [busybox_rootfs_layer(), file_layer({"etc/hello": name.encode()})])
    return skopeo_push(layout, "latest", server, name, **push)


async def pulled(operation) -> tuple[list, object]:
    events = [event async for event in operation]
    return events, await operation.result()


def statuses(events, layer: str | None = None) -> list[str]:
    return [event.status for event in events if layer is None or event.id == layer]


def assert_nothing_stored(store: Engine) -> None:
    paths = store.paths
    assert store.db.query("SELECT id FROM images") == []
    assert store.db.query("SELECT id FROM layers") == []
    assert not list(paths.layers.iterdir())
    assert not list(paths.tmp.iterdir())


async def test_pull_stores_the_image_with_its_digest(store, registry, tmp_path):
    digest = push_app(registry, tmp_path)
    events, image = await pulled(store.images.pull(f"{registry.host}/app"))
    assert image.tags == (f"{registry.host}/app:latest",)
    assert image.digests == (f"{registry.host}/app@{digest}",)
    assert statuses(events)[0] == "latest: Pulling from app"
    assert f"Digest: {digest}" in statuses(events)
    assert statuses(events)[-1] == f"Status: Downloaded newer image for {registry.host}/app:latest"
    layers = {event.id for event in events if event.id}
    assert len(layers) == 2
    for layer in layers:
        assert statuses(events, layer)[0] == "Pulling fs layer"
        assert "Downloading" in statuses(events, layer)
        assert statuses(events, layer)[-1] == "Pull complete"
    files = {entry.path for entry in await store.images.merged_files(image.id)}
    assert {"bin/busybox", "etc/hello"} <= {path.lstrip("/") for path in files}
    inspect = await store.images.inspect(f"{registry.host}/app@{digest}")
    assert inspect["Id"] == image.id and inspect["RepoDigests"] == list(image.digests)
    assert not list(store.paths.tmp.iterdir())


async def test_a_second_pull_downloads_nothing(store, registry, tmp_path):
    push_app(registry, tmp_path, "one")
    push_app(registry, tmp_path, "two")  # the same busybox base layer
    await pulled(store.images.pull(f"{registry.host}/one"))
    events, _ = await pulled(store.images.pull(f"{registry.host}/one"))
    assert statuses(events)[-1].startswith("Status: Image is up to date for")
    assert "Downloading" not in statuses(events)
    events, _ = await pulled(store.images.pull(f"{registry.host}/two"))
    assert statuses(events).count("Already exists") == 1
    assert statuses(events).count("Pull complete") == 1


async def test_pull_by_digest_does_not_tag(store, registry, tmp_path):
    digest = push_app(registry, tmp_path)
    _, image = await pulled(store.images.pull(f"{registry.host}/app@{digest}"))
    assert image.tags == ()
    assert image.digests == (f"{registry.host}/app@{digest}",)
    assert (await store.images.remove(f"{registry.host}/app@{digest}"))[0].startswith("Untagged")
    assert store.db.query("SELECT id FROM images") == []


async def test_a_manifest_list_gives_the_hosts_platform_or_the_one_asked(store, registry, tmp_path):
    layout = tmp_path / "multi"
    index = write_oci_index(layout, [
        ("linux", "amd64", None, [busybox_rootfs_layer()]),
        ("linux", "arm64", "v8", [file_layer({"arch": b"arm64"})]),
    ])  # fmt: skip
    skopeo_push(layout, "latest", registry, "multi", all_platforms=True)
    _, image = await pulled(store.images.pull(f"{registry.host}/multi", platform="linux/arm64"))
    assert image.config["architecture"] == "arm64"
    assert image.digests == (f"{registry.host}/multi@{index}",)  # the list's digest, as Docker
    _, image = await pulled(store.images.pull(f"{registry.host}/multi:latest"))
    assert image.config["architecture"] == "amd64"  # this host's
    with pytest.raises(UnsupportedError, match=r"no image for platform linux/s390x .*linux/amd64"):
        await pulled(store.images.pull(f"{registry.host}/multi", platform="linux/s390x"))


async def test_zstd_layers(store, registry, tmp_path):
    push_app(registry, tmp_path, compress_format="zstd")
    _, image = await pulled(store.images.pull(f"{registry.host}/app"))
    kinds = store.db.query("SELECT DISTINCT media_type FROM layer_blobs")
    assert [row[0] for row in kinds] == ["application/vnd.oci.image.layer.v1.tar+zstd"]
    assert len(image.layers) == 2


async def test_tls_with_the_registrys_ca(store, tls_registry, tmp_path):
    push_app(tls_registry, tmp_path)
    certs = tls_registry.certs_dir(tmp_path / "certs")
    _, image = await pulled(store.images.pull(f"{tls_registry.host}/app", cert_dir=str(certs)))
    assert image.tags
    with pytest.raises(RegistryError, match=r"^TLS failure talking to registry .*certs\.d"):
        await pulled(store.images.pull(f"{tls_registry.host}/app"))
    _, again = await pulled(store.images.pull(f"{tls_registry.host}/app", tls_verify=False))
    assert again.id == image.id


async def test_token_auth_with_a_login(store, token_registry, tmp_path, docker_config):
    push_app(token_registry, tmp_path, creds="alice:wonderland")
    reference = f"{token_registry.host}/app"
    denied = r"denied access for app: authentication required .*berth login 127\.0\.0\.1"
    with pytest.raises(RegistryError, match=denied):
        await pulled(store.images.pull(reference))
    with pytest.raises(RegistryError, match="refused the username or password"):
        await store.images.login(token_registry.host, "alice", "wrong")
    assert not docker_config.exists()
    where = await store.images.login(token_registry.host, "alice", "wonderland")
    assert where == docker_config
    assert token_registry.host in json.loads(docker_config.read_text())["auths"]
    _, image = await pulled(store.images.pull(reference))
    assert image.tags == (f"{reference}:latest",)
    assert any(
        request.credentialed and request.user == "alice"
        for request in token_registry.token_server.requests
    )
    assert await store.images.logout(token_registry.host)
    assert not await store.images.logout(token_registry.host)


async def test_basic_auth(store, htpasswd_registry, tmp_path):
    push_app(htpasswd_registry, tmp_path, creds="alice:wonderland")
    with pytest.raises(RegistryError, match=r"needs a login for app .*berth login"):
        await pulled(store.images.pull(f"{htpasswd_registry.host}/app"))
    with pytest.raises(RegistryError, match="refused the username or password"):
        await store.images.login(htpasswd_registry.host, "alice", "nope")
    await store.images.login(htpasswd_registry.host, "alice", "wonderland")
    _, image = await pulled(store.images.pull(f"{htpasswd_registry.host}/app"))
    assert image.tags


async def test_a_damaged_blob_is_refused_and_nothing_is_stored(store, registry, tmp_path):
    layout = tmp_path / "layout"
    write_oci_layout(layout, [file_layer({"data": bytes(range(256)) * 4096})])
    skopeo_push(layout, "latest", registry, "app")
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"].removeprefix("sha256:")
    manifest = json.loads((layout / "blobs" / "sha256" / manifest_digest).read_text())
    registry.corrupt_blob(manifest["layers"][0]["digest"])
    with pytest.raises(IntegrityError, match=r"^layer [0-9a-f]{12}: the blob has digest sha256:"):
        await pulled(store.images.pull(f"{registry.host}/app"))
    assert_nothing_stored(store)


@pytest.mark.parametrize(
    ("reference", "error", "message"),
    [
        ("{host}/nope", NotFoundError, r"^manifest for {host}/nope:latest not found: .*unknown"),
        ("{host}/app:nope", NotFoundError, r"^manifest for {host}/app:nope not found: manifest un"),
        ("127.0.0.1:1/app", RegistryError, r"^cannot reach registry 127\.0\.0\.1:1: .*refused"),
    ],
    ids=["unknown-repository", "unknown-tag", "unreachable"],
)
async def test_registry_errors_name_the_image(store, registry, tmp_path, reference, error, message):
    push_app(registry, tmp_path)
    host = registry.host.replace(".", r"\.")
    with pytest.raises(error, match=message.format(host=host)):
        await pulled(store.images.pull(reference.format(host=registry.host)))
    assert_nothing_stored(store)


@pytest.mark.parametrize(
    "reference", ["Bad/Name", "app:bad tag", "app@sha256:abc", "app:"], ids=str
)
def test_bad_references_are_refused_before_any_request(store, reference):
    with pytest.raises(InvalidArgumentError, match="invalid reference format"):
        store.images.pull(reference)


def test_a_bad_platform_is_refused(store):
    with pytest.raises(InvalidArgumentError, match="invalid platform"):
        store.images.pull("app", platform="amd64")


async def test_a_cancelled_pull_leaves_nothing_and_the_next_completes(store, registry, tmp_path):
    layout = tmp_path / "big"
    write_oci_layout(layout, sized_layers(3, 24_000_000, seed=7), compression=None)
    skopeo_push(layout, "latest", registry, "big")
    async with store.images.pull(f"{registry.host}/big") as operation:
        async for event in operation:
            if event.status == "Downloading":
                break  # the consumer goes away mid-download
    assert_nothing_stored(store)
    _, image = await pulled(store.images.pull(f"{registry.host}/big"))
    assert len(image.layers) == 3
    assert not list(store.paths.tmp.iterdir())
