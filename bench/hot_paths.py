#!/usr/bin/env python3
"""berth's hot paths (issue 17) side by side with the reference engines: one command, one table.

    .venv/bin/python bench/hot_paths.py [--runs 15] [--quick] [--only ROW,...]

Rows, by their --only names (all by default):

  run      run --rm --network none IMG true     anchors: podman, docker, runc/crun/berth-runtime raw
  bridge   run --rm IMG true (default bridge)   podman, docker
  run-d    run -d --network none IMG sleep      podman, docker
  exec     exec CTR true (CTR running)          docker, podman
  ps       ps with 20 running                   docker, podman
  stop     stop -t 0 / rm (exited) / rm -f      docker, podman
  stats    stats --no-stream, 20 running        podman, docker
  pss      monitor PSS, 20 running              conmon (podman's), containerd-shim (docker's)
  tui      the TUI on 50 containers, 1 s refresh: bench/tui_responsiveness.py's CPU %

Every engine runs the same busybox rootfs (`berth starter`'s, imported into podman's and
docker's scratch storage; an OCI bundle for the raw runtimes); bench/engines.py says how
each is set up and torn down (its own dockerd, podman with runtime runc, ...). An operation
runs in rounds across the engines, one after another (so noise hits all alike), after one
warm-up each; a row shows each engine's median, min and max, berth's median over each
anchor's (below 1: berth is faster), the issue's goal for berth, and whether berth meets
it. Only the measured command is timed: `stop` times `stop -t 0` of a container `run -d`
just started, then `rm` of that (now exited) container, then `rm -f` of a second one; its
`run -d`s are the run-d row. exec, ps, stats and pss use 20 `sleep` containers per engine
(--network none), started once. PSS is that of each container init's parent (berth's
monitor, conmon, containerd-shim), read from /proc/PID/smaps_rollup. Everything berth
times is the installed `berth` entry point. Engines not installed are "skipped: why";
an engine whose command fails is "failed: why" for that row, and the rest go on.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import engines
from engines import Cli, EngineError

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Row:
    key: str  # its --only name
    label: str  # what it measures, in the table
    goal: float  # berth's, in ``unit``
    unit: str
    anchors: tuple[str, ...]


ROWS = (
    Row("run", "run --rm --network none IMG true", 60, "ms",
        ("podman", "docker", "runc raw", "crun raw", "berth-runtime raw")),
    Row("bridge", "run --rm IMG true (default bridge)", 120, "ms", ("podman", "docker")),
    Row("run-d", "run -d --network none IMG sleep", 60, "ms", ("podman", "docker")),
    Row("exec", "exec CTR true", 50, "ms", ("docker", "podman")),
    Row("ps", "ps ({n} running)", 30, "ms", ("docker", "podman")),
    Row("stop", "stop -t 0 CTR (running)", 60, "ms", ("docker", "podman")),
    Row("rm", "rm CTR (exited)", 30, "ms", ("docker", "podman")),
    Row("rm-f", "rm -f CTR (running)", 60, "ms", ("docker", "podman")),
    Row("stats", "stats --no-stream ({n} running)", 40, "ms", ("podman", "docker")),
    Row("pss", "monitor PSS, {n} running (each)", 4, "MiB", ("podman", "docker")),
    Row("tui", "TUI, {tui} containers, 1 s refresh", 5, "% CPU", ()),
)  # fmt: skip
ONLY = ("run", "bridge", "run-d", "exec", "ps", "stop", "stats", "pss", "tui")
# --only stop is its three rows (stop, rm, rm-f): one set-up gives all three.
_ROWS_OF = {"stop": ("stop", "rm", "rm-f")}
FLEET_ROWS = {"exec", "ps", "stats", "pss"}


@dataclass
class Results:
    values: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # row, engine
    notes: dict[str, dict[str, str]] = field(default_factory=dict)  # row, engine: skipped/failed
    names: dict[str, dict[str, str]] = field(default_factory=dict)  # row, engine: shown name

    def add(self, row: str, engine: str, values: list[float]) -> None:
        self.values.setdefault(row, {}).setdefault(engine, []).extend(values)

    def note(self, row: str, engine: str, text: str) -> None:
        self.notes.setdefault(row, {}).setdefault(engine, text)


Step = Callable[[Cli, int], dict[str, list[float]]]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[4:15]),
    )  # fmt: skip
    parser.add_argument("--runs", type=int, default=15, help="timed runs per engine (15)")
    parser.add_argument("--quick", action="store_true", help="5 runs, a 3 s TUI sample")
    parser.add_argument("--only", default=",".join(ONLY), help="rows to run, comma-separated")
    parser.add_argument("--containers", type=int, default=20, help="running for ps/stats/pss (20)")
    parser.add_argument("--tui-containers", type=int, default=50, help="for the TUI row (50)")
    args = parser.parse_args()
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in only if name not in ONLY]
    if unknown:
        parser.error(f"unknown row(s) {', '.join(unknown)}: choose from {', '.join(ONLY)}")
    status = engines.rerun_in_private_namespace()
    if status is not None:
        return status
    engines.interrupt_once()
    runs = 5 if args.quick else args.runs
    engines.compile_berth()
    started = time.perf_counter()
    results = Results()
    setup: list[str] = []
    try:
        if set(only) - {"tui"}:
            with tempfile.TemporaryDirectory(prefix="berth-bench-hot-") as scratch:
                _measure(Path(scratch), set(only), runs, args.containers, results, setup)
        if "tui" in only:
            _tui(results, args.tui_containers, 3.0 if args.quick else 10.0)
    except KeyboardInterrupt:
        return engines.interrupted()
    elapsed = time.perf_counter() - started
    _print(results, only, runs, args, setup, elapsed)
    return 0


def _measure(scratch: Path, only: set[str], runs: int, fleet_size: int, results: Results,
             setup: list[str]) -> None:  # fmt: skip
    """Set the engines up, run the selected rows, tear everything down (also on failure)."""
    with contextlib.ExitStack() as stack:
        berth = stack.enter_context(engines.berth(scratch / "berth"))
        rootfs = engines.busybox_rootfs(scratch / "berth")
        tar = engines.rootfs_tar(rootfs, scratch)
        clis: dict[str, Cli] = {"berth": berth}
        skipped: dict[str, str] = {}
        setup.append(f"berth: {engines.BERTH}, scratch --root/--runroot, busybox from `starter`")
        for name, factory in (("podman", engines.podman), ("docker", engines.docker)):
            made = stack.enter_context(factory(scratch / name, tar))
            if isinstance(made, str):
                skipped[name] = made
                setup.append(f"{name}: skipped: {made}")
            else:
                clis[name] = made
                setup.append(f"{name}: {made.version}")
        raw: dict[str, Cli] = {}
        if "run" in only:
            bundle = engines.oci_bundle(scratch / "bundle", rootfs)
            raw, raw_skipped = engines.oci_runtimes(scratch, bundle)
            skipped.update(raw_skipped)
            setup.extend(f"{name}: {cli.version}" for name, cli in raw.items())
        for row in ROWS:
            for engine, why in skipped.items():
                results.note(row.key, engine, f"skipped: {why}")
            for engine, cli in clis.items():
                for key, why in cli.skipped.items():
                    results.note(key, engine, f"skipped: {why}")
        try:
            _rows(clis, raw, only, runs, fleet_size, results)
        finally:
            for cli in clis.values():  # before the engines go: a fleet of 60 takes a while
                cli.remove_all()


def _rows(clis: dict[str, Cli], raw: dict[str, Cli], only: set[str], runs: int,
          fleet_size: int, results: Results) -> None:  # fmt: skip
    order = {key: row.anchors for key, row in ((row.key, row) for row in ROWS)}

    def engines_for(key: str, extra: dict[str, Cli] | None = None) -> dict[str, Cli]:
        pool = {**clis, **(extra or {})}
        chosen = {"berth": pool["berth"]}
        for name in order[key]:
            if name in pool and key not in pool[name].skipped:
                chosen[name] = pool[name]
        return chosen

    if "run" in only:
        _rounds(engines_for("run", raw), _run_none, runs, results, ("run",))
    if "bridge" in only:
        _rounds(engines_for("bridge"), _run_bridge, runs, results, ("bridge",))
    lifecycle = [key for key in ("run-d", "stop") if key in only]
    if lifecycle:
        rows = tuple(row for key in lifecycle for row in _ROWS_OF.get(key, (key,)))
        _rounds(engines_for("stop"), _lifecycle, runs, results, rows)
    if not only & FLEET_ROWS:
        return
    fleets: dict[str, list[str]] = {}
    for name, cli in clis.items():
        try:
            fleets[name] = [cli.run("run", "-d", "--network", "none", cli.image, "sleep", "3600")
                            for _ in range(fleet_size)]  # fmt: skip
        except EngineError as error:
            for key in FLEET_ROWS:
                results.note(key, name, f"failed: {fleet_size} detached containers: {error}")
    fleet_clis = {name: cli for name, cli in clis.items() if name in fleets}
    if "berth" not in fleet_clis:
        return
    if "exec" in only:
        step = _exec(fleets)
        _rounds(_ordered(fleet_clis, "exec"), step, runs, results, ("exec",))
    if "ps" in only:
        step = _ps(fleet_size)
        _rounds(_ordered(fleet_clis, "ps"), step, runs, results, ("ps",))
    if "stats" in only:
        _rounds(_ordered(fleet_clis, "stats"), _stats, runs, results, ("stats",))
    if "pss" in only:
        _pss(fleet_clis, fleets, results)


def _ordered(clis: dict[str, Cli], key: str) -> dict[str, Cli]:
    [row] = [row for row in ROWS if row.key == key]
    return {name: clis[name] for name in ("berth", *row.anchors) if name in clis}


def _rounds(clis: dict[str, Cli], step: Step, runs: int, results: Results,
            rows: tuple[str, ...]) -> None:  # fmt: skip
    """One warm-up per engine, then ``runs`` rounds of ``step`` across them in turn. An
    engine that fails is out of these rows, with why."""
    active = dict(clis)
    for index in range(-1, runs):
        for name, cli in list(active.items()):
            try:
                got = step(cli, index)
            except EngineError as error:
                for row in rows:
                    results.note(row, name, f"failed: {error}")
                del active[name]
                continue
            if index >= 0:  # not the warm-up
                for row, values in got.items():
                    results.add(row, name, values)


def _run_none(cli: Cli, index: int) -> dict[str, list[float]]:
    if cli.name.endswith(" raw"):  # an OCI runtime: `run` on the bundle, which it deletes after
        elapsed, _ = cli.timed("run", "--bundle", cli.image, f"bench-{index + 1}")
    else:
        elapsed, _ = cli.timed("run", "--rm", "--network", "none", cli.image, "true")
    return {"run": [elapsed]}


def _run_bridge(cli: Cli, index: int) -> dict[str, list[float]]:
    return {"bridge": [cli.timed("run", "--rm", cli.image, "true")[0]]}


def _lifecycle(cli: Cli, index: int) -> dict[str, list[float]]:
    """run -d, stop -t 0, rm (exited), run -d, rm -f (running): five timed commands."""
    detach = ("run", "-d", "--network", "none", cli.image, "sleep", "3600")
    first, container = cli.timed(*detach)
    stop, _ = cli.timed("stop", "-t", "0", container)
    remove, _ = cli.timed("rm", container)
    second, container = cli.timed(*detach)
    force, _ = cli.timed(*cli.rm_force, container)
    return {"run-d": [first, second], "stop": [stop], "rm": [remove], "rm-f": [force]}


def _exec(fleets: dict[str, list[str]]) -> Step:
    return lambda cli, index: {"exec": [cli.timed("exec", fleets[cli.name][0], "true")[0]]}


def _ps(count: int) -> Step:
    def step(cli: Cli, index: int) -> dict[str, list[float]]:
        elapsed, out = cli.timed("ps")
        if index < 0 and len(out.splitlines()) != count + 1:
            raise EngineError(f"ps lists {len(out.splitlines()) - 1} containers, not {count}")
        return {"ps": [elapsed]}

    return step


def _stats(cli: Cli, index: int) -> dict[str, list[float]]:
    return {"stats": [cli.timed("stats", "--no-stream")[0]]}


def _pss(clis: dict[str, Cli], fleets: dict[str, list[str]], results: Results) -> None:
    """PSS of each container's monitor (its init's parent), in MiB."""
    for name, cli in _ordered(clis, "pss").items():
        try:
            monitors = {cli.monitor_pid(container) for container in fleets[name]}
            values = [engines.pss_mib(pid) for pid in monitors]
            comm = Path(f"/proc/{min(monitors)}/comm").read_text().strip()
        except (EngineError, OSError, ValueError) as error:
            results.note("pss", name, f"failed: {error}")
            continue
        if len(monitors) != len(fleets[name]):
            results.note("pss", name, f"failed: {len(monitors)} monitors for "
                                      f"{len(fleets[name])} containers")  # fmt: skip
            continue
        results.add("pss", name, values)
        results.names.setdefault("pss", {})[name] = f"{name} ({comm})"


def _tui(results: Results, containers: int, seconds: float) -> None:
    """bench/tui_responsiveness.py's containers view: CPU % refreshing every second."""
    command = [sys.executable, str(HERE / "tui_responsiveness.py"),
               "--containers", str(containers), "--seconds", f"{seconds:g}"]  # fmt: skip
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        out, err = child.communicate(timeout=900)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGINT)  # it removes its containers on the way out
        child.communicate()
        results.note("tui", "berth", "failed: tui_responsiveness.py ran past 900 s")
        return
    except KeyboardInterrupt:  # let it remove its 50 containers before going on
        child.send_signal(signal.SIGINT)
        child.communicate()
        raise
    match = re.search(r"^containers view, refreshing\s+([\d.]+)", out, re.MULTILINE)
    if child.returncode != 0 or not match:
        why = (err.strip().splitlines() or [f"exit status {child.returncode}"])[-1]
        results.note("tui", "berth", f"failed: tui_responsiveness.py: {why[:160]}")
        return
    results.add("tui", "berth", [float(match.group(1))])
    results.names.setdefault("tui", {})["berth"] = f"berth ({seconds:g} s sample)"


# -- the table ---------------------------------------------------------------------------------


def _print(results: Results, only: list[str], runs: int, args: argparse.Namespace,
           setup: list[str], elapsed: float) -> None:  # fmt: skip
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"berth's hot paths against the reference engines: median of {runs} runs each "
          f"after one warm-up, in rounds; measured in {elapsed:.0f} s on {os.cpu_count()} "
          f"CPUs, load average now {load}")  # fmt: skip
    for line in setup:
        print(f"  {line}")
    print("berth/x: berth's median over the anchor's (below 1: berth is faster); "
          "met: berth's median within the goal (PSS: every monitor)\n")  # fmt: skip
    header = f"{'operation':<36}{'engine':<34}{'median':>9}{'min':>9}{'max':>9}{'berth/x':>9}"
    print(f"{header}   {'goal':<14}met")
    selected = {row for key in only for row in _ROWS_OF.get(key, (key,))}
    for row in ROWS:
        if row.key not in selected:
            continue
        label = row.label.format(n=args.containers, tui=args.tui_containers)
        values = results.values.get(row.key, {})
        notes = results.notes.get(row.key, {})
        names = results.names.get(row.key, {})
        base = statistics.median(values["berth"]) if "berth" in values else None
        for index, engine in enumerate(("berth", *row.anchors)):
            first = label if index == 0 else ""
            name = names.get(engine, engine)
            if engine not in values:
                note = notes.get(engine, "not measured")
                print(f"{first:<36}{name:<34}{note}")
                continue
            samples = values[engine]
            median = statistics.median(samples)
            scale = 1000 if row.unit == "ms" else 1
            shown = (median, min(samples), max(samples))
            cells = "".join(f"{value * scale:>9.1f}" for value in shown)
            if engine == "berth":
                judged = max(samples) if row.key == "pss" else median
                met = "yes" if judged * scale <= row.goal else "no"
                goal = f"<= {row.goal:g} {row.unit}"
                print(f"{first:<36}{name:<34}{cells}{'':>9}   {goal:<14}{met}")
            else:
                ratio = f"{base / median:.2f}" if base is not None and median else "-"
                print(f"{first:<36}{name:<34}{cells}{ratio:>9}")
    if "tui" in selected:
        print("\nTUI: the CPU % of the app's containers view (bench/tui_responsiveness.py, "
              "one sample); no other container TUI runs here to set beside it")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
