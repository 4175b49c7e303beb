"""A container's runtime state on disk: ``<state_root>/<id>/state.json`` and exec.fifo.

The status is never stored: it is read from the kernel each time. The init is alive
and the exec fifo still exists: "created"; alive without the fifo: "running";
gone (or a zombie, or its pid reused — the recorded start time tells): "stopped".
"""

from __future__ import annotations

import errno
import json
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine.errors import ConflictError, InvalidArgumentError, NotFoundError
from engine.linux.files import write_atomically
from engine.process_identity import is_running, start_time

STATE_FILE = "state.json"
EXEC_FIFO = "exec.fifo"
OCI_VERSION = "1.0.2"

_VALID_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


@dataclass
class ContainerState:
    id: str
    bundle: str
    pid: int
    #: the init's start time in clock ticks since boot, to tell a reused pid
    pid_start: int
    cgroup_path: str
    created: str
    annotations: dict[str, str] = field(default_factory=dict)
    oci_version: str = OCI_VERSION


def check_id(container_id: str) -> None:
    if not _VALID_ID.fullmatch(container_id):
        raise InvalidArgumentError(
            f"invalid container id {container_id!r}: use letters, digits, '_', '.' and '-'"
        )


def container_dir(state_root: Path, container_id: str) -> Path:
    check_id(container_id)
    return state_root / container_id


def make_dir(state_root: Path, container_id: str) -> Path:
    """The new container's state directory; ConflictError if the id is taken."""
    directory = container_dir(state_root, container_id)
    state_root.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        directory.mkdir(mode=0o700)
    except FileExistsError:
        raise ConflictError(f'container "{container_id}" already exists') from None
    return directory


def remove_dir(state_root: Path, container_id: str) -> None:
    """Remove the state directory, state.json last: a delete killed half-way leaves a
    container that ``load`` still finds, so the next delete finishes the job."""
    directory = container_dir(state_root, container_id)
    try:
        entries = list(directory.iterdir())
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.name == STATE_FILE:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    shutil.rmtree(directory, ignore_errors=True)


def save(state_root: Path, state: ContainerState) -> None:
    """Write state.json atomically: a reader sees the old file or the new, never half."""
    path = container_dir(state_root, state.id) / STATE_FILE
    write_atomically(path, json.dumps(asdict(state)), durable=True)


def load(state_root: Path, container_id: str) -> ContainerState:
    path = container_dir(state_root, container_id) / STATE_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise NotFoundError(f'container "{container_id}" does not exist') from None
    return ContainerState(**data)


def status(state_root: Path, state: ContainerState) -> str:
    if not is_alive(state.pid, state.pid_start):
        return "stopped"
    if (container_dir(state_root, state.id) / EXEC_FIFO).exists():
        return "created"
    return "running"


def is_alive(pid: int, start: int) -> bool:
    """Whether ``pid`` is the same, not yet exited process that started at ``start``."""
    return is_running(pid, start)


def process_start(pid: int) -> int:
    """A live process's start time in clock ticks since boot; ProcessLookupError if it
    is gone or a zombie already."""
    started = start_time(pid)
    if started is None:
        raise ProcessLookupError(errno.ESRCH, f"process {pid} has exited")
    return started


def write_pid_file(path: Path, pid: int) -> None:
    """Write ``pid`` to a caller's pid file atomically (runc's --pid-file)."""
    write_atomically(path, str(pid))
