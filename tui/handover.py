"""Handing the real terminal to a container session (attach, or exec a shell) and back.

The hand-over is a seam: the app takes any callable of this shape, so headless tests,
where Textual cannot suspend, record the request instead of running it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from textual.app import App

from engine.api import (
    DEFAULT_DETACH_KEYS,
    AttachClient,
    Engine,
    SessionEnd,
    SessionOptions,
    parse_detach_keys,
    run_session,
    terminal_size,
)

DETACH_HINT = "Ctrl-P Ctrl-Q"
# bash where the image has it, else sh: decided inside the container, whose files the TUI
# does not read.
SHELL = ("/bin/sh", "-c", "if [ -x /bin/bash ]; then exec /bin/bash; fi; exec /bin/sh")


@dataclass(frozen=True)
class HandOver:
    """One session to run on the real terminal."""

    container_id: str
    name: str
    tty: bool
    command: tuple[str, ...] = ()  # exec this in the container; empty: attach to its process
    notice: str = ""  # printed on the terminal first: how to come back
    # Start the (created) container with this session attached from its first byte, as
    # `run -it` does: a shell's first prompt is not printed before anyone listens.
    start: bool = False


HandOverFn = Callable[[HandOver], Awaitable[SessionEnd]]


def terminal_hand_over(app: App[object], engine: Engine) -> HandOverFn:
    """The real hand-over: suspend ``app`` and run the session on the process's terminal."""

    async def hand_over(request: HandOver) -> SessionEnd:
        # suspend() is a plain context manager: the session runs on the app's own loop,
        # awaited inside it, while Textual has let go of the terminal.
        with app.suspend():
            print(f"\n{request.notice}\n", flush=True)
            client = await _connect(engine, request)
            options = SessionOptions(
                tty=request.tty, stdin=True, detach_keys=parse_detach_keys(DEFAULT_DETACH_KEYS)
            )
            return await run_session(client, options)

    return hand_over


async def _connect(engine: Engine, request: HandOver) -> AttachClient:
    size = terminal_size() if request.tty else None
    if request.start:  # the terminal is ours here: warn as the CLI's run -it does
        return await engine.containers.start_attached(
            request.container_id, size, warn=lambda text: print(f"WARNING: {text}", flush=True)
        )
    if not request.command:
        return (await engine.containers.attach(request.container_id))[1]
    client = await engine.containers.exec(
        request.container_id, list(request.command), tty=request.tty, terminal_size=size
    )
    assert client is not None  # only a detached exec has none
    return client
