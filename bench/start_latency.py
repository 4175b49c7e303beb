#!/usr/bin/env python3
"""Start latency: `berth run --rm busybox true` against the reference engines, side by side.

Every engine runs the same thing, `true` in the busybox rootfs that `berth starter`
makes, one after another in rounds (so machine noise hits all alike); the table shows
each median and its ratio to berth's. The anchors are set up here where installed
(bench/engines.py): crun and runc raw on an OCI bundle, podman on scratch storage, and
docker on a dockerd of its own; missing ones are listed as skipped, with why.
bench/hot_paths.py has this row beside the other hot paths of issue 17.

    .venv/bin/python bench/start_latency.py [--runs 15] [--quick]

Host quirks handled in bench/engines.py: crun refuses a hybrid cgroup layout unless an
empty file is bind-mounted over /sys/fs/cgroup/unified/cgroup.controllers, so the whole
benchmark re-runs itself in a private mount namespace with that bind mount (the same for
every engine); podman only runs here with runtime runc and nofile/nproc limits <= 20000.
Nothing here installs anything: `apt-get install crun runc podman docker.io` first.
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
from engines import compile_berth as _compile_berth  # bench/build.py imports it from here


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per engine (default 15)")
    parser.add_argument("--quick", action="store_true", help="5 runs")
    args = parser.parse_args()
    status = engines.rerun_in_private_namespace()
    if status is not None:
        return status
    engines.interrupt_once()
    _compile_berth()
    try:
        with tempfile.TemporaryDirectory(prefix="berth-bench-") as scratch:
            return _bench(Path(scratch), 5 if args.quick else args.runs)
    except KeyboardInterrupt:
        return engines.interrupted()


def _bench(scratch: Path, runs: int) -> int:
    with contextlib.ExitStack() as stack:
        berth = stack.enter_context(engines.berth(scratch / "berth"))
        rootfs = engines.busybox_rootfs(scratch / "berth")
        tar = engines.rootfs_tar(rootfs, scratch)
        bundle = engines.oci_bundle(scratch / "bundle", rootfs)
        # --network none, like the OCI runtimes' bundle: a fresh netns, lo only.
        commands: dict[str, tuple[Cli, tuple[str, ...]]] = {
            "berth run --rm": (berth, ("run", "--rm", "--network", "none", berth.image, "true")),
            "berth run --rm (bridge)": (berth, ("run", "--rm", berth.image, "true")),
        }
        raw, missing = engines.oci_runtimes(scratch, bundle)
        skipped = {f"{name} run": why for name, why in missing.items()}
        for name, cli in raw.items():
            commands[f"{name.removesuffix(' raw')} run"] = (cli, ("run", "--bundle", str(bundle)))
        for name, factory in (("podman", engines.podman), ("docker", engines.docker)):
            made = stack.enter_context(factory(scratch / name, tar))
            if isinstance(made, str):
                skipped[f"{name} run --rm"] = made
                continue
            args = ("run", "--rm", "--network", "none", made.image, "true")
            commands[f"{name} run --rm"] = (made, args)
        times = _measure(commands, runs, skipped)
    _print_table(times, skipped, runs)
    return 0


def _measure(commands: dict[str, tuple[Cli, tuple[str, ...]]], runs: int,
             skipped: dict[str, str]) -> dict[str, list[float]]:  # fmt: skip
    """One warm-up each (page cache, first-use set-up), then ``runs`` rounds."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for index in range(-1, runs):
        for name, (cli, args) in list(commands.items()):
            if cli.name.endswith(" raw"):  # a fresh id each time: `run` deletes it after
                args = (*args, f"bench-{index + 1}")
            try:
                elapsed, _ = cli.timed(*args)
            except EngineError as error:
                skipped[name] = f"failed: {error}"
                del commands[name], times[name]
                continue
            if index >= 0:
                times[name].append(elapsed)
    return times


def _print_table(times: dict[str, list[float]], skipped: dict[str, str], runs: int) -> None:
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians.get("berth run --rm")
    print(f"start latency of `true` in busybox, median of {runs} runs each "
          f"({time.strftime('%Y-%m-%d %H:%M')})\n")  # fmt: skip
    print(f"{'engine':<24}{'median ms':>10}{'min ms':>9}{'x berth run':>13}")
    for name, median in sorted(medians.items(), key=lambda item: item[1]):
        ratio = f"{median / base:>13.2f}" if base else f"{'-':>13}"
        print(f"{name:<24}{median * 1000:>10.1f}{min(times[name]) * 1000:>9.1f}{ratio}")
    for name, reason in skipped.items():
        print(f"{name:<24}  {reason if reason.startswith('failed') else 'skipped: ' + reason}")


if __name__ == "__main__":
    sys.exit(main())
