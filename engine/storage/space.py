"""The engine root running out of space, told apart from other I/O errors.

A full root is reported one way wherever it is met (extracting a layer, writing a
commit's tar, a database write): NoSpaceError naming the root.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.errors import NoSpaceError

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
