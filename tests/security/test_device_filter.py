"""Device access from a default container: Docker's allow-list, on v1 and on v2 alike.

CAP_MKNOD is a default capability and layers may carry device nodes, so only the
device rules stand between container root and the host's disks: the v1 devices
controller here, the eBPF filter on cgroup v2 (these tests also run under
../shared/tools/cgroup2-vm, marked cgroup2). The block device is one the host can read: a
disk (the VM's scratch disk /dev/ubda) or a loop device over a scratch file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import cgroups
from engine.runtime import devicefilter
from tests.conftest import BERTH, cgroup_dirs
from tests.images.tarballs import make_tar, member
from tests.loop_device import loop_device

pytestmark = pytest.mark.cgroup2
EPERM = "Operation not permitted"
needs_v2 = pytest.mark.skipif(
    cgroups.detect() is not cgroups.Layout.UNIFIED,
    reason=f"the eBPF device filter is for pure cgroup v2; this host is "
    f"{cgroups.detect().value} (run it under ../shared/tools/cgroup2-vm)",
)
#: the cgroup2 VM cannot load the bridge network's nftables rules
NO_NETWORK = ("--network", "none")


def _readable(node: Path) -> bool:
    try:
        with open(node, "rb") as disk:
            return len(disk.read(1)) == 1
    except OSError:
        return False


@pytest.fixture(scope="module")
def disk(tmp_path_factory) -> Iterator[tuple[str, int, int]]:
    """(/dev path, major, minor) of a block device the host itself can read: a disk
    with data (the VM's /dev/ubda), else a loop device over a scratch file."""
    for entry in sorted(Path("/sys/class/block").iterdir()):
        node = Path("/dev", entry.name)
        if int((entry / "size").read_text()) > 0 and _readable(node):
            yield _numbers(node)
            return
    with loop_device(tmp_path_factory.mktemp("disk") / "disk.img", 4096) as loop:
        yield _numbers(Path(loop))


def _numbers(node: Path) -> tuple[str, int, int]:
    number = node.stat().st_rdev
    return str(node), os.major(number), os.minor(number)


def test_a_made_block_device_cannot_be_opened(berth, disk):
    _, major, minor = disk
    result = berth("run", "--rm", *NO_NETWORK, "busybox", "sh", "-c",
                   f"mknod /dev/xda b {major} {minor} && echo made && head -c1 /dev/xda",
    )  # fmt: skip
    assert result.returncode != 0
    assert result.stdout.split() == ["made"]  # mknod is allowed: using the node is not
    assert EPERM in result.stderr


def test_device_flag_lets_the_container_read_that_disk(berth, disk):
    path, _, _ = disk
    result = berth("run", "--rm", *NO_NETWORK, "--device", f"{path}:/dev/xda", "busybox",
                   "sh", "-c", "head -c1 /dev/xda | wc -c")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


def test_privileged_reads_a_made_block_device(berth, disk):
    _, major, minor = disk
    result = berth("run", "--rm", *NO_NETWORK, "--privileged", "busybox", "sh", "-c",
                   f"mknod /tmp/xda b {major} {minor} && head -c1 /tmp/xda | wc -c")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


def test_a_block_device_shipped_in_a_layer_cannot_be_opened(berth, disk, tmp_path):
    _, major, minor = disk
    busybox = Path("/bin/busybox").read_bytes()
    tarball = tmp_path / "rootfs.tar"
    tarball.write_bytes(make_tar(
        member("bin", tarfile.DIRTYPE),
        member("bin/busybox", data=busybox, mode=0o755),
        member("bin/sh", tarfile.SYMTYPE, link="busybox"),
        member("bin/head", tarfile.SYMTYPE, link="busybox"),
        member("xda", tarfile.BLKTYPE, mode=0o666, devmajor=major, devminor=minor),
    ))  # fmt: skip
    assert berth("import", str(tarball), "disky").returncode == 0
    result = berth("run", "--rm", *NO_NETWORK, "disky", "/bin/head", "-c1", "/xda")
    assert result.returncode != 0
    assert EPERM in result.stderr


def test_devices_outside_the_defaults_cannot_be_opened(berth):
    # /dev/kmsg (1:11) is readable by root on the host, and not among Docker's defaults.
    result = berth("run", "--rm", *NO_NETWORK, "busybox", "sh", "-c",
                   "mknod /tmp/kmsg c 1 11 && echo made; head -c 1 /tmp/kmsg >/dev/null "
                   "|| echo refused; head -c 1 /dev/zero | wc -c")  # fmt: skip
    assert result.stdout.split() == ["made", "refused", "1"], result.stderr


@needs_v2
@pytest.mark.parametrize("flags", [[], ["--privileged"]], ids=["default", "privileged"])
def test_the_cgroup_has_one_device_program(berth, flags):
    started = berth("run", "-d", *NO_NETWORK, *flags, "busybox", "sleep", "60")
    assert started.returncode == 0, started.stderr
    container_id = started.stdout.strip()
    try:
        inspected = json.loads(berth("inspect", container_id).stdout)[0]
        assert inspected["State"]["Running"]
        directory = cgroups.CGROUP_ROOT / "berth" / container_id
        assert len(devicefilter.attached(directory)) == 1
    finally:
        berth("rm", "-f", container_id)


# A seccomp filter in the parent is inherited by berth and its monitor: bpf() then
# fails as it does on a kernel without BPF, or one that forbids it.
_WITHOUT_BPF = """
import errno, os, sys
import pyseccomp
refusal = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
refusal.add_rule(pyseccomp.ERRNO(errno.ENOSYS), "bpf")
refusal.load()
os.execv(sys.argv[1], sys.argv[1:])
"""


@needs_v2
def test_without_bpf_the_container_does_not_start(engine, berth):
    command = [sys.executable, "-c", _WITHOUT_BPF, BERTH, "--root", str(engine.paths.root),
               "--runroot", str(engine.paths.runroot), "run", *NO_NETWORK, "--name", "nobpf",
               "busybox", "true"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 125, result.stderr  # the container never ran
    assert "cgroup v2 needs an eBPF device filter" in result.stderr
    assert "Function not implemented" in result.stderr
    inspected = json.loads(berth("inspect", "nobpf").stdout)[0]
    assert inspected["State"]["Status"] == "created"  # as Docker leaves a failed start
    assert cgroup_dirs(inspected["Id"]) == []
