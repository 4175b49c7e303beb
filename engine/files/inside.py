"""The process that reads and writes a container's files from inside its root.

``python -m engine.files.inside SPEC`` (SPEC: JSON, see :mod:`engine.files.service`).
It enters the container's root, then streams a tar on stdout (``read``, ``export``) or
unpacks one from stdin (``place``, ``extract``). Errors: one line on stderr, status 1.

Entering, by the container's state:

* running or paused: it joins the mount namespace of the container's init (setns), which
  makes the container's root its root and cwd: the container's own view, its volumes
  and binds included.
* stopped: it unshares a private mount namespace (nothing it mounts is seen elsewhere,
  and all of it goes when it exits), mounts the container's overlay there unless it is
  mounted already, takes detached copies of the bind sources (open_tree), chroots into
  the overlay and attaches them at their destinations, resolved inside it.

Either way every path from then on is resolved by the kernel inside the container's
root: a symlink aimed at /etc or at ../../.. lands inside it, whatever the container
swaps meanwhile (CVE-2018-15664). Every module is imported before it enters, and the
import machinery is then emptied: a later import would otherwise load code from the
container's files. No user or group name is ever looked up (CVE-2019-14271). It is not
dumpable, so the container's processes cannot reach into it through /proc.
"""

from __future__ import annotations

import bz2  # noqa: F401 (tarfile's "r|*" imports these lazily: after chroot it could not)
import errno
import json
import lzma  # noqa: F401
import os
import stat
import sys
import zlib  # noqa: F401
from typing import BinaryIO

from engine.errors import BerthError, ConflictError, InvalidArgumentError, NotFoundError
from engine.files import packing, unpacking
from engine.linux import syscalls
from engine.process_identity import identity
from engine.storage import overlay

_KERNEL_MOUNTS = ("/proc", "/sys")
#: the mode of a mount point made for a stopped container's bind, as the runtime makes it
_MOUNT_POINT_MODE = 0o755


def main(argv: list[str]) -> None:
    spec = json.loads(argv[1])
    try:
        syscalls.set_dumpable(False)
        _enter(spec["root"])
        _run(spec)
        sys.stdout.flush()
    except BerthError as error:
        _fail(str(error))
    except OSError as error:
        _fail(syscalls.describe(error))
    except BaseException as error:  # no traceback: formatting one would read container files
        _fail(f"{type(error).__name__}: {error}")
    os._exit(0)  # no interpreter shutdown: it could still import


def _fail(message: str) -> None:
    os.write(2, f"{message}\n".encode(errors="replace"))
    os._exit(1)


# -- entering the container's root ------------------------------------------------------


def _enter(root: dict) -> None:
    if "pid" in root:
        _join(root["pid"], root["identity"], root["name"])
    else:
        _overlay_root(root)


def _join(pid: int, expected: str, name: str) -> None:
    """setns into the mount namespace of the container's init, checked to be that one."""
    try:
        fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ConflictError(f"container {name} stopped meanwhile; try again") from None
    try:
        # Opened first, checked after: the fd is the namespace of the very process we meant.
        if identity(pid) != expected:
            raise ConflictError(f"container {name} stopped meanwhile; try again")
        if os.fstat(fd).st_ino == os.stat("/proc/self/ns/mnt").st_ino:
            raise ConflictError(f"container {name} shares the host's mount namespace")
        syscalls.setns(fd, syscalls.CLONE_NEWNS)  # root and cwd: the namespace's root
    finally:
        os.close(fd)
    _seal_imports()


def _overlay_root(root: dict) -> None:
    syscalls.unshare(syscalls.CLONE_NEWNS)
    syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
    merged = root["merged"]
    if not os.path.ismount(merged):
        if not root["may_mount"]:  # it was running a moment ago: its start owns the mount
            raise ConflictError(f"container {root['name']} stopped meanwhile; try again")
        overlay.mount_overlay(
            root["lowers"], root["short_links"], root["links_dir"], root["upper"],
            root["work"], merged,
        )  # fmt: skip
    trees = [
        (syscalls.open_tree_clone(bind["source"]), bind, os.path.isdir(bind["source"]))
        for bind in root["binds"]
    ]
    os.chdir(merged)
    os.chroot(".")
    _seal_imports()
    for tree, bind, directory in trees:
        _attach(tree, bind, directory)


def _attach(tree: int, bind: dict, directory: bool) -> None:
    """Attach a bind at its destination, resolved inside the root; its stub made if
    missing, as the runtime makes it."""
    destination = bind["destination"]
    try:
        os.stat(destination)
    except FileNotFoundError:
        os.makedirs(destination if directory else os.path.dirname(destination),
                    _MOUNT_POINT_MODE, exist_ok=True)  # fmt: skip
        if not directory:
            os.close(os.open(destination, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
    syscalls.move_mount_tree(tree, destination)
    os.close(tree)
    if bind["readonly"]:
        flags = syscalls.MS_REMOUNT | syscalls.MS_BIND | syscalls.MS_RDONLY
        syscalls.mount(None, destination, None, flags)


def _seal_imports() -> None:
    """From here on an import fails instead of loading a module from the container."""
    sys.meta_path.clear()
    sys.path_hooks.clear()
    sys.path_importer_cache.clear()
    sys.path.clear()


# -- the operations ---------------------------------------------------------------------


def _run(spec: dict) -> None:
    operation = spec["operation"]
    out, into = sys.stdout.buffer, sys.stdin.buffer
    owner = None if spec.get("archive") else (0, 0)
    shown = spec.get("shown", "")
    if operation == "read":
        _read(spec["path"], spec["follow_link"], shown, out)
    elif operation == "export":
        packing.write_tree(out, "/", "", one_file_system=True)
    elif operation == "place":
        unpacking.place(into, _inside(spec["path"]), owner=owner, follow_links=True, shown=shown)
    elif operation == "extract":
        unpacking.extract(into, _inside(spec["path"]), owner=owner, follow_links=True,
                          shown=shown)  # fmt: skip


def _inside(path: str) -> str:
    """A container path as typed ("tmp/x" means "/tmp/x"), its trailing "/" kept."""
    return "/" + path.lstrip("/")


def _read(path: str, follow_link: bool, shown: str, out: BinaryIO) -> None:
    """Tar the source: its base name as the root, or "." for "dir/." (its contents)."""
    inside = _inside(path)
    contents = inside == "/" or inside.endswith("/.")
    try:
        info = os.stat(inside) if follow_link else os.lstat(inside)
    except OSError as error:
        if error.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise
        if not os.path.lexists(inside.rstrip("/")):  # else "file/": it is no directory
            raise NotFoundError(f"no such file or directory in container {shown}") from None
        info = os.lstat(inside.rstrip("/"))
    if (contents or inside.endswith("/")) and not stat.S_ISDIR(info.st_mode):
        raise InvalidArgumentError(f"not a directory in container {shown}")
    name = "." if contents else os.path.basename(os.path.normpath(inside))
    # A running container's /proc and /sys are the kernel's, not files to copy.
    kernel = {os.stat(point).st_dev for point in _KERNEL_MOUNTS if os.path.ismount(point)}
    packing.write_tree(out, inside, name, follow_link=follow_link, skip_devices=kernel)


if __name__ == "__main__":
    main(sys.argv)
