"""Pure logic: config.json checks, mount options, resolving paths inside the rootfs."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from engine.errors import BerthError, InvalidArgumentError, UnsupportedError
from engine.linux import syscalls as sc
from engine.runtime import mountoptions, rootpath, spec

if TYPE_CHECKING:
    from tests.runtime.conftest import Containers

Edit = Callable[[dict[str, Any]], None]


def _load(containers: Containers, edit: Edit) -> spec.Spec:
    bundle = containers.bundle("true")
    edit(bundle.config)
    bundle.write()
    return spec.load(bundle.path, bundle.container_id)


def test_a_standard_config_loads(containers: Containers) -> None:
    bundle = containers.bundle("sh", "-c", "true")
    bundle.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 2}]
    bundle.write()
    loaded = spec.load(bundle.path, bundle.container_id)
    assert loaded.root == bundle.rootfs
    assert loaded.process.args == ("sh", "-c", "true")
    assert loaded.process.rlimits == (spec.Rlimit("RLIMIT_NOFILE", 1, 2),)
    assert loaded.cgroups_path == bundle.cgroups_path
    assert [ns.type for ns in loaded.namespaces][:2] == ["pid", "mount"]
    assert loaded.mounts[0] == spec.Mount("/proc", "proc", "proc", ("nosuid", "noexec", "nodev"))


def _set(path: str, value: Any) -> Edit:
    def edit(config: dict[str, Any]) -> None:
        *parents, key = path.split(".")
        for parent in parents:
            config = config[parent]
        if value is None:
            del config[key]
        else:
            config[key] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "error", "message"),
    [
        (_set("ociVersion", "2.0.0"), InvalidArgumentError, "unsupported ociVersion"),
        (_set("process.args", []), InvalidArgumentError, "process.args must list"),
        (_set("process.cwd", "tmp"), InvalidArgumentError, "must be absolute"),
        (_set("process.terminal", "yes"), InvalidArgumentError, "process.terminal must be a"),
        (_set("root", None), InvalidArgumentError, "root is required"),
        (_set("process.user.uid", "0"), InvalidArgumentError, "process.user.uid must be an int"),
        (_set("linux.namespaces", [{"type": "pid"}]), InvalidArgumentError,
         "needs a new mount namespace"),
        (_set("linux.namespaces", [{"type": "mount"}]), InvalidArgumentError,
         "hostname needs a uts namespace"),
        (_set("linux.namespaces", [{"type": "user"}]), UnsupportedError,
         "user namespaces are not supported"),
        (_set("linux.cgroupsPath", "system.slice:berth:x"), UnsupportedError,
         "systemd cgroup paths"),
        (_set("linux.rootfsPropagation", "sideways"), InvalidArgumentError,
         "unknown rootfsPropagation"),
        (_set("process.rlimits", [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]),
         InvalidArgumentError, "unknown rlimit"),
        (_set("process.rlimits", [{"type": "RLIMIT_NOFILE", "soft": 2, "hard": 1}]),
         InvalidArgumentError, "soft 2 exceeds hard 1"),
        (_set("linux.devices", [{"path": "/dev/x", "type": "z"}]), InvalidArgumentError,
         "unknown type"),
    ],
)  # fmt: skip
def test_invalid_configs(
    containers: Containers, edit: Edit, error: type[BerthError], message: str
) -> None:
    with pytest.raises(error, match=message):
        _load(containers, edit)


def test_missing_config(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match=r"has no config\.json"):
        spec.load(tmp_path, "x")


def test_default_cgroup_path(containers: Containers) -> None:
    bundle = containers.bundle("true")
    path = bundle.config["linux"].pop("cgroupsPath")
    bundle.write()
    loaded = spec.load(bundle.path, bundle.container_id)
    bundle.config["linux"]["cgroupsPath"] = path  # for the fixture's cleanup
    assert loaded.cgroups_path == f"berth/{bundle.container_id}"


def test_mount_options() -> None:
    parsed = mountoptions.parse(
        ["rbind", "ro", "nosuid", "rw", "nodev", "mode=755", "size=1m", "rprivate", "slave"]
    )
    assert parsed.flags == sc.MS_BIND | sc.MS_REC | sc.MS_NOSUID | sc.MS_NODEV
    assert parsed.data == "mode=755,size=1m"
    assert parsed.propagation == (sc.MS_PRIVATE | sc.MS_REC, sc.MS_SLAVE)
    assert parsed.remount_flags == sc.MS_NOSUID | sc.MS_NODEV
    assert mountoptions.parse([]).data is None


def test_rootpath_follows_links_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "real" / "dir").mkdir(parents=True)
    (root / "abs").symlink_to("/real")
    (root / "rel").symlink_to("../../../../real/dir")
    (root / "real" / "up").symlink_to("..")
    assert rootpath.resolve(root, "/abs/dir/file") == root / "real" / "dir" / "file"
    assert rootpath.resolve(root, "/rel") == root / "real" / "dir"
    assert rootpath.resolve(root, "/../../etc/passwd") == root / "etc" / "passwd"
    assert rootpath.resolve(root, "/real/up/abs") == root / "real"
    assert rootpath.resolve(root, "/real/up/up/x") == root / "up" / "x"
    assert rootpath.resolve(root, "missing/./x") == root / "missing" / "x"


def test_rootpath_detects_loops(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("/a")
    with pytest.raises(OSError) as caught:
        rootpath.resolve(tmp_path, "/a/x")
    assert caught.value.errno == errno.ELOOP


def _sysctl(key: str, namespaces: list[dict[str, str]] | None = None) -> Edit:
    def edit(config: dict[str, Any]) -> None:
        config["linux"]["sysctl"] = {key: "1"}
        if namespaces is not None:
            config["linux"]["namespaces"] = namespaces

    return edit


_OWN = [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_sysctl("kernel.core_pattern"), "is not in a separate kernel namespace"),
        (_sysctl("vm.swappiness"), "is not in a separate kernel namespace"),
        (_sysctl("net.x/../../kernel/core_pattern"), "is not in a separate kernel namespace"),
        (_sysctl("net.ipv4.ip_forward", _OWN), "needs a network namespace"),
        (_sysctl("net.ipv4.ip_forward", [*_OWN, {"type": "network", "path": "/proc/self/ns/net"}]),
         "needs a network namespace"),
        (_sysctl("kernel.shmmax", [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}]),
         "needs a ipc namespace"),
    ],
)  # fmt: skip
def test_a_sysctl_that_would_change_the_hosts_kernel_is_refused(
    containers: Containers, edit: Edit, message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        _load(containers, edit)


def test_sysctls_of_the_containers_own_namespaces_load(containers: Containers) -> None:
    own = [*_OWN, {"type": "network"}]
    for key in ("net.ipv4.ip_forward", "kernel.shmmax", "fs.mqueue.msg_max", "kernel.hostname"):
        assert key in _load(containers, _sysctl(key, own)).sysctl
