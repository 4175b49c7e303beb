"""Markers held while a container's interface is made and its lease commits.

An interface is made inside the lease's write transaction, so a process killed
between the two leaves an interface (in a running container's namespace) that no
lease records. The marker, flock-held by the wiring process, names it: one found
unlocked belongs to a process that died, and its interface is deleted unless the
lease committed after all. No netlink here until a dead wiring is found.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from engine.paths import EnginePaths


def _directory(paths: EnginePaths) -> Path:
    return paths.runroot / "wiring"


@contextmanager
def held(paths: EnginePaths, host_ifname: str) -> Iterator[None]:
    """Hold the marker of ``host_ifname`` while it is wired and leased."""
    directory = _directory(paths)
    directory.mkdir(mode=0o700, exist_ok=True)
    marker = directory / host_ifname
    while True:
        with open(marker, "w") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            if not _unlinked(file, marker):
                try:
                    yield
                finally:
                    marker.unlink(missing_ok=True)
                return
            # settle() removed it while we waited: a marker must be on disk to be found


def _unlinked(file: IO[str], marker: Path) -> bool:
    try:
        return os.stat(marker).st_ino != os.fstat(file.fileno()).st_ino
    except FileNotFoundError:
        return True


def settle(paths: EnginePaths, container_id: str, leased: Callable[[str], bool]) -> None:
    """Delete the interfaces of the container's dead wirings that no lease records."""
    directory = _directory(paths)
    if not directory.is_dir():
        return
    for marker in directory.glob(f"vb{container_id[:10]}*"):
        try:
            _settle_one(marker, leased)
        except FileNotFoundError:
            continue  # its wiring just finished


def _settle_one(marker: Path, leased: Callable[[str], bool]) -> None:
    with open(marker) as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # still being wired by a live process
        if not leased(marker.name):
            from engine.network import netlink

            netlink.delete_link(marker.name)
        marker.unlink(missing_ok=True)
