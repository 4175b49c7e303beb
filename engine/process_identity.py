"""Tell a live process from a recycled pid: a pid plus its start time names one process."""

from __future__ import annotations


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat),
    or None if it is gone or has finished (a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read()
    except (FileNotFoundError, ProcessLookupError):  # ESRCH: reaped between open and read
        return None
    # The command name (field 2) may hold spaces and parentheses; fields after it don't.
    fields = data[data.rindex(b")") + 2 :].split()
    if fields[0] in (b"Z", b"X"):  # finished; a zombie's parent has only not waited yet
        return None
    return int(fields[19])


def is_running(pid: int | None, started: int | None) -> bool:
    """Whether the process ``pid`` that started at ``started`` still runs."""
    return pid is not None and started is not None and start_time(pid) == started


def identity(pid: int) -> str:
    """``PID:START``: a name for one process that a recycled pid never matches."""
    return f"{pid}:{start_time(pid)}"


def identity_running(name: str) -> bool:
    """Whether the process :func:`identity` named still runs."""
    pid, _, started = name.partition(":")
    return started.isdigit() and is_running(int(pid), int(started))
