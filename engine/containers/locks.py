"""One lock per container, held while its run is set up or torn down.

start, rm, and the clean-up after a monitor ends each take it, so two processes never
mount, release or remove the same container at once. It is an flock on
``<runroot>/locks/<id>``: the kernel drops it when its holder dies, so a SIGKILLed
command never leaves a container locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


def lock_dir(runroot: Path) -> Path:
    return runroot / "locks"


def lock_path(runroot: Path, container_id: str) -> Path:
    return lock_dir(runroot) / container_id


@contextlib.contextmanager
def container_lock(runroot: Path, container_id: str) -> Iterator[None]:
    """Hold the container's lock (blocking until it is free)."""
    path = lock_path(runroot, container_id)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        # The holder before us may have removed the container and unlinked the file:
        # a lock on an unlinked file guards nothing, so lock the new one instead.
        if _still_linked(fd, path):
            break
        os.close(fd)
    try:
        yield
    finally:
        os.close(fd)


def forget(runroot: Path, container_id: str) -> None:
    """Unlink the lock of a removed container (call it while holding the lock)."""
    lock_path(runroot, container_id).unlink(missing_ok=True)


def _still_linked(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
