"""Container logs in Docker's json-file format, with size-based rotation.

One JSON object per line: ``log`` (the text, with its newline), ``stream`` (stdout or
stderr) and ``time`` (RFC 3339, UTC, nanoseconds). Lines longer than 16 KiB are split,
as Docker's log copier does, so one runaway line cannot make an entry unbounded.

A log that cannot be written (a full disk, a quota, an I/O error) never stops the
container: as Docker's json-file driver does, the writer drops its output meanwhile and
says so on the monitor's stderr (the container's ``monitor.log``), not in the log. It
tries again at most once a second, and a record it could write only in part is cut
off again, so the file holds whole lines only.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.timestamps import format_ns

MAX_LINE = 16 * 1024
RETRY_SECONDS = 1.0
_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO})


@dataclass
class JsonLogWriter:
    """Appends a container's output to ``path``; ``max_size`` 0 means never rotate.

    ``write`` and ``close`` never raise OSError: output that cannot be written is dropped.
    Creating one raises OSError only for what no free space would cure (a missing
    directory, a permission).
    """

    path: Path
    max_size: int = 0
    max_files: int = 1
    _pending: dict[str, bytearray] = field(default_factory=dict)
    _fd: int | None = None
    _size: int = 0  # where the last whole record ends
    _retry_at: float | None = None  # while dropping: when to try writing again
    _dropping_since: float = 0.0
    _dropped_lines: int = 0
    _dropped_bytes: int = 0

    def __post_init__(self) -> None:
        try:
            self._open()
        except OSError as error:
            if error.errno not in _DISK_ERRNOS:
                raise  # a wrong path or permission: a bug to see, not a disk to wait for
            self._start_dropping(error)

    def write(self, stream: str, data: bytes) -> None:
        """Record output of ``stream``; complete lines are written at once."""
        pending = self._pending.setdefault(stream, bytearray())
        pending += data
        while True:
            end = pending.find(b"\n", 0, MAX_LINE)
            if end < 0 and len(pending) < MAX_LINE:
                return
            cut = end + 1 if end >= 0 else MAX_LINE
            self._emit(stream, bytes(pending[:cut]))
            del pending[:cut]

    def close(self) -> None:
        """Write what is left of unterminated lines, then close the file."""
        for stream, pending in self._pending.items():
            if pending:
                self._emit(stream, bytes(pending))
        self._pending.clear()
        if self._retry_at is not None:
            _say(f"{self.path}: closed while {self._dropped()} could not be written")
        self._close_file()

    def _emit(self, stream: str, line: bytes) -> None:
        if self._retry_at is not None and time.monotonic() < self._retry_at:
            self._drop(line)
            return
        entry = {"log": line.decode(errors="replace"), "stream": stream,
                 "time": format_ns(time.time_ns())}  # fmt: skip
        record = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        try:
            if self._fd is None:
                self._open()
            if self.max_size and self._size + len(record) > self.max_size:
                self._rotate()
            self._append(record)
        except OSError as error:
            self._drop(line)
            self._start_dropping(error)
            return
        if self._retry_at is not None:
            # The line that said dropping began went to the same full disk, likely lost.
            lasted = time.monotonic() - self._dropping_since
            _say(f"{self.path}: writing again after {lasted:.0f} s; {self._dropped()} were dropped")
            self._retry_at, self._dropped_lines, self._dropped_bytes = None, 0, 0

    def _append(self, record: bytes) -> None:
        """Write all of ``record`` or, as far as the file system lets us, none of it."""
        written = 0
        try:
            while written < len(record):  # a full disk takes what fits, then refuses
                written += os.write(self._fd, record[written:])
        except OSError:
            if written:
                self._cut_back()
            raise
        self._size += len(record)

    def _cut_back(self) -> None:
        try:
            os.ftruncate(self._fd, self._size)
        except OSError:
            self._close_file()  # reopening ends the torn record's line

    def _open(self) -> None:
        fd = os.open(self.path, _FLAGS, 0o666)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                # Torn by a crash or a failed cut: the next record starts on a line of its own.
                size += os.write(fd, b"\n")
        except OSError:
            os.close(fd)
            raise
        self._fd, self._size = fd, size

    def _close_file(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _rotate(self) -> None:
        """ctr.log -> ctr.log.1 -> ... ; the oldest beyond max_files is dropped.

        A rotation that fails part way leaves whole files; the next try starts over.
        """
        self._close_file()
        if self.max_files > 1:
            for index in range(self.max_files - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{index}")
                newer = (
                    self.path.with_name(f"{self.path.name}.{index - 1}") if index > 1 else self.path
                )
                if newer.exists():
                    os.replace(newer, older)
        else:
            self.path.unlink(missing_ok=True)
        self._open()

    def _start_dropping(self, error: OSError) -> None:
        if self._retry_at is None:
            self._dropping_since = time.monotonic()
            _say(f"{self.path}: cannot write the log ({error.strerror or error}); "
                 "dropping the container's output until it can")  # fmt: skip
        self._retry_at = time.monotonic() + RETRY_SECONDS

    def _drop(self, line: bytes) -> None:
        self._dropped_lines += 1
        self._dropped_bytes += len(line)

    def _dropped(self) -> str:
        return f"{self._dropped_lines} lines ({self._dropped_bytes} bytes) of output"


def _say(message: str) -> None:
    """One line on the monitor's stderr, which may be on the same full disk."""
    with contextlib.suppress(OSError, ValueError):
        print(f"berth monitor: {message}", file=sys.stderr, flush=True)
