"""Where the engine keeps its files: the persistent root and the volatile run dir."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = "/var/lib/berth"
DEFAULT_RUNROOT = "/run/berth"


@dataclass(frozen=True)
class EnginePaths:
    """The engine's directories. ``root`` survives reboots; ``runroot`` must not."""

    root: Path
    runroot: Path

    @classmethod
    def resolve(cls, root: str | None = None, runroot: str | None = None) -> EnginePaths:
        """Explicit arguments win over BERTH_ROOT / BERTH_RUNROOT, which win over defaults."""
        root = root or os.environ.get("BERTH_ROOT") or DEFAULT_ROOT
        runroot = runroot or os.environ.get("BERTH_RUNROOT") or DEFAULT_RUNROOT
        return cls(Path(root).absolute(), Path(runroot).absolute())

    @property
    def database(self) -> Path:
        return self.root / "berth.db"

    @property
    def layers(self) -> Path:
        """``layers/<hex>/diff``: extracted layers, shared read-only by images and containers."""
        return self.root / "layers"

    @property
    def links(self) -> Path:
        """``l/<short>``: short symlinks to layer diffs, to keep overlay mount options small."""
        return self.root / "l"

    @property
    def containers(self) -> Path:
        return self.root / "containers"

    @property
    def tmp(self) -> Path:
        """Scratch space on the root's file system, so finished work can be renamed in."""
        return self.root / "tmp"

    @property
    def runtime_state(self) -> Path:
        """State directory handed to the OCI runtime (``--root`` of berth-runtime)."""
        return self.runroot / "runtime"

    def container_dir(self, container_id: str) -> Path:
        return self.containers / container_id

    @property
    def container_runs(self) -> Path:
        return self.runroot / "containers"

    def container_run_dir(self, container_id: str) -> Path:
        """``<runroot>/containers/<id>``: a run's attach socket and its monitor's records."""
        return self.container_runs / container_id

    @property
    def volumes(self) -> Path:
        """``volumes/<name>/_data``: named and anonymous volumes, as Docker lays them out."""
        return self.root / "volumes"

    def volume_dir(self, name: str) -> Path:
        """``volumes/<name>``: the volume's own directory; its files are in ``_data``."""
        return self.volumes / name

    def volume_data(self, name: str) -> Path:
        """``volumes/<name>/_data``: what a container mounts of the volume."""
        return self.volume_dir(name) / "_data"

    def layer_dir(self, layer_id: str) -> Path:
        """Directory of a layer, given its ``sha256:<hex>`` id."""
        return self.layers / layer_id.removeprefix("sha256:")

    def ensure(self) -> None:
        for directory in (self.root, self.layers, self.links, self.containers, self.volumes,
                          self.tmp):  # fmt: skip
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.runroot.mkdir(mode=0o700, parents=True, exist_ok=True)
