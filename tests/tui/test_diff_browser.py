"""D in the containers view: a container's changes to its image's files (berth diff) in
the layer browser's tree, marked A/C/D as Docker marks them, with sizes."""

from __future__ import annotations

import asyncio

from textual.pilot import Pilot
from textual.widgets import Static

from engine.api import Engine
from tests.tui.test_app import SIZE, Recorder, make_app, screenshot, select, settle
from tests.tui.test_image_detail import CHANGE_FILES, shown
from tui.layer_tree import normalized
from tui.screens.files import DIFF_MARKS, DiffBrowser
from tui.screens.layer_browser import FileBrowser, LayerTree


def summary(browser: FileBrowser) -> str:
    return str(browser.query_one("#layers-summary", Static).render())


async def opened(pilot: Pilot) -> FileBrowser:
    """The browser a key just pushed, once it has read its files (or failed to)."""
    async with asyncio.timeout(20):
        while not isinstance(screen := pilot.app.screen, FileBrowser) or (
            summary(screen) == "Reading the files…"
        ):
            await pilot.pause(0.05)
    return screen


async def test_d_shows_what_a_container_added_changed_and_deleted(engine: Engine, berth_ok):
    berth_ok("run", "--name", "box", "--network", "none", "busybox", "sh", "-c", CHANGE_FILES)
    berth_ok("create", "--name", "other", "busybox", "true")
    changes = await engine.files.diff("box")
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, "containers", "box")
        await pilot.press("D")
        browser = await opened(pilot)
        assert isinstance(browser, DiffBrowser)
        # Opened fully, as the command lists it: every change, with Docker's letter.
        files = shown(browser.query_one(LayerTree))
        assert {path: mark for path, (mark, *_) in files.items()} == {
            normalized(change.path): DIFF_MARKS[change.change] for change in changes
        }
        assert files["new.txt"][:3] == ("A", "added", 6)
        assert files["data/f"][:3] == ("A", "added", 6)
        assert files["etc/passwd"][:2] == ("C", "modified")
        assert files["etc"][:2] == ("C", "modified")
        assert files["etc/group"][:2] == ("D", "deleted")
        passwd = next(change for change in changes if change.path == "/etc/passwd")
        assert files["etc/passwd"][2] == passwd.size > 0
        line = summary(browser)
        assert line.startswith("Changes: 3 added (12B) · 2 changed (") and "· 1 deleted" in line
        assert "box" in str(browser.query_one("#layers-title", Static).render())
        await pilot.pause()
        screenshot(app, "diff")
        await pilot.press("slash", *"group")
        assert set(shown(browser.query_one(LayerTree))) == {"etc", "etc/group"}
        await pilot.press("x")  # "groupx": no path left to show, and the screen goes on
        assert shown(browser.query_one(LayerTree)) == {}
        assert summary(browser).endswith("“groupx”: 0 shown (Escape clears) · nothing to show")
        await pilot.press("escape", "escape")
        assert not isinstance(app.screen, DiffBrowser)

        select(app, "containers", "other")  # never started: nothing changed
        await pilot.press("D")
        line = summary(await opened(pilot))
        assert line == "Changes: 0 added (0B) · 0 changed (0B) · 0 deleted · nothing to show"


async def test_a_container_gone_meanwhile_is_one_notification(engine: Engine, berth_ok):
    berth_ok("create", "--name", "short-lived", "busybox", "true")
    recorder = Recorder()
    app = make_app(engine)
    async with app.run_test(size=SIZE, message_hook=recorder) as pilot:
        await settle(pilot)
        berth_ok("rm", "short-lived")  # removed by another process, still listed here
        await pilot.press("D")
        assert summary(await opened(pilot)) == "Could not read the files"
        await settle(pilot)
        [error] = recorder.texts("error")
        assert "no such container" in error
        await pilot.press("escape")
        assert not isinstance(app.screen, DiffBrowser) and app.is_running
