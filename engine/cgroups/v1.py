"""cgroup v1 (legacy and hybrid hosts): one directory per controller hierarchy.

On a hybrid host the unified cgroup2 hierarchy (mounted without controllers) is one
more hierarchy here, so that the "0::" line of /proc/<pid>/cgroup names the container.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from engine.cgroups.base import (
    Cgroup,
    LimitWriter,
    is_gone,
    read_int,
    read_keyed,
    wait_for,
    write_unless_gone,
    write_value,
)
from engine.cgroups.limits import Limits, Usage
from engine.errors import UnsupportedError

_CPUSET_FILES = ("cpuset.cpus", "cpuset.mems")
#: v1 reports "no limit" as the largest page-aligned counter, 2^63 rounded down
_UNLIMITED = 1 << 62
_MEMSW = "memory.memsw.limit_in_bytes"
_NO_WEIGHT = "neither CFQ (blkio.weight) nor BFQ weighs this host's block I/O"


class V1Cgroup(Cgroup):
    def create(self) -> None:
        for hierarchy in self.hierarchies:
            directory = hierarchy.mountpoint
            for part in self.path.split("/"):
                directory = directory / part
                directory.mkdir(mode=0o755, exist_ok=True)
                if "cpuset" in hierarchy.controllers:
                    _inherit_cpuset(directory)

    def controller_dir(self, controller: str) -> Path | None:
        """This cgroup's directory on the hierarchy of ``controller``; None if unmounted."""
        for hierarchy in self.hierarchies:
            if controller in hierarchy.controllers:
                return self.directory(hierarchy)
        return None

    def apply(self, limits: Limits) -> list[str]:
        writer = LimitWriter()
        cpu, cpuset = self.controller_dir("cpu"), self.controller_dir("cpuset")
        writer.write(cpu, "cpu.shares", limits.cpu_shares, _no("cpu"))
        writer.write(cpu, "cpu.cfs_period_us", limits.cpu_period, _no("cpu"))
        writer.write(cpu, "cpu.cfs_quota_us", limits.cpu_quota, _no("cpu"))
        writer.write(cpuset, "cpuset.cpus", limits.cpuset_cpus, _no("cpuset"))
        writer.write(cpuset, "cpuset.mems", limits.cpuset_mems, _no("cpuset"))
        self._set_memory(writer, limits)
        pids = None if limits.pids is None else "max" if limits.pids < 0 else limits.pids
        writer.write(self.controller_dir("pids"), "pids.max", pids, _no("pids"))
        self._set_blkio_weight(writer, limits.blkio_weight)
        return writer.skipped

    def _set_memory(self, writer: LimitWriter, limits: Limits) -> None:
        memory = self.controller_dir("memory")
        writer.write(memory, "memory.soft_limit_in_bytes", limits.memory_reservation,
                     _no("memory"))  # fmt: skip
        swap = limits.memory_swap
        if swap is not None and memory is not None and not (memory / _MEMSW).exists():
            writer.skipped.append(f"{_MEMSW} is not set: the kernel does not account swap "
                                  "(swapaccount=0 or no CONFIG_MEMCG_SWAP); memory is "
                                  "limited without swap")  # fmt: skip
            swap = None
        # The kernel keeps memory <= memory+swap at every step, so a limit that grows
        # must raise memsw first and one that shrinks must lower memory first.
        current = read_int(memory / "memory.limit_in_bytes") if memory is not None else 0
        swap_first = swap is not None and (swap < 0 or current < swap)
        order = (
            ((_MEMSW, swap), ("memory.limit_in_bytes", limits.memory))
            if swap_first
            else (("memory.limit_in_bytes", limits.memory), (_MEMSW, swap))
        )
        for name, value in order:
            writer.write(memory, name, value, _no("memory"))

    def _set_blkio_weight(self, writer: LimitWriter, weight: int | None) -> None:
        # CFQ's blkio.weight left with CFQ in Linux 5.0; BFQ's takes the same scale.
        blkio = self.controller_dir("blkio")
        if weight is not None and blkio is not None and (blkio / "blkio.weight").exists():
            writer.write(blkio, "blkio.weight", weight, _no("blkio"))
        else:
            writer.write(blkio, "blkio.bfq.weight", weight, _NO_WEIGHT)

    def usage(self) -> Usage:
        memory = self._require("memory")
        stat = read_keyed(memory / "memory.stat")
        limit = read_int(memory / "memory.limit_in_bytes")
        pids = self.controller_dir("pids")
        reads, writes = _blkio_bytes(self.controller_dir("blkio"))
        return Usage(
            cpu_ns=read_int(self._require("cpuacct") / "cpuacct.usage"),
            memory=read_int(memory / "memory.usage_in_bytes"),
            inactive_file=stat.get("total_inactive_file", stat.get("inactive_file", 0)),
            memory_limit=None if limit >= _UNLIMITED else limit,
            pids=read_int(pids / "pids.current") if pids else len(self.pids()),
            io_read=reads,
            io_write=writes,
        )

    def oom_kills(self) -> int:
        memory = self.controller_dir("memory")
        if memory is None:
            return 0
        try:
            # "oom_kill N" is there since Linux 4.13.
            return read_keyed(memory / "memory.oom_control").get("oom_kill", 0)
        except OSError as error:
            if not is_gone(error):
                raise
            return 0

    def freeze(self) -> None:
        state = self._require("freezer") / "freezer.state"

        def frozen() -> bool:
            # Writing again nudges a cgroup stuck in FREEZING (a task was forking).
            write_value(state, "FROZEN")
            return state.read_text().strip() == "FROZEN"

        wait_for(frozen, f"cgroup {self.path} did not freeze")

    def thaw(self) -> None:
        write_unless_gone(self._require("freezer") / "freezer.state", "THAWED")

    def is_frozen(self) -> bool:
        freezer = self.controller_dir("freezer")
        if freezer is None:
            return False  # nothing can have frozen it
        try:
            return (freezer / "freezer.state").read_text().strip() != "THAWED"
        except OSError as error:
            if not is_gone(error):
                raise
            return False

    def _require(self, controller: str) -> Path:
        directory = self.controller_dir(controller)
        if directory is None:
            raise UnsupportedError(
                f"the {controller} cgroup controller is not mounted on this host"
            )
        return directory


def _no(controller: str) -> str:
    return f"the {controller} cgroup controller is not mounted on this host"


def _blkio_bytes(blkio: Path | None) -> tuple[int, int]:
    """Bytes read and written: the "MAJ:MIN Read N" / "MAJ:MIN Write N" lines summed."""
    totals = {"Read": 0, "Write": 0}
    if blkio is None:
        return 0, 0
    with contextlib.suppress(FileNotFoundError):
        for line in (blkio / "blkio.throttle.io_service_bytes").read_text().splitlines():
            fields = line.split()
            if len(fields) == 3 and fields[1] in totals:
                totals[fields[1]] += int(fields[2])
    return totals["Read"], totals["Write"]


def _inherit_cpuset(directory: Path) -> None:
    """A new cpuset cgroup starts with no CPUs and no memory nodes: no task could join it."""
    for name in _CPUSET_FILES:
        own = directory / name
        if not own.read_text().strip():
            write_value(own, (directory.parent / name).read_text().strip())
