"""create / state / start / kill / delete, their errors, and what they leave behind."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from engine import cgroups, runtime
from engine.errors import ConflictError, ContainerStartError, NotFoundError

if TYPE_CHECKING:
    from tests.runtime.conftest import Bundle, Containers


def _state(containers: Containers, bundle: Bundle) -> dict:
    return runtime.state(bundle.container_id, state_root=containers.state_root)


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 5
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def test_create_waits_for_start(containers: Containers) -> None:
    bundle = containers.bundle("sh", "-c", "echo ran > /tmp/marker")
    pid = containers.create(bundle)
    state = _state(containers, bundle)
    assert state == {
        "ociVersion": "1.0.2", "id": bundle.container_id, "status": "created", "pid": pid,
        "bundle": str(bundle.path), "annotations": {},
    }  # fmt: skip
    time.sleep(0.1)
    assert not (bundle.rootfs / "tmp" / "marker").exists()  # created, not yet run
    runtime.start(bundle.container_id, state_root=containers.state_root)
    assert containers.wait(pid) == 0
    assert (bundle.rootfs / "tmp" / "marker").read_text() == "ran\n"
    assert _state(containers, bundle)["status"] == "stopped"
    assert _state(containers, bundle)["pid"] == 0
    with pytest.raises(ConflictError, match="it is stopped"):
        runtime.start(bundle.container_id, state_root=containers.state_root)
    runtime.delete(bundle.container_id, state_root=containers.state_root)
    with pytest.raises(NotFoundError, match=f'container "{bundle.container_id}" does not exist'):
        _state(containers, bundle)


def test_the_init_joins_its_own_cgroup_and_delete_removes_it(containers: Containers) -> None:
    bundle = containers.bundle("cat", "/proc/self/cgroup")
    pid = containers.create(bundle)
    cgroup = cgroups.get(bundle.cgroups_path)
    assert cgroup.paths() and all(path.is_dir() for path in cgroup.paths())
    assert cgroup.pids() == [pid]
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    assert lines and all(line.endswith(f"/{bundle.cgroups_path}") for line in lines)
    runtime.start(bundle.container_id, state_root=containers.state_root)
    assert containers.wait(pid) == 0
    runtime.delete(bundle.container_id, state_root=containers.state_root)
    assert not any(path.exists() for path in cgroup.paths())


def test_inside_a_cgroup_namespace_the_cgroup_is_the_root(containers: Containers) -> None:
    result = containers.run(containers.bundle("cat", "/proc/self/cgroup"))
    lines = result.stdout.splitlines()
    assert lines and all(line.endswith(":/") for line in lines)


def test_kill_delivers_the_signal(containers: Containers) -> None:
    bundle = containers.bundle(
        "sh", "-c", "trap 'exit 3' TERM; touch /tmp/ready; while :; do sleep 0.05; done"
    )
    pid = containers.create(bundle)
    runtime.start(bundle.container_id, state_root=containers.state_root)
    assert _state(containers, bundle)["status"] == "running"
    _wait_for(bundle.rootfs / "tmp" / "ready")
    runtime.kill(bundle.container_id, signal.SIGTERM, state_root=containers.state_root)
    assert containers.wait(pid) == 3
    with pytest.raises(ConflictError, match="is not running"):
        runtime.kill(bundle.container_id, signal.SIGTERM, state_root=containers.state_root)


def test_kill_all_and_sigkill_status(containers: Containers) -> None:
    bundle = containers.bundle("sh", "-c", "sleep 100 & sleep 100 & wait")
    pid = containers.create(bundle)
    runtime.start(bundle.container_id, state_root=containers.state_root)
    cgroup = cgroups.get(bundle.cgroups_path)
    deadline = time.monotonic() + 5
    while len(cgroup.pids()) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    runtime.kill(bundle.container_id, signal.SIGKILL, state_root=containers.state_root, all=True)
    assert containers.wait(pid) == 128 + signal.SIGKILL
    assert cgroup.pids() == []


def test_delete_refuses_a_running_container_unless_forced(containers: Containers) -> None:
    bundle = containers.bundle("sleep", "100")
    pid = containers.create(bundle)
    runtime.start(bundle.container_id, state_root=containers.state_root)
    with pytest.raises(ConflictError, match="kill it first or use --force"):
        runtime.delete(bundle.container_id, state_root=containers.state_root)
    runtime.delete(bundle.container_id, state_root=containers.state_root, force=True)
    assert containers.wait(pid) == 128 + signal.SIGKILL
    assert not cgroups.get(bundle.cgroups_path).exists()
    assert not (containers.state_root / bundle.container_id).exists()


def test_delete_of_a_created_container_kills_its_init(containers: Containers) -> None:
    bundle = containers.bundle("true")
    pid = containers.create(bundle)
    runtime.delete(bundle.container_id, state_root=containers.state_root)
    assert containers.wait(pid) == 128 + signal.SIGKILL


def test_create_refuses_an_id_in_use(containers: Containers) -> None:
    bundle = containers.bundle("true")
    containers.create(bundle)
    with pytest.raises(ConflictError, match="already exists"):
        containers.create(bundle)


@pytest.mark.parametrize(
    ("args", "cwd", "message", "code"),
    [
        (["nope"], "/", 'exec: "nope": executable file not found in $PATH', 127),
        (["/bin/nope"], "/", 'exec: "/bin/nope": no such file or directory', 127),
        (["/etc"], "/", 'exec: "/etc": permission denied', 126),
        (["/etc/plain"], "/", 'exec: "/etc/plain": permission denied', 126),
        (["plain"], "/", 'exec: "plain": executable file not found in $PATH', 127),
        (["true"], "/nope", 'cwd "/nope" does not exist', 125),
    ],
)
def test_start_errors_are_reported_and_leave_nothing(
    containers: Containers, args: list[str], cwd: str, message: str, code: int
) -> None:
    bundle = containers.bundle(*args)
    (bundle.rootfs / "etc" / "plain").write_text("not a program\n")
    (bundle.rootfs / "bin" / "plain").write_text("not executable either\n")
    bundle.process["cwd"] = cwd
    with pytest.raises(ContainerStartError) as caught:
        containers.create(bundle)
    assert (str(caught.value), caught.value.exit_code) == (message, code)
    assert not (containers.state_root / bundle.container_id).exists()
    assert not cgroups.get(bundle.cgroups_path).exists()
    assert _zombie_children() == []  # the init was reaped


def test_mount_failure_is_reported(containers: Containers) -> None:
    bundle = containers.bundle("true")
    bundle.config["mounts"].append(
        {"destination": "/bad", "type": "tmpfs", "source": "tmpfs", "options": ["size=oops"]}
    )
    with pytest.raises(ContainerStartError, match=r"mount tmpfs on .*/bad: Invalid argument"):
        containers.create(bundle)


def test_unknown_containers(containers: Containers) -> None:
    root = containers.state_root
    for operation in (
        lambda: runtime.state("ghost", state_root=root),
        lambda: runtime.start("ghost", state_root=root),
        lambda: runtime.kill("ghost", signal.SIGTERM, state_root=root),
        lambda: runtime.delete("ghost", state_root=root),
    ):
        with pytest.raises(NotFoundError, match='container "ghost" does not exist'):
            operation()


def test_pid_file(containers: Containers, tmp_path: Path) -> None:
    bundle = containers.bundle("true")
    bundle.write()
    pid_file = tmp_path / "init.pid"
    pid = runtime.create(
        bundle.container_id, bundle.path, state_root=containers.state_root, pid_file=pid_file
    )
    containers.adopt(pid)
    assert pid_file.read_text() == str(pid)


def _zombie_children() -> list[int]:
    zombies = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except FileNotFoundError:
                continue
            state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
            if state == "Z" and int(ppid) == os.getpid():
                zombies.append(int(entry.name))
    return zombies
