"""The container process's own attributes, applied just before exec (init's or exec's).

rlimits, user and groups, working directory, the executable's lookup, dying with the
parent, and the exec itself. Lookup happens before the init reports "created", so a
missing command fails ``create`` with Docker's exit codes (127 not found, 126 not
executable).
"""

from __future__ import annotations

import errno
import os
import resource
import select
import signal
import stat
from pathlib import Path
from typing import Any, NoReturn

from engine.errors import ContainerStartError
from engine.linux import syscalls
from engine.runtime import capabilities, seccomp_cache
from engine.runtime.spec import Process, Rlimit, User

#: the search path when process.env has no PATH (Docker's default)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_UNLIMITED = 2**63  # OCI writes "unlimited" as 2**64 - 1


def become(process: Process) -> str:
    """Take on the process's rlimits, user and cwd; the path execve is to run."""
    set_rlimits(process.rlimits)
    if process.capabilities is not None:
        capabilities.keep_across_user_switch()
    switch_user(process.user)
    change_directory(process.cwd)
    return find_executable(process)


def set_rlimits(rlimits: tuple[Rlimit, ...]) -> None:
    for rlimit in rlimits:
        limits = (_kernel_value(rlimit.soft), _kernel_value(rlimit.hard))
        try:
            resource.setrlimit(rlimit.resource, limits)
        except (ValueError, OSError) as error:
            raise ContainerStartError(_rlimit_failure(rlimit, error)) from None


def _kernel_value(value: int) -> int:
    return resource.RLIM_INFINITY if value >= _UNLIMITED else value


def _rlimit_failure(rlimit: Rlimit, error: Exception) -> str:
    _, host_hard = resource.getrlimit(rlimit.resource)
    wanted = _kernel_value(rlimit.hard)
    if host_hard != resource.RLIM_INFINITY and (
        wanted == resource.RLIM_INFINITY or wanted > host_hard
    ):
        # Raising a hard limit needs CAP_SYS_RESOURCE, which this host's root may lack.
        return f"rlimit {rlimit.name}: hard limit {rlimit.hard} exceeds the host's {host_hard}"
    return f"rlimit {rlimit.name}: {error}"


def switch_user(user: User) -> None:
    """Become the container's user: groups first, while still allowed to set them."""
    try:
        os.setgroups(list(user.additional_gids))
        os.setgid(user.gid)
        os.setuid(user.uid)
    except OSError as error:
        raise ContainerStartError(
            f"cannot become uid {user.uid} gid {user.gid}: {syscalls.describe(error)}"
        ) from None
    os.umask(user.umask)


def change_directory(cwd: str) -> None:
    """Enter process.cwd, as the container's user (so its permissions apply)."""
    try:
        os.chdir(cwd)
    except FileNotFoundError:
        raise ContainerStartError(f'cwd "{cwd}" does not exist') from None
    except NotADirectoryError:
        raise ContainerStartError(f'cwd "{cwd}" is not a directory') from None
    except OSError as error:
        raise ContainerStartError(f'cwd "{cwd}": {os.strerror(error.errno)}') from None


def find_executable(process: Process) -> str:
    """The path execve will run for process.args[0], looked up in the container's PATH.

    A name with a "/" is taken as a path; any other is searched in process.env's PATH,
    where only executable regular files count (as execvp and Go's LookPath do).
    """
    name = process.args[0]
    if "/" in name:
        _check_executable(name)
        return name
    search = process.environ().get("PATH", DEFAULT_PATH)
    for directory in search.split(":"):
        candidate = os.path.join(directory or ".", name)
        if _is_executable(candidate):
            return candidate
    raise ContainerStartError(f'exec: "{name}": executable file not found in $PATH', 127)


def _check_executable(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise ContainerStartError(f'exec: "{path}": no such file or directory', 127) from None
    except PermissionError:
        mode = 0
    if not stat.S_ISREG(mode) or not os.access(path, os.X_OK):
        raise ContainerStartError(f'exec: "{path}": permission denied', 126)


def _is_executable(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode) and os.access(path, os.X_OK)
    except OSError:
        return False


def die_with_parent(parent: int) -> None:
    """Be SIGKILLed when the parent exits; exit at once if it already has.

    ``parent`` is a pidfd of the parent opened before the fork (getppid cannot tell: it
    reads 0 across a pid namespace). Call it after the last change of credentials,
    which would clear the death signal; the kernel sends it when the *thread* that
    forked exits, so the parent must fork from a thread that lives as long as it does.
    """
    syscalls.set_parent_death_signal(signal.SIGKILL)
    # A parent that died before the line above would never send the signal.
    if select.select([parent], [], [], 0)[0]:
        os._exit(128 + signal.SIGKILL)
    os.close(parent)


def syscall_filter(seccomp: dict[str, Any] | None, state_root: Path) -> bytes | None:
    """linux.seccomp as the BPF program :func:`restrict` loads; call it before the fork.

    Compiled once per profile and boot, cached under ``state_root``.
    """
    if seccomp is None:
        return None
    return seccomp_cache.program(seccomp, state_root)


def restrict(process: Process, seccomp: bytes | None) -> None:
    """The last step before exec: what the process may no longer gain or call.

    Runs after the init left the exec fifo, as late as possible, so that nothing the
    runtime itself still does is restricted. Loading a filter without no_new_privs needs
    CAP_SYS_ADMIN, so it comes before the capabilities are cut (the profile must then
    allow capset and prctl, as Docker's does); with no_new_privs it comes last, as in runc.
    """
    wanted = process.capabilities
    if wanted is not None:
        capabilities.limit_bounding(wanted)
    if process.no_new_privileges:
        syscalls.set_no_new_privs()
    elif seccomp is not None:
        syscalls.load_seccomp_filter(seccomp)
    if wanted is not None:
        capabilities.apply(wanted)
    if process.no_new_privileges and seccomp is not None:
        syscalls.load_seccomp_filter(seccomp)


def execute(path: str, process: Process) -> NoReturn:
    """Replace this process with the container's command; raise ContainerStartError."""
    try:
        os.execve(path, list(process.args), process.environ())
    except OSError as error:
        code = 127 if error.errno in (errno.ENOENT, errno.ENOTDIR) else 126
        raise ContainerStartError(f'exec: "{process.args[0]}": {os.strerror(error.errno)}',
                                  code) from None  # fmt: skip
