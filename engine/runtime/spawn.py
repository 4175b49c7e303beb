"""Fork a child that sets itself up, and learn over a close-on-exec pipe how it went.

The child writes at most one JSON line to the report pipe: ``{"ready": true}`` when it
is set up and waits for a later go (create's init), or ``{"error": ..., "code": ...}``.
The pipe also closes by itself when the child execs, so an end of file without a
line, for a child that was to exec, means that it did.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Callable, Iterator
from typing import NoReturn

from engine.errors import BerthError, ContainerStartError
from engine.linux import syscalls

READY = {"ready": True}


def spawn(fork: Callable[[], int], child: Callable[[int], object], *, until_ready: bool) -> int:
    """The pid of a child made by ``fork`` that runs ``child(report_fd)`` and never returns.

    Returns once the child reported ready (``until_ready``) or closed the pipe without a
    word (otherwise: it exec'd, or died, which waitpid tells). If it reports a failure,
    or dies before it is ready, it is reaped and ContainerStartError says why.
    """
    report_read, report_write = os.pipe()  # both close-on-exec
    try:
        pid = _fork_not_dumpable(fork)
        if pid == 0:
            try:
                # Until its execve the child is the host's Python in the container's
                # namespaces, with the container's uid and capabilities: dumpable, a
                # container process could open its /proc/PID/exe (or fd/) and overwrite
                # the host's binary (CVE-2019-5736). Inherited already; made sure here.
                syscalls.set_dumpable(False)
                os.close(report_read)
                child(report_write)
            finally:
                os._exit(125)  # the child must never run the caller's code
    except BaseException:
        os.close(report_read)
        raise
    finally:
        os.close(report_write)
    try:
        _await(report_read, until_ready)
    except BaseException:
        kill_and_reap(pid)
        raise
    finally:
        os.close(report_read)
    return pid


def _fork_not_dumpable(fork: Callable[[], int]) -> int:
    """``fork()``, with the child not dumpable from its first instruction on.

    It is born in the container's pid namespace, and runs Python's after-fork code
    before it could clear the flag itself; so the caller clears its own meanwhile (fork
    copies it) and sets it back.
    """
    dumpable = syscalls.is_dumpable()
    if dumpable:
        syscalls.set_dumpable(False)
    pid = -1
    try:
        pid = fork()
    finally:
        if dumpable and pid != 0:
            syscalls.set_dumpable(True)
    return pid


@contextlib.contextmanager
def parent_pidfd(wanted: bool) -> Iterator[int | None]:
    """A pidfd of the caller, for a child that is to die with it; None if not ``wanted``.

    See :func:`engine.runtime.process.die_with_parent`.
    """
    if not wanted:
        yield None
        return
    fd = os.pidfd_open(os.getpid())  # close-on-exec
    try:
        yield fd
    finally:
        os.close(fd)


def report_ready(report_fd: int) -> None:
    _send(report_fd, READY)
    os.close(report_fd)


def report_failure(report_fd: int, error: BaseException) -> NoReturn:
    """In the child: report ``error`` and exit with its code."""
    message = failure(error)
    _send(report_fd, message)
    os._exit(message["code"])


def failure(error: BaseException) -> dict:
    """A failure as the report's JSON: the user's message and the exit code to use."""
    if isinstance(error, ContainerStartError):
        return {"error": str(error), "code": error.exit_code}
    if isinstance(error, BerthError):
        return {"error": str(error), "code": 125}
    if isinstance(error, OSError):
        return {"error": syscalls.describe(error), "code": 125}
    return {"error": f"{type(error).__name__}: {error}", "code": 125}


def kill_and_reap(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _await(report_fd: int, until_ready: bool) -> None:
    report = b""
    while not report.endswith(b"\n"):
        chunk = os.read(report_fd, 4096)
        if not chunk:
            break
        report += chunk
    if not report:
        if until_ready:
            raise ContainerStartError("the container's init died while it was being set up")
        return
    message = json.loads(report)
    if "error" in message:
        raise ContainerStartError(message["error"], message["code"])


def _send(fd: int, message: dict) -> None:
    os.write(fd, json.dumps(message).encode() + b"\n")
