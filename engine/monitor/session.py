"""One supervised process: its pipes or terminal, the attach socket, its exit status.

The container monitor runs a container's init in one of these (again after each
restart), the exec monitor an exec'd process; both are the process's parent — or, with
a runtime binary that exits once the process runs, its subreaper, which reaps every
orphan that comes its way (``reap_orphans``).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from engine.monitor.attach_server import AttachServer
from engine.monitor.container_io import ContainerIO, console_listener
from engine.monitor.protocol import WINSIZE, Frame, encode_exit
from engine.signals import exit_status

# After the process exits, how long to wait for the rest of its output.
_DRAIN_SECONDS = 2.0
# How often a wait looks whether it should give up (its client died, a stop came).
_ABANDON_POLL = 0.1

#: spawn(console_socket) -> pid: creates the process, a child of ours, with the
#: console socket it must send its terminal to (None without a terminal).
Spawn = Callable[[Path | None], int]


class ProcessSession:
    def __init__(
        self, socket_path: str, on_output: Callable[[str, bytes], None],
        on_exit: Callable[[int], None] = lambda _code: None, reap_orphans: bool = False,
    ) -> None:  # fmt: skip
        """``on_exit(code)`` runs the moment the process is reaped, before its output drains.

        ``reap_orphans``: we are a child subreaper; reap whatever child exits, not only
        the process (no command runs meanwhile: each waits for its own child itself).
        """
        self._reap_orphans = reap_orphans
        self._selector = selectors.DefaultSelector()
        self._server = AttachServer(socket_path, self._selector, self._on_client_frame)
        self._on_output = on_output
        self._on_exit = on_exit
        self._io: ContainerIO | None = None
        self._pid: int | None = None
        self._status: int | None = None
        self._pending_stdin = bytearray()
        self._kill_at: float | None = None  # a stop's deadline, then SIGKILL
        self._watch_children()

    def _watch_children(self) -> None:
        """Turn SIGCHLD into a readable byte, so one select() waits for everything."""
        wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self._selector.register(wake_read, selectors.EVENT_READ, lambda _: self._reap(wake_read))

    def wait_for_client(self, timeout: float, abandoned: Callable[[], bool]) -> bool:
        """Wait for a first client; False after ``timeout`` or once ``abandoned()``."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0 and not abandoned():
            if self._server.wait_for_client(min(left, _ABANDON_POLL)):
                return True
        return False

    # -- a run of the process -----------------------------------------------------

    def spawn(
        self, spawn: Spawn, *, tty: bool, open_stdin: bool, size: tuple[int, int] | None = None
    ) -> int:
        """Create the process with its stdio (or terminal, of ``size``) wired to us; its pid."""
        self._status, self._kill_at = None, None
        if tty:
            # A short private directory: AF_UNIX paths are limited to 107 bytes.
            directory = Path(tempfile.mkdtemp(prefix="berth-console-"))
            try:
                console = directory / "console.sock"
                with console_listener(console) as listener:
                    self._pid = spawn(console)
                    io = ContainerIO.from_console_socket(listener)
                if size:  # before the process runs, so it never sees a 0x0 terminal
                    io.resize(*size)
            finally:
                shutil.rmtree(directory, ignore_errors=True)
        else:
            io = ContainerIO.pipes(open_stdin)
            self._pid = io.create_with_pipes(lambda: spawn(None))
        for fd, kind in io.outputs.items():
            self._selector.register(
                fd, selectors.EVENT_READ, lambda _, fd=fd, k=kind: self._read(fd, k)
            )
        self._io = io
        return self._pid

    def pump(self) -> int:
        """Move bytes until the process has exited and its output is drained; its exit code."""
        exited_at = None
        while self._io.outputs or self._status is None:
            if self._status is not None:
                exited_at = exited_at or time.monotonic()
                if time.monotonic() - exited_at > _DRAIN_SECONDS:
                    break
            self._dispatch(timeout=0.2 if self._status is not None else self._until_kill())
        for fd in list(self._io.outputs):
            self._selector.unregister(fd)
        self._io.close()
        self._io = None
        return exit_status(self._status) if self._status is not None else 255

    def serve_for(self, seconds: float, until: Callable[[], bool]) -> None:
        """Keep serving attach clients for a while (between restarts), or until ``until()``."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0 and not until():
            self._dispatch(min(left, _ABANDON_POLL))

    def stop(self, signum: int, timeout: float) -> None:
        """``signum`` now, SIGKILL if the process still runs ``timeout`` s later (a
        negative ``timeout``: never)."""
        self.signal(signum)
        self._kill_at = time.monotonic() + timeout if timeout >= 0 else None

    def _until_kill(self) -> float | None:
        """Seconds the next wait may last: until a stop's deadline, when there is one."""
        if self._kill_at is None:
            return None
        left = self._kill_at - time.monotonic()
        if left <= 0:
            self.signal(signal.SIGKILL)
            self._kill_at = None
            return None
        return left

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the process, if it still runs."""
        if self._pid is not None and self._status is None:
            os.kill(self._pid, signum)

    def announce_exit(self, code: int) -> None:
        self._server.broadcast(encode_exit(code))

    def close(self) -> None:
        self._server.close()

    # -- I/O ----------------------------------------------------------------------

    def _dispatch(self, timeout: float | None) -> None:
        for key, mask in self._selector.select(timeout):
            key.data(mask)

    def _read(self, fd: int, kind: Frame) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: the terminal's last user is gone
            data = b""
        if not data:
            self._selector.unregister(fd)
            self._io.outputs.pop(fd, None)
            if fd != self._io.stdin:
                os.close(fd)
            return
        self._on_output("stderr" if kind == Frame.STDERR else "stdout", data)
        self._server.send_output(kind, data)

    def _reap(self, wake_fd: int) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(wake_fd, 512)
        if self._reap_orphans:
            self._reap_all()
            return
        if self._pid is None or self._status is not None:
            return
        pid, status = os.waitpid(self._pid, os.WNOHANG)
        if pid:
            self._status = status
            self._on_exit(exit_status(status))

    def _reap_all(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if not pid:
                return
            if pid == self._pid and self._status is None:
                self._status = status
                self._on_exit(exit_status(status))

    def _on_client_frame(self, kind: Frame, payload: bytes) -> None:
        io = self._io
        if io is None:
            return
        if kind == Frame.STDIN and io.stdin is not None:
            self._write_stdin(payload)
        elif kind == Frame.RESIZE:
            io.resize(*WINSIZE.unpack(payload))
        elif kind == Frame.CLOSE_STDIN:
            io.close_stdin()
        elif kind == Frame.SIGNAL:
            self.signal(int(payload))

    def _write_stdin(self, data: bytes) -> None:
        self._pending_stdin += data
        try:
            written = os.write(self._io.stdin, self._pending_stdin)
        except BlockingIOError:
            written = 0
        except OSError:  # the process closed its stdin
            self._pending_stdin.clear()
            return
        del self._pending_stdin[:written]
