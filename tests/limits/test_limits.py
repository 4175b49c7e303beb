"""Limits the kernel enforces: memory (OOM kill), CPU quota, pids, and live updates.

The tests marked cgroup2 run here (v1 files on this hybrid host) and again on a pure
cgroup v2 kernel: ``../shared/tools/cgroup2-vm -- .venv/bin/pytest -m cgroup2 tests/limits``.
"""

from __future__ import annotations

import subprocess
import time

from engine.cgroups import Layout
from tests.limits.kernel import (
    LAYOUT,
    NO_NETWORK,
    cpu_seconds,
    inspect,
    memory_limit,
    needs_v1,
    on_both,
    read,
    run_detached,
)

MIB = 1024 * 1024
# busybox sh keeps a command substitution's output in memory: 200 MB of "x".
ALLOCATE_200MB = 'x=$(head -c 200000000 /dev/zero | tr "\\0" x); echo survived'


@on_both
def test_memory_limit_gets_the_oom_killer_and_inspect_says_so(berth):
    result = berth("run", *NO_NETWORK, "--name", "hog", "--memory", "64m", "busybox", "sh", "-c",
                   ALLOCATE_200MB, timeout=120)  # fmt: skip
    assert result.returncode == 137, result.stderr
    assert "survived" not in result.stdout
    state = inspect(berth, "hog")["State"]
    assert (state["ExitCode"], state["OOMKilled"]) == (137, True)


def test_a_container_killed_otherwise_is_not_oom_killed(berth):
    run_detached(berth, "--name", "modest", "--memory", "64m", "busybox", "sleep", "300")
    assert berth("kill", "modest").returncode == 0
    assert berth("wait", "modest").stdout == "137\n"
    assert inspect(berth, "modest")["State"]["OOMKilled"] is False


@on_both
def test_cpus_caps_a_busy_loop_near_half_a_cpu(berth):
    container_id = run_detached(berth, "--name", "spin", "--cpus", "0.5", "busybox", "sh", "-c",
                                "while :; do :; done")  # fmt: skip
    if LAYOUT is Layout.UNIFIED:
        assert read(container_id, "", "cpu.max") == "50000 100000"
    else:
        assert read(container_id, "cpu/cpu.cfs_quota_us", "") == "50000"
        assert read(container_id, "cpu/cpu.cfs_period_us", "") == "100000"
    time.sleep(0.5)  # past the start
    before, started = cpu_seconds(container_id), time.monotonic()
    time.sleep(3)
    rate = (cpu_seconds(container_id) - before) / (time.monotonic() - started)
    assert 0.35 <= rate <= 0.6, f"the loop used {rate:.2f} CPUs"
    shown = berth("stats", "--no-stream", "--format", "{{.CPUPerc}}", "spin").stdout
    assert 30 <= float(shown.strip().rstrip("%")) <= 65, shown


@on_both
def test_pids_limit_stops_a_fork_loop_inside_and_not_on_the_host(berth):
    result = berth("run", *NO_NETWORK, "--pids-limit", "20", "busybox", "sh", "-c",
                   "for i in $(seq 40); do sleep 60 & echo $i; done; echo all-forked")  # fmt: skip
    assert "can't fork" in result.stderr
    assert "all-forked" not in result.stdout
    forked = [int(line) for line in result.stdout.split()]
    # sh itself is one of the 20; the rest went to sleeps until fork failed.
    assert 15 <= len(forked) < 20, forked
    assert subprocess.run(["sh", "-c", "for i in $(seq 40); do true & done; wait"]).returncode == 0


@on_both
def test_update_memory_changes_the_kernel_file(berth):
    container_id = run_detached(
        berth, "--name", "grow", "--memory", "64m", "busybox", "sleep", "300"
    )
    assert memory_limit(container_id) == 64 * MIB
    result = berth("update", "--memory", "100m", "grow")
    assert (result.returncode, result.stdout) == (0, "grow\n"), result.stderr
    assert memory_limit(container_id) == 100 * MIB
    host_config = inspect(berth, "grow")["HostConfig"]
    assert (host_config["Memory"], host_config["MemorySwap"]) == (100 * MIB, 128 * MIB)
    refused = berth("update", "--memory", "200m", "grow")
    assert refused.returncode == 1
    assert "update the memoryswap at the same time" in refused.stderr
    assert memory_limit(container_id) == 100 * MIB
    # Growing past the old memory+swap: v1 must raise memsw before memory.
    both = berth("update", "--memory", "200m", "--memory-swap", "400m", "grow")
    assert both.returncode == 0, both.stderr
    assert memory_limit(container_id) == 200 * MIB


@on_both
def test_limits_land_in_the_kernel_files(berth):
    container_id = run_detached(
        berth, "--cpu-shares", "512", "--memory", "64m", "--memory-reservation", "32m",
        "--pids-limit", "20", "busybox", "sleep", "300",
    )  # fmt: skip
    pids = read(container_id, "pids/pids.max", "pids.max")
    assert pids == "20"
    if LAYOUT is Layout.UNIFIED:
        # runc >= 1.3.2 / crun >= 1.23: 512 shares -> weight 59 (1024 -> 100)
        assert read(container_id, "", "cpu.weight") == "59"
        assert read(container_id, "", "memory.low") == str(32 * MIB)
        assert read(container_id, "", "memory.swap.max") == str(64 * MIB)
    else:
        assert read(container_id, "cpu/cpu.shares", "") == "512"
        assert read(container_id, "memory/memory.soft_limit_in_bytes", "") == str(32 * MIB)
        assert read(container_id, "memory/memory.memsw.limit_in_bytes", "") == str(128 * MIB)


@needs_v1
def test_cpuset_and_blkio_weight_on_v1(berth):
    container_id = run_detached(berth, "--cpuset-cpus", "1", "--blkio-weight", "300", "busybox",
                                "sleep", "300")  # fmt: skip
    assert read(container_id, "cpuset/cpuset.cpus", "") == "1"
    # Linux >= 5.0 has no CFQ, so no blkio.weight; BFQ's file takes the same scale.
    blkio = read(container_id, "blkio/blkio.bfq.weight", "")
    assert blkio.split()[-1] == "300"


def test_limits_show_in_inspect_and_top(berth):
    container_id = run_detached(
        berth, "--name", "limited", "--cpus", "1.5", "-m", "512m", "--pids-limit", "-1",
        "--cpuset-cpus", "0-1", "busybox", "sleep", "300",
    )  # fmt: skip
    host_config = inspect(berth, container_id)["HostConfig"]
    assert {key: host_config[key] for key in (
        "NanoCpus", "CpuPeriod", "CpuQuota", "CpuShares", "CpusetCpus", "Memory", "MemorySwap",
        "MemoryReservation", "PidsLimit", "BlkioWeight",
    )} == {
        "NanoCpus": 1_500_000_000, "CpuPeriod": 0, "CpuQuota": 0, "CpuShares": 0,
        "CpusetCpus": "0-1", "Memory": 512 * MIB, "MemorySwap": 1024 * MIB,
        "MemoryReservation": 0, "PidsLimit": -1, "BlkioWeight": 0,
    }  # fmt: skip
    top = berth("top", "limited").stdout.splitlines()
    limits = "cpus=1.5 cpuset-cpus=0-1 memory=512MiB memory-swap=1GiB pids-limit=-1"
    assert top[-1] == f"Limits: {limits}"
