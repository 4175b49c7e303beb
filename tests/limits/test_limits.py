"""Limits the kernel enforces: memory (OOM kill), CPU quota, pids, and live updates.

The tests marked cgroup2 run here (v1 files on this hybrid host) and again on a pure
cgroup v2 kernel: ``../shared/tools/cgroup2-vm -- .venv/bin/pytest -m cgroup2 tests/limits``.
Each reads the kernel's own file for its layout (tests/limits/kernel.py knows both).
"""

from __future__ import annotations

import os
import subprocess
import time

from tests.limits.kernel import (
    NO_NETWORK,
    block_weight,
    by_layout,
    cpu_seconds,
    cpus,
    inspect,
    limit,
    limits,
    memory_limit,
    on_both,
    oom_kills,
    require_cpuset,
    run_detached,
    update,
    wait_for,
    weight_file,
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


@on_both
def test_an_oom_kill_inside_is_the_kernels_count_and_inspect_says_so(berth):
    # The hog is a child: the container lives on, so its cgroup's counter can be read.
    container_id = run_detached(berth, "--name", "hog", "--memory", "64m", "busybox", "sh",
                                "-c", f"sh -c '{ALLOCATE_200MB}'; sleep 300")  # fmt: skip
    assert oom_kills(container_id) == 0
    wait_for(lambda: oom_kills(container_id) >= 1, timeout=90)
    assert inspect(berth, "hog")["State"]["Running"] is True
    assert berth("kill", "hog").returncode == 0
    assert berth("wait", "hog").stdout == "137\n"
    # The monitor read the counter before the runtime removed the cgroup with it.
    assert inspect(berth, "hog")["State"]["OOMKilled"] is True


@on_both
def test_a_container_killed_otherwise_is_not_oom_killed(berth):
    container_id = run_detached(berth, "--name", "modest", "--memory", "64m", "busybox",
                                "sleep", "300")  # fmt: skip
    assert oom_kills(container_id) == 0
    assert berth("kill", "modest").returncode == 0
    assert berth("wait", "modest").stdout == "137\n"
    assert inspect(berth, "modest")["State"]["OOMKilled"] is False


@on_both
def test_cpus_caps_a_busy_loop_near_half_a_cpu_and_stats_agree(berth):
    container_id = run_detached(berth, "--name", "spin", "--cpus", "0.5", "busybox", "sh", "-c",
                                "while :; do :; done")  # fmt: skip
    cpu = {"--cpu-quota": "50000", "--cpu-period": "100000"}
    assert limits(container_id, cpu) == cpu
    time.sleep(0.5)  # past the start
    before, started = cpu_seconds(container_id), time.monotonic()
    time.sleep(3)
    rate = (cpu_seconds(container_id) - before) / (time.monotonic() - started)
    assert 0.35 <= rate <= 0.6, f"the loop used {rate:.2f} CPUs"
    # stats' CPU % over its own interval, against the kernel's usage over the same call
    before, started = cpu_seconds(container_id), time.monotonic()
    shown = berth("stats", "--no-stream", "--format", "{{.CPUPerc}}", "spin").stdout
    rate = (cpu_seconds(container_id) - before) / (time.monotonic() - started)
    assert abs(float(shown.strip().rstrip("%")) - 100 * rate) < 15, (shown, rate)
    update(berth, "spin", "--cpus", "0.25")
    cpu = {"--cpu-quota": "25000", "--cpu-period": "100000"}
    assert limits(container_id, cpu) == cpu


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
    # memory + swap stays where it was (v2: memory.swap.max shrinks to keep the sum)
    memory = {"--memory": str(100 * MIB), "--memory-swap": str(128 * MIB)}
    assert limits(container_id, memory) == memory
    host_config = inspect(berth, "grow")["HostConfig"]
    assert (host_config["Memory"], host_config["MemorySwap"]) == (100 * MIB, 128 * MIB)
    refused = berth("update", "--memory", "200m", "grow")
    assert refused.returncode == 1
    assert "update the memoryswap at the same time" in refused.stderr
    assert memory_limit(container_id) == 100 * MIB
    # Growing past the old memory+swap: v1 must raise memsw before memory.
    update(berth, "grow", "--memory", "200m", "--memory-swap", "400m")
    memory = {"--memory": str(200 * MIB), "--memory-swap": str(400 * MIB)}
    assert limits(container_id, memory) == memory
    # ...and shrinking below it: memory first.
    update(berth, "grow", "--memory", "32m", "--memory-swap", "48m")
    memory = {"--memory": str(32 * MIB), "--memory-swap": str(48 * MIB)}
    assert limits(container_id, memory) == memory


@on_both
def test_limits_land_in_the_kernel_files_at_create_and_update(berth):
    container_id = run_detached(
        berth, "--name", "tight", "--cpu-shares", "512", "--cpu-quota", "30000",
        "--cpu-period", "60000", "--memory", "64m", "--memory-reservation", "32m",
        "--memory-swap", "96m", "--pids-limit", "20", "busybox", "sleep", "300",
    )  # fmt: skip
    # runc >= 1.3.2 / crun >= 1.23 on v2: 512 shares -> weight 59 (1024 -> 100)
    created = {
        "--cpu-shares": by_layout(v1="512", v2="59"), "--cpu-quota": "30000",
        "--cpu-period": "60000", "--memory": str(64 * MIB),
        "--memory-reservation": str(32 * MIB), "--memory-swap": str(96 * MIB),
        "--pids-limit": "20",
    }  # fmt: skip
    assert limits(container_id, created) == created
    update(berth, "tight", "--cpu-shares", "2048", "--cpu-quota", "45000", "--cpu-period",
           "90000", "--memory", "80m", "--memory-reservation", "16m", "--memory-swap", "160m",
           "--pids-limit", "30")  # fmt: skip
    updated = {
        "--cpu-shares": by_layout(v1="2048", v2="174"), "--cpu-quota": "45000",
        "--cpu-period": "90000", "--memory": str(80 * MIB),
        "--memory-reservation": str(16 * MIB), "--memory-swap": str(160 * MIB),
        "--pids-limit": "30",
    }  # fmt: skip
    assert limits(container_id, updated) == updated
    # -1 lifts a limit: the kernel's "max"
    update(berth, "tight", "--pids-limit", "-1", "--memory-swap", "-1", "--cpu-quota", "-1")
    lifted = {"--pids-limit": "max", "--memory-swap": "max", "--cpu-quota": "max",
              "--memory": str(80 * MIB)}  # fmt: skip
    assert limits(container_id, lifted) == lifted


@on_both
def test_cpuset_at_create_and_update(berth):
    require_cpuset()
    last = str(cpus() - 1)
    container_id = run_detached(berth, "--name", "pinned", "--cpuset-cpus", last,
                                "--cpuset-mems", "0", "busybox", "sleep", "300")  # fmt: skip
    cpuset = {"--cpuset-cpus": last, "--cpuset-mems": "0"}
    assert limits(container_id, cpuset) == cpuset
    pid = inspect(berth, "pinned")["State"]["Pid"]
    assert os.sched_getaffinity(pid) == {int(last)}
    every = "0" if cpus() == 1 else f"0-{last}"
    update(berth, "pinned", "--cpuset-cpus", every)
    assert limit(container_id, "--cpuset-cpus") == every
    assert os.sched_getaffinity(pid) == set(range(cpus()))


@on_both
def test_blkio_weight_at_create_and_update(berth):
    name = weight_file()
    # io.weight (blk-iocost) has its own 1..10000 scale, as runc maps it; BFQ's is Docker's.
    scale = {300: 2930, 600: 5960} if name == "io.weight" else {300: 300, 600: 600}
    container_id = run_detached(berth, "--name", "weighed", "--blkio-weight", "300",
                                "busybox", "sleep", "300")  # fmt: skip
    assert block_weight(container_id, name) == scale[300]
    update(berth, "weighed", "--blkio-weight", "600")
    assert block_weight(container_id, name) == scale[600]


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
