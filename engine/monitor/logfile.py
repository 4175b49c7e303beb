"""Container logs in Docker's json-file format, with size-based rotation.

One JSON object per line: ``log`` (the text, with its newline), ``stream`` (stdout or
stderr) and ``time`` (RFC 3339, UTC, nanoseconds). Lines longer than 16 KiB are split,
as Docker's log copier does, so one runaway line cannot make an entry unbounded.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.timestamps import format_ns

MAX_LINE = 16 * 1024


@dataclass
class JsonLogWriter:
    """Appends a container's output to ``path``; ``max_size`` 0 means never rotate."""

    path: Path
    max_size: int = 0
    max_files: int = 1
    _pending: dict[str, bytearray] = field(default_factory=dict)
    _file: object = None

    def __post_init__(self) -> None:
        self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115 - lives as long as we do

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
        self._file.close()

    def _emit(self, stream: str, line: bytes) -> None:
        entry = {"log": line.decode(errors="replace"), "stream": stream,
                 "time": format_ns(time.time_ns())}  # fmt: skip
        record = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        if self.max_size and self._file.tell() + len(record) > self.max_size:
            self._rotate()
        self._file.write(record)

    def _rotate(self) -> None:
        """ctr.log -> ctr.log.1 -> ... ; the oldest beyond max_files is dropped."""
        self._file.close()
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
        self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115
