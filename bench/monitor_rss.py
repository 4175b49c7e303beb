#!/usr/bin/env python3
"""Per-container overhead: the memory of each container's monitor, 20 containers at once,
berth's monitor beside podman's conmon and docker's containerd-shim.

Starts N detached `sleep` containers (--network none) on each engine, berth on a scratch
root and the anchors set up here where installed (bench/engines.py: podman on scratch
storage, docker on a dockerd of its own), finds each container's monitor as the parent
of its init (`inspect -f '{{.State.Pid}}'`), and reads from /proc: PSS (smaps_rollup: its
private pages plus its share of the pages it shares with the other monitors, the figure
that adds up), USS (private pages only: what killing it frees) and RSS. Removes
everything at the end.

    .venv/bin/python bench/monitor_rss.py [--containers 20]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import engines
from engines import Cli, EngineError

PROC = Path("/proc")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=20)
    args = parser.parse_args()
    status = engines.rerun_in_private_namespace()
    if status is not None:
        return status
    engines.interrupt_once()
    engines.compile_berth()
    try:
        with tempfile.TemporaryDirectory(prefix="berth-rss-") as scratch:
            _bench(Path(scratch), args.containers)
    except KeyboardInterrupt:
        return engines.interrupted()
    return 0


def _bench(scratch: Path, count: int) -> None:
    with contextlib.ExitStack() as stack:
        clis: dict[str, Cli] = {"berth": stack.enter_context(engines.berth(scratch / "berth"))}
        tar = engines.rootfs_tar(engines.busybox_rootfs(scratch / "berth"), scratch)
        skipped: dict[str, str] = {}
        for name, factory in (("podman", engines.podman), ("docker", engines.docker)):
            made = stack.enter_context(factory(scratch / name, tar))
            if isinstance(made, str):
                skipped[name] = f"skipped: {made}"
            else:
                clis[name] = made
        rows = []
        try:
            for name, cli in clis.items():
                try:
                    rows.append(_measure(cli, count))
                except (EngineError, OSError, ValueError) as error:
                    skipped[name] = f"failed: {error}"
        finally:
            for cli in clis.values():
                cli.remove_all()
    print(f"{count} detached `sleep` containers per engine; each one's monitor (its init's "
          "parent), MiB\n")  # fmt: skip
    print(f"{'monitor':<34}{'PSS median':>11}{'max':>7}{'total':>8}{'USS median':>12}"
          f"{'RSS median':>12}{'start ms':>10}")  # fmt: skip
    for name, start, pss, uss, rss in rows:
        print(f"{name:<34}{statistics.median(pss):>11.1f}{max(pss):>7.1f}{sum(pss):>8.1f}"
              f"{statistics.median(uss):>12.1f}{statistics.median(rss):>12.1f}"
              f"{start * 1000:>10.0f}")  # fmt: skip
    for name, why in skipped.items():
        print(f"{name:<34}{why}")
    print("\nstart ms: one `run -d`, the median of the sequential starts")


def _measure(cli: Cli, count: int) -> tuple[str, float, list[float], list[float], list[float]]:
    starts, containers = [], []
    for _ in range(count):
        elapsed, container = cli.timed("run", "-d", "--network", "none", cli.image, "sleep", "3600")
        starts.append(elapsed)
        containers.append(container)
    time.sleep(1)  # let each settle (a monitor's start-up pages freed)
    monitors = sorted({cli.monitor_pid(container) for container in containers})
    if len(monitors) != count:
        raise EngineError(f"{len(monitors)} monitors for {count} containers")
    comm = (PROC / str(monitors[0]) / "comm").read_text().strip()
    pss = [engines.pss_mib(pid) for pid in monitors]
    uss = [_mib(pid, "smaps_rollup", "Private_Clean", "Private_Dirty", "Private_Hugetlb")
           for pid in monitors]  # fmt: skip
    rss = [_mib(pid, "status", "VmRSS") for pid in monitors]
    return f"{cli.name} ({comm})", statistics.median(starts), pss, uss, rss


def _mib(pid: int, file: str, *fields: str) -> float:
    """The sum of these kB fields of /proc/<pid>/<file>, in MiB."""
    total = 0
    for line in (PROC / str(pid) / file).read_text().splitlines():
        name, _, value = line.partition(":")
        if name in fields:
            total += int(value.split()[0])
    return total / 1024


if __name__ == "__main__":
    sys.exit(main())
