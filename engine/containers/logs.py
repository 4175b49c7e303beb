"""Reading container logs (Docker's json-file format), for `berth logs` and the TUI's pane.

Rotated files (ctr.log.N … ctr.log.1) are read oldest first, then ctr.log. Following
survives rotation: the open file is read to its end before the new one is opened.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine.errors import InvalidArgumentError
from engine.timestamps import parse

_POLL_SECONDS = 0.1
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class LogEntry:
    stream: str  # stdout | stderr
    time: str  # RFC 3339 with nanoseconds
    text: str  # the output, with its newline when it had one

    @property
    def timestamp(self) -> float:
        return parse(self.time)


def parse_time_filter(value: str, now: float | None = None) -> float:
    """``--since``/``--until`` as Docker takes them: RFC 3339, a unix time, or ``10m`` ago."""
    now = time.time() if now is None else now
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    if _DURATION.fullmatch(value) or re.fullmatch(rf"(?:{_DURATION.pattern})+", value):
        return now - sum(float(n) * _UNITS[unit] for n, unit in _DURATION.findall(value))
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgumentError(
            f'invalid time "{value}": use RFC 3339 (2026-11-23T05:30:00Z), '
            "a unix timestamp, or a duration like 10m or 1h30m"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.timestamp()


def log_files(path: Path) -> list[Path]:
    """The log and its rotated predecessors, oldest first."""
    rotated = sorted(
        (p for p in path.parent.glob(path.name + ".*") if p.suffix[1:].isdigit()),
        key=lambda p: int(p.suffix[1:]),
        reverse=True,
    )
    return [*rotated, path] if path.exists() else rotated


def _entries(lines: Iterator[bytes]) -> Iterator[LogEntry]:
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line being written right now; it will be read whole later
        yield LogEntry(record["stream"], record["time"], record["log"])


def read_logs(
    path: Path, *, since: float | None = None, until: float | None = None,
    tail: int | None = None,
) -> list[LogEntry]:  # fmt: skip
    """Every entry in the window, or the last ``tail`` of them."""
    kept: deque[LogEntry] = deque(maxlen=tail if tail is not None and tail >= 0 else None)
    for file in log_files(path):
        with open(file, "rb") as handle:
            for entry in _entries(handle):
                if _in_window(entry, since, until):
                    kept.append(entry)
    return list(kept)


def _in_window(entry: LogEntry, since: float | None, until: float | None) -> bool:
    if since is None and until is None:
        return True
    stamp = entry.timestamp
    return (since is None or stamp >= since) and (until is None or stamp < until)


async def follow_logs(
    path: Path, is_running: Callable[[], Awaitable[bool]], *,
    since: float | None = None, until: float | None = None, tail: int | None = None,
) -> AsyncIterator[LogEntry]:  # fmt: skip
    """The entries so far, then new ones as they are written, until the container stops."""
    handle, inode = await asyncio.to_thread(_open_current, path)
    backlog: deque[LogEntry] = deque(maxlen=tail if tail is not None and tail >= 0 else None)
    for file in log_files(path)[:-1] if handle is not None else log_files(path):
        backlog.extend(await asyncio.to_thread(read_logs, file, since=since, until=until))
    partial = b""
    while True:
        chunk = await asyncio.to_thread(handle.read) if handle is not None else b""
        if chunk:
            lines = (partial + chunk).split(b"\n")
            partial = lines.pop()
            backlog.extend(e for e in _entries(iter(lines)) if _in_window(e, since, None))
            continue
        while backlog:
            entry = backlog.popleft()
            if until is not None and entry.timestamp >= until:
                return
            yield entry
        backlog = deque()  # --tail applies to what was there at the start only
        current = await asyncio.to_thread(_inode, path)
        if current != inode:  # rotated: finish the old file (still open), then the new one
            if handle is not None:
                rest = await asyncio.to_thread(handle.read)
                lines = (partial + rest).split(b"\n")
                backlog.extend(e for e in _entries(iter(lines)) if _in_window(e, since, None))
                handle.close()
            handle, inode = await asyncio.to_thread(_open_current, path)
            partial = b""
            continue
        if not await is_running():
            if handle is not None:
                handle.close()
            return
        await asyncio.sleep(_POLL_SECONDS)


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def _open_current(path: Path):
    try:
        handle = open(path, "rb")  # noqa: SIM115 - kept open while following
    except FileNotFoundError:
        return None, None
    return handle, os.fstat(handle.fileno()).st_ino
