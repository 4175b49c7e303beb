"""The engine's side of the OCI contract: what it asks of any OCI runtime.

The container service and the monitors talk to an :class:`OciRuntime` only; which one
runs a container (berth's own, or a binary speaking runc's command line) is chosen per
container when it is created (``--runtime``). Every method names the container by its
id; the runtime keeps its own state under the state root it was made with.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.cgroups import Limits

#: ``create``'s sink for what the runtime could not apply (one line each)
Warn = Callable[[str], None]


class OciRuntime(ABC):
    """One OCI runtime, with its state under ``state_root``."""

    #: what ``--runtime`` names it by, and ``inspect`` shows (HostConfig.Runtime)
    name: str
    #: whether the processes it creates are the caller's own children; when not (a
    #: runtime binary that exits once the container is created), the caller must be a
    #: child subreaper to wait for them
    children_are_ours: bool = True

    def __init__(self, state_root: Path) -> None:
        self.state_root = state_root

    @abstractmethod
    def create(
        self, container_id: str, bundle: Path, *, console_socket: Path | None = None,
        pid_file: Path | None = None, kill_with_parent: bool = False, warn: Warn | None = None,
    ) -> int:  # fmt: skip
        """Create the container from ``bundle``; its init's pid, waiting for :meth:`start`.

        The init's stdio is the caller's (fds 0-2), or with process.terminal a new pty
        whose master is sent to ``console_socket``. ``kill_with_parent``: the init dies
        with the calling thread, where the runtime can do that (berth's can, runc
        cannot). ``warn`` hears each setting the host cannot apply. Raises
        ContainerStartError (126/127 when the command cannot run) and leaves nothing.
        """

    @abstractmethod
    def start(self, container_id: str) -> None:
        """Let a created container's init run its process."""

    @abstractmethod
    def state(self, container_id: str) -> dict[str, Any]:
        """The OCI state (id, status, pid, bundle...); NotFoundError if there is none."""

    @abstractmethod
    def kill(self, container_id: str, signum: int, *, all: bool = False) -> None:
        """Signal the init, or with ``all`` every process of the container.

        NotFoundError without state, ConflictError if it is not running.
        """

    @abstractmethod
    def delete(self, container_id: str, *, force: bool = False) -> None:
        """Remove its state and cgroup (a running one only with ``force``: killed first)."""

    @abstractmethod
    def exec(
        self, container_id: str, process: dict[str, Any], *, console_socket: Path | None = None,
        pid_file: Path | None = None, kill_with_parent: bool = False,
    ) -> int:  # fmt: skip
        """Start ``process`` (an OCI process object) in the running container; its pid.

        Stdio and terminal as for :meth:`create`; ContainerStartError (126, or 127 when
        the command is not found) if it cannot run, ConflictError if the container is
        not running or paused.
        """

    @abstractmethod
    def update(self, container_id: str, resources: dict[str, Any]) -> list[str]:
        """Change a running container's ``linux.resources``; a note for each setting
        the host could not take (the rest are set)."""

    @abstractmethod
    def pause(self, container_id: str) -> None:
        """Freeze every process of the container."""

    @abstractmethod
    def resume(self, container_id: str) -> None:
        """Thaw a paused container."""

    @abstractmethod
    def features(self) -> dict[str, Any]:
        """What the runtime supports, as ``runc features`` prints it (OCI features.json)."""

    @abstractmethod
    def oom_killed(self, container_id: str) -> bool:
        """Whether the OOM killer killed one of its processes; ask before :meth:`delete`."""

    def unapplied(self, limits: Limits, cgroup_parent: str) -> list[str]:
        """The notes ``create`` would give on this host for ``limits``, before any
        container exists (tried on a scratch cgroup under ``cgroup_parent``)."""
        from engine.runtime import resources

        return resources.unapplied(limits, cgroup_parent)
