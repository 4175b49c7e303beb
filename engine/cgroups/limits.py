"""Resource limits and usage figures, in the same terms whatever the cgroup version.

:class:`Limits` carries an OCI ``linux.resources`` object's values (v1 units: CPU
shares, memory + swap together); each driver translates them into its own files.
:class:`Usage` is what a driver reads back for ``stats``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

#: the kernel's bounds for v1 cpu.shares; Docker and runc clamp to them too
MIN_SHARES, MAX_SHARES = 2, 262144
#: cgroup v2 cpu.weight and io.weight bounds
MIN_WEIGHT, MAX_WEIGHT = 1, 10000
#: blkio.weight (v1) and Docker's --blkio-weight bounds
MIN_BLKIO_WEIGHT, MAX_BLKIO_WEIGHT = 10, 1000


@dataclass(frozen=True)
class Limits:
    """The limits to set; ``None`` leaves a setting as it is, -1 lifts it (unlimited)."""

    cpu_shares: int | None = None
    cpu_quota: int | None = None  # µs per period
    cpu_period: int | None = None  # µs
    cpuset_cpus: str | None = None  # "0-1,3"
    cpuset_mems: str | None = None
    memory: int | None = None  # bytes
    memory_reservation: int | None = None  # bytes; a soft limit
    memory_swap: int | None = None  # memory + swap, bytes, as OCI and Docker count it
    pids: int | None = None
    blkio_weight: int | None = None  # 10..1000

    def is_empty(self) -> bool:
        return all(getattr(self, item.name) is None for item in fields(self))


@dataclass(frozen=True)
class Usage:
    """One reading of a cgroup's counters."""

    cpu_ns: int  # CPU time used since the cgroup was made
    memory: int  # bytes charged, page cache included
    inactive_file: int  # bytes of that cache the kernel may drop first
    memory_limit: int | None  # bytes; None when unlimited
    pids: int
    io_read: int  # bytes read from block devices
    io_write: int


def shares_to_weight(shares: int) -> int:
    """cgroup v2 cpu.weight for v1 cpu.shares, the way runc >= 1.3.2 and crun >= 1.23 do it.

    A quadratic in log2(shares) that maps the minimum (2 -> 1), the default
    (1024 -> 100) and the maximum (262144 -> 10000) exactly; the older linear formula
    (1 + (shares - 2) * 9999 / 262142) gave 1024 shares a weight of 39, so a container
    with default shares got less CPU than one with none. Source: opencontainers/cgroups
    ConvertCPUSharesToCgroupV2Value (runc PR #4785).
    """
    if shares <= MIN_SHARES:
        return MIN_WEIGHT
    if shares >= MAX_SHARES:
        return MAX_WEIGHT
    log = math.log2(shares)
    exponent = (log * log + 125 * log) / 612.0 - 7.0 / 34.0
    return math.ceil(10**exponent)


def blkio_to_io_weight(weight: int) -> int:
    """cgroup v2 io.weight for a v1 blkio weight (10..1000 -> 1..10000), as runc maps it."""
    return 1 + (weight - MIN_BLKIO_WEIGHT) * 9999 // 990


def swap_only(limits: Limits) -> int | None:
    """v2 memory.swap.max: OCI's memory + swap minus the memory; -1 when unlimited."""
    if limits.memory_swap is None:
        return None
    if limits.memory_swap < 0 or limits.memory is None or limits.memory < 0:
        return -1
    return limits.memory_swap - limits.memory
