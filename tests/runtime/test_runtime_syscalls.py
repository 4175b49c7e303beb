"""engine.linux: the ctypes syscall wrappers, run for real (mounts in the test's own dir)."""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.linux import links, syscalls
from engine.linux.syscalls import MNT_DETACH, MS_BIND, MS_NOSUID, MS_RDONLY


def _mount_line(target: Path) -> str:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        if line.split()[4] == str(target):
            return line
    raise AssertionError(f"{target} is not mounted")


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "mnt"
    path.mkdir()
    yield path
    while path.is_mount():
        syscalls.umount2(str(path), MNT_DETACH)


def _in_child(body: Callable[[], bool]) -> bool:
    """Run ``body`` in a forked child (so namespace changes stay there); its verdict."""
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(0 if body() else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


@pytest.mark.root("mounts")
def test_mount_new_api_takes_options_one_by_one(target: Path) -> None:
    syscalls.mount_new_api(
        "tmpfs", "scratch", str(target), [("size", "1m"), ("mode", "0700")], MS_RDONLY | MS_NOSUID
    )
    line = _mount_line(target)
    mount_options, _, super_part = line.partition(" - ")
    assert mount_options.split()[5].split(",")[:2] == ["ro", "nosuid"]
    assert super_part.split()[:2] == ["tmpfs", "scratch"]
    assert "size=1024k" in super_part and "mode=700" in super_part


@pytest.mark.root("mounts")
def test_mount_new_api_reports_a_refused_option(target: Path) -> None:
    with pytest.raises(OSError) as caught:
        syscalls.mount_new_api("tmpfs", "tmpfs", str(target), [("bogus", "1")])
    assert caught.value.errno == errno.EINVAL
    assert "fsconfig tmpfs bogus" in str(caught.value)
    assert not target.is_mount()


def test_mount_new_api_refuses_flags_it_cannot_express(target: Path) -> None:
    with pytest.raises(OSError) as caught:
        syscalls.mount_new_api("tmpfs", "tmpfs", str(target), [], MS_BIND)
    assert caught.value.errno == errno.EINVAL


@pytest.mark.root("mounts")
def test_overlay_with_lowerdir_plus(tmp_path: Path, target: Path) -> None:
    lowers = []
    for index in range(3):
        lower = tmp_path / f"lower{index}"
        lower.mkdir()
        (lower / "file").write_text(f"layer {index}\n")
        (lower / f"only{index}").write_text("")
        lowers.append(lower)
    upper, work = tmp_path / "upper", tmp_path / "work"
    upper.mkdir()
    work.mkdir()
    options = [("lowerdir+", str(path)) for path in reversed(lowers)]
    options += [("upperdir", str(upper)), ("workdir", str(work))]
    try:
        syscalls.mount_new_api("overlay", "overlay", str(target), options)
    except OSError as error:
        if error.errno in (errno.EINVAL, errno.ENOSYS, errno.ENODEV):
            pytest.skip(f"this kernel ({os.uname().release}) lacks overlayfs lowerdir+: {error}")
        raise
    assert (target / "file").read_text() == "layer 2\n"
    assert sorted(os.listdir(target)) == ["file", "only0", "only1", "only2"]


@pytest.mark.root("mounts")
def test_mount_and_umount(tmp_path: Path, target: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "x").write_text("x")
    syscalls.mount(str(source), str(target), None, MS_BIND)
    assert (target / "x").exists()
    syscalls.umount2(str(target))
    assert not (target / "x").exists()
    with pytest.raises(OSError, match=f"umount {target}: Invalid argument"):
        syscalls.umount2(str(target))


@pytest.mark.root("new namespaces")
def test_unshare_and_sethostname_stay_in_the_namespace() -> None:
    host = socket.gethostname()

    def rename() -> bool:
        syscalls.unshare(syscalls.CLONE_NEWUTS)
        syscalls.sethostname("inside")
        return socket.gethostname() == "inside"

    assert _in_child(rename)
    assert socket.gethostname() == host


@pytest.mark.root("new namespaces")
def test_setns_joins_a_namespace() -> None:
    def join_own() -> bool:
        own = os.open("/proc/self/ns/uts", os.O_RDONLY)
        syscalls.unshare(syscalls.CLONE_NEWUTS)
        syscalls.sethostname("elsewhere")
        syscalls.setns(own, syscalls.CLONE_NEWUTS)
        return socket.gethostname() != "elsewhere"

    assert _in_child(join_own)


@pytest.mark.root("new namespaces")
def test_loopback_comes_up_in_a_new_network_namespace() -> None:
    def bring_up() -> bool:
        syscalls.unshare(syscalls.CLONE_NEWNET)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.sendto(b"x", ("127.0.0.1", 9))
                return False  # lo was up already?
            except OSError as error:
                assert error.errno == errno.ENETUNREACH
            links.set_up("lo")
            sock.sendto(b"x", ("127.0.0.1", 9))
        return True

    assert _in_child(bring_up)


def test_no_new_privs() -> None:
    def restrict() -> bool:
        syscalls.set_no_new_privs()
        return "NoNewPrivs:\t1" in Path("/proc/self/status").read_text()

    assert _in_child(restrict)


def test_statfs_type() -> None:
    assert syscalls.statfs_type("/proc") == 0x9FA0  # PROC_SUPER_MAGIC
    with pytest.raises(FileNotFoundError, match="statfs /nonexistent"):
        syscalls.statfs_type("/nonexistent")


def test_describe() -> None:
    assert syscalls.describe(OSError(errno.EPERM, "mount x on /y: Operation not permitted")) == (
        "mount x on /y: Operation not permitted"
    )
    assert syscalls.describe(FileNotFoundError(errno.ENOENT, "No such file", "/x")) == (
        "No such file: /x"
    )
