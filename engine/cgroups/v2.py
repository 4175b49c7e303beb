"""cgroup v2 (unified hosts): one tree, controllers enabled from the root down."""

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
from engine.cgroups.limits import (
    Limits,
    Usage,
    blkio_to_io_weight,
    shares_to_weight,
    swap_only,
)

#: controllers a container's cgroup gets when the host has them
WANTED_CONTROLLERS = ("cpu", "io", "memory", "pids", "cpuset")


class V2Cgroup(Cgroup):
    @property
    def _dir(self) -> Path:
        return self.paths()[0]

    def create(self) -> None:
        directory = self.hierarchies[0].mountpoint
        for part in self.path.split("/"):
            # Every ancestor must delegate the controllers to its children; this works
            # only while the ancestor itself holds no processes (the "no internal
            # processes" rule), which is true of the engine's own parent cgroup.
            _enable_controllers(directory)
            directory = directory / part
            directory.mkdir(mode=0o755, exist_ok=True)

    def apply(self, limits: Limits) -> list[str]:
        writer = LimitWriter()
        directory = self._dir
        if limits.cpu_shares is not None:
            writer.write(directory, "cpu.weight", shares_to_weight(limits.cpu_shares),
                         _no("cpu"))  # fmt: skip
        writer.write(directory, "cpu.max", _cpu_max(limits), _no("cpu"))
        writer.write(directory, "cpuset.cpus", limits.cpuset_cpus, _no("cpuset"))
        writer.write(directory, "cpuset.mems", limits.cpuset_mems, _no("cpuset"))
        writer.write(directory, "memory.max", _max(limits.memory), _no("memory"))
        writer.write(directory, "memory.low", _max(limits.memory_reservation), _no("memory"))
        writer.write(directory, "memory.swap.max", _max(swap_only(limits)),
                     "the kernel does not account swap (CONFIG_MEMCG_SWAP)")  # fmt: skip
        writer.write(directory, "pids.max", _max(limits.pids), _no("pids"))
        self._set_io_weight(writer, limits.blkio_weight)
        return writer.skipped

    def _set_io_weight(self, writer: LimitWriter, weight: int | None) -> None:
        # BFQ takes blkio's own 10..1000 scale; io.weight (blk-iocost) its 1..10000 one.
        if weight is not None and (self._dir / "io.bfq.weight").exists():
            writer.write(self._dir, "io.bfq.weight", weight, _no("io"))
        elif weight is not None:
            writer.write(self._dir, "io.weight", blkio_to_io_weight(weight),
                         "neither BFQ nor blk-iocost weighs this host's block I/O")  # fmt: skip

    def usage(self) -> Usage:
        directory = self._dir
        memory_stat = read_keyed(directory / "memory.stat")
        reads, writes = _io_bytes(directory / "io.stat")
        limit = (directory / "memory.max").read_text().strip()
        return Usage(
            cpu_ns=read_keyed(directory / "cpu.stat")["usage_usec"] * 1000,
            memory=read_int(directory / "memory.current"),
            inactive_file=memory_stat.get("inactive_file", 0),
            memory_limit=None if limit == "max" else int(limit),
            pids=read_int(directory / "pids.current"),
            io_read=reads,
            io_write=writes,
        )

    def oom_kills(self) -> int:
        try:
            return read_keyed(self._dir / "memory.events").get("oom_kill", 0)
        except OSError as error:
            if not is_gone(error):
                raise
            return 0

    def freeze(self) -> None:
        write_value(self._dir / "cgroup.freeze", "1")
        wait_for(lambda: "frozen 1" in self._events(), f"cgroup {self.path} did not freeze")

    def thaw(self) -> None:
        write_unless_gone(self._dir / "cgroup.freeze", "0")

    def is_frozen(self) -> bool:
        try:
            return (self._dir / "cgroup.freeze").read_text().strip() == "1"
        except OSError as error:
            if not is_gone(error):
                raise
            return False

    def _events(self) -> str:
        return (self._dir / "cgroup.events").read_text()

    def _kill_round(self, pids: list[int]) -> None:
        # cgroup.kill (Linux >= 5.14) kills the whole tree at once, forks included.
        kill_file = self._dir / "cgroup.kill"
        if kill_file.exists():
            write_unless_gone(kill_file, "1")
        else:
            super()._kill_round(pids)


def _enable_controllers(directory: Path) -> None:
    """Best effort: a controller the kernel refuses to delegate is left out."""
    available = (directory / "cgroup.controllers").read_text().split()
    enabled = (directory / "cgroup.subtree_control").read_text().split()
    for controller in WANTED_CONTROLLERS:
        if controller in available and controller not in enabled:
            with contextlib.suppress(OSError):
                write_value(directory / "cgroup.subtree_control", f"+{controller}")


def _no(controller: str) -> str:
    return f"the {controller} controller is not enabled for this cgroup"


def _max(value: int | None) -> str | None:
    """v2's spelling of a limit: "max" for unlimited (any negative value)."""
    if value is None:
        return None
    return "max" if value < 0 else str(value)


def _cpu_max(limits: Limits) -> str | None:
    """cpu.max: "QUOTA PERIOD"; "max" quota when only the period is given, as runc does."""
    if limits.cpu_quota is None and limits.cpu_period is None:
        return None
    quota = "max" if limits.cpu_quota is None or limits.cpu_quota < 0 else str(limits.cpu_quota)
    return quota if limits.cpu_period is None else f"{quota} {limits.cpu_period}"


def _io_bytes(path: Path) -> tuple[int, int]:
    """Bytes read and written, over every device of io.stat ("8:0 rbytes=1 wbytes=2 ...")."""
    reads = writes = 0
    try:
        text = path.read_text()
    except FileNotFoundError:  # no io controller here
        return 0, 0
    for line in text.splitlines():
        for item in line.split()[1:]:
            key, _, value = item.partition("=")
            if key == "rbytes":
                reads += int(value)
            elif key == "wbytes":
                writes += int(value)
    return reads, writes
