"""A container's runtime state on disk: ``<state_root>/<id>/state.json`` and exec.fifo.

The status is never stored: it is read from the kernel each time. The init is alive
and the exec fifo still exists: "created"; alive without the fifo: "running";
gone (or a zombie, or its pid reused — the recorded start time tells): "stopped".
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine.errors import ConflictError, InvalidArgumentError, NotFoundError

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
    directory = container_dir(state_root, state.id)
    temporary = directory / f".{STATE_FILE}.tmp"
    with open(temporary, "w") as file:
        json.dump(asdict(state), file)
        file.flush()
        os.fsync(file.fileno())
    os.rename(temporary, directory / STATE_FILE)


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
    try:
        current = process_start(pid)
    except (FileNotFoundError, ProcessLookupError):  # ESRCH: reaped between open and read
        return False
    return current == start and _process_state(pid) not in ("Z", "X")


def process_start(pid: int) -> int:
    """A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat)."""
    return int(_stat_fields(pid)[19])


def _process_state(pid: int) -> str:
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        return _stat_fields(pid)[0]
    return "X"


def _stat_fields(pid: int) -> list[str]:
    # The command name (field 2) may hold spaces and parentheses: split after its ")".
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def write_pid_file(path: Path, pid: int) -> None:
    """Write ``pid`` to a caller's pid file atomically (runc's --pid-file)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(str(pid))
    os.rename(temporary, path)
