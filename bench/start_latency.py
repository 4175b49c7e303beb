#!/usr/bin/env python3
"""Start latency: `berth run --rm busybox true` against the reference engines, side by side.

Every engine runs the same thing, `true` in the busybox rootfs that `berth starter`
makes, one after another in rounds (so machine noise hits all alike); the table shows
each median and its ratio to berth's. Engines not installed are listed as skipped.

    .venv/bin/python bench/start_latency.py [--runs 15]

Host quirks handled here: crun refuses a hybrid cgroup layout unless an empty file is
bind-mounted over /sys/fs/cgroup/unified/cgroup.controllers, so the whole benchmark
re-runs itself in a private mount namespace with that bind mount (the same for every
engine). podman only runs here with runtime runc and nofile/nproc limits <= 20000, set
through a CONTAINERS_CONF file. docker needs a daemon, which this machine lacks.
Nothing here installs anything: `apt-get install crun runc podman` first.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from engine.api import Engine
from engine.paths import EnginePaths

BIN = Path(sys.executable).parent
BERTH = str(BIN / "berth")
UNIFIED_CONTROLLERS = Path("/sys/fs/cgroup/unified/cgroup.controllers")
_IN_NAMESPACE = "BERTH_BENCH_IN_NAMESPACE"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per engine (default 15)")
    args = parser.parse_args()
    if UNIFIED_CONTROLLERS.exists() and not os.environ.get(_IN_NAMESPACE):
        return _rerun_in_private_namespace()
    _compile_berth()
    with tempfile.TemporaryDirectory(prefix="berth-bench-") as scratch:
        return _bench(Path(scratch), args.runs)


def _compile_berth() -> None:
    """Byte-compile berth as `pip install .` does: an editable checkout run with
    PYTHONDONTWRITEBYTECODE would otherwise compile every module on every start."""
    checkout = Path(__file__).resolve().parent.parent
    for package in ("engine", "cli"):
        compileall.compile_dir(checkout / package, quiet=2, workers=2)


def _rerun_in_private_namespace() -> int:
    with tempfile.NamedTemporaryFile(prefix="berth-bench-empty-") as empty:
        script = (
            f"mount --bind {empty.name} {UNIFIED_CONTROLLERS} && "
            f"exec {sys.executable} {' '.join(sys.argv)}"
        )
        env = {**os.environ, _IN_NAMESPACE: "1"}
        return subprocess.call(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script], env=env
        )


def _bench(scratch: Path, runs: int) -> int:
    root, runroot = scratch / "root", scratch / "run"
    berth = [BERTH, "--root", str(root), "--runroot", str(runroot)]
    subprocess.run([*berth, "starter"], check=True, capture_output=True)
    [layer] = (root / "layers").iterdir()
    bundle = _oci_bundle(scratch / "bundle", layer / "diff")

    engines: dict[str, Callable[[int], list[str]]] = {
        # --network none, like the OCI runtimes' bundle and podman below: a fresh netns, lo only.
        "berth run --rm": lambda i: [*berth, "run", "--rm", "--network", "none", "busybox", "true"],
        "berth run --rm (bridge)": lambda i: [*berth, "run", "--rm", "busybox", "true"],
        "berth-runtime run": lambda i: [str(BIN / "berth-runtime"), "--root", str(scratch / "br"),
                                        "run", "--bundle", str(bundle), f"bench-br-{i}"],
    }  # fmt: skip
    skipped: dict[str, str] = {}
    for runtime in ("crun", "runc"):
        if shutil.which(runtime):
            engines[f"{runtime} run"] = _oci_command(runtime, scratch, bundle)
        else:
            skipped[f"{runtime} run"] = f"not installed (apt-get install {runtime})"
    podman = _podman(scratch, layer / "diff")
    if isinstance(podman, str):
        skipped["podman run --rm"] = podman
    else:
        engines["podman run --rm"] = podman
    skipped["docker run --rm"] = _docker_reason()

    try:
        times = _measure(engines, runs)
    finally:
        Engine(EnginePaths(root, runroot)).networks.remove_all()  # host bridge and rules
    _print_table(times, skipped, runs)
    return 0


def _oci_bundle(bundle: Path, rootfs: Path) -> Path:
    """A runc-default bundle running `true` on the (read-only) busybox layer."""
    bundle.mkdir()
    subprocess.run(["runc" if shutil.which("runc") else "crun", "spec"], cwd=bundle, check=True)
    config = json.loads((bundle / "config.json").read_text())
    config["process"].update(terminal=False, args=["true"])
    config["root"] = {"path": str(rootfs), "readonly": True}
    config["process"].pop("rlimits", None)  # runc's default asks more files than this host allows
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle


def _oci_command(runtime: str, scratch: Path, bundle: Path) -> Callable[[int], list[str]]:
    state = scratch / runtime
    return lambda i: [runtime, "--root", str(state), "run", "--bundle", str(bundle), f"bench-{i}"]


def _podman(scratch: Path, rootfs: Path) -> Callable[[int], list[str]] | str:
    if not shutil.which("podman"):
        return "not installed (apt-get install podman)"
    conf = scratch / "containers.conf"
    conf.write_text(
        '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=20000:20000"]\n'
        '[engine]\nruntime = "runc"\n'
    )
    os.environ["CONTAINERS_CONF"] = str(conf)
    storage = ["--root", str(scratch / "podman"), "--runroot", str(scratch / "podman-run")]
    tar = scratch / "busybox.tar"
    subprocess.run(["tar", "-cf", str(tar), "-C", str(rootfs), "."], check=True)
    made = subprocess.run(["podman", *storage, "import", str(tar), "bench-busybox"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if made.returncode != 0:
        return f"podman import failed: {made.stderr.strip().splitlines()[-1:]}"
    return lambda i: [
        "podman",
        *storage,
        "run",
        "--rm",
        "--network",
        "none",
        "bench-busybox",
        "true",
    ]


def _docker_reason() -> str:
    if not shutil.which("docker"):
        return "not installed"
    probe = subprocess.run(["docker", "info"], capture_output=True, check=False)
    return "no docker daemon runs on this machine" if probe.returncode else "skipped"


def _measure(engines: dict[str, Callable[[int], list[str]]], runs: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in engines}
    for name, command in engines.items():  # one warm-up each: page cache, first-use set-up
        _time(command(-1), name)
    for i in range(runs):
        for name, command in engines.items():
            times[name].append(_time(command(i), name))
    return times


def _time(command: list[str], name: str) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{name} failed ({result.returncode}): {result.stderr.decode()[-500:]}")
    return elapsed


def _print_table(times: dict[str, list[float]], skipped: dict[str, str], runs: int) -> None:
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["berth run --rm"]
    print(f"start latency of `true` in busybox, median of {runs} runs each\n")
    print(f"{'engine':<22}{'median ms':>10}{'min ms':>9}{'x berth run':>13}")
    for name, median in sorted(medians.items(), key=lambda item: item[1]):
        print(f"{name:<22}{median * 1000:>10.1f}{min(times[name]) * 1000:>9.1f}"
              f"{median / base:>13.2f}")  # fmt: skip
    for name, reason in skipped.items():
        print(f"{name:<22}  skipped: {reason}")


if __name__ == "__main__":
    sys.exit(main())
