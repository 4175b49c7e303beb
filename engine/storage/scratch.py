"""Scratch space in the engine root's ``tmp/``, and collecting what crashes leave there.

Work that must land on the root's file system in one rename (a layer being extracted)
or leave it in one (a layer being deleted) happens in ``tmp/``. Every entry there is
named after the process that made it, ``<kind>-<pid>-<start time>-<random>``, so a
berth process starting while another extracts can tell the other's work, which it
leaves alone, from what a process that no longer runs left behind, which it removes.
Entries without an owner in their name (an older berth's) go once an hour old.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from engine.process_identity import is_running, start_time

UNOWNED_GRACE_SECONDS = 3600
_OWNED = re.compile(r"[a-z]+-(\d+)-(\d+)-[^-]+")


def new_dir(tmp: Path, kind: str) -> Path:
    """A new, empty directory in ``tmp`` that this process owns for as long as it runs."""
    pid = os.getpid()  # asked each time: a forked child owns what it makes
    return Path(tempfile.mkdtemp(prefix=f"{kind}-{pid}-{start_time(pid)}-", dir=tmp))


def collect(tmp: Path) -> None:
    """Remove the entries of ``tmp`` whose owner no longer runs; one scandir when empty."""
    try:
        with os.scandir(tmp) as scan:
            entries = list(scan)
    except FileNotFoundError:
        return
    alive: dict[tuple[int, int], bool] = {}
    for entry in entries:
        if _abandoned(entry, alive):
            remove(Path(entry.path))


def remove(path: Path) -> None:
    """Delete ``path`` and everything below it; gone already is fine.

    A file system mounted below is detached first: rmtree would descend into it and
    empty it. If one cannot be detached, nothing is deleted.
    """
    if not os.path.lexists(path):  # a staged layer moved in, say: no mounts to look for
        return
    try:
        unmount_below(path)
    except OSError:
        return
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)  # another collector may be at it too
    else:
        path.unlink(missing_ok=True)


def _abandoned(entry: os.DirEntry, alive: dict[tuple[int, int], bool]) -> bool:
    owned = _OWNED.fullmatch(entry.name)
    if owned is None:
        try:
            age = time.time() - entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:
            return False
        return age > UNOWNED_GRACE_SECONDS
    owner = (int(owned[1]), int(owned[2]))
    if owner not in alive:
        alive[owner] = is_running(*owner)
    return not alive[owner]


def unmount_below(path: Path) -> None:
    """Detach every mount at or below ``path``, deepest first."""
    prefix = f"{path}/"
    points = [point for point in mount_points() if point == str(path) or point.startswith(prefix)]
    if not points:
        return
    from engine.linux import syscalls  # ctypes: loaded only in this rare case

    for point in sorted(points, key=len, reverse=True):
        syscalls.umount2(point, syscalls.MNT_DETACH)


def mount_points() -> list[str]:
    """Every mount point of this process's mount namespace."""
    with open("/proc/self/mountinfo", "rb") as mountinfo:
        lines = mountinfo.read().splitlines()
    # Field 5 is the mount point, with space, tab, newline and backslash as octal escapes.
    return [_unescape(line.split(b" ")[4]) for line in lines]


def _unescape(field: bytes) -> str:
    raw = re.sub(rb"\\([0-7]{3})", lambda match: bytes([int(match[1], 8)]), field)
    return os.fsdecode(raw)
