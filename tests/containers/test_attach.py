"""`-it`, attach and Ctrl-P Ctrl-Q through a real PTY."""

from __future__ import annotations

import time

import pytest

from tests.conftest import BERTH
from tests.terminal import Terminal

CTRL_P, CTRL_Q = b"\x10", b"\x11"
PROMPT = r"/ # "  # busybox sh's, once it is ready to read a line


@pytest.fixture
def terminal(engine):
    opened = []

    def open_terminal(*args: str) -> Terminal:
        root = ["--root", str(engine.paths.root), "--runroot", str(engine.paths.runroot)]
        term = Terminal([BERTH, *root, *args])
        opened.append(term)
        return term

    yield open_terminal
    for term in opened:
        term.close()


def test_interactive_shell_detach_and_reattach(terminal, berth):
    session = terminal("run", "-it", "--name", "shell", "busybox", "sh")
    before = session.modes()
    session.expect(PROMPT)
    session.send("export MARK=kept; echo $((6*7))\r")
    session.expect("42")
    session.send(CTRL_P + CTRL_Q)
    assert session.wait() == 0
    session.expect("detached from shell")
    assert session.modes() == before  # the terminal was restored
    assert "Up " in berth("ps", "--format", "{{.Status}}").stdout

    again = terminal("attach", "shell")
    again.send("\r")
    again.expect(PROMPT)
    again.send("echo mark=$MARK\r")
    again.expect("mark=kept")  # the same shell, its state intact
    again.send("exit 3\r")
    assert again.wait() == 3
    assert "Exited (3)" in berth("ps", "-a", "--format", "{{.Status}}").stdout


def test_ctrl_p_then_another_key_reaches_the_shell(terminal):
    session = terminal("run", "-it", "--rm", "busybox", "sh")
    session.expect(PROMPT)
    session.send("echo start\r")
    session.expect("start")
    # Ctrl-P then "x": no detach; both bytes reach the shell's line editor, where
    # Ctrl-P recalls the previous command and x is appended to it.
    session.send(CTRL_P + b"x\r")
    session.expect("startx")
    session.send("exit\r")
    assert session.wait() == 0


def test_ctrl_p_ctrl_p_ctrl_q_detaches(terminal, berth):
    session = terminal("run", "-it", "--name", "pp", "busybox", "sh")
    session.expect(PROMPT)
    session.send("echo ready\r")
    session.expect("ready")
    session.send(CTRL_P + CTRL_P + CTRL_Q)
    assert session.wait() == 0
    assert berth("ps", "-q").stdout.strip()
    assert berth("rm", "-f", "pp").returncode == 0


def test_custom_detach_keys(terminal, berth):
    session = terminal("run", "-it", "--detach-keys", "ctrl-a,d", "--name", "ck", "busybox", "sh")
    session.expect(PROMPT)
    session.send("echo ready\r")
    session.expect("ready")
    session.send(b"\x01d")
    assert session.wait() == 0
    assert berth("ps", "--format", "{{.Names}}").stdout == "ck\n"


def test_ctrl_c_goes_to_the_container(terminal):
    session = terminal("run", "-it", "--rm", "busybox", "sh")
    session.expect(PROMPT)
    session.send("sleep 30; echo after\r")
    session.expect("echo after")  # echoed: the shell has the line
    time.sleep(0.5)  # and has handed the terminal to sleep
    session.send(b"\x03")  # interrupts sleep inside, not berth
    session.send("echo alive\r")
    session.expect("alive")
    session.send("exit\r")
    assert session.wait() == 0


def test_window_size_reaches_the_container(terminal):
    session = terminal("run", "-it", "--rm", "busybox", "stty", "size")
    session.expect("24 80")
    assert session.wait() == 0
