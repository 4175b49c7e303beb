"""Device rules on cgroup v2: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE.

cgroup v2 has no devices.allow/devices.deny; the kernel asks a program attached to
the cgroup instead, on every mknod and every open of a device node. As runc does, the
OCI rules are first folded the way the v1 devices controller folds them
(:func:`effective`), so one config means the same on both: an "a" rule resets to
allow-all or deny-all, and later rules are exceptions to that default. The program
then checks the exceptions in turn and returns the default when none matches.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from engine.linux import bpf


class DeviceRule(Protocol):
    """One OCI device rule, as engine/runtime/devicecgroup.py parses it."""

    allow: bool
    type: str
    major: int | None
    minor: int | None
    access: str


#: struct bpf_cgroup_dev_ctx: access_type (access << 16 | type), major, minor
_TYPE_CODES = {"b": 1, "c": 2}
_ACCESS_BITS = {"m": 1, "r": 2, "w": 4}
PROGRAM_NAME = "berth_devices"


@dataclass(frozen=True)
class DeviceException:
    """A device (or a range, None: any number) and the access it differs on."""

    type: str
    major: int | None
    minor: int | None
    access: frozenset[str]


@dataclass(frozen=True)
class Policy:
    """What the rules leave: a default, and the exceptions to it."""

    default_allow: bool
    exceptions: tuple[DeviceException, ...]


def effective(rules: Iterable[DeviceRule]) -> Policy:
    """Fold ``rules`` in order as the v1 devices controller does.

    A new cgroup starts as its parent (the engine's allows everything). An "a" rule
    sets the default and drops every exception. A rule that disagrees with the
    default adds an exception (access merged with one for the same device); a rule
    that agrees takes its access away from the exception for exactly that device.
    """
    default_allow = True
    exceptions: dict[tuple[str, int | None, int | None], set[str]] = {}
    for rule in rules:
        if rule.type == "a":
            default_allow, exceptions = rule.allow, {}
            continue
        key = (rule.type, rule.major, rule.minor)
        if rule.allow != default_allow:
            exceptions.setdefault(key, set()).update(rule.access)
        elif key in exceptions:
            exceptions[key] -= set(rule.access)
            if not exceptions[key]:
                del exceptions[key]
    return Policy(default_allow, tuple(DeviceException(*key, frozenset(access))
                                       for key, access in exceptions.items()))  # fmt: skip


# -- the program ------------------------------------------------------------------------
# Registers: r1 the context; r2 type, r3 requested access, r4 major, r5 minor, r6 scratch.
_R0, _R1, _R2, _R3, _R4, _R5, _R6 = range(7)
_LDX_W = 0x61  # BPF_LDX | BPF_MEM | BPF_W
_MOV_X = 0xBF  # BPF_ALU64 | BPF_MOV | BPF_X
_MOV_K = 0xB7  # BPF_ALU64 | BPF_MOV | BPF_K
_AND_K = 0x57  # BPF_ALU64 | BPF_AND | BPF_K
_RSH_K = 0x77  # BPF_ALU64 | BPF_RSH | BPF_K
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JNE_K = 0x55  # BPF_JMP | BPF_JNE | BPF_K
_EXIT = 0x95  # BPF_JMP | BPF_EXIT


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One struct bpf_insn: opcode, dst and src registers (one byte), offset, immediate."""
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def assemble(policy: Policy) -> bytes:
    """The program for ``policy``: 1 (allow) or 0 (deny) for each device access."""
    program = [
        _insn(_LDX_W, _R2, _R1, 0),  # access_type
        _insn(_MOV_X, _R3, _R2),
        _insn(_AND_K, _R2, imm=0xFFFF),  # the device type
        _insn(_RSH_K, _R3, imm=16),  # the access asked for
        _insn(_LDX_W, _R4, _R1, 4),  # major
        _insn(_LDX_W, _R5, _R1, 8),  # minor
    ]
    for exception in policy.exceptions:
        program += _exception_block(exception, matched=not policy.default_allow)
    program += _verdict(policy.default_allow)
    return b"".join(program)


def _exception_block(exception: DeviceException, matched: bool) -> list[bytes]:
    """Return ``matched`` if the request is this exception's; else fall through.

    An allow-exception (default deny) must cover every access bit asked for; a
    deny-exception (default allow) applies as soon as it shares one, as in v1.
    """
    access = sum(_ACCESS_BITS[letter] for letter in exception.access)
    # (opcode, register, value): each jump, when taken, goes to the next block
    tests = [(_JNE_K, _R2, _TYPE_CODES[exception.type])]
    if exception.major is not None:
        tests.append((_JNE_K, _R4, exception.major))
    if exception.minor is not None:
        tests.append((_JNE_K, _R5, exception.minor))
    if matched:  # r6 = asked & ~allowed: any bit left means no match
        mask, no_match = ~access & 0xFFFF, _JNE_K
    else:  # r6 = asked & denied: no bit means no match
        mask, no_match = access, _JEQ_K
    size = len(tests) + 5  # + mov, and, jump, then the verdict's two
    code = [_insn(op, reg, off=size - i - 1, imm=value) for i, (op, reg, value) in enumerate(tests)]
    code += [_insn(_MOV_X, _R6, _R3), _insn(_AND_K, _R6, imm=mask)]
    code.append(_insn(no_match, _R6, off=size - len(code) - 1))
    return code + _verdict(matched)


def _verdict(allow: bool) -> list[bytes]:
    return [_insn(_MOV_K, _R0, imm=int(allow)), _insn(_EXIT)]


def install(directory: Path, rules: Iterable[DeviceRule]) -> None:
    """Attach the filter for ``rules`` to the cgroup ``directory``, replacing any before.

    The new program is attached before the old ones are detached, so the cgroup is
    never without a filter. OSError (the kernel's errno) if it cannot be loaded or
    attached: the caller must not start the container then.
    """
    code = assemble(effective(rules))
    try:
        cgroup_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            _replace(cgroup_fd, code)
        finally:
            os.close(cgroup_fd)
    except OSError as error:
        raise OSError(error.errno, f"cannot enforce the device rules (cgroup v2 needs an eBPF "
                                   f"device filter): {error.strerror}") from None  # fmt: skip


def _replace(cgroup_fd: int, code: bytes) -> None:
    before = bpf.attached(cgroup_fd, bpf.ATTACH_CGROUP_DEVICE)
    program = bpf.load_program(bpf.PROG_TYPE_CGROUP_DEVICE, code, PROGRAM_NAME)
    try:
        bpf.attach(cgroup_fd, program, bpf.ATTACH_CGROUP_DEVICE, bpf.F_ALLOW_MULTI)
    finally:
        os.close(program)
    for program_id in before:
        old = bpf.program_fd(program_id)
        try:
            bpf.detach(cgroup_fd, old, bpf.ATTACH_CGROUP_DEVICE)
        finally:
            os.close(old)


def attached(directory: Path) -> list[int]:
    """The ids of the device programs attached to the cgroup ``directory``."""
    cgroup_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return bpf.attached(cgroup_fd, bpf.ATTACH_CGROUP_DEVICE)
    finally:
        os.close(cgroup_fd)
