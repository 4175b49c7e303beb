"""The container's end of the monitor: its PTY master or its stdin/stdout/stderr pipes."""

from __future__ import annotations

import array
import contextlib
import fcntl
import os
import socket
import struct
import termios
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine.monitor.protocol import Frame


@dataclass
class ContainerIO:
    """File descriptors the monitor reads output from and writes input to."""

    outputs: dict[int, Frame] = field(default_factory=dict)  # fd -> STDOUT or STDERR
    stdin: int | None = None
    tty_master: int | None = None
    _child_ends: list[int] = field(default_factory=list)

    @classmethod
    def pipes(cls, open_stdin: bool) -> ContainerIO:
        io = cls()
        for kind in (Frame.STDOUT, Frame.STDERR):
            read_end, write_end = os.pipe2(os.O_CLOEXEC)
            os.set_blocking(read_end, False)
            io.outputs[read_end] = kind
            io._child_ends.append(write_end)
        if open_stdin:
            read_end, write_end = os.pipe2(os.O_CLOEXEC)
            os.set_blocking(write_end, False)
            io.stdin = write_end
            io._child_ends.insert(0, read_end)
        else:
            io._child_ends.insert(0, os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
        return io

    def create_with_pipes(self, create: Callable[[], int]) -> int:
        """Run ``create`` with the pipes' child ends as fds 0, 1 and 2, then restore ours."""
        saved = [os.dup(fd) for fd in (0, 1, 2)]
        try:
            for target, fd in enumerate(self._child_ends):
                os.dup2(fd, target)
            return create()
        finally:
            for target, fd in enumerate(saved):
                os.dup2(fd, target)
                os.close(fd)
            for fd in self._child_ends:
                os.close(fd)
            self._child_ends.clear()

    @classmethod
    def from_console_socket(cls, listener: socket.socket) -> ContainerIO:
        """Receive the PTY master the runtime sent over the console socket."""
        connection, _ = listener.accept()
        with connection:
            fds = array.array("i")
            _, ancillary, _, _ = connection.recvmsg(1024, socket.CMSG_SPACE(fds.itemsize))
            for level, kind, data in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(data[: fds.itemsize])
        if not fds:
            raise OSError("the runtime sent no terminal over the console socket")
        master = fds[0]
        os.set_blocking(master, False)
        return cls(outputs={master: Frame.STDOUT}, stdin=master, tty_master=master)

    def resize(self, rows: int, columns: int) -> None:
        if self.tty_master is not None:
            fcntl.ioctl(
                self.tty_master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0)
            )

    def close_stdin(self) -> None:
        """End of input for a pipe; a terminal stays open (as in Docker)."""
        if self.stdin is not None and self.tty_master is None:
            os.close(self.stdin)
            self.stdin = None

    def close(self) -> None:
        for fd in {*self.outputs, *([self.stdin] if self.stdin is not None else [])}:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.outputs.clear()
        self.stdin = None


def console_listener(path: Path) -> socket.socket:
    """A socket for the runtime to send a new container's PTY master to (OCI console socket)."""
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    return listener
