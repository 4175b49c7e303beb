"""The attach session on a real terminal, shared by the CLI and the TUI.

With a TTY the local terminal goes raw (restored on every way out), the window size
follows SIGWINCH, and detach keys are matched here, on the client side. Without a
TTY stdout and stderr stay apart and signals are passed on (Docker's sig-proxy).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import sys
import termios
import tty as tty_modes
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from engine.attach.client import AttachClient, exit_code_of
from engine.attach.detach_keys import DetachMatcher
from engine.monitor.protocol import Frame

_PROXIED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                    signal.SIGUSR1, signal.SIGUSR2)  # fmt: skip


@dataclass(frozen=True)
class SessionEnd:
    """How an attach session ended: the container's exit code, or a detach."""

    exit_code: int | None
    detached: bool = False


@dataclass(frozen=True)
class SessionOptions:
    tty: bool
    stdin: bool  # forward our stdin
    detach_keys: bytes
    close_stdin_at_eof: bool = False  # run -i: the container's stdin ends with ours
    sig_proxy: bool = True


async def run_session(client: AttachClient, options: SessionOptions) -> SessionEnd:
    """Pump the terminal and the socket until the container exits or the user detaches."""
    loop = asyncio.get_running_loop()
    detached = loop.create_future()
    input_task = None
    with _raw_terminal(options.tty and options.stdin), _window_size(client, options.tty, loop), \
            _signal_proxy(client, loop, options.sig_proxy and not options.tty):  # fmt: skip
        if options.stdin:
            input_task = asyncio.create_task(_forward_input(client, options, detached))
        output_task = asyncio.create_task(_copy_output(client))
        done, _ = await asyncio.wait({output_task, detached}, return_when=asyncio.FIRST_COMPLETED)
        if input_task is not None:
            input_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await input_task
        if detached in done:
            output_task.cancel()
            await client.close()
            return SessionEnd(None, detached=True)
        await client.close()
        return SessionEnd(output_task.result())


async def _copy_output(client: AttachClient) -> int | None:
    code = None
    async for kind, payload in client.frames():
        if kind == Frame.STDOUT:
            os.write(sys.stdout.fileno(), payload)
        elif kind == Frame.STDERR:
            os.write(sys.stderr.fileno(), payload)
        elif kind == Frame.EXIT:
            code = exit_code_of(payload)
    return code


async def _forward_input(
    client: AttachClient, options: SessionOptions, detached: asyncio.Future
) -> None:
    matcher = DetachMatcher(options.detach_keys if options.tty else b"")
    async for data in _stdin_chunks():
        forward, detach = matcher.feed(data)
        if forward:
            await client.send(Frame.STDIN, forward)
        if detach:
            detached.set_result(True)
            return
    if held := matcher.flush():
        await client.send(Frame.STDIN, held)
    if options.close_stdin_at_eof:
        await client.send(Frame.CLOSE_STDIN)


async def _stdin_chunks() -> AsyncIterator[bytes]:
    """Our stdin as it arrives, without blocking the loop; ends at end of input."""
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    def readable() -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        queue.put_nowait(data)
        if not data:
            loop.remove_reader(fd)

    was_blocking = os.get_blocking(fd)
    os.set_blocking(fd, False)
    try:
        loop.add_reader(fd, readable)
    except (PermissionError, ValueError):  # a regular file: epoll refuses it, read directly
        loop.remove_reader(fd)
        os.set_blocking(fd, was_blocking)
        while data := await asyncio.to_thread(os.read, fd, 65536):
            yield data
        return
    try:
        while data := await queue.get():
            yield data
    finally:
        loop.remove_reader(fd)
        os.set_blocking(fd, was_blocking)


@contextlib.contextmanager
def _raw_terminal(enabled: bool) -> Iterator[None]:
    fd = sys.stdin.fileno()
    if not enabled or not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    tty_modes.setraw(fd, termios.TCSANOW)  # keep what was typed ahead
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def terminal_size() -> tuple[int, int] | None:
    """Rows and columns of our terminal, if we have one."""
    for stream in (sys.stdout, sys.stdin, sys.stderr):
        try:
            rows, columns, _, _ = struct.unpack(
                "HHHH", fcntl.ioctl(stream.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
            )
        except OSError:
            continue
        return rows, columns
    return None


@contextlib.contextmanager
def _window_size(
    client: AttachClient, enabled: bool, loop: asyncio.AbstractEventLoop
) -> Iterator[None]:
    if not enabled:
        yield
        return
    tasks: set[asyncio.Task] = set()

    def send_size() -> None:
        if size := terminal_size():
            task = loop.create_task(client.resize(*size))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    send_size()
    loop.add_signal_handler(signal.SIGWINCH, send_size)
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGWINCH)


@contextlib.contextmanager
def _signal_proxy(
    client: AttachClient, loop: asyncio.AbstractEventLoop, enabled: bool
) -> Iterator[None]:
    if not enabled:
        yield
        return
    tasks: set[asyncio.Task] = set()

    def forward(signum: int) -> None:
        task = loop.create_task(client.send(Frame.SIGNAL, str(signum).encode()))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    for signum in _PROXIED_SIGNALS:
        loop.add_signal_handler(signum, forward, signum)
    try:
        yield
    finally:
        for signum in _PROXIED_SIGNALS:
            loop.remove_signal_handler(signum)
