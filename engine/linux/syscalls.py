"""ctypes wrappers for the Linux syscalls Python 3.11's standard library lacks.

Every wrapper raises ``OSError`` with the kernel's errno; its ``strerror`` names the
call and the path, e.g. ``mount proc on /x/proc: Operation not permitted``, so callers
can show it to a user as is.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Sequence

# clone(2) / unshare(2) / setns(2) namespace flags
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# mount(2) flags
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000

# umount2(2) flags
MNT_DETACH = 0x2

# prctl(2) options
PR_SET_PDEATHSIG = 1
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

# seccomp(2): install a classic BPF program of struct sock_filter (8 bytes each)
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_MODE_FILTER = 2  # prctl(PR_SET_SECCOMP)'s name for the same
SOCK_FILTER_SIZE = 8
BPF_MAXINSNS = 4096  # the kernel refuses a longer program

# pseudo-terminal ioctls (asm-generic numbers: x86_64 and aarch64); termios lacks them
TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431
TIOCGPTPEER = 0x5441

# statfs(2) f_type values
CGROUP2_SUPER_MAGIC = 0x63677270

# The new mount API (Linux >= 5.2). These syscalls have the same numbers on every
# architecture berth supports; pivot_root has no glibc wrapper, so it needs a number too.
_SYSCALL_NUMBERS = {
    "x86_64": {"pivot_root": 155, "seccomp": 317},
    "aarch64": {"pivot_root": 41, "seccomp": 277},
}
_SYS_OPEN_TREE = 428
_SYS_MOVE_MOUNT = 429
_SYS_FSOPEN = 430
_SYS_FSCONFIG = 431
_SYS_FSMOUNT = 432
_SYS_MOUNT_SETATTR = 442

FSOPEN_CLOEXEC = 0x1
FSMOUNT_CLOEXEC = 0x1
FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6
MOVE_MOUNT_F_EMPTY_PATH = 0x4
OPEN_TREE_CLONE = 0x1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
AT_RECURSIVE = 0x8000
AT_FDCWD = -100

MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR_NOATIME = 0x10
MOUNT_ATTR_STRICTATIME = 0x20
MOUNT_ATTR_NODIRATIME = 0x80

# mount(2) flags that have a mount attribute in the new API; anything else is refused.
_MS_TO_MOUNT_ATTR = {
    MS_RDONLY: MOUNT_ATTR_RDONLY,
    MS_NOSUID: MOUNT_ATTR_NOSUID,
    MS_NODEV: MOUNT_ATTR_NODEV,
    MS_NOEXEC: MOUNT_ATTR_NOEXEC,
    MS_NOATIME: MOUNT_ATTR_NOATIME,
    MS_STRICTATIME: MOUNT_ATTR_STRICTATIME,
    MS_NODIRATIME: MOUNT_ATTR_NODIRATIME,
    MS_RELATIME: 0,  # relatime is the new API's default access-time mode
}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]  # fmt: skip
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.setdomainname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                        ctypes.c_ulong]  # fmt: skip
_libc.statfs.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
_libc.syncfs.argtypes = [ctypes.c_int]
_libc.syscall.restype = ctypes.c_long


def _error(what: str) -> OSError:
    code = ctypes.get_errno()
    return OSError(code, f"{what}: {os.strerror(code)}")


def _check(result: int, what: str) -> int:
    if result < 0:
        raise _error(what)
    return result


def _bytes(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def _syscall_number(name: str) -> int:
    machine = os.uname().machine
    try:
        return _SYSCALL_NUMBERS[machine][name]
    except KeyError:
        raise OSError(errno.ENOSYS, f"{name}: unsupported architecture {machine}") from None


# -- namespaces ---------------------------------------------------------------------------


def unshare(flags: int) -> None:
    """Move the calling thread into new namespaces (CLONE_NEW* flags)."""
    _check(_libc.unshare(flags), f"unshare({flags:#x})")


def setns(fd: int, nstype: int = 0) -> None:
    """Join the namespace ``fd`` refers to (an open /proc/<pid>/ns/<kind> file)."""
    _check(_libc.setns(fd, nstype), f"setns({nstype:#x})")


def sethostname(name: str) -> None:
    data = name.encode()
    _check(_libc.sethostname(data, len(data)), f"sethostname {name!r}")


def setdomainname(name: str) -> None:
    data = name.encode()
    _check(_libc.setdomainname(data, len(data)), f"setdomainname {name!r}")


# -- processes ----------------------------------------------------------------------------


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(_libc.prctl(option, arg2, arg3, arg4, arg5), f"prctl({option})")


def set_no_new_privs() -> None:
    """Forbid this process and its children from gaining privileges through execve."""
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def is_dumpable() -> bool:
    """Whether the calling process is dumpable (2, "root only", counts as not)."""
    return prctl(PR_GET_DUMPABLE) == 1


def set_dumpable(dumpable: bool) -> None:
    """Make the calling process dumpable or not. Not dumpable: no core dump, and no
    ptrace, /proc/PID/exe, /proc/PID/fd/ or /proc/PID/mem of it for anyone without
    CAP_SYS_PTRACE; its /proc/PID/ files are root's, its own access is unchanged. Fork
    passes it on; execve makes it dumpable again (not for a set-user-ID program, or one
    it may not read).
    """
    prctl(PR_SET_DUMPABLE, int(dumpable))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]  # fmt: skip


_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def capget() -> tuple[int, int, int]:
    """The calling thread's (effective, permitted, inheritable) capability masks."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capget(ctypes.byref(header), data), "capget")
    low, high = data
    return (low.effective | high.effective << 32, low.permitted | high.permitted << 32,
            low.inheritable | high.inheritable << 32)  # fmt: skip


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set the calling thread's capability sets (bit masks of capability numbers)."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    # Version 3 takes two 32-bit words per set: the low capabilities, then the high ones.
    data = (_CapData * 2)(
        *(_CapData(effective >> shift & 0xFFFFFFFF, permitted >> shift & 0xFFFFFFFF,
                   inheritable >> shift & 0xFFFFFFFF) for shift in (0, 32))
    )  # fmt: skip
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def set_parent_death_signal(sig: int) -> None:
    """Have the kernel send ``sig`` to this process when the thread that forked it exits.

    Changing the effective uid or gid clears it, and so does exec of a set-user-ID file.
    """
    prctl(PR_SET_PDEATHSIG, sig)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def load_seccomp_filter(program: bytes) -> None:
    """Confine the calling thread with a seccomp filter: ``program`` is raw BPF.

    Flags 0, as libseccomp loads without TSYNC; no_new_privs is left as it is, so
    without it the caller needs CAP_SYS_ADMIN. Kernels without seccomp(2) (before
    3.17) take the same program through prctl.
    """
    count, partial = divmod(len(program), SOCK_FILTER_SIZE)
    if partial or not 0 < count <= BPF_MAXINSNS:
        # struct sock_fprog counts in an unsigned short: a bad length must not wrap
        raise OSError(errno.EINVAL, f"seccomp filter: {len(program)} bytes is no BPF program")
    code = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(count, ctypes.addressof(code))
    result = _seccomp(SECCOMP_SET_MODE_FILTER, 0, fprog)
    if result < 0 and ctypes.get_errno() == errno.ENOSYS:
        result = _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0)
    _check(result, "seccomp filter")


def _seccomp(operation: int, flags: int, fprog: _SockFprog) -> int:
    number = _SYSCALL_NUMBERS.get(os.uname().machine, {}).get("seccomp")
    if number is None:  # no number known here: prctl, which every architecture has
        ctypes.set_errno(errno.ENOSYS)
        return -1
    return _libc.syscall(ctypes.c_long(number), ctypes.c_uint(operation), ctypes.c_uint(flags),
                         ctypes.byref(fprog))  # fmt: skip


# -- mounts -------------------------------------------------------------------------------


def mount(
    source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None
) -> None:
    what = f"mount {source or fstype or ''} on {target}".replace("  ", " ")
    result = _libc.mount(_bytes(source), _bytes(target), _bytes(fstype), flags, _bytes(data))
    _check(result, what)


def umount2(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(_bytes(target), flags), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    number = _syscall_number("pivot_root")
    result = _libc.syscall(ctypes.c_long(number), _bytes(new_root), _bytes(put_old))
    _check(result, f"pivot_root {new_root}")


def statfs_type(path: str) -> int:
    """The file system magic number (``f_type``) of the file system holding ``path``."""
    # struct statfs is 120 bytes on 64-bit Linux and starts with f_type (a long).
    buffer = ctypes.create_string_buffer(256)
    _check(_libc.statfs(_bytes(path), buffer), f"statfs {path}")
    return ctypes.c_long.from_buffer(buffer).value


def syncfs(fd: int) -> None:
    """Write to disk every file's data and metadata on the file system holding ``fd``.

    One call for a whole extracted layer, where an fsync per file would cost one
    journal commit each. Raises OSError for write-back errors (Linux >= 5.8).
    """
    _check(_libc.syncfs(fd), "syncfs")


def mount_new_api(
    fstype: str,
    source: str,
    target: str,
    options: Sequence[tuple[str, str | None]],
    flags: int = 0,
) -> None:
    """Mount a new ``fstype`` at ``target`` through fsopen/fsconfig/fsmount/move_mount.

    Each option is passed to fsconfig on its own: ``(key, value)`` as a string,
    ``(key, None)`` as a flag. Unlike mount(2)'s one-page option string, this has no
    size limit, and keys may repeat (overlayfs' ``lowerdir+``, Linux >= 6.8).
    ``flags`` takes MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC and the atime flags.

    Raises OSError with ENOSYS when the kernel lacks the API and EINVAL (or the key's own
    error) when it refuses an option, so callers can fall back to :func:`mount`; the
    message includes what the kernel logged on the file system context.
    """
    attributes = _mount_attributes(flags)
    fs_fd = _check(_libc.syscall(ctypes.c_long(_SYS_FSOPEN), _bytes(fstype), FSOPEN_CLOEXEC),
                   f"fsopen {fstype}")  # fmt: skip
    try:
        _fsconfig(fs_fd, FSCONFIG_SET_STRING, "source", source, fstype)
        for key, value in options:
            kind = FSCONFIG_SET_FLAG if value is None else FSCONFIG_SET_STRING
            _fsconfig(fs_fd, kind, key, value, fstype)
        _fsconfig(fs_fd, FSCONFIG_CMD_CREATE, None, None, fstype)
        mount_fd = _libc.syscall(
            ctypes.c_long(_SYS_FSMOUNT), fs_fd, FSMOUNT_CLOEXEC, ctypes.c_uint(attributes)
        )
        _check(mount_fd, f"fsmount {fstype}")
    finally:
        os.close(fs_fd)
    try:
        result = _libc.syscall(
            ctypes.c_long(_SYS_MOVE_MOUNT), mount_fd, b"", AT_FDCWD, _bytes(target),
            MOVE_MOUNT_F_EMPTY_PATH,
        )  # fmt: skip
        _check(result, f"move_mount {fstype} to {target}")
    finally:
        os.close(mount_fd)


def open_tree_clone(path: str, *, recursive: bool = True) -> int:
    """A detached copy of the mount tree at ``path`` (a bind mount not yet attached
    anywhere), as an fd for :func:`move_mount_tree`. The path is resolved now, in the
    caller's current root: attach it after a chroot and the source still is this one.
    """
    flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (AT_RECURSIVE if recursive else 0)
    result = _libc.syscall(ctypes.c_long(_SYS_OPEN_TREE), AT_FDCWD, _bytes(path), flags)
    return _check(result, f"open_tree {path}")


def move_mount_tree(tree_fd: int, target: str) -> None:
    """Attach the detached mount tree ``tree_fd`` (from :func:`open_tree_clone`) at ``target``."""
    result = _libc.syscall(
        ctypes.c_long(_SYS_MOVE_MOUNT), tree_fd, b"", AT_FDCWD, _bytes(target),
        MOVE_MOUNT_F_EMPTY_PATH,
    )  # fmt: skip
    _check(result, f"move_mount to {target}")


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]  # fmt: skip


def mount_setattr(path: str, attributes: int, *, recursive: bool = False) -> None:
    """Set MOUNT_ATTR_* ``attributes`` on the mount at ``path``; with ``recursive``, on
    every mount below it too, which mount(2)'s remount cannot do (Linux >= 5.12)."""
    attr = _MountAttr(attributes, 0, 0, 0)
    result = _libc.syscall(
        ctypes.c_long(_SYS_MOUNT_SETATTR), AT_FDCWD, _bytes(path),
        ctypes.c_uint(AT_RECURSIVE if recursive else 0), ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
    )  # fmt: skip
    _check(result, f"mount_setattr {path}")


def _mount_attributes(flags: int) -> int:
    attributes = 0
    for flag, attribute in _MS_TO_MOUNT_ATTR.items():
        if flags & flag:
            attributes |= attribute
            flags &= ~flag
    if flags:
        raise OSError(errno.EINVAL, f"mount flags {flags:#x} have no new-mount-API attribute")
    return attributes


def _fsconfig(fs_fd: int, command: int, key: str | None, value: str | None, fstype: str) -> None:
    result = _libc.syscall(
        ctypes.c_long(_SYS_FSCONFIG), fs_fd, command, _bytes(key), _bytes(value), 0
    )
    if result < 0:
        code = ctypes.get_errno()
        what = f"fsconfig {fstype} {key}" if key else f"fsconfig {fstype} create"
        detail = _fs_context_log(fs_fd)
        suffix = f" ({detail})" if detail else ""
        raise OSError(code, f"{what}: {os.strerror(code)}{suffix}")


def _fs_context_log(fs_fd: int) -> str:
    """The messages the kernel logged on a file system context ("e overlay: ...")."""
    lines = []
    while True:
        try:
            line = os.read(fs_fd, 4096)
        except OSError:  # ENODATA: the log is empty
            break
        if not line:
            break
        lines.append(line.decode(errors="replace").strip())
    return "; ".join(lines)


def describe(error: OSError) -> str:
    """An OSError as one line for a user: ``mkdir /x: Permission denied``, no ``[Errno 13]``."""
    if error.strerror is None:
        return str(error)
    if error.filename is not None:
        return f"{error.strerror}: {error.filename}"
    return error.strerror
