"""A real, small file system to fill up: a tmpfs mounted for one test."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import require_root


@contextlib.contextmanager
def small_tmpfs(directory: Path, options: str) -> Iterator[Path]:
    """``directory`` with a tmpfs mounted on it with ``options`` ("size=2m,nr_inodes=8")."""
    require_root("a tmpfs mounted for the test")
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory)], check=True)
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def fill(directory: Path, leave: int = 0) -> Path:
    """Fill ``directory``'s file system to the last byte, or to ``leave`` bytes free.

    Returns the ballast file: unlink it to free the space again.
    """
    ballast = directory / f"ballast-{len(list(directory.glob('ballast-*')))}"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        stats = os.statvfs(directory)
        remaining = stats.f_bavail * stats.f_frsize - leave
        for chunk in (1 << 16, 1 << 12, 1):
            while remaining >= chunk:
                try:
                    remaining -= os.write(fd, bytes(chunk))
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return ballast
