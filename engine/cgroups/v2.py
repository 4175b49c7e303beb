"""cgroup v2 (unified hosts): one tree, controllers enabled from the root down."""

from __future__ import annotations

import contextlib
from pathlib import Path

from engine.cgroups.base import Cgroup, wait_for, write_value

#: controllers a container's cgroup gets when the host has them
WANTED_CONTROLLERS = ("cpu", "io", "memory", "pids", "cpuset")


class V2Cgroup(Cgroup):
    @property
    def _dir(self) -> Path:
        return self.paths()[0]

    def create(self) -> None:
        directory = self.hierarchies[0].mountpoint
        for part in self.path.split("/"):
            # Every ancestor must delegate the controllers to its children; this works
            # only while the ancestor itself holds no processes (the "no internal
            # processes" rule), which is true of the engine's own parent cgroup.
            _enable_controllers(directory)
            directory = directory / part
            directory.mkdir(mode=0o755, exist_ok=True)

    def freeze(self) -> None:
        write_value(self._dir / "cgroup.freeze", "1")
        wait_for(lambda: "frozen 1" in self._events(), f"cgroup {self.path} did not freeze")

    def thaw(self) -> None:
        write_value(self._dir / "cgroup.freeze", "0")

    def is_frozen(self) -> bool:
        return (self._dir / "cgroup.freeze").read_text().strip() == "1"

    def _events(self) -> str:
        return (self._dir / "cgroup.events").read_text()

    def _kill_round(self, pids: list[int]) -> None:
        # cgroup.kill (Linux >= 5.14) kills the whole tree at once, forks included.
        kill_file = self._dir / "cgroup.kill"
        if kill_file.exists():
            write_value(kill_file, "1")
        else:
            super()._kill_round(pids)


def _enable_controllers(directory: Path) -> None:
    """Best effort: a controller the kernel refuses to delegate is left out."""
    available = (directory / "cgroup.controllers").read_text().split()
    enabled = (directory / "cgroup.subtree_control").read_text().split()
    for controller in WANTED_CONTROLLERS:
        if controller in available and controller not in enabled:
            with contextlib.suppress(OSError):
                write_value(directory / "cgroup.subtree_control", f"+{controller}")
