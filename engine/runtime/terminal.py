"""The container process's pseudo-terminal, handed over an OCI console socket.

The runtime connects to the caller's console socket before it forks (:func:`connected`),
so that the child can still reach it after pivot_root and no accept is needed first: a
connect to a listening unix socket completes from its backlog, and the one small message
the child sends waits in the socket's buffer until the caller accepts. The child, once
in the container's mount namespace, opens a pty of the container's own devpts
instance, sends the master over the socket (SCM_RIGHTS) and makes the slave its
controlling terminal and stdio (:func:`attach`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import struct
import termios
from collections.abc import Iterator
from pathlib import Path

from engine.errors import ContainerStartError, InvalidArgumentError
from engine.linux import syscalls as sc
from engine.runtime.spec import Process

#: the OCI spec binds the init's terminal over this path
CONSOLE = "/dev/console"
#: the group devpts gives new slaves when mounted with gid=5; left as the mount set it
_KEEP_GROUP = -1


def check(console_socket: Path | None, process: Process) -> None:
    """A terminal needs a console socket, and a console socket a terminal."""
    if process.terminal and console_socket is None:
        raise InvalidArgumentError("process.terminal is true: a console socket is required")
    if console_socket is not None and not process.terminal:
        # The caller would wait forever for a terminal that never comes.
        raise InvalidArgumentError("a console socket needs process.terminal to be true")


@contextlib.contextmanager
def connected(console_socket: Path | None) -> Iterator[socket.socket | None]:
    """The console socket, connected for a child to inherit; None without one."""
    if console_socket is None:
        yield None
        return
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    with connection:
        try:
            connection.connect(str(console_socket))
        except OSError as error:
            raise ContainerStartError(
                f"console socket {console_socket}: {os.strerror(error.errno or 0)}"
            ) from None
        yield connection


def attach(console: socket.socket, process: Process, *, bind_console: bool) -> None:
    """In the child: a new pty as controlling terminal and stdio; its master to the socket.

    Call it as root in the container's mount namespace with /dev/ptmx its own; with
    ``bind_console`` (the init) the slave is also bind-mounted over /dev/console, which
    must exist (rootfs.prepare makes it where the container owns /dev).
    The pty has process.consoleSize before anything can read it.
    """
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(master, sc.TIOCSPTLCK, struct.pack("i", 0))
        if process.console_size:
            fcntl.ioctl(
                master, termios.TIOCSWINSZ, struct.pack("HHHH", *process.console_size, 0, 0)
            )
        # TIOCGPTPEER opens the master's own slave, whatever /dev/pts holds by name.
        slave = fcntl.ioctl(master, sc.TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
        name = f"/dev/pts/{struct.unpack('I', fcntl.ioctl(master, sc.TIOCGPTN, bytes(4)))[0]}"
        socket.send_fds(console, [name.encode()], [master])
    finally:
        os.close(master)
        console.close()
    # The process's user reads and writes it, even after dropping root.
    os.fchown(slave, process.user.uid, _KEEP_GROUP)
    if bind_console:
        # Not created here, where /dev may be the host's: rootfs.prepare made it.
        sc.mount(name, CONSOLE, None, sc.MS_BIND)
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)
