"""The terminal UI, driven headlessly by Pilot against a real engine under a temporary root.

These tests and the other modules here also write the README's screenshots
(screenshots/*.svg, and PNG where rsvg-convert is installed).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot
from textual.widgets import DataTable

from engine.api import Engine
from engine.paths import EnginePaths
from tui.app import BerthApp, run_tui
from tui.config import TuiConfig
from tui.screens.confirm import ConfirmScreen
from tui.screens.inspect import InspectScreen

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
SIZE = (120, 30)


class Recorder:
    """Keeps the notifications the app posts (harlequin's way: assert on messages)."""

    def __init__(self) -> None:
        self.notes: list[Notify] = []

    def __call__(self, message: Message) -> None:
        if isinstance(message, Notify):
            self.notes.append(message)

    def texts(self, severity: str) -> list[str]:
        return [
            note.notification.message
            for note in self.notes
            if note.notification.severity == severity
        ]


def make_app(engine: Engine, config: TuiConfig | None = None) -> BerthApp:
    app = BerthApp(engine, config=config)
    app.animation_level = "none"  # scrolling and tab switches land at once
    return app


async def settle(pilot: Pilot) -> None:
    """Let the workers in flight finish, and what they started in turn, and be drawn.

    A load a newer reload cancelled (a tab switch does) counts as finished; feeds (the
    containers view's stats stream) run until cancelled: not waited for.
    """
    while calls := [
        worker for worker in pilot.app.workers
        if not worker.is_finished and not worker.group.startswith("feed-")
    ]:  # fmt: skip
        await asyncio.gather(*(worker.wait() for worker in calls), return_exceptions=True)
    await pilot.pause()


def rows(app: BerthApp, view: str) -> list[list[str]]:
    table = app.query_one(f"#{view} DataTable", DataTable)
    return [[str(cell) for cell in table.get_row(key)] for key in table.rows]


def names(app: BerthApp) -> list[str]:
    return [row[0] for row in rows(app, "containers")]


def select(app: BerthApp, view: str, first_cell: str) -> None:
    table = app.query_one(f"#{view} DataTable", DataTable)
    table.move_cursor(row=[row[0] for row in rows(app, view)].index(first_cell))


def screenshot(app: BerthApp, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    svg = app.save_screenshot(filename=f"{name}.svg", path=str(SCREENSHOTS))
    converter = shutil.which("rsvg-convert")
    if converter:  # optional: PNG for viewers that don't render SVG
        subprocess.run(
            [converter, "--zoom", "1.5", "-o", str(SCREENSHOTS / f"{name}.png"), svg], check=True
        )


async def test_lists_containers_with_docker_columns(engine, berth, berth_ok):
    berth_ok("create", "--name", "web", "busybox", "true")
    berth_ok("run", "-d", "--name", "cache", "busybox", "sleep", "600")
    berth_ok("run", "--name", "job", "busybox", "true")
    assert berth("run", "--name", "broken", "busybox", "sh", "-c", "exit 3").returncode == 3
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = {row[0]: row for row in rows(app, "containers")}
        assert set(table) == {"web", "cache", "job", "broken"}
        _, short_id, image, command, status, _, _, ports = table["cache"]
        assert len(short_id) == 12 and image == "busybox" and command == "sleep 600"
        assert status.startswith("Up ")
        assert ports == "" and table["web"][5:7] == ["—", "—"]
        assert table["web"][4] == "Created"
        assert table["job"][4].startswith("Exited (0) ")
        assert table["broken"][4].startswith("Exited (3) ")
        assert str(engine.paths.root) in app.sub_title


async def test_capital_a_toggles_between_all_and_running(engine, berth_ok):
    berth_ok("create", "--name", "idle", "busybox", "true")
    berth_ok("run", "-d", "--name", "busy", "busybox", "sleep", "600")
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert sorted(names(app)) == ["busy", "idle"]
        await pilot.press("A")
        await settle(pilot)
        assert names(app) == ["busy"]
        await pilot.press("A")
        await settle(pilot)
        assert sorted(names(app)) == ["busy", "idle"]


async def test_the_list_follows_other_processes_by_polling(engine, berth_ok):
    app = BerthApp(engine, config=TuiConfig(refresh=0.1))  # the refresh the config sets
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert names(app) == []
        berth_ok("run", "-d", "--name", "cache", "busybox", "sleep", "600")
        await pilot.pause(0.3)
        await settle(pilot)
        assert names(app) == ["cache"]
        assert rows(app, "containers")[0][4].startswith("Up ")


async def test_cursor_stays_on_its_container_across_refreshes(engine, berth_ok):
    berth_ok("create", "--name", "first", "busybox", "true")
    berth_ok("create", "--name", "second", "busybox", "true")
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, "containers", "first")
        berth_ok("create", "--name", "newer", "busybox", "true")  # a new row above it
        await pilot.press("ctrl+r")
        await settle(pilot)
        table = app.query_one("#containers DataTable", DataTable)
        assert "newer" in names(app)
        assert names(app)[table.cursor_row] == "first"


async def test_d_removes_only_after_confirming(engine, berth_ok):
    berth_ok("create", "--name", "web", "busybox", "true")
    berth_ok("run", "-d", "--name", "cache", "busybox", "sleep", "600")
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, "containers", "web")
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert sorted(names(app)) == ["cache", "web"]
        await pilot.press("d", "y")
        await settle(pilot)
        assert names(app) == ["cache"]
        # A running one is killed and removed, once the question said so.
        await pilot.press("d")
        assert "running" in str(app.screen.query_one("#confirm-question").render())
        await pilot.press("enter")
        await settle(pilot)
        assert await engine.containers.list(all=True) == []
        assert names(app) == []


async def test_ctrl_k_kills_a_running_container(engine, berth_ok):
    berth_ok("run", "-d", "--name", "cache", "busybox", "sleep", "600")
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+k")
        await settle(pilot)
        [container] = await engine.containers.list(all=True)
        assert (container.state, container.exit_code) == ("exited", 137)
        assert rows(app, "containers")[0][4].startswith("Exited (137) ")


async def test_lifecycle_keys_start_pause_and_stop(engine, berth_ok):
    berth_ok("create", "--name", "later", "busybox", "sh", "-c",
             "trap 'exit 0' TERM; while true; do sleep 0.1; done")  # fmt: skip
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key, state in (("s", "running"), ("p", "paused"), ("p", "running"), ("x", "exited")):
            await pilot.press(key)
            await settle(pilot)
            assert (await engine.containers.get("later")).state == state, key
        assert rows(app, "containers")[0][4].startswith("Exited (0) ")


async def test_i_shows_the_inspect_json_folded_and_searchable(engine, berth_ok):
    container_id = berth_ok("create", "--name", "web", "-e", "COLOUR=teal", "busybox", "true")
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, InspectScreen)
        top = {str(node.data) for node in screen.tree.root.children}
        inspected = await engine.containers.inspect("web")
        assert f'Id: "{container_id}"' in top and 'Name: "/web"' in top
        # one line per top-level key, a folded object showing how many keys it holds
        assert len(top) == len(inspected)
        assert f"Config {{{len(inspected['Config'])}}}" in top
        config = next(n for n in screen.tree.root.children if str(n.data).startswith("Config "))
        assert not config.is_expanded  # folded until asked
        await pilot.press("slash", *"teal", "enter")
        await pilot.pause()
        [match] = screen.matches
        assert str(match.data).endswith(': "COLOUR=teal"')  # after the image's PATH
        assert config.is_expanded and match.parent.is_expanded  # unfolded to the match
        assert screen.tree.cursor_node is match
        await pilot.press("escape")
        assert not isinstance(app.screen, InspectScreen)


async def test_images_view_lists_and_removes_tags(engine, berth_ok):
    berth_ok("tag", "busybox", "tools/busybox:1.0")
    berth_ok("create", "--name", "web", "busybox", "true")
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        table = {(row[0], row[1]): row for row in rows(app, "images")}
        assert set(table) == {("busybox", "latest"), ("tools/busybox", "1.0")}
        _, _, image_id, created, size, containers = table[("busybox", "latest")]
        [summary] = await engine.images.list()
        assert summary.id.startswith(f"sha256:{image_id}")
        assert created.endswith(" ago") and size.endswith("B") and containers == "1"
        screenshot(app, "images")
        select(app, "images", "tools/busybox")
        await pilot.press("d", "y")
        await settle(pilot)
        [summary] = await engine.images.list()
        assert summary.repo_tags == ["busybox:latest"]
        assert [row[0] for row in rows(app, "images")] == ["busybox"]
        await pilot.press("1")
        await settle(pilot)
        assert names(app) == ["web"]


async def test_empty_engine_offers_the_starter_image(engine_paths: EnginePaths):
    engine = Engine(engine_paths)
    recorder = Recorder()
    app = make_app(engine)
    async with app.run_test(size=SIZE, message_hook=recorder) as pilot:
        await pilot.press("2")
        await settle(pilot)
        empty = app.query_one("#images .empty-state")
        assert empty.display and "press b" in str(empty.render())
        await pilot.press("b")
        await settle(pilot)
        assert [row[:2] for row in rows(app, "images")] == [["busybox", "latest"]]
        assert not empty.display
        assert any("busybox:latest" in text for text in recorder.texts("information"))


async def test_an_engine_error_becomes_a_notification(engine, berth_ok):
    berth_ok("create", "--name", "web", "busybox", "true")
    recorder = Recorder()
    app = make_app(engine)
    async with app.run_test(size=SIZE, message_hook=recorder) as pilot:
        await settle(pilot)
        berth_ok("rm", "web")  # another process removes it under the app's nose
        await pilot.press("d", "y")
        await settle(pilot)
        [error] = recorder.texts("error")
        assert "no such container" in error
        assert app.is_running and names(app) == []


def test_run_tui_reports_an_engine_that_cannot_open(monkeypatch, capsys):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert run_tui("/nonexistent/root", "/nonexistent/run") == 1
    assert capsys.readouterr().err.startswith("berth: ")
