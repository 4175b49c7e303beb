"""The logs pane, following a real container that writes to stdout and stderr."""

from __future__ import annotations

import asyncio

from textual.pilot import Pilot
from textual.strip import Strip
from textual.widgets import RichLog

from tests.tui.test_app import SIZE, make_app, screenshot, select, settle
from tui.screens.logs import LogsScreen

TALKER = "for i in $(seq 1 400); do echo line $i; echo err $i >&2; done; sleep 60"


async def wait_for(pilot: Pilot, condition, seconds: float = 10.0) -> None:
    """Pause the app until ``condition()`` holds (the log arrives as the container writes)."""
    async with asyncio.timeout(seconds):
        while not condition():
            await pilot.pause(0.05)


def lines(screen: LogsScreen) -> list[str]:
    return [strip.text for strip in screen.log_widget.lines]


def colour(strip: Strip) -> str:
    style = next(iter(strip)).style
    return style.color.triplet.hex if style and style.color and style.color.triplet else ""


async def open_logs(pilot: Pilot, name: str) -> LogsScreen:
    await settle(pilot)
    select(pilot.app, "containers", name)
    await pilot.press("l")
    screen = pilot.app.screen
    assert isinstance(screen, LogsScreen)
    return screen


async def test_logs_follow_search_filter_and_timestamps(engine, berth_ok):
    berth_ok("run", "-d", "--name", "talker", "busybox", "sh", "-c", TALKER)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_logs(pilot, "talker")
        await wait_for(pilot, lambda: len(screen.entries) == 800)
        await pilot.pause(0.1)
        assert lines(screen)[-1] in ("line 400", "err 400")
        assert "800 lines" in screen.status_text() and "now (following)" in screen.status_text()
        log = screen.query_one(RichLog)
        assert log.scroll_y == log.max_scroll_y > 0  # following the end
        # stderr is kept apart: its lines carry the theme's error colour, stdout's don't.
        error = app.theme_variables["error"].lower()
        styles = {strip.text.strip(): colour(strip) for strip in log.lines}
        streams = {entry.text.strip(): entry.stream for entry in screen.entries}
        assert {"stdout", "stderr"} == set(streams.values())
        for text, stream in streams.items():
            assert (styles[text] == error) == (stream == "stderr"), text

        assert "last 1000 lines" in screen.status_text()  # the window in effect

        await pilot.press("slash", *"line 234", "enter")
        assert "search “line 234”: 1/1" in screen.status_text()
        assert "paused" in screen.status_text()
        assert 0 < log.scroll_y < log.max_scroll_y
        await pilot.press("slash", *"line 12", "enter", "n", "n", "N")
        assert "search “line 12”: 2/11" in screen.status_text()
        await pilot.pause()
        screenshot(app, "logs")

        await pilot.press("f", *"err 19", "enter")
        await pilot.pause()
        shown = lines(screen)
        assert shown[0] == "err 19" and all(line.startswith("err 19") for line in shown)
        assert len(shown) == 11 and "11 match filter" in screen.status_text()

        await pilot.press("t")
        await pilot.pause()
        stamped = lines(screen)[0]
        assert stamped.endswith(" err 19") and stamped[:4].isdigit() and "T" in stamped
        await pilot.press("t")
        await pilot.pause()
        assert lines(screen)[0] == "err 19"
        await pilot.press("escape")
        assert not isinstance(app.screen, LogsScreen)


async def test_new_lines_appear_while_following_and_scroll_pauses(engine, berth_ok):
    berth_ok("run", "-d", "-i", "--name", "ticker", "busybox", "sh", "-c",
             "seq 1 60; while true; do echo tick; sleep 0.05; done")  # fmt: skip
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_logs(pilot, "ticker")
        await wait_for(pilot, lambda: len(screen.entries) > 60)
        log = screen.log_widget
        assert log.scroll_y == log.max_scroll_y
        await pilot.press("home")  # the user scrolls up: new lines must not move the view
        await wait_for(pilot, lambda: log.scroll_y == 0)  # the scroll may be animated
        seen = len(screen.entries)
        await wait_for(pilot, lambda: len(screen.entries) > seen + 5)
        await pilot.pause(0.1)
        assert log.scroll_y == 0 and "paused — End resumes" in screen.status_text()
        await pilot.press("end")
        await wait_for(pilot, lambda: log.scroll_y == log.max_scroll_y)
        seen = len(screen.entries)
        await wait_for(pilot, lambda: len(screen.entries) > seen + 5)
        await pilot.pause(0.1)
        assert log.scroll_y == log.max_scroll_y and "paused" not in screen.status_text()
