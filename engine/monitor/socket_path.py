"""Unix socket paths that fit: AF_UNIX addresses hold at most 107 bytes.

Engine roots can be deep (tests use temporary directories), so a socket beside its
container's files may have a long path. Through an O_PATH descriptor of its directory,
``/proc/self/fd/N/name`` reaches the same socket with a short address.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

_MAX_ADDRESS = 107


@contextlib.contextmanager
def reachable(path: str) -> Iterator[str]:
    """An address for ``path`` short enough to bind or connect, valid inside the block."""
    if len(os.fsencode(path)) <= _MAX_ADDRESS:
        yield path
        return
    directory = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{directory}/{os.path.basename(path)}"
    finally:
        os.close(directory)
