"""Progress of long image operations (pull, push, load), and the bridge that runs such
an operation in a worker thread while front ends iterate its progress asynchronously.

The event is Docker's JSON progress message in Python: a line per layer (``id``) that
changes status ("Waiting", "Downloading" with bytes so far and in all, "Pull complete"),
and lines for the whole operation (``id`` empty: "Digest: ...", "Status: ...").
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
_DONE = object()


@dataclass(frozen=True)
class Progress:
    id: str  # 12 hex digits of a layer's digest, or "" for the operation as a whole
    status: str
    current: int = 0  # bytes so far, where status counts bytes
    total: int = 0


class Cancelled(Exception):
    """The consumer stopped the operation; the worker unwinds, leaving nothing behind."""


class Reporter:
    """What an operation's worker thread has: a way to report, and to learn it must stop."""

    def __init__(self, emit: Callable[[Progress], None]) -> None:
        self._emit = emit
        self._stop = threading.Event()

    def __call__(self, event: Progress) -> None:
        self.check()
        self._emit(event)

    def notify(self, event: Progress) -> None:
        """Report without checking for a cancel: for what follows the point of no return
        (a registration committed), which a cancel must not make look undone."""
        self._emit(event)

    def check(self) -> None:
        """Raise Cancelled once the consumer has gone."""
        if self._stop.is_set():
            raise Cancelled

    def cancel(self) -> None:
        self._stop.set()


class Handle(Generic[T]):
    """Long work front ends iterate for its events, then ``await result()``. A cancelled
    task iterating it cancels the work and waits for it to unwind, so nothing is
    half-done after; so does leaving ``async with handle:`` early (a plain ``break``
    only lets the generator be collected later). Subclasses say how the work runs."""

    def __init__(self, work: Callable[..., object]) -> None:
        self._work = work
        self._result: T | None = None
        self._finished = False
        self._events_iterator: AsyncGenerator[object, None] | None = None

    def __aiter__(self) -> AsyncIterator:
        if self._events_iterator is None:
            self._events_iterator = self._events()
        return self._events_iterator

    async def __aenter__(self) -> Handle[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.cancel()

    async def cancel(self) -> None:
        """Stop the work if it still runs, and return once it has unwound."""
        if self._events_iterator is not None:
            await self._events_iterator.aclose()

    async def result(self) -> T:
        """The work's outcome; runs it (ignoring its events) if nobody iterated it."""
        if not self._finished:
            async for _ in self:
                pass
        return self._result  # type: ignore[return-value]

    def _events(self) -> AsyncGenerator[object, None]:
        raise NotImplementedError


class Operation(Handle[T]):
    """``work(reporter)`` run in a thread; its events are Progress."""

    async def _events(self) -> AsyncGenerator[Progress, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        reporter = Reporter(lambda event: loop.call_soon_threadsafe(queue.put_nowait, event))

        def run() -> T:
            try:
                return self._work(reporter)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)

        task = asyncio.ensure_future(asyncio.to_thread(run))
        try:
            while (event := await queue.get()) is not _DONE:
                yield event  # type: ignore[misc]
            self._result = await task
            self._finished = True
        finally:
            if not task.done():
                reporter.cancel()
                # The worker must be gone before the caller goes on: no registration after.
                await asyncio.shield(asyncio.wait({task}))
                if not task.cancelled():
                    task.exception()  # retrieved: Cancelled, or whatever stopped it
