"""The container's init between fork and exec: everything the config asks for.

It runs in the forked child only and never returns into the caller's code. Until it
is ready it reports to the runtime through a close-on-exec pipe: one JSON line, either
``{"ready": true}`` (all set up, now waiting on the exec fifo) or ``{"error": ...,
"code": ...}``. A failure after that (exec itself) can only go to its stderr.

Everything it uses must be imported before the fork: after pivot_root the host's
Python files are out of reach.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path
from typing import NoReturn

from engine.cgroups import Cgroup
from engine.errors import BerthError, ContainerStartError
from engine.linux import syscalls
from engine.runtime import namespaces, process, rootfs
from engine.runtime.spec import Spec

READY = {"ready": True}


def main(spec: Spec, bundle: Path, cgroup: Cgroup, report_fd: int, fifo_fd: int) -> NoReturn:
    """Set the container up, report, wait for start, exec. Never returns."""
    try:
        try:
            executable = _set_up(spec, bundle, cgroup)
        except BaseException as error:
            _send(report_fd, failure(error))
            os._exit(1)
        _send(report_fd, READY)
        os.close(report_fd)
        _wait_for_start(fifo_fd)
        process.restrict(spec.process)
        process.execute(executable, spec.process)
    except BaseException as error:
        message = failure(error)
        os.write(2, f"berth-runtime: {message['error']}\n".encode())
        os._exit(message["code"])
    finally:
        os._exit(125)


def failure(error: BaseException) -> dict:
    """A failure as the report's JSON: the user's message and the exit code to use."""
    if isinstance(error, ContainerStartError):
        return {"error": str(error), "code": error.exit_code}
    if isinstance(error, BerthError):
        return {"error": str(error), "code": 125}
    if isinstance(error, OSError):
        return {"error": syscalls.describe(error), "code": 125}
    return {"error": f"{type(error).__name__}: {error}", "code": 125}


def _set_up(spec: Spec, bundle: Path, cgroup: Cgroup) -> str:
    _reset_inherited_state()
    cgroup.add_process(0)
    namespaces.enter(spec)
    rootfs.prepare(spec, bundle, cgroup)
    _set_names(spec)
    _write_sysctls(spec.sysctl)
    rootfs.finish(spec)
    process.set_rlimits(spec.process.rlimits)
    process.switch_user(spec.process.user)
    process.change_directory(spec.process.cwd)
    return process.find_executable(spec.process)


def _reset_inherited_state() -> None:
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


def _send(fd: int, message: dict) -> None:
    os.write(fd, json.dumps(message).encode() + b"\n")
