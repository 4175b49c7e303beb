"""A container's life in its cgroup: the controllers it gets, pause, kill, removal.

Marked cgroup2: they run here (v1 hierarchies) and under ../shared/tools/cgroup2-vm,
reading the kernel's own files for each layout (cgroup.freeze and cgroup.events,
cgroup.kill, cgroup.subtree_control on v2; freezer.state and one directory per
controller on v1).
"""

from __future__ import annotations

import time
from pathlib import Path

from engine import cgroups
from engine.cgroups import Layout
from tests.limits.kernel import (
    LAYOUT,
    PARENT,
    ROOT,
    alive,
    cgroup_gone,
    cpu_seconds,
    directory,
    inspect,
    on_both,
    pids_of,
    run_detached,
    wait_for,
)

#: what the engine delegates to a container on v2 (engine/cgroups/v2.py), where present
V2_CONTROLLERS = {"cpu", "io", "memory", "pids", "cpuset"}
#: the v1 hierarchies whose controllers a container's limits and stats use
V1_CONTROLLERS = {"cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "freezer"}


def _frozen(container_id: str) -> str:
    """The kernel's own word: cgroup.events "frozen 0|1" (v2), freezer.state (v1)."""
    if LAYOUT is Layout.UNIFIED:
        events = (directory(container_id) / "cgroup.events").read_text().split()
        return f"frozen {events[events.index('frozen') + 1]}"
    return (directory(container_id, "freezer") / "freezer.state").read_text().strip()


@on_both
def test_the_containers_cgroup_gets_its_controllers_down_the_tree(berth):
    container_id = run_detached(berth, "busybox", "sleep", "300")
    pid = inspect(berth, container_id)["State"]["Pid"]
    membership = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    if LAYOUT is Layout.UNIFIED:
        assert membership == [f"0::/{PARENT}/{container_id}"]
        wanted = V2_CONTROLLERS & set((ROOT / "cgroup.controllers").read_text().split())
        # every level delegates them to the next, down to the container's own cgroup
        for level in (ROOT, ROOT / PARENT):
            assert wanted <= set((level / "cgroup.subtree_control").read_text().split()), level
        own = set((directory(container_id) / "cgroup.controllers").read_text().split())
        assert wanted <= own
        assert {"cpu", "memory", "pids"} <= own
        return
    # v1: the container is in berth/<id> of every controller's own hierarchy
    hierarchies = {line.split(":")[1]: line.split(":")[2] for line in membership}
    mounted = {c for h in cgroups.mounted_hierarchies(LAYOUT) for c in h.controllers}
    for controllers, path in hierarchies.items():
        if set(controllers.split(",")) & V1_CONTROLLERS & mounted:
            assert path == f"/{PARENT}/{container_id}", (controllers, path)
    if LAYOUT is Layout.HYBRID:
        assert hierarchies[""] == f"/{PARENT}/{container_id}"


@on_both
def test_pause_freezes_the_cgroup_and_unpause_thaws_it(berth):
    container_id = run_detached(berth, "--name", "busy", "--cpus", "0.2", "busybox", "sh", "-c",
                                "while :; do :; done")  # fmt: skip
    assert _frozen(container_id) in ("frozen 0", "THAWED")
    assert berth("pause", "busy").returncode == 0
    assert _frozen(container_id) in ("frozen 1", "FROZEN")
    assert inspect(berth, "busy")["State"]["Status"] == "paused"
    before = cpu_seconds(container_id)
    time.sleep(0.5)
    assert cpu_seconds(container_id) == before  # not one tick of CPU while frozen
    assert berth("unpause", "busy").returncode == 0
    assert _frozen(container_id) in ("frozen 0", "THAWED")
    assert inspect(berth, "busy")["State"]["Status"] == "running"
    wait_for(lambda: cpu_seconds(container_id) > before)
    # rm -f of a paused container thaws it to kill it (a frozen task holds its SIGKILL)
    assert berth("pause", "busy").returncode == 0
    pids = pids_of(container_id)
    assert berth("rm", "-f", "busy").returncode == 0
    assert cgroup_gone(container_id)
    wait_for(lambda: not any(alive(pid) for pid in pids))


@on_both
def test_kill_ends_every_process_and_the_cgroup_goes(berth):
    container_id = run_detached(berth, "--name", "family", "busybox", "sh", "-c",
                                "for i in 1 2 3; do sleep 300 & done; wait")  # fmt: skip
    wait_for(lambda: len(pids_of(container_id)) == 4)
    pids = pids_of(container_id)
    assert berth("kill", "family").returncode == 0
    assert berth("wait", "family").stdout == "137\n"
    wait_for(lambda: not any(alive(pid) for pid in pids))
    wait_for(lambda: cgroup_gone(container_id))


@on_both
def test_rm_force_kills_a_tree_that_keeps_forking(berth):
    """rm -f kills through the cgroup (cgroup.kill where the kernel has it, Linux >= 5.14)."""
    # five loops, each forking a short sleep after another
    loops = "for i in 1 2 3 4 5; do (while :; do sleep 0.05; done) & done; wait"
    container_id = run_detached(berth, "--name", "forker", "--pids-limit", "30", "busybox", "sh",
                                "-c", loops)  # fmt: skip
    wait_for(lambda: len(pids_of(container_id)) >= 8)
    if LAYOUT is Layout.UNIFIED:
        assert (directory(container_id) / "cgroup.kill").exists()
    pids = pids_of(container_id)
    assert berth("rm", "-f", "forker").returncode == 0
    assert cgroup_gone(container_id)
    wait_for(lambda: not any(alive(pid) for pid in pids))
    assert berth("ps", "-a", "-q").stdout == ""
