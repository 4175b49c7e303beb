"""``berth stats`` and the engine's shared sampler, checked against the kernel's own files."""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cgroups import Layout
from engine.stats.sampler import Reader
from tests.limits.kernel import (
    LAYOUT,
    ROOT,
    io_bytes,
    keyed,
    on_both,
    read,
    run_detached,
    wait_for,
)
from tests.loop_device import loop_device

MIB = 1024 * 1024
_UNITS = {"B": 1, "KiB": 1024, "MiB": MIB, "GiB": 1024 * MIB, "kB": 1000, "MB": 1000**2,
          "GB": 1000**3}  # fmt: skip
#: the cgroup2 VM's 1 GiB scratch disk (../shared/tools/cgroup2-vm --help)
VM_SCRATCH_DISK = Path("/dev/ubda")
COLUMNS = ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O",
           "PIDS"]  # fmt: skip


def _bytes(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(number) * _UNITS[unit]


def _kernel_memory(container_id: str) -> int:
    """Docker's figure from the kernel's files: usage less the inactive file cache."""
    if LAYOUT is Layout.UNIFIED:
        usage = int(read(container_id, "", "memory.current"))
        return usage - keyed(read(container_id, "", "memory.stat"))["inactive_file"]
    usage = int(read(container_id, "memory/memory.usage_in_bytes", ""))
    stat = keyed(read(container_id, "memory/memory.stat", ""))
    return usage - stat["total_inactive_file"]


@on_both
def test_stats_no_stream_agrees_with_the_kernel(berth):
    # 20 MB held in a shell variable, then idle: a steady figure to compare. (A last
    # command keeps the shell: sh -c would exec the sleep and drop the variable.)
    hold = 'x=$(head -c 20000000 /dev/zero | tr "\\0" x); sleep 300; echo ${#x}'
    container_id = run_detached(berth, "--name", "holder", "-m", "64m", "busybox", "sh", "-c", hold)
    wait_for(lambda: _kernel_memory(container_id) > 20_000_000)
    columns = "{{.Name}}|{{.MemUsage}}|{{.MemPerc}}|{{.PIDs}}|{{.CPUPerc}}"
    berth("stats", "--no-stream", "holder")  # its CPU % covers the filling of memory
    time.sleep(0.5)
    result = berth("stats", "--no-stream", "--format", columns, "holder")  # since the last
    kernel = _kernel_memory(container_id)
    name, memory, percent, pids, cpu = result.stdout.strip().split("|")
    used, limit = memory.split(" / ")
    assert (name, limit) == ("holder", "64MiB")
    assert abs(_bytes(used) - kernel) < 0.02 * kernel, (used, kernel)
    assert abs(float(percent.rstrip("%")) - 100 * kernel / (64 * MIB)) < 2
    assert pids == read(container_id, "pids/pids.current", "pids.current")
    assert float(cpu.rstrip("%")) < 5  # asleep


@pytest.fixture
def scratch_disk(tmp_path: Path) -> Iterator[str]:
    """A block device the test may overwrite: the VM's scratch disk, else a loop device."""
    if VM_SCRATCH_DISK.is_block_device():
        yield str(VM_SCRATCH_DISK)
        return
    with loop_device(tmp_path / "disk.img", 64 * MIB) as loop:
        _count_v1_block_io(loop)
        yield loop


def _count_v1_block_io(device: str) -> None:
    """Make v1's blkio.throttle.io_service_bytes count ``device``'s I/O.

    Since Linux 6.x blk-throttle sets a disk up only when a rule names it, and v1 counts
    bytes only on a disk set up so (v2's io.stat counts every disk). A rule of 0 ("no
    limit") in the root cgroup sets it up and limits nothing.
    """
    rules = ROOT / "blkio" / "blkio.throttle.read_bps_device"
    if LAYOUT is not Layout.UNIFIED and rules.exists():
        number = Path(device).stat().st_rdev
        rules.write_text(f"{os.major(number)}:{os.minor(number)} 0\n")


@on_both
def test_stats_block_io_agrees_with_the_kernel(berth, scratch_disk):
    """Direct (O_DIRECT) reads and writes of a disk: io.stat on v2, blkio on v1."""
    number = Path(scratch_disk).stat().st_rdev
    device = f"{os.major(number)}:{os.minor(number)}"
    work = (
        "dd if=/dev/zero of=/dev/xda bs=1M count=4 oflag=direct && "
        "dd if=/dev/xda of=/dev/null bs=1M count=8 skip=8 iflag=direct && sleep 300"
    )
    container_id = run_detached(berth, "--name", "disky", "--device", f"{scratch_disk}:/dev/xda",
                                "busybox", "sh", "-c", work)  # fmt: skip

    def done() -> bool:
        reads, writes = io_bytes(container_id, device)
        return reads >= 8 * MIB and writes >= 4 * MIB

    wait_for(done)
    shown = berth("stats", "--no-stream", "--format", "{{.BlockIO}}", "disky").stdout
    read_bytes, written = (_bytes(part) for part in shown.strip().split(" / "))
    # stats sums every disk; the test's disk is the one this container used
    kernel_read, kernel_written = io_bytes(container_id, device)
    assert abs(read_bytes - kernel_read) <= 0.01 * kernel_read, (shown, kernel_read)
    assert abs(written - kernel_written) <= 0.01 * kernel_written, (shown, kernel_written)
    assert kernel_read >= 8 * MIB and kernel_written >= 4 * MIB


def _cpu_seconds(container_id: str) -> float:
    if LAYOUT is Layout.UNIFIED:
        return keyed(read(container_id, "", "cpu.stat"))["usage_usec"] / 1e6
    return int(read(container_id, "cpuacct/cpuacct.usage", "")) / 1e9


def test_no_stream_reads_once_and_gives_each_run_s_average_cpu(berth):
    """One reading, as podman's: a busy loop shows its CPU share since it started, a
    sleeper next to nothing; no second reading is waited for."""
    busy = run_detached(berth, "--name", "busy", "busybox", "sh", "-c", "while :; do :; done")
    run_detached(berth, "--name", "idle", "busybox", "sleep", "300")
    wait_for(lambda: _cpu_seconds(busy) > 0.3)
    shown = berth("stats", "--no-stream", "--format", "{{.Name}} {{.CPUPerc}}").stdout
    cpu = {name: float(percent.rstrip("%")) for name, percent in
           (line.split() for line in shown.splitlines())}  # fmt: skip
    assert cpu["busy"] > 20 and cpu["idle"] < 5, shown


def test_stats_table_shows_dockers_columns_and_all_shows_stopped_ones(berth):
    run_detached(berth, "--name", "up", "busybox", "sleep", "300")
    berth("create", "--name", "down", "busybox", "true")
    running = berth("stats", "--no-stream").stdout.splitlines()
    assert re.split(r"\s{3,}", running[0]) == COLUMNS
    assert [line.split()[1] for line in running[1:]] == ["up"]
    every = berth("stats", "--no-stream", "-a", "--no-trunc").stdout.splitlines()
    down = next(line.split() for line in every if " down " in line)
    assert len(down[0]) == 64
    assert down[2:] == ["0.00%", "0B", "/", "0B", "0.00%", "0B", "/", "0B", "0B", "/", "0B", "0"]


async def test_listeners_share_one_reading_per_tick(engine, berth, monkeypatch):
    for name in ("one", "two"):
        run_detached(berth, "--name", name, "busybox", "sleep", "300")
    reads: list[list[str]] = []
    original = Reader.read

    def counting(self, containers):
        reads.append(sorted(container.name for container in containers))
        return original(self, containers)

    monkeypatch.setattr(Reader, "read", counting)
    every = engine.stats.stream(interval=0.2)
    only_one = engine.stats.stream(["one"], interval=0.2)
    async with contextlib.aclosing(every), contextlib.aclosing(only_one):
        first = await anext(every)
        assert [stats.cpu_percent for stats in first] == [None, None]
        await anext(only_one)
        before = len(reads)
        for _ in range(3):
            both = await anext(every)
            mine = await anext(only_one)
        ticks = len(reads) - before
    assert sorted(stats.name for stats in both) == ["one", "two"]
    assert [stats.name for stats in mine] == ["one"]
    assert all(stats.cpu_percent is not None for stats in both + mine)
    # Two listeners, three ticks each: three or four readings, not six or more.
    assert ticks <= 4, reads
    assert all(names == ["one", "two"] for names in reads)
