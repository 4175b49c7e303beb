"""Containers run end to end: what the process sees inside."""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from engine import cgroups
from engine.errors import ContainerStartError, InvalidArgumentError

if TYPE_CHECKING:
    from tests.runtime.conftest import Containers


def test_init_is_pid_1_and_sees_only_its_own_processes(containers: Containers) -> None:
    bundle = containers.bundle("sh", "-c", "echo $$; sleep 10 & ps -o pid; exit 0")
    result = containers.run(bundle)
    assert result.code == 0, result.stderr
    first, _header, *processes = result.stdout.splitlines()
    assert first == "1"
    # sh, the background sleep, and ps; nothing of the host's.
    assert sorted(int(line) for line in processes) == [1, 2, 3]


def test_hostname(containers: Containers) -> None:
    result = containers.run(containers.bundle("hostname"))
    assert result.stdout == "testbox\n"


@pytest.mark.parametrize(
    ("script", "expected"),
    [("false", 1), ("exit 3", 3), ("sh -c 'kill -9 $$'; exit $?", 137), ("true", 0)],
)
def test_exit_codes(containers: Containers, script: str, expected: int) -> None:
    # `kill -9 $$` runs in a child shell (kept from exec-ing by the `exit` after it):
    # the kernel ignores a SIGKILL that pid 1 sends itself from inside its namespace.
    assert containers.run(containers.bundle("sh", "-c", script)).code == expected


def test_env_cwd_and_user(containers: Containers) -> None:
    bundle = containers.bundle("sh", "-c", 'echo "$FOO"; pwd; id -u; id -g; id -G; env')
    bundle.process.update(
        env=["PATH=/bin", "FOO=bar baz"],
        cwd="/tmp",
        user={"uid": 1000, "gid": 1001, "additionalGids": [5, 20]},
    )
    result = containers.run(bundle)
    assert result.code == 0, result.stderr
    foo, cwd, uid, gid, groups, *env = result.stdout.splitlines()
    assert (foo, cwd, uid, gid) == ("bar baz", "/tmp", "1000", "1001")
    assert set(groups.split()) == {"1001", "5", "20"}
    names = {line.split("=", 1)[0] for line in env}
    assert "FOO" in names and "PATH" in names
    assert "PYTEST_CURRENT_TEST" not in names  # the host's environment stays outside


def test_dev_has_the_default_devices(containers: Containers) -> None:
    script = """
    for name in null zero full random urandom tty; do
        test -c /dev/$name && echo "$name $(stat -c %a /dev/$name)"
    done
    for link in fd stdin stdout stderr ptmx; do echo "$link -> $(readlink /dev/$link)"; done
    test -c /dev/pts/ptmx && echo pts
    grep -o '/dev/shm tmpfs' /proc/mounts
    test -e /dev/core || echo no-core
    test -e /dev/console || echo no-console
    """
    result = containers.run(containers.bundle("sh", "-c", script))
    assert result.stdout.splitlines() == [
        "null 666", "zero 666", "full 666", "random 666", "urandom 666", "tty 666",
        "fd -> /proc/self/fd", "stdin -> /proc/self/fd/0", "stdout -> /proc/self/fd/1",
        "stderr -> /proc/self/fd/2", "ptmx -> pts/ptmx", "pts", "/dev/shm tmpfs",
        "no-core", "no-console",
    ]  # fmt: skip


def test_linux_devices_are_created(containers: Containers) -> None:
    bundle = containers.bundle("stat", "-c", "%t,%T %a %u:%g", "/dev/mynull")
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640,
         "uid": 7, "gid": 8},
    ]  # fmt: skip
    assert containers.run(bundle).stdout == "1,3 640 7:8\n"


def test_sys_and_cgroups_are_read_only(containers: Containers) -> None:
    script = """
    touch /sys/x 2>/dev/null || echo sys-ro
    touch /sys/fs/cgroup/x 2>/dev/null || echo cgroup-ro
    grep -q '^sysfs /sys sysfs ro,' /proc/mounts && echo sysfs-mounted-ro
    test -e /sys/fs/cgroup/cgroup.procs -o -d /sys/fs/cgroup/memory && echo cgroups-visible
    """
    result = containers.run(containers.bundle("sh", "-c", script))
    assert result.stdout.split() == ["sys-ro", "cgroup-ro", "sysfs-mounted-ro", "cgroups-visible"]


def test_masked_and_read_only_paths(containers: Containers) -> None:
    script = """
    echo "keys $(cat /proc/keys | wc -c)"
    echo "firmware $(ls /sys/firmware | wc -l)"
    echo x > /proc/sys/kernel/domainname 2>/dev/null || echo proc-sys-ro
    """
    result = containers.run(containers.bundle("sh", "-c", script))
    assert result.stdout.splitlines() == ["keys 0", "firmware 0", "proc-sys-ro"]


def test_read_only_root(containers: Containers) -> None:
    bundle = containers.bundle("sh", "-c", "touch /x 2>/dev/null || echo ro; touch /tmp/y")
    bundle.config["root"]["readonly"] = True
    result = containers.run(bundle)
    assert result.stdout == "ro\n"
    assert result.code == 1  # /tmp is part of the read-only root too


def test_bind_mounts_and_tmpfs_options(containers: Containers, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "file").write_text("from the host\n")
    note = tmp_path / "note"
    note.write_text("a single file\n")
    bundle = containers.bundle("sh", "-c", """
        cat /data/file /etc/note
        touch /data/new 2>/dev/null || echo data-ro
        grep ' /scratch ' /proc/self/mountinfo | grep -o 'size=1024k'
        echo hi > /scratch/x && cat /scratch/x
    """)  # fmt: skip
    bundle.config["mounts"] += [
        {"destination": "/data", "type": "bind", "source": str(shared),
         "options": ["rbind", "ro"]},
        {"destination": "/etc/note", "type": "bind", "source": str(note), "options": ["bind"]},
        {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "size=1m", "mode=1777"]},
    ]  # fmt: skip
    result = containers.run(bundle)
    assert result.stdout.splitlines() == [
        "from the host", "a single file", "data-ro", "size=1024k", "hi",
    ]  # fmt: skip
    assert sorted(os.listdir(shared)) == ["file"]


def test_mount_destination_cannot_escape_the_rootfs(containers: Containers, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    bundle = containers.bundle("sh", "-c", "echo secret > /escape/x; cat /escape/x")
    # An absolute link means the container's own /<outside>, never the host's.
    (bundle.rootfs / "escape").symlink_to(outside)
    bundle.config["mounts"].append(
        {"destination": "/escape", "type": "tmpfs", "source": "tmpfs", "options": []}
    )
    result = containers.run(bundle)
    assert result.stdout == "secret\n"
    assert os.listdir(outside) == []
    assert (bundle.rootfs / outside.relative_to("/")).is_dir()


def test_process_starts_with_clean_signals_and_descriptors(containers: Containers) -> None:
    leaked = os.open("/dev/null", os.O_RDONLY)
    os.set_inheritable(leaked, True)
    try:
        script = "grep -E '^Sig(Ign|Blk)' /proc/self/status; ls /proc/self/fd"
        result = containers.run(containers.bundle("sh", "-c", script))
    finally:
        os.close(leaked)
    lines = result.stdout.splitlines()
    assert "SigBlk:\t0000000000000000" in lines
    assert "SigIgn:\t0000000000000000" in lines  # Python's ignored SIGPIPE is not inherited
    assert set(lines[2:]) <= {"0", "1", "2", "3"}


def test_loopback_is_up_in_a_new_network_namespace(containers: Containers) -> None:
    result = containers.run(containers.bundle("sh", "-c", "ls /sys/class/net; "
                                              "cat /sys/class/net/lo/flags"))  # fmt: skip
    assert result.stdout.split() == ["lo", "0x9"]  # IFF_UP | IFF_LOOPBACK


def test_rlimits_umask_sysctl_and_no_new_privileges(containers: Containers) -> None:
    script = "ulimit -n; ulimit -Hn; umask; cat /proc/sys/kernel/domainname; grep NoNewPrivs "
    bundle = containers.bundle("sh", "-c", script + "/proc/self/status")
    bundle.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024}]
    bundle.process["user"]["umask"] = 0o077
    bundle.process["noNewPrivileges"] = True
    bundle.config["linux"]["sysctl"] = {"kernel.domainname": "example.test"}
    result = containers.run(bundle)
    assert result.stdout.split() == ["512", "1024", "0077", "example.test", "NoNewPrivs:", "1"]


def test_rlimit_above_the_hosts_hard_limit_is_a_clear_error(containers: Containers) -> None:
    _, host_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if host_hard == resource.RLIM_INFINITY or _has_cap_sys_resource():
        pytest.skip("this host may raise RLIMIT_NOFILE (it has CAP_SYS_RESOURCE)")
    bundle = containers.bundle("true")
    bundle.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1048576}]
    with pytest.raises(ContainerStartError) as caught:
        containers.create(bundle)
    assert str(caught.value) == (
        f"rlimit RLIMIT_NOFILE: hard limit 1048576 exceeds the host's {host_hard}"
    )
    assert caught.value.exit_code == 125


def test_a_terminal_without_console_socket_is_refused_before_anything_is_made(
    containers: Containers,
) -> None:
    bundle = containers.bundle("true")
    bundle.process["terminal"] = True
    with pytest.raises(InvalidArgumentError, match="a console socket is required"):
        containers.create(bundle)
    assert not (containers.state_root / bundle.container_id).exists()


def test_a_console_socket_without_terminal_is_refused(
    containers: Containers, tmp_path: Path
) -> None:
    bundle = containers.bundle("true")
    with pytest.raises(InvalidArgumentError, match=r"needs process\.terminal"):
        containers.create(bundle, console_socket=tmp_path / "console.sock")
    assert not (containers.state_root / bundle.container_id).exists()


def _has_cap_sys_resource() -> bool:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) & (1 << 24))
    return False


@pytest.mark.cgroup2
@pytest.mark.skipif(
    cgroups.detect() is not cgroups.Layout.UNIFIED,
    reason="needs a pure cgroup v2 host; this host's cgroup layout is "
    f"{cgroups.detect().value} (run it under ../shared/tools/cgroup2-vm)",
)
def test_v2_container_sees_its_own_cgroup2_root(containers: Containers) -> None:
    script = """
    grep -o '^cgroup2 /sys/fs/cgroup cgroup2 ro' /proc/mounts
    cat /proc/self/cgroup
    cat /sys/fs/cgroup/cgroup.controllers
    """
    result = containers.run(containers.bundle("sh", "-c", script))
    mount, membership, controllers = result.stdout.splitlines()
    assert mount == "cgroup2 /sys/fs/cgroup cgroup2 ro"
    assert membership == "0::/"
    assert {"memory", "pids"} <= set(controllers.split())


def test_default_devices_survive_a_deny_all_device_rule(containers: Containers) -> None:
    # `runc spec` writes exactly this; the devices the runtime creates stay usable.
    bundle = containers.bundle("sh", "-c", "echo x > /dev/null && head -c 3 /dev/zero | wc -c")
    bundle.config["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
    assert containers.run(bundle).stdout.strip() == "3"
