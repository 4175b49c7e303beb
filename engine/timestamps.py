"""Timestamps as Docker writes them: RFC 3339, UTC, nanoseconds."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> str:
    """The current time, e.g. ``2026-11-23T05:30:00.123456789Z``."""
    return format_ns(time.time_ns())


def format_ns(epoch_ns: int) -> str:
    seconds, nanos = divmod(epoch_ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def parse(stamp: str) -> float:
    """Seconds since the epoch of an RFC 3339 timestamp (nanoseconds are truncated)."""
    head, _, fraction = stamp.rstrip("Z").partition(".")
    seconds = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    return seconds + float(f"0.{fraction[:6] or 0}")
