"""Where import and load read from: a path, a binary stream, or "-" for stdin."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from engine.errors import InvalidArgumentError, NotFoundError

Source = str | Path | BinaryIO


def source_name(source: Source, stdin: str = "-") -> str:
    """How messages name ``source``: its path, a stream's file name, else ``stdin``."""
    if source == "-":
        return stdin
    if isinstance(source, (str, Path)):
        return str(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) and not name.startswith("<") else stdin


@contextlib.contextmanager
def opened(source: Source, name: str, kind: str) -> Iterator[BinaryIO]:
    """``source`` as a binary stream (need not seek); ``kind`` ("a tarball") is what a
    directory given instead is not."""
    if source == "-":
        yield sys.stdin.buffer
        return
    if not isinstance(source, (str, Path)):
        yield source
        return
    try:
        stream = open(source, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise NotFoundError(f'no such file: "{name}"') from None
    except IsADirectoryError:
        raise InvalidArgumentError(f'"{name}" is a directory, not {kind}') from None
    except OSError as error:
        raise InvalidArgumentError(f'cannot read "{name}": {error.strerror}') from None
    with stream:
        yield stream
