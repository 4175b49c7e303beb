"""kill_with_parent: a container's init (or an exec'd process) dies with its parent."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from engine import cgroups, runtime

if TYPE_CHECKING:
    from tests.runtime.conftest import Containers

REPOSITORY = Path(__file__).parents[2]
# The parent: it creates (or execs into) a container, writes the pid file, then sleeps.
_PARENT = """
import json, sys, time
from pathlib import Path
from engine import runtime
operation, container_id, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
options = {key: Path(value) if key != "kill_with_parent" else value
           for key, value in options.items()}
if operation == "create":
    runtime.create(container_id, **options)
    runtime.start(container_id, state_root=options["state_root"])
else:
    process = options.pop("process")
    runtime.exec_process(container_id, json.loads(process.read_text()), **options)
time.sleep(100)
"""

Parent = Callable[..., subprocess.Popen]


@pytest.fixture
def parent(spawn: Callable[..., subprocess.Popen]) -> Parent:
    """Start the parent process; it is killed at the end of the test if it still runs."""

    def start(operation: str, container_id: str, **options: object) -> subprocess.Popen:
        arguments = json.dumps({key: str(value) if isinstance(value, Path) else value
                                for key, value in options.items()})  # fmt: skip
        return spawn(
            sys.executable, "-c", _PARENT, operation, container_id, arguments,
            cwd=REPOSITORY, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        )  # fmt: skip

    return start


def _wait_for_pid(path: Path, parent: subprocess.Popen) -> int:
    deadline = time.monotonic() + 5
    while not path.exists():
        assert parent.poll() is None, "the parent failed"
        assert time.monotonic() < deadline, "the parent never wrote the pid file"
        time.sleep(0.01)
    return int(path.read_text())


def _gone_within_a_second(cgroup: cgroups.Cgroup, pid: int) -> bool:
    deadline = time.monotonic() + 1
    while pid in cgroup.pids():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.usefixtures("subreaper")
@pytest.mark.parametrize("kill_with_parent", [True, False])
def test_the_container_dies_with_its_parent(
    containers: Containers, parent: Parent, tmp_path: Path, kill_with_parent: bool
) -> None:
    bundle = containers.bundle("sh", "-c", "sleep 100 & sleep 100")
    bundle.write()
    pid_file = tmp_path / "init.pid"
    process = parent(
        "create", bundle.container_id, bundle=bundle.path, state_root=containers.state_root,
        pid_file=pid_file, kill_with_parent=kill_with_parent,
    )  # fmt: skip
    init = _wait_for_pid(pid_file, process)
    containers.adopt(init)  # the subreaper's child once the parent is gone
    cgroup = cgroups.get(bundle.cgroups_path)
    deadline = time.monotonic() + 5
    while len(cgroup.pids()) < 2:  # started, and the shell forked its first sleep
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    if kill_with_parent:
        assert _gone_within_a_second(cgroup, init)
        assert containers.wait(init) == 128 + signal.SIGKILL
        assert cgroup.pids() == []  # the rest died with pid 1
    else:
        time.sleep(0.2)
        assert len(cgroup.pids()) == 2


@pytest.mark.usefixtures("subreaper")
def test_an_exec_process_dies_with_its_parent(
    containers: Containers, parent: Parent, tmp_path: Path
) -> None:
    bundle = containers.bundle("sleep", "100")
    init = containers.start(bundle)
    process_file = tmp_path / "process.json"
    process_file.write_text(json.dumps({**bundle.process, "args": ["sleep", "100"]}))
    pid_file = tmp_path / "exec.pid"
    process = parent(
        "exec", bundle.container_id, process=process_file, state_root=containers.state_root,
        pid_file=pid_file, kill_with_parent=True,
    )  # fmt: skip
    pid = _wait_for_pid(pid_file, process)
    containers.adopt(pid)
    cgroup = cgroups.get(bundle.cgroups_path)
    assert sorted(cgroup.pids()) == sorted([init, pid])
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert _gone_within_a_second(cgroup, pid)
    assert containers.wait(pid) == 128 + signal.SIGKILL
    assert cgroup.pids() == [init]
    state = runtime.state(bundle.container_id, state_root=containers.state_root)
    assert state["status"] == "running"
