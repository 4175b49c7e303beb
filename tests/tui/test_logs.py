"""The logs pane, following real containers that write to stdout and stderr."""

from __future__ import annotations

import asyncio

from textual.pilot import Pilot
from textual.strip import Strip

from engine.api import Engine
from tests.tui.test_app import SIZE, Recorder, make_app, screenshot, select, settle
from tui.app import BerthApp
from tui.screens import logs
from tui.screens.logs import LogsScreen, LogWindow

TALKER = "for i in $(seq 1 400); do echo line $i; echo err $i >&2; done; sleep 60"


async def wait_for(pilot: Pilot, condition, seconds: float = 10.0) -> None:
    """Pause the app until ``condition()`` holds (the log arrives as the container writes)."""
    async with asyncio.timeout(seconds):
        while not condition():
            await pilot.pause(0.05)


def strips(screen: LogsScreen) -> list[Strip]:
    """The rows of the log as drawn on the screen."""
    body = screen.body
    return [body.render_line(y) for y in range(body.scrollable_content_region.height)]


def view(screen: LogsScreen) -> list[str]:
    """The text of the rows drawn, without the blank ones below the last line."""
    rows = [strip.text.rstrip() for strip in strips(screen)]
    while rows and not rows[-1]:
        rows.pop()
    return rows


def colour(strip: Strip) -> str:
    style = next(iter(strip)).style
    return style.color.triplet.hex if style and style.color and style.color.triplet else ""


async def open_logs(pilot: Pilot, name: str) -> LogsScreen:
    """Opens the pane the way a user does: the container's row, then `l`."""
    await settle(pilot)
    select(pilot.app, "containers", name)
    await pilot.press("l")
    screen = pilot.app.screen
    assert isinstance(screen, LogsScreen)
    return screen


async def push_logs(
    app: BerthApp, engine: Engine, *names: str, window: LogWindow | None = None
) -> LogsScreen:
    containers = [await engine.containers.get(name) for name in names]
    screen = LogsScreen(engine, containers, window=window)
    await app.push_screen(screen)
    return screen


async def test_logs_follow_search_filter_and_timestamps(engine, berth_ok):
    berth_ok("run", "-d", "--name", "talker", "busybox", "sh", "-c", TALKER)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_logs(pilot, "talker")
        await wait_for(pilot, lambda: len(screen.entries) == 800)
        await pilot.pause(0.1)
        assert view(screen)[-1] in ("line 400", "err 400")
        status = screen.status_text()
        assert status.startswith("talker · last 1,000 lines, then live · 800 lines"), status
        body = screen.body
        assert body.scroll_y == body.max_scroll_y > 0  # following the end
        # stderr is kept apart: its lines carry the theme's error colour, stdout's don't.
        error = app.theme_variables["error"].lower()
        streams = {line.text: line.entry.stream for line in screen.entries}
        assert {"stdout", "stderr"} == set(streams.values())
        for strip in strips(screen):
            text = strip.text.strip()
            assert (colour(strip) == error) == (streams[text] == "stderr"), text

        await pilot.press("slash", *"line 234", "enter")
        assert "search “line 234”: 1/1" in screen.status_text()
        assert "paused" in screen.status_text()
        assert 0 < body.scroll_y < body.max_scroll_y and "line 234" in view(screen)
        await pilot.press("slash", *"line 12", "enter", "n", "n", "N")
        assert "search “line 12”: 2/11" in screen.status_text()
        await pilot.pause()
        screenshot(app, "logs")

        await pilot.press("f", *"err 19", "enter")
        await pilot.pause()
        shown = view(screen)
        assert shown[0] == "err 19" and all(line.startswith("err 19") for line in shown)
        assert len(shown) == 11 and "11 match filter" in screen.status_text()

        await pilot.press("t")
        await pilot.pause()
        stamped = view(screen)[0]
        assert stamped.endswith(" err 19") and stamped[:4].isdigit() and "T" in stamped
        await pilot.press("t")
        await pilot.pause()
        assert view(screen)[0] == "err 19"
        await pilot.press("f", *"no such text", "enter")
        await pilot.pause()
        assert view(screen) == ["No line matches the filter “no such text” — f changes it."]
        await pilot.press("escape")
        assert not isinstance(app.screen, LogsScreen)


async def test_new_lines_appear_while_following_and_scroll_pauses(engine, berth_ok):
    berth_ok("run", "-d", "-i", "--name", "ticker", "busybox", "sh", "-c",
             "seq 1 60; while true; do echo tick; sleep 0.05; done")  # fmt: skip
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await push_logs(app, engine, "ticker")
        await wait_for(pilot, lambda: len(screen.entries) > 60)
        body = screen.body
        assert body.scroll_y == body.max_scroll_y
        await pilot.press("home")  # the user scrolls up: new lines must not move the view
        await wait_for(pilot, lambda: body.scroll_y == 0)  # the scroll may be animated
        seen = len(screen.entries)
        await wait_for(pilot, lambda: len(screen.entries) > seen + 5)
        await pilot.pause(0.1)
        assert body.scroll_y == 0 and "paused — End resumes" in screen.status_text()
        await pilot.press("end")
        await wait_for(pilot, lambda: body.scroll_y == body.max_scroll_y)
        seen = len(screen.entries)
        await wait_for(pilot, lambda: len(screen.entries) > seen + 5)
        await pilot.pause(0.1)
        assert body.scroll_y == body.max_scroll_y and "paused" not in screen.status_text()


async def test_merges_several_containers_by_time_each_named_in_its_colour(engine, berth, berth_ok):
    # Both write at once, 10 lines each, before the pane opens: the history is merged.
    for name in ("alpha", "beta"):
        script = f"for i in $(seq 1 10); do echo {name} $i; sleep 0.2; done"
        keep_running = "; sleep 60" if name == "beta" else ""
        berth_ok("run", "-d", "--name", name, "busybox", "sh", "-c", script + keep_running)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: berth("logs", "beta").stdout.count("\n") == 10)
        screen = await push_logs(app, engine, "alpha", "beta")
        await wait_for(
            pilot, lambda: len(screen.entries) == 20 and "alpha (stopped" in screen.status_text()
        )
        await pilot.pause()
        times = [line.entry.time for line in screen.entries]
        assert times == sorted(times) and len(set(times)) == 20
        rows = view(screen)
        assert sorted(rows) == sorted(
            [f"alpha | alpha {i}" for i in range(1, 11)]
            + [f"beta  | beta {i}" for i in range(1, 11)]
        )  # the names padded to one width, as `docker compose logs` does
        colours = {strip.text[:5]: colour(strip) for strip in strips(screen) if strip.text.strip()}
        assert len(set(colours.values())) == 2 and "" not in colours.values()
        status = screen.status_text()
        assert status.startswith("alpha (stopped ") and ", beta · last 1,000 lines" in status
        assert "then live" in status  # beta is still followed
        screenshot(app, "logs-merged")

        berth_ok("stop", "-t", "1", "beta")
        await wait_for(pilot, lambda: screen.ended)
        await pilot.pause()
        assert "beta (stopped " in screen.status_text()
        assert "not following" in screen.status_text()


async def test_the_time_window_is_set_by_since_until_and_tail(engine, berth_ok):
    recorder = Recorder()
    script = "seq 1 3 | sed 's/^/old /'; sleep 1.5; seq 1 3 | sed 's/^/new /'; sleep 60"
    berth_ok("run", "-d", "--name", "epochs", "busybox", "sh", "-c", script)
    app = make_app(engine)
    async with app.run_test(size=SIZE, message_hook=recorder) as pilot:
        screen = await push_logs(app, engine, "epochs")
        await wait_for(pilot, lambda: len(screen.entries) == 6)
        old, new = screen.entries[2].entry, screen.entries[3].entry
        between = f"{(old.timestamp + new.timestamp) / 2:.6f}"

        async def set_window(flags: str) -> None:
            await pilot.press("s")
            field = screen.query_one("#logs-input")
            assert field.value == screen.window.flags
            field.value = flags
            await pilot.press("enter")
            await wait_for(pilot, lambda: screen._loaded)
            await pilot.pause(0.1)

        assert screen.window.flags == "--tail 1000"
        await set_window(f"--since {between}")
        assert view(screen) == ["new 1", "new 2", "new 3"]
        assert " · all lines since " in screen.status_text()
        assert screen.status_text().endswith(", then live · 3 lines")

        await set_window(f"--until {between} --tail 2")
        assert view(screen) == ["old 2", "old 3"]
        assert "last 2 lines until " in screen.status_text()
        assert "not following" in screen.status_text()

        await set_window("--since 10m -n all")
        assert len(view(screen)) == 6 and "all lines since 10m ago (" in screen.status_text()

        await set_window("--until 1000000000")  # 2001: nothing; the pane says so
        assert view(screen) == ["Nothing was logged in this window. s sets it (--since, --until, "
                                "--tail)."]  # fmt: skip
        await set_window("--since 2099-01-01T00:00:00")  # later: it waits for lines
        assert view(screen)[0].startswith("Nothing logged in this window yet")

        await set_window("--since yesterday")  # refused; the window stays
        assert screen.window.since_text == "2099-01-01T00:00:00"
        assert any("invalid time" in text for text in recorder.texts("error"))


async def test_copy_the_view_the_filtered_lines_and_a_mouse_selection(engine, berth_ok):
    recorder = Recorder()
    berth_ok("run", "-d", "--name", "counter", "busybox", "sh", "-c",
             "seq 1 300 | sed 's/^/count /'; sleep 60")  # fmt: skip
    app = make_app(engine)
    async with app.run_test(size=SIZE, message_hook=recorder) as pilot:
        screen = await push_logs(app, engine, "counter")
        await wait_for(pilot, lambda: len(screen.entries) == 300)
        await pilot.pause()
        await pilot.press("y")  # the lines in view, without styling
        assert app.clipboard.splitlines() == view(screen)
        assert app.clipboard.splitlines()[-1] == "count 300"
        assert recorder.texts("information")[-1] == f"Copied {len(view(screen))} lines in view"

        await pilot.press("f", *"count 1", "enter", "Y")  # every line that passes the filter
        expected = [f"count {i}" for i in range(1, 301) if str(i).startswith("1")]
        assert app.clipboard.splitlines() == expected
        assert recorder.texts("information")[-1] == "Copied 111 lines matching “count 1”"

        await pilot.press("f", "ctrl+u", "enter", "home", "t")
        await pilot.pause()
        # A mouse drag selects text as Textual does: from column 6 of row 1 to row 3.
        await pilot.mouse_down("#logs-body", offset=(6, 1))
        await pilot.hover("#logs-body", offset=(40, 3))
        await pilot.mouse_up("#logs-body", offset=(40, 3))
        await pilot.pause()
        await pilot.press("y")
        first, middle, last = app.clipboard.splitlines()
        stamps = [line.entry.time for line in list(screen.entries)[1:4]]
        assert first == stamps[0][6:] + " count 2"
        assert middle == f"{stamps[1]} count 3" and last == f"{stamps[2]} count 4"[:40]
        assert recorder.texts("information")[-1] == "Copied 3 lines selected"
        app.copy_to_clipboard("")
        await pilot.press("ctrl+c")  # Textual's own copy of the selection works too
        assert app.clipboard.splitlines()[1:] == [middle, last]


async def test_wrapped_lines_take_several_rows_and_copy_whole(engine, berth_ok):
    long = "x" * 250
    berth_ok("run", "-d", "--name", "wide", "busybox", "sh", "-c",
             f"echo {long}; echo short; sleep 60")  # fmt: skip
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await push_logs(app, engine, "wide")
        await wait_for(pilot, lambda: len(screen.entries) == 2)
        await pilot.pause()
        assert view(screen)[0] == long[: screen.body.scrollable_content_region.width]
        await pilot.press("w")
        await pilot.pause()
        width = screen.body.scrollable_content_region.width
        rows = view(screen)
        assert rows[:-1] == [long[i : i + width] for i in range(0, len(long), width)]
        assert rows[-1] == "short"
        await pilot.press("y")
        assert app.clipboard == f"{long}\nshort"


async def test_a_flood_of_20000_lines_arrives_whole(engine, berth_ok):
    berth_ok("run", "-d", "--name", "flood", "busybox", "sh", "-c", "sleep 1; seq 1 20000")
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await push_logs(app, engine, "flood", window=LogWindow(tail=None))
        await wait_for(pilot, lambda: screen.ended, seconds=120)
        await pilot.pause()
        assert screen.received == 20_000
        assert [line.text for line in screen.entries] == [str(i) for i in range(1, 20_001)]
        assert view(screen)[-1] == "20000"
        assert screen.status_text().startswith("flood (stopped ")


async def test_old_lines_are_dropped_while_the_view_stays_put(engine, berth_ok, monkeypatch):
    monkeypatch.setattr(logs, "KEEP", 2000)
    berth_ok("run", "-d", "--name", "steady", "busybox", "sh", "-c",
             "i=1; while true; do seq $i $((i+99)); i=$((i+100)); usleep 100000; done")  # fmt: skip
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await push_logs(app, engine, "steady")
        body = screen.body
        await wait_for(pilot, lambda: screen.received > 1500)
        first = int(body.lines[0].text)  # nothing dropped yet: that takes 2,200 lines
        await pilot.press("pageup")  # paused near the end: about 2 s of lines below the top
        await pilot.pause()
        top = view(screen)[0]
        await wait_for(pilot, lambda: body.dropped >= 300)  # two trims at least
        await pilot.pause()
        assert view(screen)[0] == top and "paused" in screen.status_text()
        assert len(screen.entries) == 2000 and len(body.lines) <= 2200
        assert body.lines[0].text == str(first + body.dropped)  # the oldest went, in order


async def test_colours_are_shown_and_other_escape_sequences_dropped(engine, berth_ok):
    # SGR red, then clear-screen; on stderr a window title (OSC, ended by BEL) and bold.
    script = (r"printf '\033[31mred\033[0m plain \033[2Jx\n';"
              r" printf 'err \033]0;title\007\033[1mbold\033[0m\n' >&2; sleep 60")  # fmt: skip
    berth_ok("run", "-d", "--name", "painter", "busybox", "sh", "-c", script)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await push_logs(app, engine, "painter")
        await wait_for(pilot, lambda: len(screen.entries) == 2)
        await pilot.pause()
        assert sorted(view(screen)) == ["err bold", "red plain x"]
        drawn = {strip.text.rstrip(): strip for strip in strips(screen)}
        segments = [segment for strip in drawn.values() for segment in strip]
        assert not any("\x1b" in text or "�" in text for text, *_ in segments)
        styles = {text: style for text, style, _ in segments}
        assert styles["red"].color.number == 1  # ANSI red
        assert styles[" plain x"].color.number is None  # the theme's foreground
        error = app.theme_variables["error"].lower()
        assert styles["bold"].bold and colour(drawn["err bold"]) == error  # still stderr's
        assert styles["bold"].color.triplet.hex == error

        await pilot.press("slash", *"plain", "enter")
        assert "search “plain”: 1/1" in screen.status_text()
        await pilot.pause()
        row = next(strip for strip in strips(screen) if strip.text.startswith("red"))
        assert "".join(text for text, style, _ in row if style and style.reverse) == "plain"
        assert next(iter(row)).style.color.number == 1  # the colour stays beside it
        await pilot.press("y")
        assert sorted(app.clipboard.splitlines()) == ["err bold", "red plain x"]

        await pilot.press("f", *"31m", "enter")  # filters read the text, not the escapes
        await pilot.pause()
        assert screen.body.lines == []
        await pilot.press("f", "ctrl+u", *"bold", "enter", "Y")
        assert app.clipboard == "err bold"
