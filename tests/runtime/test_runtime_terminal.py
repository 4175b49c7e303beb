"""process.terminal: a pty of the container's own devpts, its master sent to a console socket."""

from __future__ import annotations

import fcntl
import os
import struct
import termios
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from engine import runtime
from engine.errors import ContainerStartError

if TYPE_CHECKING:
    from tests.runtime.conftest import Bundle, Console, Containers


def _terminal_bundle(containers: Containers, script: str) -> Bundle:
    bundle = containers.bundle("sh", "-c", script)
    bundle.process["terminal"] = True
    return bundle


def test_the_process_gets_a_terminal(containers: Containers, console: Console) -> None:
    script = """
    tty; stty size; stat -c %t /dev/console
    read line; echo "got $line"; exit 4
    """
    bundle = _terminal_bundle(containers, script)
    # The monitor's order: create inside the listener's block, accept once it returned.
    pid = containers.create(bundle, console_socket=console.path)
    master = console.receive()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 120, 0, 0))
    runtime.start(bundle.container_id, state_root=containers.state_root)
    # 0x88 = 136, the major of the container's /dev/pts slaves.
    assert console.read_until(b"88\r\n").split(b"\r\n")[:3] == [b"/dev/pts/0", b"33 120", b"88"]
    os.write(master, b"hello\n")
    assert console.read_until(b"got hello\r\n").endswith(b"hello\r\ngot hello\r\n")
    assert containers.wait(pid) == 4


def test_the_terminal_belongs_to_the_processs_user(
    containers: Containers, console: Console
) -> None:
    bundle = _terminal_bundle(containers, "id -u; stat -c '%u %g %a' $(tty); echo >$(tty) ok")
    bundle.process["user"] = {"uid": 1000, "gid": 1000}
    pid = containers.create(bundle, console_socket=console.path)
    console.receive()
    runtime.start(bundle.container_id, state_root=containers.state_root)
    assert console.read_until(b"ok\r\n").split(b"\r\n") == [b"1000", b"1000 5 620", b"ok", b""]
    assert containers.wait(pid) == 0


def test_an_unreachable_console_socket_fails_create_cleanly(
    containers: Containers, tmp_path: Path
) -> None:
    bundle = _terminal_bundle(containers, "true")
    with pytest.raises(ContainerStartError, match=r"nobody\.sock: No such file or directory"):
        containers.create(bundle, console_socket=tmp_path / "nobody.sock")
    assert not (containers.state_root / bundle.container_id).exists()
