"""A throwaway engine for a benchmark: its own root and run dir under /tmp, busybox:latest
built offline, and nothing of it left on the host afterwards (containers, networks with
their bridges and nftables rules, mounts), even when the benchmark fails."""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.api import Engine
from engine.paths import EnginePaths

BERTH = str(Path(sys.executable).with_name("berth"))


@dataclass(frozen=True)
class ScratchEngine:
    paths: EnginePaths
    berth: list[str]  # the installed CLI, on this root

    def run(self, *args: str) -> str:
        """``berth ARGS`` on this root; its stdout, stripped. Fails loudly."""
        result = subprocess.run([*self.berth, *args], check=True, capture_output=True, text=True)
        return result.stdout.strip()

    def start_sleepers(self, count: int, network: str = "none") -> list[str]:
        """``count`` detached ``sleep`` containers; their ids."""
        return [
            self.run("run", "-d", "--network", network, "busybox", "sleep", "3600")
            for _ in range(count)
        ]


@contextlib.contextmanager
def scratch_engine(prefix: str) -> Iterator[ScratchEngine]:
    with (
        tempfile.TemporaryDirectory(prefix=prefix) as directory,
        berth_engine(Path(directory)) as scratch,
    ):
        yield scratch


@contextlib.contextmanager
def berth_engine(directory: Path) -> Iterator[ScratchEngine]:
    """An engine rooted at ``directory``/root and ``directory``/run, emptied at the end:
    every container removed, then every network (the default's bridge and the engine's
    nft table go with it), then whatever is still mounted under it."""
    paths = EnginePaths(directory / "root", directory / "run")
    berth = [BERTH, "--root", str(paths.root), "--runroot", str(paths.runroot)]
    scratch = ScratchEngine(paths, berth)
    try:
        scratch.run("starter")
        yield scratch
    finally:
        ids = subprocess.run([*berth, "ps", "-aq"], capture_output=True, text=True).stdout
        if ids.split():
            removed = subprocess.run([*berth, "rm", "-f", *ids.split()], capture_output=True,
                                     text=True)  # fmt: skip
            if removed.returncode != 0:  # say so: a leak would skew the next bench
                print(f"clean-up: berth rm -f failed: {removed.stderr.strip()}",
                      file=sys.stderr)  # fmt: skip
        networks = subprocess.run([*berth, "network", "ls", "-q"], capture_output=True,
                                  text=True).stdout.split()  # fmt: skip
        engine = Engine(paths)
        try:
            engine.networks.remove_all()
        finally:
            engine.close()
        _remove_leaks(paths, [f"br-{network[:12]}" for network in networks])
        unmount_under(directory)


def _remove_leaks(paths: EnginePaths, bridges: list[str]) -> None:
    """Say so and remove what the engine's own clean-up left: this root's bridges and its
    nft table are certainly this benchmark's (other engines' are left alone)."""
    table = "berth_" + hashlib.sha256(str(paths.root).encode()).hexdigest()[:8]  # firewall's
    left = [["ip", "link", "del", bridge] for bridge in bridges
            if Path(f"/sys/class/net/{bridge}").exists()]  # fmt: skip
    if subprocess.run(["nft", "list", "table", "ip", table], capture_output=True).returncode == 0:
        left.append(["nft", "delete", "table", "ip", table])
    for command in left:
        print(f"clean-up: berth left {command[-1]}; removing it", file=sys.stderr)
        subprocess.run(command, capture_output=True, check=False)


def unmount_under(directory: Path) -> None:
    """Detach every mount left under ``directory``, deepest first, before it is removed."""
    prefix = str(directory.resolve()) + "/"
    points = {
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(prefix)
    }
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
