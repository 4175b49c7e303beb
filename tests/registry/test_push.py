"""berth push to a real registry on loopback, checked with skopeo (a client berth did not
write) and the OCI image-spec's schemas: uploads, skips, mounts, byte-identical re-push."""

from __future__ import annotations

import json

import pytest

from engine.errors import InvalidArgumentError, NotFoundError, RegistryError
from tests.image_spec import validate
from tests.oci_images import (
    busybox_rootfs_layer,
    file_layer,
    skopeo,
    skopeo_copy_out,
    skopeo_inspect,
    skopeo_push,
    write_oci_layout,
)

pytestmark = pytest.mark.usefixtures("docker_config")


async def run(operation) -> tuple[list, object]:
    events = [event async for event in operation]
    return events, await operation.result()


def statuses(events) -> list[str]:
    return [event.status for event in events]


async def test_push_of_a_local_image_is_what_skopeo_reads(store, registry, tmp_path):
    await store.images.create_starter()
    target = f"{registry.host}/bb:1"
    image = await store.images.tag("busybox", target)
    events, digest = await run(store.images.push(target))
    assert statuses(events)[0] == f"The push refers to repository [{registry.host}/bb]"
    assert {"Preparing", "Pushing", "Pushed"} <= set(statuses(events))
    assert statuses(events)[-1].startswith(f"1: digest: {digest} size: ")
    manifest = skopeo_inspect(registry, "bb:1", raw=True)
    validate(manifest, "manifest")
    assert manifest["config"]["digest"] == image.id
    config = json.loads(skopeo("inspect", "--config", "--raw", "--tls-verify=false",
                               f"docker://{target}"))  # fmt: skip
    validate(config, "config")
    assert config["rootfs"]["diff_ids"] == list(image.layers)
    skopeo_copy_out(registry, "bb:1", f"oci:{tmp_path / 'out'}:x")  # every digest checked
    assert f"{registry.host}/bb@{digest}" in (await store.images.inspect(target))["RepoDigests"]
    events, again = await run(store.images.push(target))
    assert again == digest
    assert "Layer already exists" in statuses(events) and "Pushing" not in statuses(events)


async def test_a_pulled_image_goes_back_byte_identical_and_mounts(store, registry, tmp_path):
    layout = tmp_path / "layout"
    write_oci_layout(layout, [busybox_rootfs_layer(), file_layer({"etc/x": b"x"})])
    original = skopeo_push(layout, "latest", registry, "app")
    await run(store.images.pull(f"{registry.host}/app"))
    await store.images.tag(f"{registry.host}/app", f"{registry.host}/app:copy")
    events, digest = await run(store.images.push(f"{registry.host}/app:copy"))
    assert digest == original
    assert statuses(events).count("Layer already exists") == 2
    await store.images.tag(f"{registry.host}/app", f"{registry.host}/elsewhere:v1")
    events, digest = await run(store.images.push(f"{registry.host}/elsewhere:v1"))
    assert digest == original
    assert statuses(events).count("Mounted from app") == 2


async def test_push_needs_a_login_where_the_registry_says_so(store, token_registry):
    await store.images.create_starter()
    target = f"{token_registry.host}/bb:1"
    await store.images.tag("busybox", target)
    with pytest.raises(RegistryError, match=r"denied access for bb.*berth login"):
        await run(store.images.push(target))
    await store.images.login(token_registry.host, "alice", "wonderland")
    _, digest = await run(store.images.push(target))
    assert skopeo_inspect(token_registry, "bb:1", creds="alice:wonderland")["Digest"] == digest


async def test_push_bad_input(store, registry):
    with pytest.raises(InvalidArgumentError, match="a digest cannot be given"):
        store.images.push(f"{registry.host}/bb@sha256:" + "0" * 64)
    with pytest.raises(NotFoundError, match=r'no such image: ".*/missing:latest"'):
        await run(store.images.push(f"{registry.host}/missing"))
