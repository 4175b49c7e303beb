"""What the engine tells a monitor when it starts one: a single JSON argument."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class MonitorConfig:
    container_id: str
    bundle: str  # the OCI bundle
    runtime_root: str  # the OCI runtime's state directory
    run_dir: str  # where the status files go (engine/monitor/status.py)
    socket: str  # the attach socket to serve
    log: str  # json-file log path
    exit_command: list[str]  # exec'd when the container has stopped for good (podman's)
    tty: bool = False
    open_stdin: bool = False  # -i: keep the container's stdin open for attach clients
    restart: str = "no"
    stop_signal: int = 15  # what a SIGTERM of ours sends the container, as stop does
    stop_timeout: float = 10.0  # then SIGKILL
    auto_remove: bool = False
    log_max_size: int = 0
    log_max_files: int = 1
    wait_for_attach: bool = False  # hold the start until the first client attached
    # the process (process_identity) that attached at the start and waits for the end:
    # while it lives it folds the end itself, so no exit command repeats the work
    waited_by: str | None = None
    terminal_size: tuple[int, int] | None = None  # rows, columns before the process starts
    ready_fd: int = -1  # where to say "started" or why not, then close
    runtime: str = "berth"  # the OCI runtime (engine/runtimes): berth's own, or a binary

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> MonitorConfig:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class ExecConfig:
    """What the engine tells an exec monitor: one more process in a running container."""

    container_id: str
    runtime_root: str
    socket: str
    process: dict  # an OCI process object
    wait_for_attach: bool = False
    terminal_size: tuple[int, int] | None = None
    ready_fd: int = -1
    runtime: str = "berth"  # the container's OCI runtime

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ExecConfig:
        return cls(**json.loads(text))
