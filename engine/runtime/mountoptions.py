"""Translate a mount's option strings (as in fstab and config.json) into mount(2) terms."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.linux import syscalls as sc

# option -> (flags it sets, flags it clears)
_FLAGS = {
    "ro": (sc.MS_RDONLY, 0),
    "rw": (0, sc.MS_RDONLY),
    "nosuid": (sc.MS_NOSUID, 0),
    "suid": (0, sc.MS_NOSUID),
    "nodev": (sc.MS_NODEV, 0),
    "dev": (0, sc.MS_NODEV),
    "noexec": (sc.MS_NOEXEC, 0),
    "exec": (0, sc.MS_NOEXEC),
    "sync": (sc.MS_SYNCHRONOUS, 0),
    "async": (0, sc.MS_SYNCHRONOUS),
    "dirsync": (sc.MS_DIRSYNC, 0),
    "mand": (sc.MS_MANDLOCK, 0),
    "nomand": (0, sc.MS_MANDLOCK),
    "noatime": (sc.MS_NOATIME, 0),
    "atime": (0, sc.MS_NOATIME),
    "nodiratime": (sc.MS_NODIRATIME, 0),
    "diratime": (0, sc.MS_NODIRATIME),
    "relatime": (sc.MS_RELATIME, 0),
    "norelatime": (0, sc.MS_RELATIME),
    "strictatime": (sc.MS_STRICTATIME, 0),
    "nostrictatime": (0, sc.MS_STRICTATIME),
    "bind": (sc.MS_BIND, 0),
    "rbind": (sc.MS_BIND | sc.MS_REC, 0),
}

PROPAGATION = {
    "private": sc.MS_PRIVATE,
    "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED,
    "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE,
    "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE,
    "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}

#: flags a bind mount can only get through a second, remounting call
BIND_REMOUNT_FLAGS = (
    sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_SYNCHRONOUS
    | sc.MS_DIRSYNC | sc.MS_NOATIME | sc.MS_NODIRATIME | sc.MS_RELATIME | sc.MS_STRICTATIME
)  # fmt: skip

# statvfs f_flag bits that the kernel may lock on a mount and that match MS_* values.
_LOCKABLE = sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC


@dataclass(frozen=True)
class MountOptions:
    flags: int
    #: MS_* propagation flags, applied one by one after the mount
    propagation: tuple[int, ...]
    #: options for the file system itself ("mode=755,size=65536k")
    data: str | None
    #: "rro" (runc's and crun's option): every mount below a bind read-only too
    recursive_readonly: bool = False

    @property
    def remount_flags(self) -> int:
        return self.flags & BIND_REMOUNT_FLAGS


def parse(options: Iterable[str]) -> MountOptions:
    flags = 0
    propagation = []
    data = []
    recursive_readonly = False
    for option in options:
        if option == "rro":
            flags |= sc.MS_RDONLY
            recursive_readonly = True
        elif option in _FLAGS:
            set_flags, clear_flags = _FLAGS[option]
            flags = (flags | set_flags) & ~clear_flags
        elif option in PROPAGATION:
            propagation.append(PROPAGATION[option])
        else:
            data.append(option)
    return MountOptions(flags, tuple(propagation), ",".join(data) or None, recursive_readonly)


def locked_flags(flag_bits: int) -> int:
    """Of a mount's statvfs f_flag, what a bind remount must repeat to be allowed.

    In a user namespace the kernel refuses a remount that would clear nosuid, nodev or
    noexec inherited from the source mount; repeating them is always correct.
    """
    return flag_bits & _LOCKABLE & ~sc.MS_RDONLY
