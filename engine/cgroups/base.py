"""What every cgroup driver does the same way, whatever the hierarchy version."""

from __future__ import annotations

import abc
import contextlib
import errno
import os
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from engine.cgroups.hierarchy import Hierarchy, Layout
from engine.cgroups.limits import Limits, Usage
from engine.errors import InvalidArgumentError

#: how long kill_all and remove keep trying before they give up
SETTLE_SECONDS = 2.0
_POLL_SECONDS = 0.005


class Cgroup(abc.ABC):
    """One cgroup, e.g. ``berth/<id>``, on every hierarchy the host layout uses.

    Creating, joining and removing touch the directory on each hierarchy; the
    processes are read from the first.
    """

    def __init__(self, path: str, layout: Layout, hierarchies: Sequence[Hierarchy]) -> None:
        self.path = _clean(path)
        self.layout = layout
        self.hierarchies = tuple(hierarchies)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    def directory(self, hierarchy: Hierarchy) -> Path:
        return hierarchy.mountpoint / self.path

    def paths(self) -> list[Path]:
        """This cgroup's directory on every hierarchy (they may not exist yet)."""
        return [self.directory(hierarchy) for hierarchy in self.hierarchies]

    def exists(self) -> bool:
        return any(path.is_dir() for path in self.paths())

    @abc.abstractmethod
    def create(self) -> None:
        """Create the cgroup (and its missing parents); an existing one is fine."""

    def add_process(self, pid: int) -> None:
        """Move ``pid`` (0: the calling process) into this cgroup on every hierarchy."""
        for path in self.paths():
            write_value(path / "cgroup.procs", str(pid))

    def pids(self) -> list[int]:
        """The processes in this cgroup (not its children), as seen from this pid ns."""
        try:
            text = (self.paths()[0] / "cgroup.procs").read_text()
        except OSError as error:
            if not is_gone(error):
                raise
            return []
        return [int(line) for line in text.split()]

    @abc.abstractmethod
    def apply(self, limits: Limits) -> list[str]:
        """Set the given limits; the settings the host cannot have, each said in a line.

        A value the kernel refuses raises OSError naming the file and the value.
        """

    @abc.abstractmethod
    def usage(self) -> Usage:
        """The cgroup's counters now; OSError if it is gone."""

    @abc.abstractmethod
    def oom_kills(self) -> int:
        """How many processes the OOM killer killed in this cgroup (0 if unknown)."""

    @abc.abstractmethod
    def freeze(self) -> None:
        """Stop every process in the cgroup; returns once they are all frozen."""

    @abc.abstractmethod
    def thaw(self) -> None:
        """Let a frozen cgroup's processes run again."""

    @abc.abstractmethod
    def is_frozen(self) -> bool:
        """Whether the cgroup was asked to freeze and not thawed since (paused)."""

    def kill_all(self, sig: int) -> None:
        """Send ``sig`` to every process in the cgroup.

        For SIGKILL, keep killing (processes may fork meanwhile) until the cgroup is
        empty or SETTLE_SECONDS have passed; other signals are sent once.
        """
        if sig != signal.SIGKILL:
            _signal_each(self.pids(), sig)
            return
        deadline = time.monotonic() + SETTLE_SECONDS
        while (pids := self.pids()) and time.monotonic() < deadline:
            self._kill_round(pids)
            time.sleep(_POLL_SECONDS)

    def _kill_round(self, pids: list[int]) -> None:
        _signal_each(pids, signal.SIGKILL)

    def remove(self) -> None:
        """Remove the cgroup on every hierarchy, killing what still runs in it.

        A cgroup that is already gone is fine. rmdir fails with EBUSY while a process
        is still leaving, so it is retried for up to SETTLE_SECONDS.
        """
        deadline = time.monotonic() + SETTLE_SECONDS
        for path in self.paths():
            while not _rmdir(path):
                if time.monotonic() > deadline:
                    raise OSError(errno.EBUSY, f"cannot remove cgroup {path}: it is still busy")
                self.kill_all(signal.SIGKILL)
                time.sleep(_POLL_SECONDS)


def _clean(path: str) -> str:
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        raise InvalidArgumentError(f"invalid cgroup path {path!r}")
    return "/".join(parts)


def write_value(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def is_gone(error: OSError) -> bool:
    """Whether ``error`` says the cgroup was removed under us (by the monitor, or rm).

    ENOENT if it went before the open; ENODEV (kernfs) if it went between the open
    and the read or write.
    """
    return error.errno in (errno.ENOENT, errno.ENODEV)


def write_unless_gone(path: Path, value: str) -> None:
    """Write ``value`` to a cgroup file; a cgroup removed meanwhile needs nothing more."""
    try:
        write_value(path, value)
    except OSError as error:
        if not is_gone(error):
            raise


class LimitWriter:
    """Writes one cgroup's limit files; a file the host lacks is noted, not fatal."""

    def __init__(self) -> None:
        self.skipped: list[str] = []

    def write(self, directory: Path | None, name: str, value: object, missing: str) -> None:
        """Write ``value`` (None: nothing to do) to ``directory/name``.

        ``missing`` says why the file may be absent, for the note when it is.
        """
        if value is None:
            return
        if directory is None or not (directory / name).exists():
            self.skipped.append(f"{name} is not set: {missing}")
            return
        try:
            write_value(directory / name, str(value))
        except OSError as error:
            raise OSError(error.errno, f"cannot set {name} to {value}: {error.strerror}") from None


def read_int(path: Path) -> int:
    return int(path.read_text().split()[0])


def read_keyed(path: Path) -> dict[str, int]:
    """A flat-keyed cgroup file ("key value" lines: memory.stat, cpu.stat) as a dict."""
    pairs = (line.split() for line in path.read_text().splitlines())
    return {pair[0]: int(pair[1]) for pair in pairs if len(pair) == 2}


def _signal_each(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _rmdir(path: Path) -> bool:
    """True once ``path`` is gone; False while the kernel says it is busy."""
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return True
    except OSError as error:
        if error.errno != errno.EBUSY:
            raise
        return False
    return True


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds or SETTLE_SECONDS pass (then raise TimeoutError)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(errno.ETIMEDOUT, f"{what} within {SETTLE_SECONDS:g} s")
        time.sleep(_POLL_SECONDS)
