"""Engine calls run in workers owned by the app, whose one handler reports their failures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.dom import DOMNode
from textual.worker import Worker

from engine.errors import BerthError


def run_engine_task(
    node: DOMNode,
    work: Awaitable[object] | Callable[[], Awaitable[object]],
    *,
    group: str,
    description: str,
    exclusive: bool = False,
) -> Worker[object]:
    """Run ``work`` in a worker on the app; a failure becomes a notification, never a crash.

    Workers live on the app (not on ``node``) because Worker.StateChanged does not bubble:
    this way BerthApp.on_worker_state_changed sees every engine call. ``exclusive`` cancels
    the group's earlier worker, so group names must be unique across the app; pass such
    work as a coroutine function, which is only called if its worker starts (a coroutine
    object cancelled before it ran is never awaited, and Python warns of it).
    """
    return node.app.run_worker(
        work, group=group, description=description, exclusive=exclusive, exit_on_error=False
    )


def describe_error(error: BaseException | None) -> str:
    """The one line a user sees for a failure: the engine's own message, or the bug named."""
    if isinstance(error, BerthError):
        return str(error)
    return f"{type(error).__name__}: {error}"
