"""Drive a command through a real pseudo-terminal, the way a person at a keyboard would."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import termios
import time


class Terminal:
    """A command running on its own PTY; ``expect`` reads until a pattern shows up."""

    def __init__(self, argv: list[str], rows: int = 24, columns: int = 80) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: its stdin/stdout/stderr are the PTY's slave
            os.execv(argv[0], argv)
        termios.tcsetwinsize(self.fd, (rows, columns))
        self.output = b""
        self.status: int | None = None

    def send(self, data: bytes | str) -> None:
        os.write(self.fd, data.encode() if isinstance(data, str) else data)

    def expect(self, pattern: str, timeout: float = 15) -> re.Match[bytes]:
        regex = re.compile(pattern.encode())
        deadline = time.monotonic() + timeout
        while not (match := regex.search(self.output)):
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                raise AssertionError(f"{pattern!r} not seen; the terminal shows: {self.output!r}")
        self.output = self.output[match.end() :]
        return match

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the command has exited and closed the terminal
            return False
        self.output += data
        return bool(data)

    def wait(self, timeout: float = 15) -> int:
        """The command's exit code (draining its output meanwhile)."""
        deadline = time.monotonic() + timeout
        while self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"still running; the terminal shows: {self.output!r}")
            self._read(0.05)
        return self.status

    def close(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
        os.close(self.fd)

    def modes(self) -> list:
        """The terminal's current attributes, to check raw mode was undone."""
        return termios.tcgetattr(self.fd)
