"""Attach and exec hand the terminal over through the app's seam, recorded here."""

from __future__ import annotations

from engine.attach.terminal import SessionEnd
from tests.tui.test_app import SIZE, Recorder, select, settle
from tui.app import BerthApp
from tui.handover import SHELL, HandOver


class FakeTerminal:
    """Records what the app asked to run on the terminal, and ends as told."""

    def __init__(self, end: SessionEnd) -> None:
        self.end = end
        self.requests: list[HandOver] = []

    async def __call__(self, request: HandOver) -> SessionEnd:
        self.requests.append(request)
        return self.end


async def test_a_attaches_and_e_execs_a_shell(engine, berth_ok):
    container_id = berth_ok("run", "-d", "-t", "-i", "--name", "shell", "busybox", "sh")
    berth_ok("create", "--name", "idle", "busybox", "true")
    terminal = FakeTerminal(SessionEnd(exit_code=None, detached=True))
    recorder = Recorder()
    app = BerthApp(engine, hand_over=terminal)
    async with app.run_test(size=SIZE, message_hook=recorder) as pilot:
        await settle(pilot)
        select(app, "containers", "shell")
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        attach, shell = terminal.requests
        assert (attach.container_id, attach.tty, attach.command) == (container_id, True, ())
        assert (shell.container_id, shell.tty, shell.command) == (container_id, True, SHELL)
        assert all("Ctrl-P Ctrl-Q" in request.notice for request in terminal.requests)
        assert recorder.texts("information") == ["Detached from shell; it keeps running"] * 2
        # A stopped container has nothing to attach to: the keys do nothing.
        select(app, "containers", "idle")
        await pilot.press("a", "e")
        await settle(pilot)
        assert len(terminal.requests) == 2


async def test_the_shell_is_bash_where_the_image_has_it(engine, berth_ok):
    berth_ok("run", "-d", "--name", "box", "busybox", "sleep", "600")
    # busybox has no bash: the script falls through to its last line (made to say so).
    assert berth_ok("exec", "box", *SHELL[:2], SHELL[2].replace("exec /bin/sh", "echo sh")) == "sh"
    berth_ok("exec", "box", "sh", "-c", "printf '#!/bin/sh\\necho bash\\n' >/bin/bash")
    berth_ok("exec", "box", "chmod", "+x", "/bin/bash")
    assert berth_ok("exec", "box", *SHELL) == "bash"
