"""Progress of pull, push and load, shown as Docker's client shows it.

On a terminal, a block of one line per layer, each redrawn in place as its status
changes (Docker's jsonmessage display); elsewhere, plain lines, one per change of a
layer's status, so a log holds what happened and not every byte count.
"""

from __future__ import annotations

import os
from typing import TextIO, TypeVar

from engine.api import Operation, Progress, humanize

T = TypeVar("T")

_BAR_WIDTH = 50
_BAR_MIN_COLUMNS = 111  # Docker draws the bar only on terminals wider than 110 columns
_UP, _DOWN, _CLEAR = "\x1b[{}A", "\x1b[{}B", "\x1b[2K"


def progress_text(event: Progress, columns: int) -> str:
    """Docker's JSONProgress: ``[====>    ] 1.2MB/3.4MB``, the bar only where it fits."""
    if event.total <= 0:
        return f"{humanize.size(event.current):>8}" if event.current > 0 else ""
    if event.current > event.total:
        return ""
    filled = min(_BAR_WIDTH, event.current * 100 // event.total // 2)
    bar = f"[{'=' * filled}>{' ' * (_BAR_WIDTH - filled)}] " if columns >= _BAR_MIN_COLUMNS else ""
    return f"{bar}{humanize.size(event.current):>8}/{humanize.size(event.total)}"


class TerminalDisplay:
    """The redrawn block. The cursor rests at the start of the line below the block."""

    def __init__(self, out: TextIO, columns: int) -> None:
        self._out = out
        self._columns = columns
        self._rows: dict[str, int] = {}  # layer id -> its line in the block

    def show(self, event: Progress) -> None:
        if not event.id:
            self._rows.clear()  # as Docker: an operation line ends the block above it
            self._out.write(f"{_CLEAR}\r{event.status}\n")
        elif event.id not in self._rows:
            self._rows[event.id] = len(self._rows)
            self._out.write(f"{_CLEAR}\r{self._line(event)}\n")
        else:
            up = len(self._rows) - self._rows[event.id]
            line = self._line(event)
            self._out.write(f"{_UP.format(up)}{_CLEAR}\r{line}\r{_DOWN.format(up)}")
        self._out.flush()

    def _line(self, event: Progress) -> str:
        progress = progress_text(event, self._columns)
        line = f"{event.id}: {event.status}" + (f" {progress}" if progress else "")
        return line[: self._columns - 1]  # a wrapped line would break the cursor arithmetic


class PlainDisplay:
    """One line per change of a layer's status: "Downloading" once, not every tick."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._statuses: dict[str, str] = {}

    def show(self, event: Progress) -> None:
        if event.id and self._statuses.get(event.id) == event.status:
            return
        if event.id:
            self._statuses[event.id] = event.status
        self._out.write(f"{event.id}: {event.status}\n" if event.id else f"{event.status}\n")
        self._out.flush()


def display_for(out: TextIO) -> TerminalDisplay | PlainDisplay:
    """The terminal block where ``out`` is a terminal, else plain lines."""
    try:
        if out.isatty():
            return TerminalDisplay(out, os.get_terminal_size(out.fileno()).columns)
    except (OSError, ValueError):  # no size to be had: plain lines are always right
        pass
    return PlainDisplay(out)


async def follow(operation: Operation[T], out: TextIO | None) -> T:
    """Run ``operation`` to its end, its progress shown on ``out`` (None: silently)."""
    display = display_for(out) if out is not None else None
    async with operation:  # a display that fails (a closed pipe) stops the work too
        async for event in operation:
            if display is not None:
                display.show(event)
        return await operation.result()
