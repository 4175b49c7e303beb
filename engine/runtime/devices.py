"""Device nodes in the container's /dev: the spec's defaults and linux.devices."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from engine.runtime.rootpath import Root
from engine.runtime.spec import Device

# The OCI runtime spec's default devices (config-linux.md, "Default Devices").
DEFAULT_DEVICES = (
    Device("/dev/null", "c", 1, 3),
    Device("/dev/zero", "c", 1, 5),
    Device("/dev/full", "c", 1, 7),
    Device("/dev/random", "c", 1, 8),
    Device("/dev/urandom", "c", 1, 9),
    Device("/dev/tty", "c", 5, 0),
)
DEFAULT_LINKS = {
    "/dev/fd": "/proc/self/fd",
    "/dev/stdin": "/proc/self/fd/0",
    "/dev/stdout": "/proc/self/fd/1",
    "/dev/stderr": "/proc/self/fd/2",
    "/dev/ptmx": "pts/ptmx",
}

_FILE_TYPES = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def create_defaults(root: Root) -> None:
    """The default nodes and links, in a /dev the runtime mounted fresh (a tmpfs)."""
    for device in DEFAULT_DEVICES:
        make_node(root, device)
    for link, target in DEFAULT_LINKS.items():
        path = root.resolve(link)
        if not os.path.lexists(path):
            root.check_owned(path, f"link {link}")
            os.symlink(target, path)


def make_node(root: Root, device: Device) -> None:
    """Create ``device`` inside ``root``, replacing whatever was at its path.

    Where the container does not own its /dev (the host's, bound in) nothing is
    replaced: the very node already there will do; anything else is refused.
    """
    path = root.resolve(device.path)
    if not root.owns(path) and _is_node(path, device):
        return
    root.check_owned(path, f"device {device.path}")
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    if os.path.lexists(path):
        path.unlink()
    os.mknod(path, _FILE_TYPES[device.type] | 0o600, _number(device))
    # Set the mode after mknod: mknod's is filtered through the umask.
    os.chmod(path, stat.S_IMODE(device.file_mode))
    os.chown(path, device.uid, device.gid)


def _number(device: Device) -> int:
    return os.makedev(device.major, device.minor) if device.type != "p" else 0


def _is_node(path: Path, device: Device) -> bool:
    """Whether ``path`` is already ``device``: the same type and number."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    same_type = stat.S_IFMT(info.st_mode) == _FILE_TYPES[device.type]
    return same_type and info.st_rdev == _number(device)
