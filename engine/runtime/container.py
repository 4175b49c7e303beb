"""The OCI runtime operations: create, start, state, kill, delete, and run.

``create`` forks the container's init as a direct child of the caller; the init sets
everything up, then blocks opening ``exec.fifo`` until ``start`` (possibly another
process) opens its other end — runc's design, which lets create and start be separate
commands while the init stays the caller's child.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import select
import signal
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from engine import cgroups
from engine.errors import ConflictError, ContainerStartError
from engine.runtime import init, namespaces, spec as specs, state as states
from engine.runtime.spec import Spec
from engine.runtime.state import EXEC_FIFO, ContainerState

#: signals ``run(forward_signals=True)`` passes on to the container's init
FORWARDED_SIGNALS = (
    signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGUSR1,
    signal.SIGUSR2, signal.SIGWINCH,
)  # fmt: skip
_START_POLL_MS = 100


def create(
    container_id: str, bundle: Path, *, state_root: Path, pid_file: Path | None = None
) -> int:
    """Create the container and return its init's pid (in the caller's pid namespace).

    The init is a direct child of the calling process (waitpid it); it inherits the
    caller's stdin, stdout and stderr. On return it is set up and waits for
    :func:`start`. On failure nothing is left: the init is reaped, its cgroup and
    state directory removed, and ContainerStartError (or another BerthError) raised.
    """
    bundle = bundle.absolute()
    states.check_id(container_id)
    spec = specs.load(bundle, container_id)
    directory = states.make_dir(state_root, container_id)
    cgroup = None
    pid = 0
    try:
        os.mkfifo(directory / EXEC_FIFO, 0o622)
        cgroup = cgroups.create(spec.cgroups_path)
        pid = _spawn_init(spec, bundle, cgroup, directory / EXEC_FIFO)
        states.save(state_root, _initial_state(container_id, bundle, spec, pid))
        if pid_file is not None:
            _write_pid_file(pid_file, pid)
    except BaseException:
        _undo_create(pid, cgroup, state_root, container_id)
        raise
    return pid


def start(container_id: str, *, state_root: Path) -> None:
    """Let a created container's init exec its process."""
    state = states.load(state_root, container_id)
    current = states.status(state_root, state)
    if current != "created":
        raise ConflictError(f'cannot start container "{container_id}": it is {current}')
    fifo = states.container_dir(state_root, container_id) / EXEC_FIFO
    # Non-blocking, so that an init that died meanwhile cannot hang us here.
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        data = _read_fifo(fd, state)
    finally:
        os.close(fd)
    fifo.unlink()
    if not data:
        raise ContainerStartError(f'container "{container_id}" exited before it started')


def state(container_id: str, *, state_root: Path) -> dict:
    """The OCI state: ociVersion, id, status, pid (0 once stopped), bundle, annotations."""
    saved = states.load(state_root, container_id)
    current = states.status(state_root, saved)
    return {
        "ociVersion": saved.oci_version,
        "id": saved.id,
        "status": current,
        "pid": saved.pid if current != "stopped" else 0,
        "bundle": saved.bundle,
        "annotations": saved.annotations,
    }


def kill(container_id: str, sig: int, *, state_root: Path, all: bool = False) -> None:
    """Signal the init, or with ``all`` every process in the container's cgroup.

    ``all`` works on a stopped container too, to reach processes its init left.
    """
    saved = states.load(state_root, container_id)
    current = states.status(state_root, saved)
    if all:
        cgroups.get(saved.cgroup_path).kill_all(sig)
        return
    if current == "stopped":
        raise ConflictError(f'container "{container_id}" is not running')
    with contextlib.suppress(ProcessLookupError):
        os.kill(saved.pid, sig)


def delete(container_id: str, *, state_root: Path, force: bool = False) -> None:
    """Remove a created or stopped container (a running one only with ``force``).

    Every process left in its cgroup is killed, then the cgroup and the state
    directory are removed. The caller still reaps the init if it is its parent.
    """
    saved = states.load(state_root, container_id)
    current = states.status(state_root, saved)
    if current == "running" and not force:
        raise ConflictError(
            f'cannot delete container "{container_id}": it is running; '
            "kill it first or use --force"
        )
    if current != "stopped":
        with contextlib.suppress(ProcessLookupError):
            os.kill(saved.pid, signal.SIGKILL)
    cgroups.get(saved.cgroup_path).remove()
    states.remove_dir(state_root, container_id)


def run(
    container_id: str,
    bundle: Path,
    *,
    state_root: Path,
    pid_file: Path | None = None,
    forward_signals: bool = False,
) -> int:
    """create + start + wait + delete; the shell-style status (128+N if killed by N).

    With ``forward_signals`` (the CLI's run), the signals in FORWARDED_SIGNALS that
    this process receives meanwhile are passed on to the init; only the main thread
    may ask for that.
    """
    pid = create(container_id, bundle, state_root=state_root, pid_file=pid_file)
    try:
        with _forwarding(pid) if forward_signals else contextlib.nullcontext():
            start(container_id, state_root=state_root)
            _, status = os.waitpid(pid, 0)
    except BaseException:
        with contextlib.suppress(ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        raise
    finally:
        delete(container_id, state_root=state_root, force=True)
    return exit_status(status)


def exit_status(wait_status: int) -> int:
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


# -- create's parts ----------------------------------------------------------------------


def _spawn_init(spec: Spec, bundle: Path, cgroup: cgroups.Cgroup, fifo: Path) -> int:
    """Fork the init and wait until it is set up; its pid. Raises what it reports."""
    report_read, report_write = os.pipe()  # both close-on-exec
    fifo_fd = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
    try:
        pid = namespaces.fork(spec)
        if pid == 0:
            os.close(report_read)
            init.main(spec, bundle, cgroup, report_write, fifo_fd)
    finally:
        if pid := locals().get("pid"):
            os.close(report_write)
            os.close(fifo_fd)
    try:
        _await_ready(report_read, pid)
    except BaseException:
        _kill_and_reap(pid)
        raise
    finally:
        os.close(report_read)
    return pid
