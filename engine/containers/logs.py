"""Reading container logs (Docker's json-file format), for `berth logs` and the TUI's pane.

Rotated files (ctr.log.N … ctr.log.1) are read oldest first, then ctr.log. Following
survives rotation: the open file is read to its end before the new one is opened.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from engine.errors import InvalidArgumentError
from engine.timestamps import parse
from engine.units import INT64_MAX

_POLL_SECONDS = 0.1
_TAIL = re.compile(r"-?[0-9]+")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_LAST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z
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


def parse_tail(value: str) -> int | None:
    """``--tail`` as Docker takes it: a number of lines from the end, or ``all`` (None).

    A number beyond an int64 means all, as in Docker's daemon, whose parse of it fails.
    """
    if value == "all":
        return None
    if _TAIL.fullmatch(value):  # ASCII digits only: "²" is a digit to str.isdigit
        lines = int(value)
        return lines if lines <= INT64_MAX else None
    raise InvalidArgumentError(f'invalid --tail "{value}": use a number or "all"')


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
    inside = _window(since, until)
    for file in log_files(path):
        with open(file, "rb") as handle:
            kept.extend(filter(inside, _entries(handle)))
    return list(kept)


def _window(since: float | None, until: float | None) -> Callable[[LogEntry], bool]:
    """Whether an entry falls in [since, until).

    Whole logs go through this (a follow starts by reading the file), so an entry is
    judged by its second, as text, and its timestamp is parsed (5 µs) only when that
    second is the bound's own.
    """
    if since is None and until is None:
        return lambda entry: True
    first = _second(since) if since is not None else ""
    last = _second(until) if until is not None else "~"  # "~" sorts after every digit

    def inside(entry: LogEntry) -> bool:
        second = entry.time[:19]
        if not first <= second <= last:
            return False
        if second == first and entry.timestamp < since:
            return False
        return not (second == last and entry.timestamp >= until)

    return inside


def _second(moment: float) -> str:
    # Clamped to the years RFC 3339 writes with 4 digits, where text order is time order.
    second = min(max(math.floor(moment), 0), _LAST_SECOND)
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


async def follow_logs(
    path: Path, is_running: Callable[[], Awaitable[bool]], *,
    since: float | None = None, until: float | None = None, tail: int | None = None,
) -> AsyncIterator[LogEntry]:  # fmt: skip
    """The entries so far, then new ones as they are written, until the container stops."""
    handle, inode = await asyncio.to_thread(_open_current, path)
    after = _window(since, None)
    backlog: deque[LogEntry] = deque(maxlen=tail if tail is not None and tail >= 0 else None)
    for file in log_files(path)[:-1] if handle is not None else log_files(path):
        backlog.extend(await asyncio.to_thread(read_logs, file, since=since, until=until))
    partial = b""
    stopped = False
    while True:
        chunk = await asyncio.to_thread(handle.read) if handle is not None else b""
        if chunk:
            lines = (partial + chunk).split(b"\n")
            partial = lines.pop()
            backlog.extend(await asyncio.to_thread(_parse, lines, after))
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
                backlog.extend(await asyncio.to_thread(_parse, lines, after))
                handle.close()
            handle, inode = await asyncio.to_thread(_open_current, path)
            partial = b""
            continue
        if stopped:
            if handle is not None:
                handle.close()
            return
        # Stopped since the read above came back empty? Its last lines may have been
        # written in between: one more pass reads them before returning.
        stopped = not await is_running()
        if not stopped:
            await asyncio.sleep(_POLL_SECONDS)


def _parse(lines: list[bytes], inside: Callable[[LogEntry], bool]) -> list[LogEntry]:
    # In a thread: a follow starts with the whole file, whose parsing would stall the loop.
    return list(filter(inside, _entries(iter(lines))))


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
