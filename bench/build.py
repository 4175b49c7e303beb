#!/usr/bin/env python3
"""Build: a 10-step Dockerfile on a 5,000-file context, cold, fully cached and after a one-line
change near its end, `berth build` against `buildah bud` (and `docker build` where it runs).

The context (made under /tmp, removed afterwards) is --files small files in src/dNN/ plus
late.txt; the Dockerfile is FROM busybox, WORKDIR, ENV, COPY src, three RUNs over the copied
tree, COPY late.txt, a RUN reading it, CMD. Every engine builds it from the same busybox
(`berth starter`'s, saved and imported into each reference engine's own scratch storage),
with its layer cache, in rounds (so machine noise hits all alike), each round:

  cold      the whole build with --no-cache (the base image is there, nothing else is used)
  cached    the same build again, twice: every step from the cache
  changed   one line of late.txt edited, then a build: the last COPY and RUN run again

Times are wall-clock of the whole process (its start included), median (and min) of every
round's runs; berth/X is berth's median over X's: below 1 means berth is faster. A cached
build whose image is not one the engine built before fails the benchmark (a step re-ran).

    .venv/bin/python bench/build.py [--quick] [--rounds 3] [--files 5000]

Host quirks handled here: buildah's default isolation (OCI, crun) fails on this host's hybrid
cgroup layout, so buildah is measured twice, with `--isolation chroot` (no namespaces, the
host's network) and with `--runtime runc` (namespaces, as berth's RUN); the latter with
`--network none`, as its default network would have netavark change the host's firewall.
berth's RUN keeps its default bridge network, so berth does at least the work buildah does.
buildah uses the overlay driver (native overlay on ext4; vfs would copy each layer). docker
needs a daemon, which this machine lacks; where one runs, the benchmark's images are removed
afterwards but docker's build cache keeps their layers until `docker builder prune`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from scratch_engine import ScratchEngine, scratch_engine
from start_latency import _compile_berth

CASES = ("cold", "cached", "changed")
CACHED_PER_ROUND = 2
FILES_PER_DIR = 100
TAG = "berth-bench-build"
BUILDAH_BASE = "localhost/busybox:latest"  # what `buildah pull docker-archive:` names it
DOCKER_BASE = "berth-bench-busybox:latest"
DOCKERFILE = """\
FROM {base}
WORKDIR /app
ENV BENCH=build
COPY src /app/src
RUN find /app/src -type f | wc -l > /count
RUN du -s /app/src > /size && cat /app/src/d00/f0000.txt > /first
RUN echo "$BENCH" > /bench && sort /count /size > /summary
COPY late.txt /app/late.txt
RUN wc -l /app/late.txt > /late
CMD ["cat", "/count"]
"""


class BuildFailed(Exception):
    pass


@dataclass
class Builder:
    """One engine: ``command`` builds the context, less --no-cache and the context path."""

    name: str
    command: list[str]
    times: dict[str, list[float]] = field(default_factory=lambda: {case: [] for case in CASES})
    images: set[str] = field(default_factory=set)  # every image id it built

    def build(self, context: Path, case: str | None = None) -> None:
        """One build, timed under ``case`` (untimed when None)."""
        command = [*self.command, *(["--no-cache"] if case == "cold" else []), str(context)]
        os.sync()  # the last build's writeback is not this one's cost
        start = time.perf_counter()
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            raise BuildFailed(f"{self.name} failed ({result.returncode}): {result.stderr[-500:]}")
        image = result.stdout.split()[-1].removeprefix("sha256:")
        if case == "cached" and image not in self.images:
            raise BuildFailed(f"{self.name}: a cached build made a new image (a step re-ran)")
        self.images.add(image)
        if case:
            self.times[case].append(elapsed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of all cases (default 3)")
    parser.add_argument("--quick", action="store_true", help="one round")
    parser.add_argument("--files", type=int, default=5000, help="context files (default 5000)")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    _compile_berth()
    with (
        scratch_engine("berth-bench-build-") as berth,
        tempfile.TemporaryDirectory(prefix="berth-bench-build-") as directory,
        contextlib.ExitStack() as cleanup,  # the reference engines' images, before the removal
    ):
        work = Path(directory)
        context = _context(work / "context", args.files)
        archive = work / "busybox.tar"
        berth.run("save", "-o", str(archive), "busybox")
        builders, skipped = _builders(berth, work, archive, cleanup)
        _warm_up(builders, skipped, context)
        started = time.perf_counter()
        try:
            _measure(builders, context, rounds)
        except BuildFailed as failure:
            raise SystemExit(str(failure)) from None
        elapsed = time.perf_counter() - started
        start = _berth_start(berth)
    print(f"build of a 10-step Dockerfile on a {args.files}-file context, {rounds} round(s): "
          f"median (min) s of {rounds} cold, {rounds * CACHED_PER_ROUND} cached and {rounds} "
          f"changed builds each; measured in {elapsed:.0f} s\n")  # fmt: skip
    _print_table(builders, skipped)
    print(f"\nberth process start alone (`berth images -q`): median {start * 1000:.0f} ms, inside "
          "every berth time above")  # fmt: skip
    _print_goals(builders)
    return 0


def _context(context: Path, files: int) -> Path:
    """``files`` small files in src/dNN/fNNNN.txt, and late.txt."""
    for i in range(files):
        path = context / "src" / f"d{i // FILES_PER_DIR:02d}" / f"f{i:04d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"file {i}\n" + "lorem ipsum dolor sit amet\n" * 3)
    _edit(context, 0)
    return context


def _edit(context: Path, version: int) -> None:
    """late.txt with its third line saying ``version``: the one-line change."""
    (context / "late.txt").write_text(f"first\nsecond\nversion {version}\nfourth\n")


def _builders(
    berth: ScratchEngine, work: Path, archive: Path, cleanup: contextlib.ExitStack
) -> tuple[list[Builder], dict[str, str]]:
    """berth, the buildah variants and docker that work here; why the others are skipped."""
    builders = [Builder("berth", [*berth.berth, "build", "-q", "-t", TAG,
                                  "-f", str(_dockerfile(work, "berth", "busybox"))])]  # fmt: skip
    skipped: dict[str, str] = {}
    variants = {
        "buildah chroot": ["--isolation", "chroot"],
        "buildah runc": ["--isolation", "oci", "--runtime", "runc", "--network", "none"],
    }
    for name, isolation in variants.items():
        if not shutil.which("buildah"):
            skipped[name] = "not installed"
        elif name == "buildah runc" and not shutil.which("runc"):
            skipped[name] = "runc not installed"
        else:
            builders.append(_buildah(name, isolation, work, archive, cleanup))
    docker = _docker(work, archive, cleanup)
    if isinstance(docker, str):
        skipped["docker"] = docker
    else:
        builders.append(docker)
    return builders, skipped


def _dockerfile(work: Path, engine: str, base: str) -> Path:
    """The Dockerfile FROM ``base``, outside the context."""
    path = work / f"Dockerfile.{engine.replace(' ', '-')}"
    path.write_text(DOCKERFILE.format(base=base))
    return path


def _buildah(
    name: str, isolation: list[str], work: Path, archive: Path, cleanup: contextlib.ExitStack
) -> Builder:
    """buildah on its own overlay storage (its cache is its own), busybox imported there."""
    storage = work / name.replace(" ", "-")
    buildah = ["buildah", "--root", str(storage / "root"), "--runroot", str(storage / "run"),
               "--storage-driver", "overlay"]  # fmt: skip
    cleanup.callback(_remove_buildah_storage, buildah, storage)
    subprocess.run([*buildah, "pull", "-q", f"docker-archive:{archive}"], check=True,
                   capture_output=True)  # fmt: skip
    dockerfile = _dockerfile(work, name, BUILDAH_BASE)
    return Builder(name, [*buildah, "bud", "--layers", "-q", *isolation, "-t", TAG,
                          "-f", str(dockerfile)])  # fmt: skip


def _remove_buildah_storage(buildah: list[str], storage: Path) -> None:
    """buildah's containers and images; then whatever its overlay driver left mounted (it
    mounts its storage on itself) unmounted, deepest first, so that the store can go."""
    subprocess.run([*buildah, "rm", "--all"], capture_output=True)
    subprocess.run([*buildah, "rmi", "--all", "--force"], capture_output=True)
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for point in sorted((p for p in points if p.startswith(f"{storage}/")), reverse=True):
        subprocess.run(["umount", point], check=True)


def _docker(work: Path, archive: Path, cleanup: contextlib.ExitStack) -> Builder | str:
    """docker with the busybox layer imported under a name of the benchmark's own (a
    `docker load` would replace the daemon's busybox:latest); or why it is skipped."""
    if not shutil.which("docker"):
        return "not installed"
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return "not running"
    with tarfile.open(archive) as tar:
        [manifest] = json.load(tar.extractfile("manifest.json"))
        [layer] = manifest["Layers"]
        rootfs = tar.extractfile(layer).read()
    cleanup.callback(subprocess.run, ["docker", "rmi", "-f", TAG, DOCKER_BASE],
                     capture_output=True)  # fmt: skip
    subprocess.run(["docker", "import", "-", DOCKER_BASE], input=rootfs, check=True,
                   capture_output=True)  # fmt: skip
    dockerfile = _dockerfile(work, "docker", DOCKER_BASE)
    return Builder("docker", ["docker", "build", "-q", "-t", TAG, "-f", str(dockerfile)])


def _warm_up(builders: list[Builder], skipped: dict[str, str], context: Path) -> None:
    """One untimed build each (page cache, first-use set-up, the layer cache filled); a
    reference engine that fails it is skipped, saying why on stderr."""
    for builder in list(builders):
        try:
            builder.build(context)
        except BuildFailed as failure:
            if builder is builders[0]:
                raise SystemExit(str(failure)) from None
            print(failure, file=sys.stderr)
            builders.remove(builder)
            skipped[builder.name] = "failed"


def _measure(builders: list[Builder], context: Path, rounds: int) -> None:
    for round_ in range(rounds):
        for builder in builders:
            builder.build(context, "cold")
        for _ in range(CACHED_PER_ROUND):
            for builder in builders:
                builder.build(context, "cached")
        _edit(context, round_ + 1)
        for builder in builders:
            builder.build(context, "changed")


def _berth_start(berth: ScratchEngine, runs: int = 5) -> float:
    """Median wall time of `berth images -q`: berth's process start."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        berth.run("images", "-q")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _print_table(builders: list[Builder], skipped: dict[str, str]) -> None:
    berth, others = builders[0], [b for b in builders[1:] if b.name.startswith("buildah")]
    header = f"{'operation':<10}" + "".join(f"{b.name:>17}" for b in builders)
    header += "".join(f"{name:>17}" for name in skipped)
    print(header + "".join(f"{'berth/' + b.name.split()[-1]:>14}" for b in others))
    for case in CASES:
        row = f"{case:<10}"
        for builder in builders:
            times = builder.times[case]
            row += f"{f'{statistics.median(times):.3f} ({min(times):.3f})':>17}"
        row += "".join(f"{reason:>17}" for reason in skipped.values())
        ratios = [statistics.median(berth.times[case]) / statistics.median(b.times[case])
                  for b in others]  # fmt: skip
        print(row + "".join(f"{ratio:>14.2f}" for ratio in ratios))


def _print_goals(builders: list[Builder]) -> None:
    berth = {case: statistics.median(times) for case, times in builders[0].times.items()}
    met = "met" if berth["cached"] < 0.5 else "not met"
    print(f"goal: a fully cached rebuild under 0.5 s: {berth['cached']:.3f} s, {met}")
    for builder in builders[1:]:
        if builder.name.startswith("buildah"):
            cold = statistics.median(builder.times["cold"])
            met = "met" if berth["cold"] < cold else "not met"
            print(f"goal: cold faster than {builder.name}: {berth['cold']:.3f} s against "
                  f"{cold:.3f} s, {met}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
