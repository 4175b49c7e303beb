"""One reading of a container's usage, straight from the kernel, and Docker's figures from it.

The formulas are the docker CLI's: CPU % is the container's CPU time over the whole
host's in the same interval, times the online CPUs; memory is the cgroup's usage less
its inactive file cache; the limit is the cgroup's, or the host's memory when unlimited.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from engine.cgroups import Cgroup, Usage

_NANO = 1_000_000_000
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Host:
    """Host-wide figures, read once per tick for every container."""

    cpu_ns: int  # CPU time of all CPUs since boot, idle included
    online_cpus: int
    memory: int  # bytes of RAM


@dataclass(frozen=True)
class ContainerStats:
    """A container's usage at one tick, in Docker's terms (zeros when it is not running)."""

    id: str
    name: str
    running: bool
    cpu_percent: float | None  # None on the first tick: a rate needs two readings
    memory_usage: int  # bytes, inactive file cache excluded
    memory_limit: int  # bytes
    memory_percent: float
    net_rx: int  # bytes received on the container's interfaces (lo excluded)
    net_tx: int
    block_read: int  # bytes
    block_write: int
    pids: int
    cpu_ns: int  # the cgroup's CPU time so far, for consumers that want their own rates


def read_host() -> Host:
    # Docker sums user..softirq (the first seven fields) of /proc/stat's "cpu" line.
    with open("/proc/stat", "rb") as stat:
        fields = stat.readline().split()[1:8]
    memory = 0
    with open("/proc/meminfo", "rb") as meminfo:
        for line in meminfo:
            if line.startswith(b"MemTotal:"):
                memory = int(line.split()[1]) * 1024
                break
    return Host(
        cpu_ns=sum(int(field) for field in fields) * _NANO // _CLOCK_TICKS,
        online_cpus=os.sysconf("SC_NPROCESSORS_ONLN"),
        memory=memory,
    )


def net_bytes(pid: int) -> tuple[int, int]:
    """Bytes received and sent on the interfaces of ``pid``'s network namespace, lo excluded."""
    received = sent = 0
    try:
        with open(f"/proc/{pid}/net/dev", "rb") as dev:
            lines = dev.readlines()[2:]  # two header lines
    except (FileNotFoundError, ProcessLookupError):
        return 0, 0
    for line in lines:
        name, _, counters = line.partition(b":")
        if name.strip() == b"lo":
            continue
        fields = counters.split()
        received += int(fields[0])
        sent += int(fields[8])
    return received, sent


@dataclass(frozen=True)
class Previous:
    """What the next tick's CPU % is computed against."""

    cpu_ns: int
    host_cpu_ns: int


def since_start(started_at: float, start_cpu_ns: int, host: Host, now: float) -> Previous:
    """A baseline at the container's start (epoch seconds; its cgroup's CPU time then),
    for a rate over its whole run: the host's CPUs have run for the time since."""
    elapsed_ns = max(0, int((now - started_at) * _NANO))
    return Previous(start_cpu_ns, host_cpu_ns=host.cpu_ns - elapsed_ns * host.online_cpus)


def container_stats(
    container_id: str, name: str, cgroup: Cgroup, pid: int, host: Host,
    previous: Previous | None,
) -> tuple[ContainerStats, Previous]:  # fmt: skip
    """The container's figures now (OSError if its cgroup is gone), and the next baseline."""
    usage = cgroup.usage()
    received, sent = net_bytes(pid)
    limit = min(usage.memory_limit or host.memory, host.memory)
    memory = _memory_usage(usage)
    stats = ContainerStats(
        id=container_id, name=name, running=True,
        cpu_percent=_cpu_percent(usage.cpu_ns, host, previous),
        memory_usage=memory, memory_limit=limit,
        memory_percent=100.0 * memory / limit if limit else 0.0,
        net_rx=received, net_tx=sent, block_read=usage.io_read, block_write=usage.io_write,
        pids=usage.pids, cpu_ns=usage.cpu_ns,
    )  # fmt: skip
    return stats, Previous(usage.cpu_ns, host.cpu_ns)


def stopped_stats(container_id: str, name: str) -> ContainerStats:
    """What ``stats -a`` shows of a container that does not run: zeros."""
    return ContainerStats(container_id, name, False, 0.0, 0, 0, 0.0, 0, 0, 0, 0, 0, 0)


def _memory_usage(usage: Usage) -> int:
    # The docker CLI leaves the cache out only when it is smaller than the usage.
    if usage.inactive_file < usage.memory:
        return usage.memory - usage.inactive_file
    return usage.memory


def _cpu_percent(cpu_ns: int, host: Host, previous: Previous | None) -> float | None:
    if previous is None:
        return None
    container_delta = cpu_ns - previous.cpu_ns
    host_delta = host.cpu_ns - previous.host_cpu_ns
    if container_delta <= 0 or host_delta <= 0:
        return 0.0
    return container_delta / host_delta * host.online_cpus * 100.0
