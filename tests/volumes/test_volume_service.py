"""The volumes service against a real engine root: rows, directories and mounts."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from engine.api import Engine
from engine.errors import BerthError, ConflictError, InvalidArgumentError, NotFoundError
from engine.paths import EnginePaths
from engine.storage.scratch import mount_points
from engine.volumes.model import ANONYMOUS_LABEL

TMPFS_1M = {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
MB = 1 << 20


@pytest.fixture
def volumes(engine_paths: EnginePaths):
    """The volumes service of a fresh engine (no image needed)."""
    engine = Engine(engine_paths)
    yield engine.volumes
    engine.close()


def _on_disk(paths: EnginePaths) -> list[str]:
    return sorted(os.listdir(paths.volumes))


def _mounted(path: Path) -> bool:
    return str(path) in mount_points()


async def test_create_makes_row_and_dirs_with_dockers_modes(volumes, engine_paths) -> None:
    volume = await volumes.create("data", labels={"app": "db"})
    assert volume.mountpoint == engine_paths.volume_dir("data") / "_data"
    assert stat.S_IMODE(volume.mountpoint.parent.stat().st_mode) == 0o701
    assert stat.S_IMODE(volume.mountpoint.stat().st_mode) == 0o755
    assert (volume.labels, volume.anonymous) == ({"app": "db"}, False)
    # Docker returns an existing volume to a second create of its name.
    assert await volumes.create("data") == volume
    assert await volumes.get("data") == volume
    details = await volumes.inspect("data")
    assert details == {
        "CreatedAt": volume.created.split(".")[0] + "Z", "Driver": "local",
        "Labels": {"app": "db"}, "Mountpoint": str(volume.mountpoint), "Name": "data",
        "Options": {}, "Scope": "local",
    }  # fmt: skip


async def test_create_without_a_name_is_anonymous_as_in_docker(volumes) -> None:
    volume = await volumes.create()
    assert len(volume.name) == 64 and int(volume.name, 16) >= 0
    assert volume.anonymous and volume.labels == {ANONYMOUS_LABEL: ""}


async def test_list_filters(volumes) -> None:
    await volumes.create("alpha", labels={"tier": "db", "keep": ""})
    await volumes.create("beta", labels={"tier": "web"})
    anonymous = await volumes.create()

    async def names(*filters: str) -> list[str]:
        return [volume.name for volume in await volumes.list(filters)]

    assert await names() == sorted(["alpha", "beta", anonymous.name])
    assert await names("label=tier") == ["alpha", "beta"]
    assert await names("label=tier=db") == ["alpha"]
    assert await names("label=tier", "label=keep") == ["alpha"]  # every label must match
    assert await names("label!=tier=db", "label=tier") == ["beta"]
    assert await names("name=lph") == ["alpha"]
    assert await names("name=alpha", "name=beta") == ["alpha", "beta"]  # any name may match
    assert await names("driver=local", "dangling=true") == await names()
    assert await names("dangling=false") == []
    assert await names("driver=nfs") == []
    for bad in ("colour=red", "dangling=maybe", "label", "name=("):
        with pytest.raises(InvalidArgumentError, match="invalid filter"):
            await volumes.list([bad])


@pytest.mark.parametrize(
    ("name", "driver", "options", "says"),
    [
        ("x", "local", {}, 'invalid volume name "x"'),
        ("a b", "local", {}, 'invalid volume name "a b"'),
        ("-rf", "local", {}, 'invalid volume name "-rf"'),
        ("../up", "local", {}, 'invalid volume name "../up"'),
        ("ok", "nfs", {}, 'volume driver "nfs" is not available: berth has only the local'),
        ("ok", "local", {"size": "1g"}, 'invalid volume option "size"'),
        ("ok", "local", {"type": "tmpfs"}, 'volume option "type" needs device'),
        ("ok", "local", {"o": "size=1m", "device": "tmpfs"}, 'volume option "o" needs type'),
    ],
)
async def test_bad_input_is_one_line_and_makes_nothing(
    volumes, engine_paths, name, driver, options, says
) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        await volumes.create(name, driver=driver, options=options)
    assert says in str(raised.value) and "\n" not in str(raised.value)
    assert await volumes.list() == [] and _on_disk(engine_paths) == []


async def test_create_with_other_options_than_the_existing_volume_is_refused(volumes) -> None:
    existing = await volumes.create("scratch", options=TMPFS_1M)
    with pytest.raises(ConflictError, match='volume "scratch" already exists with options'):
        await volumes.create("scratch", options={**TMPFS_1M, "o": "size=2m"})
    assert await volumes.create("scratch") == existing  # without -o: the volume as it is
    await volumes.remove("scratch")


async def test_tmpfs_volume_is_mounted_by_data_path_and_refuses_the_2nd_mb(
    volumes, engine_paths
) -> None:
    volume = await volumes.create("fast", options=TMPFS_1M)
    assert not _mounted(volume.mountpoint)  # only when a container first needs it
    data = volumes.data_path("fast")
    assert data == volume.mountpoint and _mounted(data)
    assert volumes.data_path("fast") == data  # mounted once, not stacked
    assert mount_points().count(str(data)) == 1
    with open(data / "blob", "wb") as blob:
        blob.write(b"x" * MB)
        blob.flush()
        with pytest.raises(OSError) as raised:
            blob.write(b"x" * MB)
            blob.flush()
    assert raised.value.errno == errno.ENOSPC
    usage = await volumes.usage()
    assert usage["fast"].size == (data / "blob").stat().st_size
    assert [(e.path, e.kind, e.layer) for e in await volumes.files("fast")] == [
        ("/blob", "file", 0)
    ]
    await volumes.remove("fast")
    assert not _mounted(data) and _on_disk(engine_paths) == []


async def test_bind_volume_shows_the_host_directory_and_remove_keeps_it(
    volumes, engine_paths, tmp_path
) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "config").write_text("kept")
    await volumes.create("conf", options={"type": "none", "device": str(host), "o": "bind"})
    data = volumes.data_path("conf")
    assert (data / "config").read_text() == "kept"
    (data / "written").write_text("through the volume")
    assert (host / "written").read_text() == "through the volume"
    assert (await volumes.usage())["conf"].size == -1  # the host's files, not the volume's
    names, reclaimed = await volumes.prune(all=True)
    assert (names, reclaimed) == (["conf"], 0)
    assert not _mounted(data) and _on_disk(engine_paths) == []
    assert sorted(os.listdir(host)) == ["config", "written"]


async def test_a_mount_the_kernel_refuses_is_one_line_and_leaves_no_mount(volumes) -> None:
    volume = await volumes.create("bad", options={**TMPFS_1M, "o": "size=lots"})
    with pytest.raises(BerthError) as raised:
        volumes.data_path("bad")
    message = str(raised.value)
    assert message.startswith('cannot mount volume "bad" (type=tmpfs, device=tmpfs, o=size=lots)')
    assert "berth volume rm bad" in message and "\n" not in message
    assert not _mounted(volume.mountpoint)
    await volumes.remove("bad")


async def test_remove(volumes, engine_paths) -> None:
    await volumes.create("gone")
    (engine_paths.volume_dir("gone") / "_data" / "file").write_text("data")
    await volumes.remove("gone")
    assert await volumes.list() == [] and _on_disk(engine_paths) == []
    with pytest.raises(NotFoundError, match=r'^no such volume: "gone" \(see berth volume ls\)$'):
        await volumes.remove("gone")
    await volumes.remove("gone", force=True)  # -f: a missing volume is no error


async def test_prune_takes_anonymous_ones_unless_all_and_counts_bytes(volumes) -> None:
    named = await volumes.create("named", labels={"keep": "yes"})
    anonymous = await volumes.create()
    data = anonymous.mountpoint
    (data / "a").write_bytes(b"a" * 3000)
    os.link(data / "a", data / "hard")  # one inode: counted once, as Docker counts
    (data / "sub").mkdir()
    (data / "sub" / "b").write_bytes(b"b" * 500)
    (named.mountpoint / "c").write_bytes(b"c" * 10)
    assert (await volumes.usage())[anonymous.name].size == 3500
    assert await volumes.prune() == ([anonymous.name], 3500)
    assert await volumes.prune(all=True, filters=["label!=keep=yes"]) == ([], 0)
    assert await volumes.prune(all=True, filters=["label=keep"]) == (["named"], 10)
    with pytest.raises(InvalidArgumentError, match='invalid filter "dangling=true"'):
        await volumes.prune(filters=["dangling=true"])


async def test_files_lists_the_tree_sorted_and_keeps_device_nodes(volumes) -> None:
    volume = await volumes.create("tree")
    data = volume.mountpoint
    (data / "b").mkdir()
    (data / "b" / "inner").write_text("12345")
    (data / "a.txt").write_text("1")
    (data / "link").symlink_to("/etc/passwd")
    os.mknod(data / "null0", stat.S_IFCHR | 0o600, os.makedev(0, 0))  # an overlay whiteout's shape
    listed = [(e.path, e.kind, e.size, e.target) for e in await volumes.files("tree")]
    assert listed == [
        ("/a.txt", "file", 1, ""), ("/b", "dir", 0, ""), ("/b/inner", "file", 5, ""),
        ("/link", "symlink", 0, "/etc/passwd"), ("/null0", "device", 0, ""),
    ]  # fmt: skip


async def test_create_clears_the_directory_a_crashed_remove_left(volumes, engine_paths) -> None:
    stale = engine_paths.volume_dir("again") / "_data"
    stale.mkdir(parents=True)
    (stale / "old").write_text("from a volume removed before")
    volume = await volumes.create("again")
    assert list(volume.mountpoint.iterdir()) == []


async def test_sync_api_for_the_containers_service(volumes, engine_paths) -> None:
    made, fresh = volumes.ensure("shared")
    assert fresh and volumes.ensure("shared") == (made, False)
    anonymous, fresh = volumes.ensure(None, anonymous=True)
    assert fresh and anonymous.anonymous and ANONYMOUS_LABEL in anonymous.labels
    assert volumes.find("shared") == made and volumes.find("nope") is None
    assert not made.populated
    volumes.mark_populated("shared")
    assert volumes.find("shared").populated
    # rm -v takes anonymous volumes only, never a named one
    assert volumes.remove_anonymous(["shared", anonymous.name, "nope"]) == [anonymous.name]
    volumes.discard(["shared", "nope"])
    assert await volumes.list() == [] and _on_disk(engine_paths) == []
    with pytest.raises(NotFoundError):
        volumes.data_path("shared")


async def test_a_volume_containers_mount_is_never_removed_force_or_not(engine, berth) -> None:
    for name in ("user2", "user1"):
        created = berth("create", "--name", name, "-v", "shared:/data", "busybox", "true")
        assert created.returncode == 0, created.stderr
    for force in (False, True):
        with pytest.raises(ConflictError) as raised:
            await engine.volumes.remove("shared", force=force)
        assert str(raised.value) == (
            'volume "shared" is in use by container(s) user1, user2: remove them first (berth rm)'
        )
    assert [v.name for v in await engine.volumes.list(["dangling=false"])] == ["shared"]
    ids = berth("ps", "-aq", "--no-trunc").stdout.split()
    assert sorted((await engine.volumes.usage())["shared"].containers) == sorted(ids)
    assert await engine.volumes.prune(all=True) == ([], 0)
    assert berth("rm", "user1", "user2").returncode == 0
    await engine.volumes.remove("shared")  # a named volume outlives its containers until now
    assert await engine.volumes.list() == []
