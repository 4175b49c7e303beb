"""Files replaced whole: a reader, or a crash at any instant, sees the old or the new.

The one home of berth's write-to-a-temporary-name-then-rename. It sits in the lowest
layer, importing only the standard library, so the runtime, the monitor and the
services all use the same one.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


def write_atomically(path: Path, data: str | bytes, *, durable: bool = False) -> None:
    """Replace ``path`` with ``data``: readers see the old content or the new, never half.

    The temporary file sits in the same directory (a rename never crosses file
    systems), is named for this process and thread (two writers never share one), and
    is made with the mode a plain ``open`` would give (``0o666`` less the umask), since
    some of these files are read inside containers by other users.

    ``durable``: the data and the rename survive a power cut too (fsync of the file,
    then of its directory). Worth it for state that outlives a reboot; files under the
    run dir (tmpfs) and files that are rewritten from the database need none.
    A directory that vanished meanwhile raises FileNotFoundError and leaves nothing.
    """
    if isinstance(data, str):
        data = data.encode()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_native_id()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if durable:
        sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    """Make the names created, renamed or removed in ``directory`` survive a crash."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
