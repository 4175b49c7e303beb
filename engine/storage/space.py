"""The engine root running out of space, told apart from other I/O errors.

A full root is reported one way wherever it is met (extracting a layer, writing a
commit's tar, a database write): NoSpaceError naming the root.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from engine.errors import NoSpaceError

T = TypeVar("T")

NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_no_space(error: OSError) -> bool:
    return error.errno in NO_SPACE_ERRNOS


def no_space(root: Path) -> NoSpaceError:
    return NoSpaceError(f"no space left on the engine root ({root})")


@contextmanager
def reported_as_no_space(root: Path) -> Iterator[None]:
    """Raise an OSError of a full disk or quota inside as NoSpaceError naming ``root``."""
    try:
        yield
    except OSError as error:
        if is_no_space(error):
            raise no_space(root) from error
        raise


# Room kept back on the root for removals: deleting rows needs room in the database's
# WAL, and a container's own files may be too small to make it.
RESERVE_NAME = "space-reserve"
RESERVE_BYTES = 1 << 20


def keep_reserve(root: Path) -> None:
    """Make the reserve if it is missing and there is room for it (one stat otherwise)."""
    path = root / RESERVE_NAME
    if path.exists():
        return
    partial = path.with_name(f".{RESERVE_NAME}.tmp")
    try:
        with open(partial, "wb") as reserve:
            os.posix_fallocate(reserve.fileno(), 0, RESERVE_BYTES)
        os.replace(partial, path)
    except OSError:  # no room yet: the next command tries again
        partial.unlink(missing_ok=True)


def release_reserve(root: Path) -> bool:
    """Give the reserve back to the file system; whether there was one."""
    try:
        (root / RESERVE_NAME).unlink()
    except FileNotFoundError:
        return False
    return True


def freeing(root: Path, removal: Callable[[], T]) -> T:
    """``removal()``; met by a full root, once more on the reserve (a removal makes room)."""
    try:
        return removal()
    except NoSpaceError:
        if not release_reserve(root):
            raise
        return removal()
