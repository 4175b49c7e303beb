"""system prune and container prune on a real engine: what goes, what stays, and the space
reported against what left the disk (image layers, writable layers and volumes' files,
counted by the test's own walk)."""

from __future__ import annotations

import pytest

from engine.errors import InvalidArgumentError
from engine.system import PruneFilter
from tests.system.disk import engine_bytes


def _ok(berth, *args: str) -> str:
    result = berth(*args)
    assert result.returncode == 0, f"{args}: {result.stderr}"
    return result.stdout.strip()


async def _names(engine) -> set[str]:
    return {container.name for container in await engine.containers.list(all=True)}


async def test_prune_takes_stopped_containers_and_unused_networks_keeps_running(
    engine, berth
) -> None:
    _ok(berth, "network", "create", "spare")
    _ok(berth, "network", "create", "busy")
    _ok(berth, "run", "-d", "--name", "keeper", "--network", "busy", "busybox", "sleep", "100")
    done = _ok(berth, "create", "--name", "done", "busybox", "sh", "-c",
               "head -c 500000 /dev/zero > /f")  # fmt: skip
    _ok(berth, "start", "-a", "done")
    fresh = _ok(berth, "create", "--name", "fresh", "busybox")
    before = engine_bytes(engine.paths)

    pruned = await engine.system.prune()

    assert sorted(pruned.containers) == sorted([done, fresh])
    assert pruned.networks == ["spare"]
    assert (pruned.volumes, pruned.images) == ([], [])  # busybox: tagged, and in use
    assert await _names(engine) == {"keeper"}
    assert (await engine.containers.get("keeper")).running
    assert {network.name for network in await engine.networks.list()} == {"bridge", "busy"}
    assert 500_000 <= pruned.reclaimed == before - engine_bytes(engine.paths)


async def test_prune_all_takes_every_unused_image_and_its_layers(engine, berth) -> None:
    _ok(berth, "run", "--name", "base", "busybox", "sh", "-c", "head -c 300000 /dev/zero > /l")
    _ok(berth, "commit", "base", "derived:1")
    before = engine_bytes(engine.paths)

    dangling_only = await engine.system.prune()
    assert dangling_only.images == []  # both tagged
    assert len(await engine.images.list()) == 2
    pruned = await engine.system.prune(all_images=True)

    assert await engine.images.list() == []
    assert "Untagged: busybox:latest" in pruned.images
    assert dangling_only.reclaimed + pruned.reclaimed == before - engine_bytes(engine.paths)
    assert engine_bytes(engine.paths) == 0


async def test_volumes_go_only_with_the_flag_and_only_anonymous_ones(engine, berth) -> None:
    script = "head -c 100000 /dev/zero > /anon/a; head -c 70000 /dev/zero > /named/n"
    _ok(berth, "run", "--name", "vols", "-v", "named:/named", "-v", "/anon", "busybox", "sh",
        "-c", script)  # fmt: skip
    _ok(berth, "volume", "create", "idle")
    anonymous = set(await engine.volumes.usage()) - {"named", "idle"}
    assert len(anonymous) == 1

    without = await engine.system.prune()
    assert without.volumes == [] and set(await engine.volumes.usage()) >= anonymous
    before = engine_bytes(engine.paths)
    pruned = await engine.system.prune(volumes=True)

    assert pruned.volumes == sorted(anonymous)
    assert set(await engine.volumes.usage()) == {"named", "idle"}
    assert pruned.reclaimed == before - engine_bytes(engine.paths) == 100_000


async def test_filters_restrict_what_goes(engine, berth) -> None:
    _ok(berth, "run", "--name", "old", "busybox", "true")
    _ok(berth, "commit", "-c", "LABEL tier=scratch", "old", "labelled:1")
    _ok(berth, "commit", "old", "plain:1")

    recent = PruneFilter.parse(["until=1h"])  # everything here is newer
    assert (await engine.system.prune_containers(recent)).removed == []
    assert (await engine.system.prune(all_images=True, filters=recent)).containers == []
    assert await _names(engine) == {"old"}

    unlabelled = PruneFilter.parse(["label=tier"])  # containers have no labels: none goes
    pruned = await engine.system.prune(all_images=True, filters=unlabelled)
    assert pruned.containers == [] and await _names(engine) == {"old"}
    tags = {tag for image in await engine.images.list() for tag in image.repo_tags}
    assert tags == {"busybox:latest", "plain:1"}  # labelled's went; busybox is in use

    assert len((await engine.system.prune_containers(PruneFilter.parse(["until=0s"]))).removed) == 1
    await engine.system.prune(all_images=True, filters=PruneFilter.parse(["label!=tier"]))
    assert await engine.images.list() == []


async def test_until_with_volumes_is_refused_before_anything_goes(engine, berth) -> None:
    _ok(berth, "run", "--name", "stays", "busybox", "true")
    with pytest.raises(InvalidArgumentError, match='"until" filter is not supported'):
        await engine.system.prune(volumes=True, filters=PruneFilter.parse(["until=1h"]))
    assert await _names(engine) == {"stays"}
