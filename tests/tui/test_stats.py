"""The stats dashboard, on real running containers."""

from __future__ import annotations

import asyncio

from textual.containers import VerticalScroll
from textual.widgets import Sparkline, Static

from tests.tui.test_app import SIZE, screenshot, settle
from tui.app import BerthApp
from tui.config import TuiConfig
from tui.screens.stats import StatsCard, StatsScreen


async def test_stats_shows_every_running_container(engine, berth_ok):
    berth_ok("run", "-d", "--name", "web", "busybox", "sleep", "600")
    berth_ok("run", "-d", "--name", "cruncher", "-m", "64m", "busybox", "sh", "-c",
             "while true; do :; done")  # fmt: skip
    berth_ok("create", "--name", "idle", "busybox", "true")  # not running: not shown
    app = BerthApp(engine, config=TuiConfig(refresh=0.2))  # ticks as the config sets
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("S")
        screen = app.screen
        assert isinstance(screen, StatsScreen)
        async with asyncio.timeout(10):
            while screen.ticks < 4:
                await pilot.pause(0.1)
        cards = {card.figures.split()[0]: card for card in screen.query(StatsCard)}
        assert set(cards) == {"web", "cruncher"}
        cruncher = cards["cruncher"].figures
        assert "/ 64.0MiB" in cruncher or "/ 64MiB" in cruncher, cruncher
        assert max(cards["cruncher"].cpu) > 20  # a busy loop shows
        assert cards["cruncher"].limits.startswith("limits: memory=64MiB")
        assert cards["web"].limits == "limits: none set"
        assert "PIDS 1" in cards["web"].figures and "NET ↓" in cards["web"].figures
        assert len(cards["web"].memory) >= 3  # the history its sparkline draws
        assert cards["web"].query_one(".stats-memory", Sparkline).data
        screenshot(app, "stats")
        # Closed, the screen's stream stops: no sampling while it is not shown.
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, StatsScreen)
        assert not [worker for worker in app.workers if worker.group == "stats"
                    and not worker.is_finished]  # fmt: skip


async def test_a_card_out_of_view_is_drawn_when_scrolled_into_view(engine, berth_ok):
    for name in ("one", "two", "three"):
        berth_ok("run", "-d", "--name", name, "busybox", "sleep", "600")
    app = BerthApp(engine, config=TuiConfig(refresh=0.2))
    async with app.run_test(size=(120, 12)) as pilot:  # room for two cards
        await settle(pilot)
        await pilot.press("S")
        screen = app.screen
        assert isinstance(screen, StatsScreen)
        async with asyncio.timeout(10):
            while screen.ticks < 3:
                await pilot.pause(0.1)
        first, *_, last = screen.query(StatsCard)

        def drawn(card: StatsCard) -> str:
            return str(card.query_one(".stats-figures", Static).content)

        assert drawn(first) == first.figures
        # Recorded every tick, drawn only once in view: Textual would re-arrange every
        # card to find where an unseen one lies.
        assert last.figures and drawn(last) == ""
        screen.query_one("#stats-body", VerticalScroll).scroll_end(animate=False)
        await pilot.pause()
        assert drawn(last) == last.figures
