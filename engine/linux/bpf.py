"""The bpf(2) commands a cgroup device filter needs: load, attach, query, detach.

Python has no bpf() wrapper, and a compiler or bpftool must not be needed at run time,
so programs arrive here as raw instructions (see :mod:`engine.runtime.devicefilter`)
and ``union bpf_attr`` is packed by hand, field by field, as include/uapi/linux/bpf.h
lays it out. Every call raises ``OSError`` with the kernel's errno and a message that
names the command, as :mod:`engine.linux.syscalls` does.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import struct

# bpf(2) commands
_PROG_LOAD = 5
_PROG_ATTACH = 8
_PROG_DETACH = 9
_PROG_GET_FD_BY_ID = 13
_PROG_QUERY = 16

PROG_TYPE_CGROUP_DEVICE = 15
ATTACH_CGROUP_DEVICE = 6
#: several programs on one cgroup, all of which must allow (runc attaches this way)
F_ALLOW_MULTI = 0x2

_SYSCALL_NUMBERS = {"x86_64": 321, "aarch64": 280, "s390x": 351, "riscv64": 280}
#: union bpf_attr is 144 bytes in Linux 6.x; a bigger buffer is fine as long as the
#: tail is zero, and older kernels accept the size of the fields they know.
_ATTR_SIZE = 128
_LOG_SIZE = 64 * 1024
_MAX_QUERIED = 64

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _bpf(command: int, attr: ctypes.Array, what: str) -> int:
    number = _SYSCALL_NUMBERS.get(os.uname().machine)
    if number is None:
        raise OSError(errno.ENOSYS, f"{what}: bpf() on {os.uname().machine} is not supported")
    result = _libc.syscall(ctypes.c_long(number), ctypes.c_int(command), attr,
                           ctypes.c_uint(len(attr)))  # fmt: skip
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


def _attr(fmt: str, *values: int) -> ctypes.Array:
    """A zeroed bpf_attr with ``values`` packed at its start (little/native endian)."""
    buffer = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("=" + fmt, buffer, 0, *values)
    return buffer


def load_program(prog_type: int, instructions: bytes, name: str, license: str = "Apache") -> int:
    """Load a program through the verifier; its file descriptor (close it when done).

    On a refusal the verifier's own log is part of the error. Kernels before 5.11
    charge programs to RLIMIT_MEMLOCK, so an EPERM is retried once with it raised.
    """
    code = ctypes.create_string_buffer(instructions, len(instructions))
    licence = ctypes.create_string_buffer(license.encode())
    try:
        return _load(prog_type, code, licence, name, None)
    except OSError as error:
        if error.errno == errno.EPERM and _raise_memlock():
            return _load(prog_type, code, licence, name, None)
        if error.errno not in (errno.EINVAL, errno.EACCES):
            raise
    log = ctypes.create_string_buffer(_LOG_SIZE)
    try:
        return _load(prog_type, code, licence, name, log)
    except OSError as error:
        verdict = log.value.decode(errors="replace").strip().splitlines()[-3:]
        raise OSError(error.errno, f"{error.strerror} ({' / '.join(verdict)})") from None


def _load(prog_type: int, code: ctypes.Array, licence: ctypes.Array, name: str,
          log: ctypes.Array | None) -> int:  # fmt: skip
    # prog_type, insn_cnt, insns, license, log_level, log_size, log_buf, kern_version,
    # prog_flags, prog_name[16]
    attr = _attr(
        "IIQQIIQII16s", prog_type, len(code) // 8, ctypes.addressof(code),
        ctypes.addressof(licence), 1 if log is not None else 0, len(log) if log is not None else 0,
        ctypes.addressof(log) if log is not None else 0, 0, 0, name.encode()[:15],
    )  # fmt: skip
    return _bpf(_PROG_LOAD, attr, f"load the BPF program {name}")


def _raise_memlock() -> bool:
    """Lift RLIMIT_MEMLOCK (root may); whether that changed anything."""
    soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    try:
        resource.setrlimit(resource.RLIMIT_MEMLOCK, (resource.RLIM_INFINITY,) * 2)
    except (ValueError, OSError):
        return False
    return soft != resource.RLIM_INFINITY


def attach(target_fd: int, program_fd: int, attach_type: int, flags: int) -> None:
    """Attach a loaded program to ``target_fd`` (an open cgroup directory)."""
    # target_fd, attach_bpf_fd, attach_type, attach_flags
    _bpf(_PROG_ATTACH, _attr("IIII", target_fd, program_fd, attach_type, flags),
         "attach the BPF program to the cgroup")  # fmt: skip


def detach(target_fd: int, program_fd: int, attach_type: int) -> None:
    """Detach one attached program from ``target_fd``."""
    _bpf(_PROG_DETACH, _attr("III", target_fd, program_fd, attach_type),
         "detach the BPF program from the cgroup")  # fmt: skip


def attached(target_fd: int, attach_type: int) -> list[int]:
    """The ids of the programs attached to ``target_fd`` itself, in order."""
    ids = (ctypes.c_uint32 * _MAX_QUERIED)()
    # target_fd, attach_type, query_flags, attach_flags, prog_ids, prog_cnt
    attr = _attr("IIIIQI", target_fd, attach_type, 0, 0, ctypes.addressof(ids), _MAX_QUERIED)
    _bpf(_PROG_QUERY, attr, "query the cgroup's BPF programs")
    count = struct.unpack_from("=I", attr, 24)[0]
    return list(ids[: min(count, _MAX_QUERIED)])


def program_fd(program_id: int) -> int:
    """A file descriptor of the loaded program ``program_id`` (close it when done)."""
    return _bpf(_PROG_GET_FD_BY_ID, _attr("I", program_id), f"open BPF program {program_id}")
