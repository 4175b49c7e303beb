"""The OCI runtime operations: create, start, state, kill, delete, and run.

``create`` forks the container's init as a direct child of the caller; the init sets
everything up, then blocks opening ``exec.fifo`` until ``start`` (possibly another
process) opens its other end — runc's design, which lets create and start be separate
commands while the init stays the caller's child.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from engine import cgroups
from engine.errors import BerthError, ConflictError, ContainerStartError
from engine.linux.syscalls import describe
from engine.runtime import devicecgroup, init, namespaces, process, resources, spawn, terminal
from engine.runtime import spec as specs
from engine.runtime import statedir as states
from engine.runtime.spec import Spec
from engine.runtime.statedir import EXEC_FIFO, ContainerState
from engine.signals import exit_status

#: signals ``run(forward_signals=True)`` passes on to the container's init
FORWARDED_SIGNALS = (
    signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGUSR1,
    signal.SIGUSR2, signal.SIGWINCH,
)  # fmt: skip
_START_POLL_MS = 100


def create(
    container_id: str,
    bundle: Path,
    *,
    state_root: Path,
    pid_file: Path | None = None,
    console_socket: Path | None = None,
    kill_with_parent: bool = False,
    warn: Callable[[str], None] | None = None,
) -> int:
    """Create the container and return its init's pid (in the caller's pid namespace).

    The init is a direct child of the calling process (waitpid it); it inherits the
    caller's stdin, stdout and stderr — or, with process.terminal, gets a new
    pseudo-terminal whose master it sends to ``console_socket`` (a listening unix
    socket; accept after create returns). With ``kill_with_parent`` the init is
    SIGKILLed when the calling thread exits. On return it is set up and waits for
    :func:`start`. On failure nothing is left: the init is reaped, its cgroup and
    state directory removed, and ContainerStartError (or another BerthError) raised.

    What config.json asks that the host cannot have (a limit whose cgroup file the
    kernel lacks, device rules without a devices controller) does not stop the
    container, as with runc: each is a note, one line, given to ``warn`` — by
    default printed on stderr as ``berth-runtime: warning: <note>``. A caller whose
    stderr nobody reads (the monitor) passes its own.
    """
    warn = warn or print_warning
    bundle = bundle.absolute()
    states.check_id(container_id)
    spec = specs.load(bundle, container_id)
    terminal.check(console_socket, spec.process)
    directory = states.make_dir(state_root, container_id)
    cgroup = cgroups.get(spec.cgroups_path)
    pid = 0
    try:
        _make_exec_fifo(directory / EXEC_FIFO)
        cgroup.create()
        # Both before the init joins the cgroup.
        notes = resources.apply(cgroup, spec.resources)
        notes += devicecgroup.apply(cgroup, spec.device_rules)
        with (
            terminal.connected(console_socket) as console,
            spawn.parent_pidfd(kill_with_parent) as parent,
        ):
            pid = _spawn_init(spec, bundle, state_root, cgroup, directory / EXEC_FIFO, console,
                              parent)  # fmt: skip
        states.save(state_root, _initial_state(container_id, bundle, spec, pid))
        if pid_file is not None:
            states.write_pid_file(pid_file, pid)
    except BaseException as error:
        _undo_create(pid, cgroup, state_root, container_id)
        if isinstance(error, OSError):
            raise ContainerStartError(describe(error)) from error
        raise
    for note in notes:  # once created: a create that failed has its error to say
        warn(note)
    return pid


def print_warning(note: str) -> None:
    """``create``'s default sink for its notes: stderr, as runc warns."""
    print(f"berth-runtime: warning: {note}", file=sys.stderr)


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
            f'cannot delete running container "{container_id}": kill it first or use --force'
        )
    if current != "stopped":
        with contextlib.suppress(ProcessLookupError):
            os.kill(saved.pid, signal.SIGKILL)
    try:
        cgroups.get(saved.cgroup_path).remove()
    except OSError as error:
        raise BerthError(f'cannot delete container "{container_id}": {describe(error)}') from None
    states.remove_dir(state_root, container_id)


def run(
    container_id: str,
    bundle: Path,
    *,
    state_root: Path,
    pid_file: Path | None = None,
    console_socket: Path | None = None,
    forward_signals: bool = False,
    warn: Callable[[str], None] | None = None,
) -> int:
    """create + start + wait + delete; the shell-style status (128+N if killed by N).

    With ``forward_signals`` (the CLI's run), the signals in FORWARDED_SIGNALS that
    this process receives meanwhile are passed on to the init; only the main thread
    may ask for that. ``warn``: as for :func:`create`.
    """
    pid = create(
        container_id, bundle, state_root=state_root, pid_file=pid_file,
        console_socket=console_socket, warn=warn,
    )  # fmt: skip
    try:
        with forwarding(pid) if forward_signals else contextlib.nullcontext():
            start(container_id, state_root=state_root)
            _, status = os.waitpid(pid, 0)
    except BaseException:
        spawn.kill_and_reap(pid)
        raise
    finally:
        delete(container_id, state_root=state_root, force=True)
    return exit_status(status)


# -- create's parts ----------------------------------------------------------------------


def _spawn_init(
    spec: Spec, bundle: Path, state_root: Path, cgroup: cgroups.Cgroup, fifo: Path,
    console: socket.socket | None, parent: int | None,
) -> int:  # fmt: skip
    """Fork the init and wait until it is set up; its pid. Raises what it reports."""
    seccomp = process.syscall_filter(spec.seccomp, state_root)
    fifo_fd = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
    try:
        return spawn.spawn(
            lambda: namespaces.fork(spec),
            lambda report_fd: init.main(
                spec,
                bundle,
                cgroup,
                report_fd,
                fifo_fd,
                console=console,
                parent=parent,
                seccomp=seccomp,
            ),
            until_ready=True,
        )
    finally:
        os.close(fifo_fd)


def _undo_create(pid: int, cgroup: cgroups.Cgroup, state_root: Path, container_id: str) -> None:
    if pid:
        spawn.kill_and_reap(pid)
    with contextlib.suppress(OSError):
        cgroup.remove()
    states.remove_dir(state_root, container_id)


def _make_exec_fifo(path: Path) -> None:
    os.mkfifo(path)
    # Writable by all: the init opens it after becoming the container's user.
    os.chmod(path, 0o622)


def _initial_state(container_id: str, bundle: Path, spec: Spec, pid: int) -> ContainerState:
    return ContainerState(
        id=container_id,
        bundle=str(bundle),
        pid=pid,
        pid_start=states.process_start(pid),
        cgroup_path=spec.cgroups_path,
        created=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        annotations=spec.annotations,
        oci_version=spec.oci_version,
    )


# -- start's and run's parts -------------------------------------------------------------


def _read_fifo(fd: int, saved: ContainerState) -> bytes:
    """The init's byte from the exec fifo; b"" if the init died instead."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while True:
        if poller.poll(_START_POLL_MS):
            return os.read(fd, 1)
        if not states.is_alive(saved.pid, saved.pid_start):
            return b""


@contextlib.contextmanager
def forwarding(pid: int) -> Iterator[None]:
    """Meanwhile, pass the signals in FORWARDED_SIGNALS this process gets on to ``pid``."""

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
