"""berth's own OCI runtime (engine/runtime), called in-process: no binary, no fork
beyond the container's own, and the init a direct child of the caller."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine import cgroups
from engine.runtime import container, exec, resources
from engine.runtime import statedir as states
from engine.runtimes.base import OciRuntime, Warn

NAME = "berth"
#: the newest runtime-spec version whose configs it reads (it takes any 1.x)
_OCI_VERSION_MAX = "1.0.2"


class BuiltinRuntime(OciRuntime):
    name = NAME

    def create(
        self, container_id: str, bundle: Path, *, console_socket: Path | None = None,
        pid_file: Path | None = None, kill_with_parent: bool = False, warn: Warn | None = None,
    ) -> int:  # fmt: skip
        return container.create(
            container_id, bundle, state_root=self.state_root, pid_file=pid_file,
            console_socket=console_socket, kill_with_parent=kill_with_parent, warn=warn,
        )  # fmt: skip

    def start(self, container_id: str) -> None:
        container.start(container_id, state_root=self.state_root)

    def state(self, container_id: str) -> dict[str, Any]:
        return container.state(container_id, state_root=self.state_root)

    def kill(self, container_id: str, signum: int, *, all: bool = False) -> None:
        container.kill(container_id, signum, state_root=self.state_root, all=all)

    def delete(self, container_id: str, *, force: bool = False) -> None:
        container.delete(container_id, state_root=self.state_root, force=force)

    def exec(
        self, container_id: str, process: dict[str, Any], *, console_socket: Path | None = None,
        pid_file: Path | None = None, kill_with_parent: bool = False,
    ) -> int:  # fmt: skip
        return exec.exec_process(
            container_id, process, state_root=self.state_root, console_socket=console_socket,
            kill_with_parent=kill_with_parent, pid_file=pid_file,
        )  # fmt: skip

    def update(self, container_id: str, resources_: dict[str, Any]) -> list[str]:
        return resources.update(container_id, resources_, state_root=self.state_root)

    def pause(self, container_id: str) -> None:
        self._cgroup(container_id).freeze()

    def resume(self, container_id: str) -> None:
        cgroup = self._cgroup(container_id)
        if cgroup.exists():
            cgroup.thaw()

    def features(self) -> dict[str, Any]:
        from engine.runtime import capabilities, spec

        return {
            "ociVersionMin": "1.0.0",
            "ociVersionMax": _OCI_VERSION_MAX,
            "hooks": [],
            "linux": {
                "namespaces": sorted(spec.NAMESPACE_FLAGS),
                "capabilities": sorted(capabilities.NAMES),
                "cgroup": {"v1": True, "v2": True, "systemd": False},
                "seccomp": {"enabled": True},
            },
        }

    def oom_killed(self, container_id: str) -> bool:
        return resources.oom_killed(container_id, state_root=self.state_root)

    def _cgroup(self, container_id: str) -> cgroups.Cgroup:
        return cgroups.get(states.load(self.state_root, container_id).cgroup_path)
