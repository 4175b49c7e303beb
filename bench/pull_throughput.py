#!/usr/bin/env python3
"""Pull throughput: `berth pull` of a 50 MB, 5-layer image from a loopback registry, against
skopeo and podman, cold (empty store) and warm (every layer already there).

The image is made with the tests' helpers (gzip layers of incompressible pseudo-random data,
or with --compressible of word-salad text, which gzip shrinks about 2x as real images) and
pushed by skopeo to Debian's docker-registry on 127.0.0.1 (plain HTTP). Then, in rounds (so
machine noise hits all alike), each tool pulls it:

  berth   `berth pull -q --tls-verify=false REF`, BERTH_ROOT/BERTH_RUNROOT on a scratch root
  skopeo  `skopeo copy docker://REF oci:DIR:latest` (a blob copy only: no layer is unpacked)
  podman  `podman --root R --runroot RR --storage-driver overlay pull --tls-verify=false REF`

Cold: a fresh store every run, removed (and `sync`ed) afterwards, outside the timing. Warm:
the same store each run, filled once before the rounds (which also warms the registry's
page cache). Times are wall-clock of the whole process (its start included), median (and
min) of --runs each. MB/s is the image's compressed size (what crosses the wire: layers,
config and manifest) over the cold median, MB = 10^6 bytes. "x skopeo" is skopeo's median over the
tool's: above 1 means faster than skopeo. Timings are printed, never asserted.

    .venv/bin/python bench/pull_throughput.py [--runs 5] [--compressible] [--megabytes 50]

Host quirks handled here: `python3` on PATH is a slow pyenv shim, so berth is timed as the
venv's installed entry point. podman only runs here with runtime runc and nofile/nproc
limits <= 20000, set through a CONTAINERS_CONF file; its overlay driver works (native
overlay on ext4), so it is used rather than vfs (which copies each parent layer). docker
has no daemon on this machine. Nothing here installs anything: `apt-get install podman`
first (skopeo and docker-registry are the tests' own dependencies).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(CHECKOUT))  # the tests' image and registry helpers

from tests.oci_images import file_layer, sized_layers, skopeo_push, write_oci_layout  # noqa: E402
from tests.registry_server import REGISTRY_BINARY, RegistryServer  # noqa: E402

BIN = Path(sys.executable).parent
BERTH = str(BIN / "berth")
ANCHORS = "docker 73 MB/s, podman 72 MB/s, skopeo 150 MB/s"  # the issue's, another machine
ENGINE_API_PULL = (
    "import asyncio, sys; from engine.api import Engine; e = Engine.open(); "
    "asyncio.run(e.images.pull(sys.argv[1]).result())"
)


@dataclass
class Tool:
    """One puller: ``command(store)`` pulls the image into the store kept under ``store``."""

    name: str
    command: Callable[[Path], list[str]]
    env: Callable[[Path], dict[str, str]] = lambda store: {}
    cold: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per tool and case (default 5)")
    parser.add_argument("--megabytes", type=int, default=50, help="image content (default 50)")
    parser.add_argument("--layers", type=int, default=5, help="layers (default 5)")
    parser.add_argument("--compressible", action="store_true",
                        help="layers of text gzip shrinks ~2x, not random bytes")  # fmt: skip
    args = parser.parse_args()
    if not shutil.which(REGISTRY_BINARY) or not shutil.which("skopeo"):
        raise SystemExit(f"needs {REGISTRY_BINARY} and skopeo: apt-get install docker-registry "
                         "skopeo")  # fmt: skip
    _compile_berth()
    with tempfile.TemporaryDirectory(prefix="berth-bench-pull-") as scratch:
        return _bench(Path(scratch), args)


def _compile_berth() -> None:
    """Byte-compile berth as `pip install .` does: an editable checkout run with
    PYTHONDONTWRITEBYTECODE would otherwise compile every module on every start."""
    for package in ("engine", "cli"):
        compileall.compile_dir(CHECKOUT / package, quiet=2, workers=2)


def _bench(scratch: Path, args: argparse.Namespace) -> int:
    total = args.megabytes * 1_000_000
    make = compressible_layers if args.compressible else sized_layers
    layers = make(args.layers, total, seed=1)
    layout = scratch / "layout"
    digest = write_oci_layout(layout, layers)
    wire = _image_bytes(layout, digest)
    kind = "compressible text" if args.compressible else "incompressible data"
    with RegistryServer(scratch / "registry") as server:
        skopeo_push(layout, "latest", server, "bench")
        ref = f"{server.host}/bench:latest"
        tools, skipped = _tools(scratch, ref)
        tools = _warm_up(tools, skipped, scratch)
        _measure(tools, scratch, args.runs)
        start = _berth_start(scratch, args.runs)
    tars = sum(map(len, layers)) / 1e6
    print(f"pull of {ref}: {args.layers} gzip layers of {kind}, {tars:.1f} MB of tars, "
          f"{wire / 1e6:.1f} MB compressed; median of {args.runs} runs each\n")  # fmt: skip
    _print_table(tools, skipped, wire)
    print(f"\nberth process start alone (`berth images -q`, empty root): median {start * 1000:.0f}"
          " ms, inside every berth time above")  # fmt: skip
    berth = next((tool for tool in tools if tool.name.startswith("berth")), None)
    if berth and statistics.median(berth.cold) > start:
        rest = statistics.median(berth.cold) - start
        print(f"berth cold pull minus that start: {rest:.3f} s, {wire / 1e6 / rest:.1f} MB/s")
    print(
        "MB/s: compressed bytes (what crosses the wire) / cold median; "
        "x skopeo: skopeo's median / the tool's, >1 = faster than skopeo"
    )
    print(
        f"reference anchors measured elsewhere (not this run): {ANCHORS}; goal: berth >= 2x skopeo"
    )
    return 0


def compressible_layers(count: int, total_bytes: int, seed: int) -> list[bytes]:
    """``count`` layers of text files (random lines of made-up words), ``total_bytes`` of
    content in all: gzip -1 takes them to about 46%, like real images' 2-3x."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choices(letters, k=rng.randint(2, 10))) for _ in range(3000)]
    lines = [" ".join(rng.choices(words, k=rng.randint(3, 12))) for _ in range(20000)]
    layers = []
    for layer in range(count):
        size = total_bytes // count + (total_bytes % count if layer == count - 1 else 0)
        text, have = [], 0
        while have < size:
            chunk = "\n".join(rng.choices(lines, k=10000)) + "\n"
            text.append(chunk)
            have += len(chunk)
        layers.append(file_layer({f"data/{layer}/words.txt": "".join(text).encode()[:size]}))
    return layers


def _image_bytes(layout: Path, digest: str) -> int:
    """The manifest's size plus those of the config and layers it names."""
    blobs = layout / "blobs" / "sha256"
    manifest_bytes = (blobs / digest.removeprefix("sha256:")).read_bytes()
    manifest = json.loads(manifest_bytes)
    descriptors = [manifest["config"], *manifest["layers"]]
    return len(manifest_bytes) + sum(int(d["size"]) for d in descriptors)


def _tools(scratch: Path, ref: str) -> tuple[list[Tool], dict[str, str]]:
    skipped: dict[str, str] = {}
    berth = Tool(
        "berth pull",
        lambda store: [BERTH, "pull", "-q", "--tls-verify=false", ref],
        _berth_env,
    )
    if subprocess.run([BERTH, "pull", "--help"], capture_output=True).returncode != 0:
        # No CLI yet: the engine's own pull in a fresh process, which is what the CLI adds to.
        berth.name = "berth (engine API)"
        berth.command = lambda store: [sys.executable, "-c", ENGINE_API_PULL, ref]
    skopeo = Tool(
        "skopeo copy",
        lambda store: ["skopeo", "--insecure-policy", "copy", "-q", "--src-tls-verify=false",
                       f"docker://{ref}", f"oci:{store / 'oci'}:latest"],
    )  # fmt: skip
    tools = [berth, skopeo]
    if shutil.which("podman"):
        conf = scratch / "containers.conf"
        conf.write_text('[engine]\nruntime = "runc"\n[containers]\n'
                        'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n')  # fmt: skip
        tools.append(Tool(
            "podman pull",
            lambda store: ["podman", "--root", str(store / "root"), "--runroot",
                           str(store / "run"), "--storage-driver", "overlay",
                           "pull", "-q", "--tls-verify=false", ref],
            lambda store: {"CONTAINERS_CONF": str(conf)},
        ))  # fmt: skip
    else:
        skipped["podman pull"] = "not installed (apt-get install podman)"
    skipped["docker pull"] = _docker_reason()
    return tools, skipped


def _docker_reason() -> str:
    if not shutil.which("docker"):
        return "not installed"
    if not shutil.which("dockerd"):
        return "not installed (only the docker CLI here, no daemon)"
    probe = subprocess.run(["docker", "info"], capture_output=True, check=False)
    return "no docker daemon runs on this machine" if probe.returncode else "not measured"


def _warm_up(tools: list[Tool], skipped: dict[str, str], scratch: Path) -> list[Tool]:
    """Fill each tool's warm store (untimed); a tool that fails here is skipped, saying why."""
    working = []
    for tool in tools:
        result = _run(tool, scratch / f"warm-{_slug(tool)}")
        if result.returncode == 0:
            working.append(tool)
        else:
            last = result.stderr.decode(errors="replace").strip().splitlines()[-1:]
            skipped[tool.name] = f"not measured: failed ({result.returncode}) {last}"
    return working


def _measure(tools: list[Tool], scratch: Path, runs: int) -> None:
    for i in range(runs):
        for tool in tools:
            store = scratch / f"cold-{_slug(tool)}-{i}"
            tool.cold.append(_time(tool, store))
            _remove(store)
        for tool in tools:
            tool.warm.append(_time(tool, scratch / f"warm-{_slug(tool)}"))


def _time(tool: Tool, store: Path) -> float:
    os.sync()  # the last run's (or removal's) writeback is not this run's cost
    start = time.perf_counter()
    result = _run(tool, store)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{tool.name} failed ({result.returncode}): "
                         f"{result.stderr.decode(errors='replace')[-500:]}")  # fmt: skip
    return elapsed


def _run(tool: Tool, store: Path) -> subprocess.CompletedProcess[bytes]:
    store.mkdir(exist_ok=True)
    env = {**os.environ, **tool.env(store)}
    return subprocess.run(tool.command(store), env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, check=False)  # fmt: skip


def _remove(store: Path) -> None:
    """A cold store, gone; a mount left under it (none seen so far) would say so loudly."""
    mounts = Path("/proc/self/mounts").read_text()
    if f" {store}/" in mounts:
        raise SystemExit(f"a mount is left under {store}: not removing it")
    shutil.rmtree(store)


def _berth_start(scratch: Path, runs: int) -> float:
    """Median wall time of `berth images -q` on an empty root: berth's process start."""
    store = scratch / "berth-empty"
    tool = Tool("berth images -q", lambda _: [BERTH, "images", "-q"], _berth_env)
    _run(tool, store)  # warm-up
    return statistics.median(_time(tool, store) for _ in range(runs))


def _berth_env(store: Path) -> dict[str, str]:
    return {"BERTH_ROOT": str(store / "root"), "BERTH_RUNROOT": str(store / "run")}


def _slug(tool: Tool) -> str:
    return tool.name.split()[0]


def _print_table(tools: list[Tool], skipped: dict[str, str], wire: int) -> None:
    cold = {tool.name: statistics.median(tool.cold) for tool in tools}
    warm = {tool.name: statistics.median(tool.warm) for tool in tools}
    skopeo_cold, skopeo_warm = cold.get("skopeo copy"), warm.get("skopeo copy")
    print(f"{'tool':<20}{'cold s':>8}{'(min)':>8}{'warm s':>8}{'(min)':>8}{'MB/s cold':>11}"
          f"{'x skopeo cold':>15}{'x skopeo warm':>15}")  # fmt: skip
    for tool in sorted(tools, key=lambda t: cold[t.name]):
        ratio_cold = f"{skopeo_cold / cold[tool.name]:.2f}" if skopeo_cold else "-"
        ratio_warm = f"{skopeo_warm / warm[tool.name]:.2f}" if skopeo_warm else "-"
        print(f"{tool.name:<20}{cold[tool.name]:>8.3f}{min(tool.cold):>8.3f}"
              f"{warm[tool.name]:>8.3f}{min(tool.warm):>8.3f}"
              f"{wire / 1e6 / cold[tool.name]:>11.1f}{ratio_cold:>15}{ratio_warm:>15}")  # fmt: skip
    for name, reason in skipped.items():
        print(f"{name:<20}  {reason}")


if __name__ == "__main__":
    sys.exit(main())
