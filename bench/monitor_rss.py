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

import psutil
from scratch_engine import scratch_engine


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


def _monitors(ids: list[str]) -> list[psutil.Process]:
    wanted = set(ids)
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "engine.monitor" in cmdline and any(i in " ".join(cmdline) for i in wanted):
            found.append(process)
    return found


def _report(monitors: list[psutil.Process], elapsed: float, count: int) -> None:
    rss = [p.memory_info().rss / 2**20 for p in monitors]
    uss = [p.memory_full_info().uss / 2**20 for p in monitors]
    print(f"{count} detached containers started in {elapsed:.1f} s "
          f"({elapsed / count * 1000:.0f} ms each, sequentially)\n")  # fmt: skip
    print(f"{'monitor memory':<20}{'median MiB':>12}{'max MiB':>10}{'total MiB':>11}")
    for name, values in (("RSS", rss), ("USS (unique)", uss)):
        print(f"{name:<20}{statistics.median(values):>12.1f}{max(values):>10.1f}"
              f"{sum(values):>11.1f}")  # fmt: skip
    conmon = [p for p in psutil.process_iter(["name"]) if p.info["name"] == "conmon"]
    if conmon:
        median = statistics.median(p.memory_info().rss for p in conmon) / 2**20
        print(f"conmon RSS median {median:.1f} MiB")
    else:
        print("conmon: not running here (podman not installed), no comparison")


if __name__ == "__main__":
    sys.exit(main())
