"""The run form: a container of the selected image, its limits read back from the kernel;
a bad value is refused in the form and nothing is left behind."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, DataTable, Input, TabbedContent

from engine.attach.terminal import SessionEnd
from tests.limits.kernel import memory_limit, read
from tests.tui.test_app import SIZE, Recorder, make_app, names, select, settle
from tests.tui.test_handover import FakeTerminal
from tui.app import BerthApp
from tui.screens.run_form import RunForm

MIB = 1024 * 1024


async def open_form(pilot: Pilot, app: BerthApp, **values: str) -> RunForm:
    await settle(pilot)
    await pilot.press("2")
    await settle(pilot)
    select(app, "images", "busybox")
    await pilot.press("n")
    await pilot.pause()
    form = app.screen
    assert isinstance(form, RunForm) and form.image == "busybox:latest"
    for name, value in values.items():
        form.query_one(f"#form-{name}", Input).value = value
    return form


async def submit(pilot: Pilot) -> None:
    await pilot.press("enter")  # in the focused field, as a user would
    await settle(pilot)


async def wait_until(pilot: Pilot, condition, seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await pilot.pause(0.1)


async def test_run_with_cpus_and_memory_sets_the_containers_cgroup(engine):
    recorder = Recorder()
    app = make_app(engine)
    async with app.run_test(size=SIZE, message_hook=recorder) as pilot:
        await open_form(
            pilot, app, name="limited", command="sleep 600", cpus="0.5", memory="64m",
            env='MODE=dev "GREETING=hi there"',
        )  # fmt: skip
        await submit(pilot)
        assert not isinstance(app.screen, RunForm)
        container = await engine.containers.get("limited")
        assert container.state == "running" and container.args == ["sleep", "600"]
        assert container.options.env == ["MODE=dev", "GREETING=hi there"]
        # The kernel's own files: --cpus 0.5 is 50 ms of each 100 ms period.
        assert read(container.id, "cpu/cpu.cfs_quota_us", "cpu.max").split()[0] == "50000"
        assert memory_limit(container.id) == 64 * MIB
        # The containers tab shows it, under the cursor.
        assert app.query_one(TabbedContent).active == "containers-tab"
        table = app.query_one("#containers DataTable", DataTable)
        await wait_until(pilot, lambda: "limited" in names(app))
        assert names(app)[table.cursor_row] == "limited"
        assert any("Started limited" in text for text in recorder.texts("information"))


async def test_a_bad_value_is_refused_in_the_form_and_creates_nothing(engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot, app, name="bad", command="true", memory="12x")
        await submit(pilot)
        assert app.screen is form  # still open, to be corrected
        assert form.error.startswith('invalid argument "12x" for "--memory" flag')
        assert "\n" not in form.error
        # More CPUs than the host has: the engine's check, worded as Docker's.
        form.query_one("#form-memory", Input).value = "64m"
        form.query_one("#form-cpus", Input).value = "100000"
        await submit(pilot)
        assert form.error.startswith("Range of CPUs is from 0.01 to ")
        assert await engine.containers.list(all=True) == []


async def test_a_container_that_fails_to_start_is_removed_again(engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot, app, name="broken", command="/no/such/command")
        await submit(pilot)
        assert app.screen is form and "/no/such/command" in form.error, form.error
        assert await engine.containers.list(all=True) == []


@pytest.mark.skipif(
    shutil.which("nft") is None, reason="publishing ports needs nftables: nft is not installed"
)
async def test_a_port_clash_is_refused_and_leaves_nothing(engine, berth_ok):
    berth_ok("run", "-d", "--name", "holder", "-p", "127.0.0.1:18097:80", "busybox", "sleep", "600")
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(
            pilot, app, name="clash", command="sleep 600", ports="127.0.0.1:18097:80"
        )
        await submit(pilot)
        assert app.screen is form and "18097" in form.error, form.error
        assert [c.name for c in await engine.containers.list(all=True)] == ["holder"]


async def test_interactive_hands_the_terminal_to_the_new_container(engine):
    terminal = FakeTerminal(SessionEnd(exit_code=None, detached=True))
    app = BerthApp(engine, hand_over=terminal)
    app.animation_level = "none"
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot, app, name="shell", command="sh")
        form.query_one("#form-interactive", Checkbox).value = True
        await submit(pilot)
        await wait_until(pilot, lambda: bool(terminal.requests))
        container = await engine.containers.get("shell")
        [request] = terminal.requests
        assert (request.container_id, request.tty, request.command) == (container.id, True, ())
        # The hand-over starts it, attached from its first byte (the fake one doesn't).
        assert request.start and container.options.interactive and container.state == "created"
