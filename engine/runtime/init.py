"""The container's init between fork and exec: everything the config asks for.

It runs in the forked child only and never returns into the caller's code. Until it
is ready it reports to the runtime through the close-on-exec pipe of
:mod:`engine.runtime.spawn`: ready (all set up, now waiting on the exec fifo) or the
error. A failure after that (exec itself) can only go to its stderr. Until its exec it
is not dumpable (spawn sees to that): no other process of a pid namespace it shares
may open its /proc/PID/exe, the host's Python.

Everything it uses must be imported before the fork: after pivot_root the host's
Python files are out of reach.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from pathlib import Path
from typing import NoReturn

from engine.cgroups import Cgroup
from engine.errors import ContainerStartError
from engine.linux import syscalls
from engine.runtime import namespaces, process, rootfs, spawn, terminal
from engine.runtime.spec import Spec


def main(
    spec: Spec, bundle: Path, cgroup: Cgroup, report_fd: int, fifo_fd: int, *,
    console: socket.socket | None, parent: int | None, seccomp: bytes | None = None,
) -> NoReturn:  # fmt: skip
    """Set the container up, report, wait for start, exec. Never returns.

    ``console``: the connected console socket, when the process has a terminal;
    ``parent``: a pidfd of the caller, when the init is to die with it;
    ``seccomp``: linux.seccomp as a BPF program (:func:`process.syscall_filter`).
    """
    try:
        try:
            executable = _set_up(spec, bundle, cgroup, console)
            if parent is not None:
                process.die_with_parent(parent)
        except BaseException as error:
            spawn.report_failure(report_fd, error)
        spawn.report_ready(report_fd)
        _wait_for_start(fifo_fd)
        process.restrict(spec.process, seccomp)
        process.execute(executable, spec.process)
    except BaseException as error:
        message = spawn.failure(error)
        os.write(2, f"berth-runtime: {message['error']}\n".encode())
        os._exit(message["code"])
    finally:
        os._exit(125)


def reset_inherited_state() -> None:
    """Undo what the caller's Python set up: signal handlers, mask, inheritable fds."""
    # Python ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across
    # exec; the container must start with defaults. (The C library reserves a few
    # real-time signals: setting those fails, harmlessly.)
    for sig in signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}:
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    # The container gets stdio only; the caller's other descriptors close at exec.
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            # The listing's own descriptor is closed by now: that one fails.
            with contextlib.suppress(OSError):
                os.set_inheritable(fd, False)


def _set_up(spec: Spec, bundle: Path, cgroup: Cgroup, console: socket.socket | None) -> str:
    reset_inherited_state()
    cgroup.add_process(0)
    namespaces.enter(spec)
    rootfs.prepare(spec, bundle, cgroup)
    if console is not None:
        # Before finish(): a read-only root must still let /dev/console be made.
        terminal.attach(console, spec.process, bind_console=True)
    _set_names(spec)
    _write_sysctls(spec.sysctl)
    rootfs.finish(spec)
    return process.become(spec.process)


def _set_names(spec: Spec) -> None:
    if spec.hostname:
        syscalls.sethostname(spec.hostname)
    if spec.domainname:
        syscalls.setdomainname(spec.domainname)


def _write_sysctls(sysctl: dict[str, str]) -> None:
    for key, value in sysctl.items():
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            Path(path).write_text(str(value))
        except OSError as error:
            raise ContainerStartError(f"sysctl {key}: {os.strerror(error.errno)}") from None


def _wait_for_start(fifo_fd: int) -> None:
    """Block until ``start`` opens the exec fifo, then tell it we got there."""
    # The fifo was opened O_PATH on the host before pivot_root; reopening it through
    # /proc/self/fd reaches it from inside the container's root.
    fd = os.open(f"/proc/self/fd/{fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, b"0")
    finally:
        os.close(fd)
    os.close(fifo_fd)
