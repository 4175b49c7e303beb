"""``run -it`` and ``attach`` through a real pseudo-terminal, as a person types them."""

from __future__ import annotations

from tests.e2e.berth_cli import Berth
from tests.terminal import Terminal

DETACH = b"\x10\x11"  # Ctrl-P Ctrl-Q, Docker's default detach keys


def _detached(terminal: Terminal) -> int:
    terminal.send(DETACH)
    return terminal.wait(timeout=15)


def test_run_it_then_detach_keeps_it_running(berth: Berth) -> None:
    terminal = Terminal(berth.argv("run", "-it", "--name", "tt", "busybox", "sh"))
    try:
        terminal.expect(r"/ # ")
        terminal.send("echo hi-$((6*7))\r")
        terminal.expect("hi-42")
        assert _detached(terminal) == 0, terminal.output
    finally:
        terminal.close()
    assert berth.state("tt")["Running"], "Ctrl-P Ctrl-Q must leave the container running"


def test_attach_then_detach_keeps_it_running(berth: Berth) -> None:
    berth.ok("run", "-dit", "--name", "ta", "busybox", "sh")
    terminal = Terminal(berth.argv("attach", "ta"))
    try:
        terminal.send("echo again-$((6*7))\r")
        terminal.expect("again-42")
        assert _detached(terminal) == 0, terminal.output
    finally:
        terminal.close()
    assert berth.state("ta")["Running"], "Ctrl-P Ctrl-Q must leave the container running"


def test_exit_in_the_shell_ends_run_it_with_its_code(berth: Berth) -> None:
    terminal = Terminal(berth.argv("run", "-it", "--name", "tx", "busybox", "sh"))
    try:
        terminal.expect(r"/ # ")
        terminal.send("exit 7\r")
        assert terminal.wait(timeout=15) == 7, terminal.output
    finally:
        terminal.close()
    assert berth.state("tx")["ExitCode"] == 7
