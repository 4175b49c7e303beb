"""What a monitor tells the engine about its container: files in the container's run dir.

The monitor writes no database (SQLite's locks do not survive the fork that detaches
it, and a small monitor should not load it); like conmon, it records the container's
life in files that the engine folds into the database when it next looks:

- ``status.json``: the current run — state, start and finish times, exit code, OOM,
  restart count — replaced atomically (write, rename) at every change, the exit the
  moment the monitor reaps it;
- ``monitor.lock``: flock()ed by the monitor for its whole life, so "is the monitor
  still there" is a question the kernel answers (the lock dies with the process);
- ``stop-requested``: made by ``stop``/``rm``: no restart policy applies any more;
  ``rm`` writes "remove" in it: the remover finishes the run, not the exit command.

Standard library only: the monitor imports this.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from engine.linux.files import write_atomically

STATUS = "status.json"
MONITOR_LOCK = "monitor.lock"
STOP_REQUESTED = "stop-requested"


@dataclass(frozen=True)
class RunStatus:
    """One monitor's account of its container."""

    state: str  # running | restarting | exited | created (its process never ran)
    monitor_pid: int
    monitor_start: int | None
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    oom_killed: bool = False
    restart_count: int = 0
    error: str | None = None
    # the cgroup's CPU time as the command started (the runtime's set-up): an average
    # over the run (stats --no-stream) leaves it out
    start_cpu_ns: int | None = None

    def changed(self, **fields: object) -> RunStatus:
        return replace(self, **fields)


def write(run_dir: Path, status: RunStatus) -> None:
    """Replace the status atomically; a run dir removed meanwhile (rm) is not re-made."""
    with contextlib.suppress(FileNotFoundError):
        write_atomically(run_dir / STATUS, json.dumps(asdict(status)))


def read(run_dir: Path) -> RunStatus | None:
    """The last status the monitor wrote, or None if there is none."""
    try:
        return RunStatus(**json.loads((run_dir / STATUS).read_text()))
    except FileNotFoundError:
        return None


def hold_monitor_lock(run_dir: Path) -> int:
    """Take the monitor lock for this process's life; its fd (close-on-exec)."""
    fd = os.open(run_dir / MONITOR_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def monitor_alive(run_dir: Path) -> bool:
    """Whether a monitor holds the lock in ``run_dir``."""
    try:
        fd = os.open(run_dir / MONITOR_LOCK, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def request_stop(run_dir: Path, *, removing: bool = False) -> None:
    with contextlib.suppress(FileNotFoundError):
        (run_dir / STOP_REQUESTED).write_text("remove" if removing else "stop")


def stop_requested(run_dir: Path) -> bool:
    return (run_dir / STOP_REQUESTED).exists()


def removal_requested(run_dir: Path) -> bool:
    try:
        return (run_dir / STOP_REQUESTED).read_text() == "remove"
    except FileNotFoundError:
        return False


def reader_gone(write_fd: int) -> bool:
    """Whether every reader of the pipe ``write_fd`` writes to has closed it."""
    poller = select.poll()
    poller.register(write_fd, 0)  # POLLERR is reported whatever was asked for
    return any(event & select.POLLERR for _, event in poller.poll(0))
