"""exec_process: one more process in a running container, a direct child of the caller."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from engine import cgroups, runtime
from engine.errors import ConflictError, ContainerStartError

if TYPE_CHECKING:
    from tests.runtime.conftest import Bundle, Console, Containers

NAMESPACES = "pid mnt net ipc uts cgroup"


@pytest.fixture
def running(containers: Containers) -> Bundle:
    """A running container whose init sleeps, with a file of its own at /etc/marker."""
    bundle = containers.bundle("sleep", "100")
    (bundle.rootfs / "etc" / "marker").write_text("inside\n")
    containers.start(bundle)
    return bundle


def test_exec_joins_every_namespace_of_the_init(containers: Containers, running: Bundle) -> None:
    script = f"""
    echo $$; cat /proc/1/cmdline; echo; hostname
    for ns in {NAMESPACES}; do
        test "$(readlink /proc/self/ns/$ns)" = "$(readlink /proc/1/ns/$ns)" && echo -n "$ns "
    done
    """
    result = containers.exec(running, "sh", "-c", script)
    assert result.code == 0, result.stderr
    pid, cmdline, hostname, shared = result.stdout.splitlines()
    assert int(pid) > 1
    assert (cmdline, hostname, shared) == ("sleep\x00100\x00", "testbox", f"{NAMESPACES} ")


def test_exec_sees_the_containers_files(containers: Containers, running: Bundle) -> None:
    result = containers.exec(running, "sh", "-c", "cat /etc/marker; ls /")
    assert result.stdout.split() == ["inside", "bin", "dev", "etc", "proc", "sys", "tmp"]


def test_exec_takes_env_cwd_and_user(containers: Containers, running: Bundle) -> None:
    result = containers.exec(
        running, "sh", "-c", 'echo "$FOO"; pwd; id -u; id -G',
        env=["PATH=/bin", "FOO=bar"], cwd="/tmp",
        user={"uid": 1000, "gid": 1001, "additionalGids": [5]},
    )  # fmt: skip
    assert result.stdout.splitlines() == ["bar", "/tmp", "1000", "1001 5"]


@pytest.mark.parametrize(("script", "expected"), [("true", 0), ("exit 3", 3), ("kill -9 $$", 137)])
def test_exec_exit_codes(
    containers: Containers, running: Bundle, script: str, expected: int
) -> None:
    assert containers.exec(running, "sh", "-c", script).code == expected


@pytest.mark.parametrize(
    ("command", "code", "message"),
    [
        ("no-such-command", 127, 'exec: "no-such-command": executable file not found in $PATH'),
        ("/etc/marker", 126, 'exec: "/etc/marker": permission denied'),
        ("/nowhere", 127, 'exec: "/nowhere": no such file or directory'),
    ],
)
def test_exec_of_a_missing_command_leaves_nothing(
    containers: Containers, running: Bundle, command: str, code: int, message: str
) -> None:
    init = runtime.state(running.container_id, state_root=containers.state_root)["pid"]
    with pytest.raises(ContainerStartError) as caught:
        containers.exec_process(running, command)
    assert (str(caught.value), caught.value.exit_code) == (message, code)
    assert cgroups.get(running.cgroups_path).pids() == [init]
    assert _children() == [init]  # the failed child is reaped, not a zombie


def test_the_exec_process_is_in_the_containers_cgroup(
    containers: Containers, running: Bundle
) -> None:
    pid = containers.exec_process(running, "sleep", "100")
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    assert lines and all(line.endswith(f"/{running.cgroups_path}") for line in lines)
    assert pid in cgroups.get(running.cgroups_path).pids()
    os.kill(pid, signal.SIGKILL)
    assert containers.wait(pid) == 137


def test_exec_with_a_terminal(containers: Containers, running: Bundle, console: Console) -> None:
    # The process runs as soon as exec returns: only consoleSize can size it in time.
    pid = containers.exec_process(
        running, "sh", "-c", "tty; stty size; stat -c %u $(tty); read line; echo got $line",
        terminal=True, consoleSize={"height": 40, "width": 100},
        user={"uid": 1000, "gid": 1000}, console_socket=console.path,
    )  # fmt: skip
    master = console.receive()
    name, size, owner, _ = console.read_until(b"1000\r\n").split(b"\r\n")
    assert name.startswith(b"/dev/pts/") and (size, owner) == (b"40 100", b"1000")
    os.write(master, b"hi\n")
    assert console.read_until(b"got hi\r\n").endswith(b"got hi\r\n")
    assert containers.wait(pid) == 0


def test_exec_needs_a_running_container(containers: Containers) -> None:
    bundle = containers.bundle("true")
    pid = containers.create(bundle)
    message = f"container {bundle.container_id} is not running"
    with pytest.raises(ConflictError, match=message):  # created, not started
        containers.exec_process(bundle, "true")
    runtime.start(bundle.container_id, state_root=containers.state_root)
    assert containers.wait(pid) == 0
    with pytest.raises(ConflictError, match=message):  # stopped
        containers.exec_process(bundle, "true")


def test_exec_into_a_paused_container_is_refused(containers: Containers, running: Bundle) -> None:
    cgroup = cgroups.get(running.cgroups_path)
    cgroup.freeze()
    try:
        with pytest.raises(ConflictError, match="is paused, unpause the container before exec"):
            containers.exec_process(running, "true")
    finally:
        cgroup.thaw()


def _children() -> list[int]:
    """This process's children, zombies included."""
    text = Path(f"/proc/self/task/{os.getpid()}/children").read_text()
    return [int(pid) for pid in text.split()]
