"""The real hand-over, through a real terminal: tmux runs the TUI, the test types."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import BERTH

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


class Tmux:
    """One detached tmux session of fixed size, killed at the end of the test."""

    def __init__(self, command: list[str]) -> None:
        self.name = f"berth-test-{uuid.uuid4().hex[:8]}"
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", self.name, "-x", "120", "-y", "30", *command],
            check=True,
        )

    def screen(self) -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        ).stdout

    def wait_for(self, text: str, seconds: float = 15.0) -> None:
        deadline = time.monotonic() + seconds
        while text not in self.screen():
            assert time.monotonic() < deadline, f"{text!r} never showed:\n{self.screen()}"
            time.sleep(0.1)

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def kill(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def tui(engine) -> Iterator[Tmux]:
    paths = engine.paths
    session = Tmux([BERTH, "--root", str(paths.root), "--runroot", str(paths.runroot), "tui"])
    yield session
    session.kill()


def test_attach_and_exec_hand_the_terminal_over_and_back(engine, berth_ok, tui):
    berth_ok("run", "-d", "-t", "-i", "--name", "shell", "busybox", "sh")
    tui.wait_for("Up ")
    tui.keys("a")
    tui.wait_for("Detach with Ctrl-P Ctrl-Q")
    tui.keys("echo hello-$((20+22))", "Enter")
    tui.wait_for("hello-42")
    tui.keys("C-p", "C-q")
    tui.wait_for("Detached from shell")
    assert "All containers" in tui.screen()
    assert "shell" in berth_ok("ps")  # detached, it runs on
    tui.keys("e")
    tui.wait_for("A shell in shell")
    tui.keys("echo exec-$((6*7))", "Enter")
    tui.wait_for("exec-42")
    tui.keys("exit", "Enter")
    tui.wait_for("Session in shell ended (0)")


def test_the_run_form_starts_an_interactive_container_on_the_terminal(engine, berth_ok, tui):
    tui.wait_for("All containers")
    tui.keys("2")
    tui.wait_for("busybox")
    time.sleep(0.5)  # the row under the cursor is what n runs: let the table take the focus
    tui.keys("n")
    tui.wait_for("Run a container of busybox")
    # One key at a time, as fingers type: in one burst, Textual took the Tabs as text.
    for key in ("tty-run", "Tab", "sh", "Tab", "Tab", "Tab", "Tab", "Tab", "Space", "C-s"):
        tui.keys(key)
        time.sleep(0.2)
    tui.wait_for("Started tty-run. Detach with Ctrl-P Ctrl-Q")
    tui.wait_for("BusyBox v")  # ash's banner, its first output: attached from the start
    tui.keys("echo run-$((40+2))", "Enter")
    tui.wait_for("run-42")
    tui.keys("C-p", "C-q")
    tui.wait_for("Detached from tty-run")
    assert berth_ok("ps", "--format", "{{.Names}} {{.Status}}").startswith("tty-run Up ")
