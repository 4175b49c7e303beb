"""Read a container's cgroup files straight from the kernel, on v1 or v2 alike.

Every setting has a file on each layout (:data:`FILES`); :func:`limits` reads the one
this host has and puts it in the Docker flag's terms, so that one test checks both.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from engine import cgroups
from engine.cgroups import Layout

LAYOUT = cgroups.detect()
ROOT = Path("/sys/fs/cgroup")
#: the engine's parent cgroup (engine/containers/bundle.py's CGROUP_PARENT)
PARENT = "berth"

#: the limit tests run on this host and, marked cgroup2, on a pure v2 host too
on_both = pytest.mark.cgroup2
#: their containers need no network: the cgroup2 VM's kernel cannot load the bridge
#: network's nftables rules ("Operation not supported")
NO_NETWORK = ("--network", "none")

#: v1 says "no limit" with the largest page-aligned counter
_V1_UNLIMITED = 1 << 62

#: Docker flag -> (v1 "controller/file", v2 file) of the settings both layouts spell alike
FILES = {
    "--cpu-shares": ("cpu/cpu.shares", "cpu.weight"),  # v2: another scale (weight)
    "--cpuset-cpus": ("cpuset/cpuset.cpus", "cpuset.cpus"),
    "--cpuset-mems": ("cpuset/cpuset.mems", "cpuset.mems"),
    "--memory": ("memory/memory.limit_in_bytes", "memory.max"),
    "--memory-reservation": ("memory/memory.soft_limit_in_bytes", "memory.low"),
    "--pids-limit": ("pids/pids.max", "pids.max"),
}


def directory(container_id: str, controller: str = "") -> Path:
    """The container's cgroup: v2's one directory, or v1's of ``controller``."""
    if LAYOUT is Layout.UNIFIED:
        return ROOT / PARENT / container_id
    return ROOT / controller / PARENT / container_id


def read(container_id: str, v1: str, v2: str) -> str:
    """The file ``v2`` (cgroup v2) or ``v1`` ("controller/file") of the container's cgroup."""
    if LAYOUT is Layout.UNIFIED:
        return (directory(container_id) / v2).read_text().strip()
    controller, name = v1.split("/")
    return (directory(container_id, controller) / name).read_text().strip()


def keyed(text: str) -> dict[str, int]:
    return {key: int(value) for key, value in (line.split() for line in text.splitlines())}


def _unlimited(value: str) -> str:
    """v1's "no limit" (-1, or a counter near 2^63) spelled as v2 does: "max"."""
    return "max" if value == "-1" or (value.isdigit() and int(value) >= _V1_UNLIMITED) else value


def limit(container_id: str, flag: str) -> str:
    """What the kernel holds for Docker's ``flag``, read from this layout's file.

    Bytes, µs, counts and CPU lists read the same on both layouts ("max": no limit);
    --memory-swap is memory + swap as Docker counts it (v2 keeps swap alone);
    --cpu-shares is the file's own number (v1 shares, v2 weight).
    """
    if flag in ("--cpu-quota", "--cpu-period"):
        if LAYOUT is Layout.UNIFIED:
            quota, period = read(container_id, "", "cpu.max").split()
        else:
            quota = read(container_id, "cpu/cpu.cfs_quota_us", "")
            period = read(container_id, "cpu/cpu.cfs_period_us", "")
        return _unlimited(quota) if flag == "--cpu-quota" else period
    if flag == "--memory-swap":
        if LAYOUT is not Layout.UNIFIED:
            return _unlimited(read(container_id, "memory/memory.memsw.limit_in_bytes", ""))
        swap = read(container_id, "", "memory.swap.max")
        memory = read(container_id, "", "memory.max")
        return "max" if "max" in (swap, memory) else str(int(memory) + int(swap))
    return _unlimited(read(container_id, *FILES[flag]))


def limits(container_id: str, expected: dict[str, str]) -> dict[str, str]:
    """:func:`limit` of each flag of ``expected``, to compare with it in one assert."""
    return {flag: limit(container_id, flag) for flag in expected}


def by_layout(v1: str, v2: str) -> str:
    return v2 if LAYOUT is Layout.UNIFIED else v1


# -- the settings a kernel may lack -----------------------------------------------------

#: the block I/O weight files, best first, as the engine's drivers pick them
_V1_WEIGHTS = ("blkio.weight", "blkio.bfq.weight")
_V2_WEIGHTS = ("io.bfq.weight", "io.weight")


def _probe_files() -> set[str]:
    """The file names a fresh cgroup gets here (on every hierarchy), made and removed."""
    probe = cgroups.create(f"berth-test/probe-{uuid.uuid4().hex[:8]}")
    try:
        return {entry.name for path in probe.paths() for entry in path.iterdir()}
    finally:
        probe.remove()


def _root_controllers() -> set[str]:
    if LAYOUT is Layout.UNIFIED:
        return set((ROOT / "cgroup.controllers").read_text().split())
    return {c for h in cgroups.mounted_hierarchies(LAYOUT) for c in h.controllers}


def require_cpuset() -> None:
    """Skip, naming what is missing, where the kernel gives cgroups no cpuset controller."""
    controllers = _root_controllers()
    if "cpuset" not in controllers:
        where = "cgroup.controllers" if LAYOUT is Layout.UNIFIED else "the v1 hierarchies"
        pytest.skip(f"this kernel has no cpuset cgroup controller ({where}: "
                    f"{' '.join(sorted(controllers))})")  # fmt: skip


def weight_file() -> str:
    """The block I/O weight file a container's cgroup gets here; skip if there is none."""
    files = _probe_files()
    wanted = _V2_WEIGHTS if LAYOUT is Layout.UNIFIED else _V1_WEIGHTS
    for name in wanted:
        if name in files:
            return name
    if LAYOUT is Layout.UNIFIED:
        pytest.skip("this kernel weighs no block I/O: a cgroup has neither io.weight "
                    "(CONFIG_BLK_CGROUP_IOCOST) nor io.bfq.weight (BFQ with "
                    "CONFIG_BFQ_GROUP_IOSCHED)")  # fmt: skip
    pytest.skip("this kernel weighs no block I/O: the blkio hierarchy has neither "
                "blkio.weight (CFQ) nor blkio.bfq.weight (BFQ)")  # fmt: skip


def block_weight(container_id: str, name: str) -> int:
    """The default weight in the file ``name`` ("default 300" or, on CFQ, "300")."""
    controller = "" if LAYOUT is Layout.UNIFIED else "blkio"
    text = (directory(container_id, controller) / name).read_text()
    return int(text.splitlines()[0].split()[-1])


# -- usage counters ---------------------------------------------------------------------


def cpu_seconds(container_id: str) -> float:
    """CPU time the container's cgroup has used, as the kernel counts it."""
    if LAYOUT is Layout.UNIFIED:
        return keyed(read(container_id, "", "cpu.stat"))["usage_usec"] / 1e6
    return int(read(container_id, "cpuacct/cpuacct.usage", "")) / 1e9


def memory_limit(container_id: str) -> int:
    return int(read(container_id, "memory/memory.limit_in_bytes", "memory.max"))


def oom_kills(container_id: str) -> int:
    """The kernel's count of OOM kills in the container's cgroup (memory.events on v2)."""
    text = read(container_id, "memory/memory.oom_control", "memory.events")
    return keyed(text).get("oom_kill", 0)


def io_bytes(container_id: str, device: str) -> tuple[int, int]:
    """Bytes read and written on ``device`` ("MAJ:MIN"): io.stat or v1's throttle stats."""
    if LAYOUT is Layout.UNIFIED:
        for line in read(container_id, "", "io.stat").splitlines():
            if line.split()[0] == device:
                items = dict(item.split("=") for item in line.split()[1:])
                return int(items["rbytes"]), int(items["wbytes"])
        return 0, 0
    totals = {"Read": 0, "Write": 0}
    for line in read(container_id, "blkio/blkio.throttle.io_service_bytes", "").splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0] == device and fields[1] in totals:
            totals[fields[1]] = int(fields[2])
    return totals["Read"], totals["Write"]


def pids_of(container_id: str) -> list[int]:
    """The processes in the container's cgroup, from its cgroup.procs."""
    return [int(pid) for pid in read(container_id, "pids/cgroup.procs", "cgroup.procs").split()]


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie does not: it only waits to be reaped)."""
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


def cgroup_gone(container_id: str) -> bool:
    """Whether no directory of the container's cgroup is left on any hierarchy."""
    candidates = [ROOT / PARENT / container_id, *ROOT.glob(f"*/{PARENT}/{container_id}")]
    return not any(path.is_dir() for path in candidates)


# -- berth ------------------------------------------------------------------------------


def inspect(berth, ref: str) -> dict:
    result = berth("inspect", ref)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[0]


def run_detached(berth, *args: str) -> str:
    result = berth("run", "-d", *NO_NETWORK, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def update(berth, ref: str, *flags: str) -> None:
    result = berth("update", *flags, ref)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def cpus() -> int:
    return len(os.sched_getaffinity(0))
