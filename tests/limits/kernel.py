"""Read a container's cgroup files straight from the kernel, on v1 or v2 alike."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from engine import cgroups
from engine.cgroups import Layout

LAYOUT = cgroups.detect()
ROOT = Path("/sys/fs/cgroup")

#: the limit tests run on this host and, marked cgroup2, on a pure v2 host too
on_both = pytest.mark.cgroup2
#: their containers need no network: the cgroup2 VM's kernel cannot load the bridge
#: network's nftables rules ("Operation not supported")
NO_NETWORK = ("--network", "none")
needs_v2 = pytest.mark.skipif(
    LAYOUT is not Layout.UNIFIED,
    reason=f"needs a pure cgroup v2 host (cpu.weight, memory.swap.max, io.weight); this "
    f"host's cgroup layout is {LAYOUT.value} (run it under ../shared/tools/cgroup2-vm)",
)
needs_v1 = pytest.mark.skipif(
    LAYOUT is Layout.UNIFIED, reason="needs cgroup v1 controllers; this host is pure cgroup v2"
)


def read(container_id: str, v1: str, v2: str) -> str:
    """The file ``v2`` (cgroup v2) or ``v1`` ("controller/file") of the container's cgroup."""
    if LAYOUT is Layout.UNIFIED:
        return (ROOT / "berth" / container_id / v2).read_text().strip()
    controller, name = v1.split("/")
    return (ROOT / controller / "berth" / container_id / name).read_text().strip()


def keyed(text: str) -> dict[str, int]:
    return {key: int(value) for key, value in (line.split() for line in text.splitlines())}


def cpu_seconds(container_id: str) -> float:
    """CPU time the container's cgroup has used, as the kernel counts it."""
    if LAYOUT is Layout.UNIFIED:
        return keyed(read(container_id, "", "cpu.stat"))["usage_usec"] / 1e6
    return int(read(container_id, "cpuacct/cpuacct.usage", "")) / 1e9


def memory_limit(container_id: str) -> int:
    return int(read(container_id, "memory/memory.limit_in_bytes", "memory.max"))


def inspect(berth, ref: str) -> dict:
    result = berth("inspect", ref)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[0]


def run_detached(berth, *args: str) -> str:
    result = berth("run", "-d", *NO_NETWORK, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
