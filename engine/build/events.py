"""What a build reports as it goes, and the handle front ends iterate and cancel.

Events follow BuildKit's progress model: numbered steps ("#5 [2/4] RUN make") that
start, print output, and end as done, cached or failed. The CLI prints them in
BuildKit's plain format; the TUI shows one row per step.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import TypeVar

from engine.images.progress import Handle

T = TypeVar("T")
_DONE = object()

STARTED, OUTPUT, CACHED, DONE, ERROR, WARNING = (
    "started",
    "output",
    "cached",
    "done",
    "error",
    "warning",
)


@dataclass(frozen=True)
class BuildEvent:
    step: int  # the step's number ("#5"), in the order steps start; 0 for the build as a whole
    name: str  # "[2/4] RUN make", "[internal] load build definition from Dockerfile"
    kind: str  # started | output | cached | done | error | warning
    text: str = ""  # output (a line, with its newline), the error, or a note
    elapsed: float = 0.0  # seconds since the step started


Emit = Callable[[BuildEvent], None]


class Running(Handle[T]):
    """``work(emit)``, a coroutine, run as a task; its events are BuildEvents. Leaving the
    iteration early cancels the work and waits until it has unwound: a cancelled build
    leaves nothing behind."""

    async def _events(self) -> AsyncGenerator[BuildEvent, None]:
        queue: asyncio.Queue[object] = asyncio.Queue()

        async def run() -> T:
            try:
                return await self._work(queue.put_nowait)
            finally:
                queue.put_nowait(_DONE)

        task = asyncio.ensure_future(run())
        try:
            while (event := await queue.get()) is not _DONE:
                yield event  # type: ignore[misc]
            self._result = await task
            self._finished = True
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
            if task.done() and not task.cancelled():
                with contextlib.suppress(BaseException):
                    task.exception()  # retrieved; result() above re-raised it if it mattered
