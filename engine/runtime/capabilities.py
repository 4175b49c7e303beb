"""Linux capabilities: the OCI process's five sets, applied after the switch of user.

Order matters, as in runc: the init keeps its permitted set across setuid
(PR_SET_KEEPCAPS), takes CAP_SETPCAP back into its effective set to drop the bounding
set, then sets effective, permitted and inheritable in one capset and raises the
ambient ones. The execve that follows computes the process's real sets from these: a
non-root process without ambient capabilities ends with none, whatever its bounding set.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import InvalidArgumentError
from engine.linux import syscalls

#: capability names, indexed by their number (linux/capability.h)
NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)  # fmt: skip
NUMBERS = {name: number for number, name in enumerate(NAMES)}
_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")


@dataclass(frozen=True)
class Capabilities:
    """process.capabilities: each set a bit mask of capability numbers."""

    bounding: int = 0
    effective: int = 0
    permitted: int = 0
    inheritable: int = 0
    ambient: int = 0


def parse(config: dict[str, Any]) -> Capabilities:
    """process.capabilities of config.json; a name berth does not know is refused."""
    masks = {}
    for kind in _SETS:
        names = config.get(kind) or []
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise InvalidArgumentError(f"config.json: process.capabilities.{kind} must list names")
        masks[kind] = mask(names)
    return Capabilities(**masks)


def mask(names: Iterable[str]) -> int:
    """The bit mask of capability names ("CAP_CHOWN"); InvalidArgumentError names a bad one."""
    bits = 0
    for name in names:
        number = NUMBERS.get(name)
        if number is None:
            raise InvalidArgumentError(f"unknown capability {name!r}")
        bits |= 1 << number
    return bits


def keep_across_user_switch() -> None:
    """Keep the permitted set through setuid, so :func:`apply` still has it to give."""
    syscalls.prctl(syscalls.PR_SET_KEEPCAPS, 1)


def limit_bounding(wanted: Capabilities) -> None:
    """Drop what is not in the bounding set; leaves every permitted capability effective.

    Effective is raised first: setuid cleared it, and dropping needs CAP_SETPCAP (loading
    a seccomp filter without no_new_privs next needs CAP_SYS_ADMIN).
    """
    _, permitted, inheritable = syscalls.capget()
    syscalls.capset(permitted, permitted, inheritable)
    for number in range(last_capability() + 1):
        if not wanted.bounding & 1 << number:
            syscalls.prctl(syscalls.PR_CAPBSET_DROP, number)


def apply(wanted: Capabilities) -> None:
    """Set effective, permitted and inheritable, then raise the ambient capabilities.

    Only capabilities the runtime itself holds can be given (a host's root may lack some,
    and a capability newer than the kernel does not exist): the others are left out.
    """
    _, held, _ = syscalls.capget()
    syscalls.capset(wanted.effective & held, wanted.permitted & held,
                    wanted.inheritable & held)  # fmt: skip
    syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_CLEAR_ALL)
    # The kernel raises an ambient capability only if it is permitted and inheritable;
    # configs that ask otherwise (runc's own `runc spec`) get it left out, as runc does.
    raisable = wanted.ambient & held & wanted.permitted & wanted.inheritable
    for number in range(last_capability() + 1):
        if raisable & 1 << number:
            syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_RAISE, number)


def last_capability() -> int:
    """The highest capability number the running kernel knows."""
    try:
        return int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        return len(NAMES) - 1
