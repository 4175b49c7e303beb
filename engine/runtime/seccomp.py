"""seccomp: config.json's linux.seccomp compiled into a BPF program by libseccomp.

Only a miss of :mod:`engine.runtime.seccomp_cache` comes here: importing libseccomp's
binding alone costs ~30 ms (it runs ``ldconfig -p`` twice). The program is exported
as raw BPF, which the container's process loads itself right before exec
(:func:`engine.runtime.process.restrict`), so libseccomp never sets no_new_privs: the
process sets it only when process.noNewPrivileges asks. As in runc: a syscall name
this libseccomp does not know is skipped (profiles list other architectures' calls),
a rule whose action is the default action is dropped, and conditions on the same
argument are separate rules (libseccomp refuses them in one).
"""

from __future__ import annotations

import errno
import os
from collections import defaultdict
from typing import Any

import pyseccomp as libseccomp

from engine.errors import InvalidArgumentError

_ACTIONS = {
    "SCMP_ACT_KILL": libseccomp.KILL,
    "SCMP_ACT_KILL_THREAD": libseccomp.KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": libseccomp.KILL_PROCESS,
    "SCMP_ACT_TRAP": libseccomp.TRAP,
    "SCMP_ACT_ALLOW": libseccomp.ALLOW,
    "SCMP_ACT_LOG": libseccomp.LOG,
}
_WITH_ERRNO = {"SCMP_ACT_ERRNO": libseccomp.ERRNO, "SCMP_ACT_TRACE": libseccomp.TRACE}
_OPERATORS = {
    "SCMP_CMP_NE": libseccomp.NE, "SCMP_CMP_LT": libseccomp.LT, "SCMP_CMP_LE": libseccomp.LE,
    "SCMP_CMP_EQ": libseccomp.EQ, "SCMP_CMP_GE": libseccomp.GE, "SCMP_CMP_GT": libseccomp.GT,
    "SCMP_CMP_MASKED_EQ": libseccomp.MASKED_EQ,
}  # fmt: skip
_UNKNOWN_SYSCALL = -1  # what libseccomp resolves a name it does not know to


def export_program(config: dict[str, Any]) -> bytes:
    """The BPF program of a linux.seccomp object; InvalidArgumentError says what is wrong."""
    syscall_filter = compile_filter(config)
    # libseccomp writes to a file descriptor; memory-backed, it never touches a disk
    with open(os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC), "w+b") as file:
        syscall_filter.export_bpf(file)
        file.seek(0)
        return file.read()


def compile_filter(config: dict[str, Any]) -> libseccomp.SyscallFilter:
    """The filter of a linux.seccomp object; InvalidArgumentError says what is wrong."""
    if config.get("listenerPath"):
        raise InvalidArgumentError("config.json: seccomp notification (listenerPath) "
                                   "is not supported")  # fmt: skip
    default = _action(config.get("defaultAction"), config.get("defaultErrnoRet"), "defaultAction")
    syscall_filter = libseccomp.SyscallFilter(default)
    for name in config.get("architectures") or []:
        _add_architecture(syscall_filter, name)
    for rule in config.get("syscalls") or []:
        _add_rule(syscall_filter, rule, default)
    return syscall_filter


def _action(name: Any, errno_ret: Any, where: str) -> int:
    if name in _ACTIONS:
        return _ACTIONS[name]
    if name in _WITH_ERRNO:
        return _WITH_ERRNO[name](errno.EPERM if errno_ret is None else int(errno_ret))
    raise InvalidArgumentError(f"config.json: seccomp {where}: unknown action {name!r}")


def _add_architecture(syscall_filter: libseccomp.SyscallFilter, name: str) -> None:
    arch = getattr(libseccomp.Arch, str(name).removeprefix("SCMP_ARCH_"), None)
    if arch is None:
        raise InvalidArgumentError(f"config.json: unknown seccomp architecture {name!r}")
    try:
        syscall_filter.add_arch(arch)
    except OSError as error:
        if error.errno != errno.EEXIST:  # the native architecture is there from the start
            raise


def _add_rule(syscall_filter: libseccomp.SyscallFilter, rule: dict[str, Any], default: int) -> None:
    names = rule.get("names") or []
    action = _action(rule.get("action"), rule.get("errnoRet"), f"rule for {names}")
    if action == default:
        return  # libseccomp refuses a rule that changes nothing
    for name in names:
        number = libseccomp.resolve_syscall(libseccomp.Arch.NATIVE, name)
        if number == _UNKNOWN_SYSCALL:
            continue
        for conditions in _condition_sets(rule.get("args") or [], name):
            syscall_filter.add_rule(action, number, *conditions)


def _condition_sets(args: list[dict[str, Any]], name: str) -> list[list[libseccomp.Arg]]:
    """One list of conditions per rule to add: together, or one rule each if any
    argument is compared twice (libseccomp allows one comparison per argument)."""
    conditions = [_condition(arg, name) for arg in args]
    per_index = defaultdict(int)
    for arg in args:
        per_index[arg.get("index")] += 1
    if any(count > 1 for count in per_index.values()):
        return [[condition] for condition in conditions]
    return [conditions]


def _condition(arg: dict[str, Any], name: str) -> libseccomp.Arg:
    operator = _OPERATORS.get(arg.get("op"))
    index = arg.get("index")
    if operator is None or not isinstance(index, int) or not 0 <= index < 6:
        raise InvalidArgumentError(f"config.json: seccomp rule for {name}: bad argument {arg}")
    return libseccomp.Arg(index, operator, int(arg.get("value", 0)), int(arg.get("valueTwo", 0)))
