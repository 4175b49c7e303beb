"""exec: one more process in a running container, as ``runc exec`` starts it.

The process joins the container's cgroup and every namespace of its init, through a
pidfd of the init (so a reused pid cannot send it elsewhere), and is a direct child of
the caller: the pid namespace is chosen for the fork as for the init
(:func:`namespaces.fork_beside`), and the caller's own namespaces never change. From
there it becomes the process the same way the init does, and reports a failure before
exec (or of exec itself) through the report pipe of :mod:`engine.runtime.spawn`, which
also keeps it non-dumpable until then: the container's other processes see it in their
pid namespace, and must not reach the host's binary through its /proc/PID/exe.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, NoReturn

from engine import cgroups
from engine.errors import ConflictError, ContainerStartError, InvalidArgumentError
from engine.linux import syscalls
from engine.runtime import init, namespaces, spawn, terminal
from engine.runtime import spec as specs
from engine.runtime import statedir as states
from engine.runtime.process import become, die_with_parent, execute, restrict, syscall_filter
from engine.runtime.spec import Process


def exec_process(
    container_id: str,
    process: dict[str, Any],
    *,
    state_root: Path,
    console_socket: Path | None = None,
    kill_with_parent: bool = False,
    pid_file: Path | None = None,
) -> int:
    """Start ``process`` (an OCI process object) in the running container; its pid.

    The process is a direct child of the caller (waitpid it). It inherits the caller's
    stdio, or with process.terminal sends a new pty's master to ``console_socket``, as
    :func:`engine.runtime.container.create` does; ``kill_with_parent`` likewise. On
    failure nothing is left and ContainerStartError says why (exit code 127: command
    not found, 126: any other failure of the new process before its command runs, as
    Docker's "OCI runtime exec failed"); ConflictError if the container is not running.
    """
    if not isinstance(process, dict):
        raise InvalidArgumentError("exec: the process must be a JSON object")
    wanted = specs.load_process(process)
    terminal.check(console_socket, wanted)
    saved = states.load(state_root, container_id)
    cgroup = cgroups.get(saved.cgroup_path)
    # The container's own filter: exec'd processes are confined as its init is.
    seccomp = syscall_filter(specs.load(Path(saved.bundle), saved.id).seccomp, state_root)
    try:
        pid = _spawn(saved, state_root, cgroup, wanted, seccomp, console_socket,
                     kill_with_parent)  # fmt: skip
        if pid_file is not None:
            _write_pid_file(pid_file, pid)
    except OSError as error:
        raise ContainerStartError(syscalls.describe(error)) from error
    return pid


def _spawn(
    saved: states.ContainerState, state_root: Path, cgroup: cgroups.Cgroup, wanted: Process,
    seccomp: bytes | None, console_socket: Path | None, kill_with_parent: bool,
) -> int:  # fmt: skip
    init_fd, flags = _open_running_init(state_root, saved, cgroup)
    try:
        with (
            terminal.connected(console_socket) as console,
            spawn.parent_pidfd(kill_with_parent) as parent,
        ):
            return spawn.spawn(
                lambda: _fork(init_fd, flags),
                lambda report_fd: _child(
                    wanted, seccomp, cgroup, init_fd, flags, console, parent, report_fd
                ),
                until_ready=False,
            )
    finally:
        os.close(init_fd)


def _open_running_init(
    state_root: Path, saved: states.ContainerState, cgroup: cgroups.Cgroup
) -> tuple[int, int]:
    """A pidfd of the container's init and the CLONE_NEW* flags of the namespaces to join.

    ConflictError unless the container is running and not paused.
    """
    not_running = ConflictError(f"container {saved.id} is not running")
    if states.status(state_root, saved) != "running":
        raise not_running
    if cgroup.is_frozen():
        raise ConflictError(f"container {saved.id} is paused, unpause the container before exec")
    try:
        fd = os.pidfd_open(saved.pid)
    except ProcessLookupError:
        raise not_running from None
    try:
        flags = namespaces.unshared_with(saved.pid)
        # Checked after both: the pidfd and the namespaces surely are the init's, and
        # not those of a process that reused its pid.
        if states.is_alive(saved.pid, saved.pid_start):
            return fd, flags
    except FileNotFoundError:
        pass
    os.close(fd)
    raise not_running


def _write_pid_file(path: Path, pid: int) -> None:
    try:
        states.write_pid_file(path, pid)
    except BaseException:
        spawn.kill_and_reap(pid)
        raise


def _fork(init_fd: int, flags: int) -> int:
    if flags & syscalls.CLONE_NEWPID:
        return namespaces.fork_beside(init_fd)
    return os.fork()


def _child(
    wanted: Process, seccomp: bytes | None, cgroup: cgroups.Cgroup, init_fd: int,
    flags: int, console: socket.socket | None, parent: int | None, report_fd: int,
) -> NoReturn:  # fmt: skip
    try:
        init.reset_inherited_state()
        # Through the host's /sys/fs/cgroup, so before the container's mounts hide it.
        cgroup.add_process(0)
        namespaces.join(init_fd, flags & ~syscalls.CLONE_NEWPID)
        if console is not None:
            terminal.attach(console, wanted, bind_console=False)
        executable = become(wanted)
        if parent is not None:
            die_with_parent(parent)
        restrict(wanted, seccomp)
        execute(executable, wanted)
    except BaseException as error:
        spawn.report_failure(report_fd, _exec_failure(error))


def _exec_failure(error: BaseException) -> BaseException:
    """Docker's status for an exec its runtime could not start (a missing -w, a user it
    cannot become): 126, where the init's failures get 125; 127 and 126 stay as they are."""
    reported = spawn.failure(error)
    if reported["code"] != 125:
        return error
    return ContainerStartError(reported["error"], 126)
