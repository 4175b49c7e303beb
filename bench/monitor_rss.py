#!/usr/bin/env python3
"""Per-container overhead: the resident memory of berth's monitors, 20 containers at once.

Starts N detached `sleep` containers on a scratch engine root, reads each monitor's
VmRSS and its unique memory (USS, what killing it would free) from /proc, prints a
table, and removes everything. conmon's figures are shown when podman is installed.

    .venv/bin/python bench/monitor_rss.py [--containers 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from scratch_engine import scratch_engine

PROC = Path("/proc")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=20)
    args = parser.parse_args()
    with scratch_engine("berth-rss-") as scratch:
        started = time.perf_counter()
        ids = scratch.start_sleepers(args.containers)
        elapsed = time.perf_counter() - started
        _report(_monitors(ids), elapsed, args.containers)
    return 0


def _monitors(ids: list[str]) -> list[int]:
    """The pids of the monitors of these containers."""
    found = []
    for pid, cmdline in _processes():
        if "engine.monitor" in cmdline and any(i in " ".join(cmdline) for i in ids):
            found.append(pid)
    return found


def _processes() -> list[tuple[int, list[str]]]:
    listed = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:  # gone meanwhile
                continue
            listed.append((int(entry.name), cmdline.split("\0")))
    return listed


def _mib(pid: int, file: str, *fields: str) -> float:
    """The sum of these kB fields of /proc/<pid>/<file>, in MiB."""
    total = 0
    for line in (PROC / str(pid) / file).read_text().splitlines():
        name, _, value = line.partition(":")
        if name in fields:
            total += int(value.split()[0])
    return total / 1024


def _rss(pid: int) -> float:
    return _mib(pid, "status", "VmRSS")


def _uss(pid: int) -> float:
    """Unique memory: what killing the process would free (psutil's USS)."""
    return _mib(pid, "smaps_rollup", "Private_Clean", "Private_Dirty", "Private_Hugetlb")


def _report(monitors: list[int], elapsed: float, count: int) -> None:
    rss = [_rss(pid) for pid in monitors]
    uss = [_uss(pid) for pid in monitors]
    print(f"{count} detached containers started in {elapsed:.1f} s "
          f"({elapsed / count * 1000:.0f} ms each, sequentially)\n")  # fmt: skip
    print(f"{'monitor memory':<20}{'median MiB':>12}{'max MiB':>10}{'total MiB':>11}")
    for name, values in (("RSS", rss), ("USS (unique)", uss)):
        print(f"{name:<20}{statistics.median(values):>12.1f}{max(values):>10.1f}"
              f"{sum(values):>11.1f}")  # fmt: skip
    conmon = [pid for pid, cmdline in _processes() if Path(cmdline[0]).name == "conmon"]
    if conmon:
        print(f"conmon RSS median {statistics.median(_rss(pid) for pid in conmon):.1f} MiB")
    else:
        print("conmon: not running here (podman not installed), no comparison")


if __name__ == "__main__":
    sys.exit(main())
