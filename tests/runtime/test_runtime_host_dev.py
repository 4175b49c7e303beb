"""The runtime writes nothing through a bind mount: not into the host's /dev, nor a volume.

A config may bind the host's /dev over the container's (``-v /dev:/dev``). The runtime
then must not make its default devices, links or mount points there: they would land in
the host's /dev, replacing the host's own /dev/null.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.errors import ContainerStartError
from engine.runtime import devices
from engine.runtime.rootpath import Root
from tests.runtime.conftest import Bundle, Containers

Runtime = Callable[..., subprocess.CompletedProcess]
Entry = tuple[int, int, int, str | None]  # inode, mode, rdev, link target

HOST_DEV = Path("/dev")
HOST_DEV_BIND = {
    "destination": "/dev", "type": "bind", "source": "/dev", "options": ["rbind", "rw"]
}  # fmt: skip
# Other processes on the host open ptys and shared memory meanwhile; the runtime makes
# neither (this test gives it no terminal).
_OTHERS_CHURN = re.compile(r"/dev/pts/\d+|/dev/shm/.+")


def snapshot(directory: Path = HOST_DEV) -> dict[str, Entry]:
    """Every entry under ``directory``, its subdirectories (pts, shm, mqueue...) too."""
    entries = {}
    for parent, subdirectories, files in os.walk(directory):
        for name in subdirectories + files:
            path = os.path.join(parent, name)
            try:
                info = os.lstat(path)
                target = os.readlink(path) if stat.S_ISLNK(info.st_mode) else None
            except FileNotFoundError:  # gone while listed
                continue
            entries[path] = (info.st_ino, info.st_mode, info.st_rdev, target)
    return entries


def steady(entries: dict[str, Entry]) -> dict[str, Entry]:
    return {path: entry for path, entry in entries.items() if not _OTHERS_CHURN.fullmatch(path)}


def host_only_device() -> str:
    """A character device of the host's /dev that the runtime never makes itself."""
    own = {Path(device.path).name for device in devices.DEFAULT_DEVICES}
    for entry in sorted(os.scandir(HOST_DEV), key=lambda entry: entry.name):
        if entry.name not in own and stat.S_ISCHR(entry.stat(follow_symlinks=False).st_mode):
            return entry.name
    pytest.skip("the host's /dev has no character device besides the default ones")


def run(berth_runtime: Runtime, bundle: Bundle) -> subprocess.CompletedProcess:
    bundle.write()
    return berth_runtime("run", "--bundle", str(bundle.path), bundle.container_id)


def test_a_bound_host_dev_is_left_exactly_as_it_was(
    containers: Containers, berth_runtime: Runtime
) -> None:
    node = host_only_device()
    bundle = containers.bundle("sh", "-c", f"""
        stat -c %i /dev/null
        head -c 4 /dev/null | wc -c
        ls /dev | grep -x {node}
        test -c /dev/{node} && echo char
    """)  # fmt: skip
    # As `-v /dev:/dev` writes it: after the standard tmpfs /dev and its mounts.
    bundle.config["mounts"].append(HOST_DEV_BIND)
    before = snapshot()
    result = run(berth_runtime, bundle)
    after = snapshot()
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [str(os.stat("/dev/null").st_ino), "0", node, "char"]
    assert steady(after) == steady(before)
    assert {"/dev/null", "/dev/pts", "/dev/shm"} <= before.keys()  # the snapshot saw them


def test_a_device_already_in_the_bound_host_dev_is_used_as_it_is(
    containers: Containers, berth_runtime: Runtime
) -> None:
    bundle = containers.bundle("stat", "-c", "%i", "/dev/zero")
    bundle.config["mounts"].append(HOST_DEV_BIND)
    # --privileged lists the host's own nodes: they are there already.
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/zero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o600}
    ]
    before = snapshot()
    result = run(berth_runtime, bundle)
    assert steady(snapshot()) == steady(before)
    assert (result.returncode, result.stdout) == (0, f"{os.stat('/dev/zero').st_ino}\n")


def test_a_device_missing_from_the_bound_host_dev_is_refused(
    containers: Containers, berth_runtime: Runtime
) -> None:
    bundle = containers.bundle("true")
    bundle.config["mounts"].append(HOST_DEV_BIND)
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/berth-test-null", "type": "c", "major": 1, "minor": 3}
    ]
    before = snapshot()
    result = run(berth_runtime, bundle)
    assert steady(snapshot()) == steady(before)
    assert result.returncode == 125
    assert "cannot create device /dev/berth-test-null: /dev is a bind mount" in result.stderr


def test_no_mount_point_is_made_in_a_bound_host_directory(
    containers: Containers, berth_runtime: Runtime, tmp_path: Path
) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    bundle = containers.bundle("true")
    bundle.config["mounts"] += [
        {"destination": "/data", "type": "bind", "source": str(volume), "options": ["rbind"]},
        {"destination": "/data/cache", "type": "tmpfs", "source": "tmpfs", "options": []},
    ]
    result = run(berth_runtime, bundle)
    assert result.returncode == 125
    assert "cannot create mount point /data/cache: /data is a bind mount" in result.stderr
    assert os.listdir(volume) == []


def test_mount_points_that_exist_in_a_bound_host_directory_are_used(
    containers: Containers, berth_runtime: Runtime, tmp_path: Path
) -> None:
    volume = tmp_path / "volume"
    (volume / "cache").mkdir(parents=True)
    bundle = containers.bundle("sh", "-c", "grep -c ' /data/cache tmpfs ' /proc/mounts")
    bundle.config["mounts"] += [
        {"destination": "/data", "type": "bind", "source": str(volume), "options": ["rbind"]},
        {"destination": "/data/cache", "type": "tmpfs", "source": "tmpfs", "options": []},
    ]
    result = run(berth_runtime, bundle)
    assert (result.returncode, result.stdout) == (0, "1\n")
    assert os.listdir(volume) == ["cache"]


def test_root_owns_the_rootfs_and_its_own_tmpfs_only(tmp_path: Path) -> None:
    root = Root(tmp_path)
    dev = tmp_path / "dev"
    assert root.owns(dev / "null")  # the rootfs itself
    root.mounted(dev, fresh=True)
    root.mounted(dev / "pts", fresh=False)
    root.mounted(dev / "shm", fresh=True)
    assert root.is_fresh("/dev") and root.owns(dev / "null") and root.owns(dev / "shm" / "x")
    assert not root.owns(dev / "pts" / "x")
    # A bind over /dev hides the tmpfs and everything mounted in it.
    root.mounted(dev, fresh=False)
    assert not root.is_fresh("/dev")
    assert not root.owns(dev / "null") and not root.owns(dev / "shm" / "x")
    with pytest.raises(ContainerStartError, match="create mount point /dev/mqueue: /dev is a bind"):
        root.check_owned(dev / "mqueue", "mount point /dev/mqueue")
    # A tmpfs mounted over part of it later is ours again.
    root.mounted(dev / "shm", fresh=True)
    assert root.owns(dev / "shm" / "x") and not root.owns(dev / "x")
    assert root.owns(tmp_path / "etc" / "hosts")
