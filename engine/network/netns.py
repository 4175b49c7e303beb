"""Named network namespaces: a bind mount under the run dir keeps each one alive.

No netlink here: a container's end releases its namespace, and unmounting is all it
takes (the kernel then deletes the veth ends inside it).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from engine.linux import syscalls


def create(path: Path) -> None:
    """Make a new, empty network namespace pinned at ``path`` (idempotent).

    A thread, not a process, enters the new namespace: network namespaces are per
    thread, so the engine need not fork while it runs threads.
    """
    if path.is_mount():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.touch(mode=0o444)
    errors: list[BaseException] = []

    def pin() -> None:
        try:
            syscalls.unshare(syscalls.CLONE_NEWNET)
            # The thread ends right after: it never has to go back to the host's namespace.
            syscalls.mount(f"/proc/self/task/{threading.get_native_id()}/ns/net", str(path),
                           None, syscalls.MS_BIND)  # fmt: skip
        except BaseException as error:  # reported to the caller's thread
            errors.append(error)

    thread = threading.Thread(target=pin, name="berth-netns")
    thread.start()
    thread.join()
    if errors:
        with contextlib.suppress(OSError):
            path.unlink()
        raise errors[0]


def remove(path: Path) -> None:
    """Unpin the namespace at ``path`` (if pinned) and remove the file."""
    with contextlib.suppress(FileNotFoundError, OSError):
        syscalls.umount2(str(path), syscalls.MNT_DETACH)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


@contextlib.contextmanager
def entered(path: Path) -> Iterator[None]:
    """Run the body with the calling thread in the namespace at ``path``.

    Netlink sockets opened inside stay bound to that namespace after leaving it.
    """
    own = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY)
    target = os.open(path, os.O_RDONLY)
    try:
        syscalls.setns(target, syscalls.CLONE_NEWNET)
        try:
            yield
        finally:
            syscalls.setns(own, syscalls.CLONE_NEWNET)
    finally:
        os.close(target)
        os.close(own)
