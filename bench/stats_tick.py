#!/usr/bin/env python3
"""The cost of one stats tick: CPU time to sample 1, 20 and 100 running containers.

Starts detached `sleep` containers on a scratch engine root and, at each size, drives
the engine's shared sampler (engine.stats.stream, the API `berth stats` and the TUI
use) back to back for a number of ticks, timing the process's CPU time (every thread)
and the wall time per tick. A tick lists the containers once (SQLite, reconciled)
and reads each one's cgroup files and /proc/<pid>/net/dev.

    .venv/bin/python bench/stats_tick.py [--sizes 1,20,100] [--ticks 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time

from scratch_engine import scratch_engine

from engine.api import Engine
from engine.paths import EnginePaths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,20,100")
    parser.add_argument("--ticks", type=int, default=20)
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    with scratch_engine("berth-stats-") as scratch:
        ids: list[str] = []
        print(f"{'containers':>10}{'CPU ms/tick':>13}{'µs/container':>14}{'wall ms/tick':>14}")
        for size in sizes:
            ids += scratch.start_sleepers(size - len(ids), network="bridge")  # net I/O is read too
            cpu, wall = asyncio.run(_measure(scratch.paths, args.ticks))
            print(f"{size:>10}{cpu * 1e3:>13.2f}{cpu / size * 1e6:>14.0f}{wall * 1e3:>14.2f}")
    # podman and docker sample inside their own processes: no per-tick CPU time to set
    # beside this one, so no ratio is printed.
    print("\n(no reference engine compared: podman/docker expose no per-tick cost)")
    return 0


async def _measure(paths: EnginePaths, ticks: int) -> tuple[float, float]:
    """CPU seconds and wall seconds per tick, after one warm-up tick."""
    engine = Engine(paths)
    stream = engine.stats.stream(interval=0.0)
    async with contextlib.aclosing(stream):
        await anext(stream)
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(ticks):
            await anext(stream)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    engine.close()
    return cpu / ticks, wall / ticks


if __name__ == "__main__":
    sys.exit(main())
