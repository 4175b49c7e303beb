"""Build from the images view: the form, then the build live, against a real engine.

A build's steps show as rows with their final state, the output of the step under the
cursor below them; a failure is the engine's line and tags nothing; Escape cancels and
leaves no container, mount or tag behind.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Checkbox, DataTable, Input, Log

from engine.api import BuildEvent
from tests.tui.test_app import SIZE, make_app, screenshot, settle
from tests.tui.test_tui_pull import selected_tag, tags, wait_until
from tui.screens.build import BuildForm, BuildScreen

COPY_AND_RUN = (
    "FROM busybox\nCOPY greeting.txt /greeting.txt\nRUN echo built && cat /greeting.txt\n"
)


def context(tmp_path: Path, dockerfile: str, name: str = "Dockerfile") -> Path:
    directory = tmp_path / "ctx"
    (directory / name).parent.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(dockerfile)
    (directory / "greeting.txt").write_text("hello from the context\n")
    return directory


async def open_form(pilot: Pilot, **values: str) -> BuildForm:
    """``B`` in the images view, and the form's fields set to ``values``."""
    await settle(pilot)
    await pilot.press("2")
    await settle(pilot)
    await pilot.press("B")
    form = pilot.app.screen
    assert isinstance(form, BuildForm)
    for name, value in values.items():
        form.query_one(f"#form-{name}", Input).value = value
    return form


async def submit(pilot: Pilot, *, button: bool = False) -> BuildScreen:
    """Enter in the form, or a click on its Build button; the build screen it opens."""
    if button:
        await pilot.click(".form-submit")
    else:  # not pilot.press: it waits for the app to idle, which a build is at its end
        pilot.app.post_message(events.Key("enter", "\r"))
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, BuildScreen))
    screen = pilot.app.screen
    assert isinstance(screen, BuildScreen)
    return screen


async def start_build(pilot: Pilot, **values: str) -> BuildScreen:
    await open_form(pilot, **values)
    return await submit(pilot)


async def finish(pilot: Pilot, screen: BuildScreen) -> None:
    await wait_until(pilot, lambda: screen.finished)
    await settle(pilot)


def step_rows(screen: BuildScreen) -> list[list[str]]:
    """[state, step, time] of each row, top down."""
    table = screen.query_one(DataTable)
    return [[str(cell) for cell in table.get_row(key)] for key in table.rows]


def states(screen: BuildScreen) -> dict[str, str]:
    return {step.name: step.state for step in screen.steps.values()}


def output_shown(screen: BuildScreen) -> str:
    return "\n".join(screen.query_one(Log).lines)


async def test_capital_b_builds_live_and_selects_the_new_image(engine, tmp_path, monkeypatch):
    seen: list[BuildEvent] = []
    show = BuildScreen._show

    def recording(self: BuildScreen, event: BuildEvent) -> None:
        seen.append(event)
        show(self, event)

    monkeypatch.setattr(BuildScreen, "_show", recording)
    directory = context(tmp_path, COPY_AND_RUN)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_build(pilot, context=str(directory), tags="demo:1.0, demo")
        await finish(pilot, screen)
        assert screen.message.startswith("Built sha256:"), screen.message
        assert screen.message.endswith("(demo:1.0, demo:latest)")
        run = "[3/3] RUN echo built && cat /greeting.txt"
        assert [(state, name) for state, name, _ in step_rows(screen)] == [
            ("DONE", "[internal] load build definition from Dockerfile"),
            ("DONE", "[1/3] FROM busybox"),
            ("DONE", "[2/3] COPY greeting.txt /greeting.txt"),
            ("DONE", run),
            ("DONE", "exporting to image"),
        ]
        assert all(elapsed.endswith("s") for _, _, elapsed in step_rows(screen))
        # Each step started, printed, then ended, and the steps began in their order.
        started = [event.step for event in seen if event.kind == "started"]
        assert started == sorted(started) == sorted(screen.steps)
        for number in started:
            kinds = [event.kind for event in seen if event.step == number]
            assert kinds[0] == "started" and kinds[-1] == "done"
            assert set(kinds[1:-1]) <= {"output"}
        [run_number] = [number for number, step in screen.steps.items() if step.name == run]
        assert screen.steps[run_number].output == "built\nhello from the context\n"
        # The cursor followed the build to its last step; on the RUN row, its output shows.
        assert "naming to demo:1.0 done" in output_shown(screen)
        table = screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(str(run_number)))
        await pilot.pause()
        assert output_shown(screen) == "built\nhello from the context\n"
        screenshot(app, "build")
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, BuildScreen)
        assert {"demo:1.0", "demo:latest"} <= tags(app)
        assert selected_tag(app) == "demo:1.0"
    image = await engine.images.resolve("demo:1.0")
    assert image.id == screen.image.id


async def test_a_rebuild_shows_cached_steps_and_no_cache_runs_them(engine, tmp_path):
    directory = context(tmp_path, COPY_AND_RUN)
    await engine.build.build(engine.build.definition(str(directory), tags=["demo"])).result()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_build(pilot, context=str(directory), tags="demo")
        await finish(pilot, screen)
        assert states(screen)["[2/3] COPY greeting.txt /greeting.txt"] == "CACHED"
        assert states(screen)["[3/3] RUN echo built && cat /greeting.txt"] == "CACHED"
        assert ["CACHED", "[2/3] COPY greeting.txt /greeting.txt", ""] in step_rows(screen)
        await pilot.press("escape")
        await settle(pilot)
        form = await open_form(pilot, context=str(directory), tags="demo")
        form.query_one("#form-no-cache", Checkbox).value = True
        screen = await submit(pilot, button=True)
        await finish(pilot, screen)
        assert "CACHED" not in states(screen).values()
        assert screen.message.startswith("Built sha256:")


async def test_a_failing_run_shows_error_and_tags_nothing(engine, tmp_path):
    directory = context(tmp_path, "FROM busybox\nRUN echo about to fail && false\n")
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_build(pilot, context=str(directory), tags="broken:1")
        await finish(pilot, screen)
        failure = 'process "/bin/sh -c echo about to fail && false" did not complete successfully'
        assert screen.message == f"failed to solve: {failure}: exit code: 1", screen.message
        assert screen.has_class("-error")
        run = "[2/2] RUN echo about to fail && false"
        assert states(screen)[run] == "ERROR"
        assert "exporting to image" not in states(screen)
        # The cursor is on the failing step: its output, then the error.
        assert output_shown(screen) == f"about to fail\nERROR: {failure}: exit code: 1\n"
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, BuildScreen)
        assert tags(app) == {"busybox:latest"}
    assert [image.repo_tags for image in await engine.images.list()] == [["busybox:latest"]]


async def test_escape_during_a_run_cancels_and_leaves_nothing(engine, tmp_path):
    directory = context(tmp_path, "FROM busybox\nRUN echo sleeping && sleep 30\n")
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_build(pilot, context=str(directory), tags="slow:1")
        run = "[2/2] RUN echo sleeping && sleep 30"
        await wait_until(pilot, lambda: "sleeping" in output_shown(screen))
        assert states(screen)[run] == "running"
        before = step_rows(screen)[-1][2]
        await pilot.pause(0.3)
        assert step_rows(screen)[-1][2] != before  # its time goes on while it runs
        cancelled_at = time.monotonic()
        await pilot.press("escape")
        await finish(pilot, screen)
        assert time.monotonic() - cancelled_at < 10
        assert screen.message == "Build cancelled: nothing was kept"
        assert states(screen)[run] == "CANCELLED" and app.screen is screen
        await pilot.press("escape")  # now it closes
        await settle(pilot)
        assert not isinstance(app.screen, BuildScreen)
        assert tags(app) == {"busybox:latest"}
    assert await engine.containers.list(all=True) == []
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(engine.paths.root) not in mounts
    assert [image.repo_tags for image in await engine.images.list()] == [["busybox:latest"]]


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("context", "{tmp}/nowhere", 'unable to prepare context: path "{tmp}/nowhere" not found'),
        ("dockerfile", "Nofile",
         "failed to read dockerfile: open {tmp}/ctx/Nofile: no such file or directory"),
        ("tags", "app:1, Bad:Tag", 'invalid reference format: "Bad:Tag" (repository names are'),
    ],
)  # fmt: skip
async def test_bad_input_is_the_engines_line_in_the_form(engine, tmp_path, field, value, error):
    directory = context(tmp_path, COPY_AND_RUN)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        values = {"context": str(directory), field: value.format(tmp=tmp_path)}
        form = await open_form(pilot, **values)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is form and form.has_class("-error")
        assert form.error.startswith(error.format(tmp=tmp_path)) and "\n" not in form.error
        assert not any(isinstance(screen, BuildScreen) for screen in app.screen_stack)
    assert [image.repo_tags for image in await engine.images.list()] == [["busybox:latest"]]


async def test_the_dockerfile_is_found_relative_to_the_context(engine, tmp_path):
    dockerfile = "FROM busybox\nRUN echo from elsewhere\n"
    directory = context(tmp_path, dockerfile, "docker/app.Dockerfile")
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        assert form.value("context") == os.getcwd() and form.value("dockerfile") == "Dockerfile"
        form.query_one("#form-context", Input).value = str(directory)
        form.query_one("#form-dockerfile", Input).value = "docker/app.Dockerfile"
        screen = await submit(pilot)
        await finish(pilot, screen)
        assert "[internal] load build definition from app.Dockerfile" in states(screen)
        assert screen.message.endswith("(untagged)") and screen.image is not None
        await pilot.press("escape")
        await settle(pilot)
        table = app.query_one("#images DataTable", DataTable)
        assert table.cursor_row == table.get_row_index(screen.image.id)  # its <none> row
