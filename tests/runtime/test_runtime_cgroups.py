"""The cgroup drivers against this host's real hierarchies (v1/hybrid here; v2 in the VM)."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine import cgroups
from engine.cgroups import Layout, Limits
from engine.cgroups.v2 import WANTED_CONTROLLERS
from engine.errors import InvalidArgumentError
from tests.conftest import require_root

LAYOUT = cgroups.detect()
needs_v1 = pytest.mark.skipif(
    LAYOUT is Layout.UNIFIED, reason="needs cgroup v1 hierarchies; this host is pure cgroup v2"
)
needs_hybrid = pytest.mark.skipif(
    LAYOUT is not Layout.HYBRID,
    reason=f"needs a hybrid cgroup layout; this host's is {LAYOUT.value}",
)
needs_v2 = pytest.mark.skipif(
    LAYOUT is not Layout.UNIFIED,
    reason=f"needs a pure cgroup v2 host; this host's cgroup layout is {LAYOUT.value} "
    "(run it under ../shared/tools/cgroup2-vm)",
)


#: five loops, each forking a short sleep after another (once sh has joined the cgroup)
FORK_LOOPS = "sleep 0.2; for i in 1 2 3 4 5; do (while :; do sleep 0.05; done) & done; wait"


@pytest.fixture
def cgroup() -> Iterator[cgroups.Cgroup]:
    require_root("a scratch cgroup")
    created = cgroups.create(f"berth-test/unit-{uuid.uuid4().hex[:8]}")
    try:
        yield created
    finally:
        created.remove()


@pytest.mark.cgroup2
def test_detect_agrees_with_the_mount_table() -> None:
    types = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, tail = line.partition(" - ")
        types[fields.split()[4]] = tail.split()[0]
    if types.get("/sys/fs/cgroup") == "cgroup2":
        expected = Layout.UNIFIED
    elif types.get("/sys/fs/cgroup/unified") == "cgroup2":
        expected = Layout.HYBRID
    else:
        expected = Layout.LEGACY
    assert cgroups.detect() is expected


@pytest.mark.parametrize("path", ["", "/", "../escape", "berth/../../x"])
def test_invalid_paths(path: str) -> None:
    with pytest.raises(InvalidArgumentError, match="invalid cgroup path"):
        cgroups.get(path)


@pytest.mark.cgroup2
def test_create_add_process_and_pids(cgroup: cgroups.Cgroup, spawn) -> None:
    assert cgroup.exists() and all(path.is_dir() for path in cgroup.paths())
    process = spawn("sleep", "60")
    cgroup.add_process(process.pid)
    assert cgroup.pids() == [process.pid]
    membership = Path(f"/proc/{process.pid}/cgroup").read_text().splitlines()
    assert all(line.endswith(f"/{cgroup.path}") for line in membership)


@pytest.mark.cgroup2
def test_freeze_and_thaw(cgroup: cgroups.Cgroup, spawn, tmp_path: Path) -> None:
    counter = tmp_path / "ticks"
    process = spawn("sh", "-c", f"while :; do echo >> {counter}; sleep 0.005; done")
    cgroup.add_process(process.pid)
    _wait_until(lambda: counter.exists() and counter.stat().st_size > 2)
    cgroup.freeze()
    frozen_at = counter.stat().st_size
    time.sleep(0.1)
    assert counter.stat().st_size == frozen_at
    cgroup.thaw()
    _wait_until(lambda: counter.stat().st_size > frozen_at)


@pytest.mark.cgroup2
def test_kill_all_and_remove(cgroup: cgroups.Cgroup, spawn) -> None:
    processes = [spawn("sleep", "60") for _ in range(3)]
    for process in processes:
        cgroup.add_process(process.pid)
    cgroup.kill_all(signal.SIGKILL)
    assert cgroup.pids() == []
    assert [process.wait(5) for process in processes] == [-signal.SIGKILL] * 3
    cgroup.remove()
    assert not cgroup.exists()
    cgroup.remove()  # already gone: fine


@pytest.mark.cgroup2
def test_kill_all_with_another_signal(cgroup: cgroups.Cgroup, spawn) -> None:
    process = spawn("sleep", "60")
    cgroup.add_process(process.pid)
    cgroup.kill_all(signal.SIGTERM)
    assert process.wait(5) == -signal.SIGTERM


@pytest.mark.cgroup2
def test_kill_all_reaches_a_tree_that_keeps_forking(cgroup: cgroups.Cgroup, spawn) -> None:
    _kill_a_forking_tree(cgroup, spawn)


def _kill_a_forking_tree(cgroup: cgroups.Cgroup, spawn) -> None:
    cgroup.apply(Limits(pids=40))
    process = spawn("sh", "-c", FORK_LOOPS)
    cgroup.add_process(process.pid)
    _wait_until(lambda: len(cgroup.pids()) >= 8)
    cgroup.kill_all(signal.SIGKILL)
    assert cgroup.pids() == []
    assert process.wait(5) == -signal.SIGKILL


@pytest.mark.cgroup2
@needs_v2
def test_v2_kill_all_writes_cgroup_kill(cgroup: cgroups.Cgroup, spawn, monkeypatch) -> None:
    """One write kills the whole tree, forks in flight included: no signal pid by pid."""
    if not (cgroup.paths()[0] / "cgroup.kill").exists():
        pytest.skip("this kernel has no cgroup.kill (Linux < 5.14)")

    def pid_by_pid(pids: list[int], sig: int) -> None:
        raise AssertionError(f"signalled {pids} one by one")

    monkeypatch.setattr("engine.cgroups.base._signal_each", pid_by_pid)
    _kill_a_forking_tree(cgroup, spawn)


@pytest.mark.cgroup2
def test_remove_kills_what_still_runs(cgroup: cgroups.Cgroup, spawn) -> None:
    process = spawn("sleep", "60")
    cgroup.add_process(process.pid)
    cgroup.remove()
    assert not cgroup.exists()
    assert process.wait(5) == -signal.SIGKILL


@pytest.mark.cgroup2
def test_a_cgroup_removed_meanwhile_is_gone_not_an_error(cgroup: cgroups.Cgroup) -> None:
    """rm -f reads and writes a container's cgroup while its monitor removes it.

    A cgroup file that was open when its directory went says ENODEV (kernfs), not
    ENOENT: that once killed a whole ``rm -f`` of 100 containers after the first 7.
    """
    done = threading.Event()

    def churn() -> None:
        while not done.is_set():
            cgroup.create()
            cgroup.remove()

    churner = threading.Thread(target=churn)
    churner.start()
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            assert cgroup.pids() == []
            cgroup.kill_all(signal.SIGKILL)
            cgroup.thaw()
            assert not cgroup.is_frozen()
            assert cgroup.oom_kills() == 0
    finally:
        done.set()
        churner.join()


@needs_v1
def test_v1_cpuset_gets_its_parents_cpus_and_mems(cgroup: cgroups.Cgroup) -> None:
    for path in cgroup.paths():
        if (path / "cpuset.cpus").exists():
            for name in ("cpuset.cpus", "cpuset.mems"):
                own = (path / name).read_text().strip()
                assert own and own == (path.parent / name).read_text().strip()
            return
    pytest.skip("no cpuset hierarchy is mounted")


@needs_hybrid
def test_hybrid_puts_the_process_on_the_unified_hierarchy_too(
    cgroup: cgroups.Cgroup, spawn
) -> None:
    assert (cgroups.CGROUP_ROOT / "unified" / cgroup.path).is_dir()
    process = spawn("sleep", "60")
    cgroup.add_process(process.pid)
    assert f"0::/{cgroup.path}" in Path(f"/proc/{process.pid}/cgroup").read_text().splitlines()


@pytest.mark.cgroup2
@needs_v2
def test_v2_enables_controllers_in_the_parent(cgroup: cgroups.Cgroup) -> None:
    parent = cgroup.paths()[0].parent
    available = set((parent / "cgroup.controllers").read_text().split())
    enabled = set((parent / "cgroup.subtree_control").read_text().split())
    assert available & set(WANTED_CONTROLLERS) <= enabled
    assert {"memory", "pids"} <= set((cgroup.paths()[0] / "cgroup.controllers").read_text().split())


@pytest.mark.cgroup2
@needs_v2
def test_v2_freeze_uses_cgroup_freeze(cgroup: cgroups.Cgroup, spawn) -> None:
    process = spawn("sleep", "60")
    cgroup.add_process(process.pid)
    cgroup.freeze()
    assert "frozen 1" in (cgroup.paths()[0] / "cgroup.events").read_text()
    cgroup.thaw()
    assert "frozen 0" in (cgroup.paths()[0] / "cgroup.events").read_text()


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)
