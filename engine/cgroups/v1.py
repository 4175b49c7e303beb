"""cgroup v1 (legacy and hybrid hosts): one directory per controller hierarchy.

On a hybrid host the unified cgroup2 hierarchy (mounted without controllers) is one
more hierarchy here, so that the "0::" line of /proc/<pid>/cgroup names the container.
"""

from __future__ import annotations

from pathlib import Path

from engine.cgroups.base import Cgroup, wait_for, write_value
from engine.errors import UnsupportedError

_CPUSET_FILES = ("cpuset.cpus", "cpuset.mems")


class V1Cgroup(Cgroup):
    def create(self) -> None:
        for hierarchy in self.hierarchies:
            directory = hierarchy.mountpoint
            for part in self.path.split("/"):
                directory = directory / part
                directory.mkdir(mode=0o755, exist_ok=True)
                if "cpuset" in hierarchy.controllers:
                    _inherit_cpuset(directory)

    def freeze(self) -> None:
        state = self._freezer() / "freezer.state"

        def frozen() -> bool:
            # Writing again nudges a cgroup stuck in FREEZING (a task was forking).
            write_value(state, "FROZEN")
            return state.read_text().strip() == "FROZEN"

        wait_for(frozen, f"cgroup {self.path} did not freeze")

    def thaw(self) -> None:
        write_value(self._freezer() / "freezer.state", "THAWED")

    def is_frozen(self) -> bool:
        try:
            state = self._freezer() / "freezer.state"
        except UnsupportedError:
            return False  # nothing can have frozen it
        return state.read_text().strip() != "THAWED"

    def _freezer(self) -> Path:
        for hierarchy in self.hierarchies:
            if "freezer" in hierarchy.controllers:
                return self.directory(hierarchy)
        raise UnsupportedError("the freezer cgroup controller is not mounted on this host")


def _inherit_cpuset(directory: Path) -> None:
    """A new cpuset cgroup starts with no CPUs and no memory nodes: no task could join it."""
    for name in _CPUSET_FILES:
        own = directory / name
        if not own.read_text().strip():
            write_value(own, (directory.parent / name).read_text().strip())
