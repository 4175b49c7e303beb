"""system df's numbers agree with what is on the engine's disk (a real engine, real
containers; the sizes are counted again here, by the test's own walk)."""

from __future__ import annotations

from engine.api import Engine
from engine.system import Category
from tests.system.disk import regular_bytes

MB = 1_000_000


def _upper(engine: Engine, container_id: str):
    return engine.paths.container_dir(container_id) / "upper"


async def test_a_stopped_containers_writes_are_its_size_and_reclaimable(engine, berth) -> None:
    wrote = berth("run", "--name", "writer", "busybox", "sh", "-c",
                  "head -c 1000000 /dev/zero > /big")  # fmt: skip
    assert wrote.returncode == 0, wrote.stderr
    assert berth("run", "-d", "--name", "runner", "busybox", "sleep", "100").returncode == 0
    exec_ = berth("exec", "runner", "sh", "-c", "head -c 200000 /dev/zero > /small")
    assert exec_.returncode == 0, exec_.stderr

    usage = await engine.system.disk_usage()
    rows = {row.container.name: row for row in usage.containers}
    for name, written in (("writer", MB), ("runner", 200_000)):
        on_disk = regular_bytes(_upper(engine, rows[name].container.id))
        assert rows[name].size == on_disk, name
        assert written <= on_disk < written + 4096, f"{name} wrote {written}: {on_disk} on disk"
    containers = usage.category("Containers")
    assert (containers.total, containers.active) == (2, 1)
    assert containers.size == rows["writer"].size + rows["runner"].size
    assert containers.reclaimable == rows["writer"].size  # the running one's stay

    images = usage.category("Images")
    busybox = (await engine.images.resolve("busybox")).layers
    layer_bytes = sum(regular_bytes(engine.paths.layer_dir(layer) / "diff") for layer in busybox)
    assert (images.total, images.active, images.size) == (1, 1, layer_bytes)
    assert images.reclaimable == 0  # in use
    assert [(i.summary.containers, i.size) for i in usage.images] == [(2, layer_bytes)]
    assert [row.kind for row in usage.categories][2:] == ["Local Volumes", "Build Cache"]
    assert usage.category("Build Cache") == Category("Build Cache", 0, 0, 0, 0)


async def test_images_sharing_a_layer_count_it_once(engine, berth) -> None:
    made = berth("run", "--name", "base", "busybox", "sh", "-c", "head -c 300000 /dev/zero > /l")
    assert made.returncode == 0, made.stderr
    assert berth("commit", "base", "derived:1").returncode == 0
    assert berth("rm", "base").returncode == 0
    assert berth("create", "--name", "user", "busybox").returncode == 0

    usage = await engine.system.disk_usage()
    by_tag = {image.summary.repo_tags[0]: image for image in usage.images}
    busybox, derived = by_tag["busybox:latest"], by_tag["derived:1"]
    top = (await engine.images.resolve("derived:1")).layers[-1]
    own = regular_bytes(engine.paths.layer_dir(top) / "diff")
    assert 300_000 <= own < 304_096
    assert (busybox.shared_size, busybox.unique_size) == (busybox.size, 0)
    assert (derived.size, derived.shared_size, derived.unique_size) == (
        busybox.size + own, busybox.size, own,
    )  # fmt: skip
    images = usage.category("Images")
    # busybox's layer once; only derived's own layer would go (busybox has a container)
    assert (images.total, images.active, images.size) == (2, 1, busybox.size + own)
    assert images.reclaimable == own


async def test_volumes_sizes_and_links(engine, berth) -> None:
    script = "head -c 5000 /dev/zero > /data/f; head -c 7000 /dev/zero > /anon/g"
    made = berth("run", "--name", "vols", "-v", "data:/data", "-v", "/anon", "busybox", "sh",
                 "-c", script)  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert berth("volume", "create", "idle").returncode == 0
    usage = await engine.system.disk_usage()
    sizes = {volume.name: (volume.links, volume.size) for volume in usage.volumes}
    anonymous = next(name for name in sizes if name not in ("data", "idle"))
    assert sizes == {"data": (1, 5000), anonymous: (1, 7000), "idle": (0, 0)}
    assert [row.local_volumes for row in usage.containers] == [2]
    volumes = usage.category("Local Volumes")
    assert (volumes.total, volumes.active, volumes.size, volumes.reclaimable) == (3, 2, 12000, 0)
