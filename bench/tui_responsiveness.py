#!/usr/bin/env python3
"""The TUI with 50 running containers: its CPU use, and how fast a key press is drawn.

Starts --containers detached `sleep` containers on a scratch engine root (no network:
it does not change what the TUI reads) and runs the app headless (`run_test`) in this
process, so the process's CPU time is everything the TUI costs: the shared stats
sampler's tick (one listing and one reading of every container, which both the rows and
their CPU %/MEM come from) and drawing. Measured, for --seconds each:

- idle: the app open with nothing refreshing (refresh set to an hour in its config),
  the baseline of an open Textual app;
- containers view: refreshing every --refresh seconds (list + stats for every row; the
  containers were just started, so most STATUS cells, "Up 40 seconds", change each second);
- stats dashboard: a card and sparklines per running container, recorded every tick
  and drawn while in view;
- key to redraw: while the containers view refreshes, from a key arriving (as the
  terminal would post it) to the screen refreshed after it: `j`/`k` (cursor) and
  `o` (re-sort every row), again and again.

    .venv/bin/python bench/tui_responsiveness.py [--containers 50] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable

from scratch_engine import scratch_engine
from textual import events

from engine.api import Engine
from engine.paths import EnginePaths
from tui.app import BerthApp
from tui.config import TuiConfig
from tui.screens.stats import StatsScreen
from tui.widgets.containers import ContainersView

SIZE = (120, 40)
KEYS = 40  # key presses timed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--refresh", type=float, default=1.0)
    args = parser.parse_args()
    with scratch_engine("berth-tui-") as scratch:
        scratch.start_sleepers(args.containers)
        rows = asyncio.run(_measure(scratch.paths, args.seconds, args.refresh))
    size = f"{SIZE[0]}x{SIZE[1]}"
    print(f"{args.containers} running containers, refresh every {args.refresh:g} s, {size}")
    print(f"{'':<34}{'CPU %':>8}{'median ms':>11}{'p95 ms':>9}{'max ms':>9}")
    for title, cpu, keys in rows:
        cells = ["", "", ""]
        if keys:
            ordered = sorted(key * 1e3 for key in keys)
            p95 = ordered[int(0.95 * (len(ordered) - 1))]
            cells = [f"{statistics.median(ordered):.1f}", f"{p95:.1f}", f"{ordered[-1]:.1f}"]
        cpu_cell = "" if cpu is None else f"{cpu * 100:.1f}"
        print(f"{title:<34}{cpu_cell:>8}{cells[0]:>11}{cells[1]:>9}{cells[2]:>9}")
    # lazydocker, k9s and ctop are not installed here, and docker/podman have no TUI:
    # nothing to set beside these figures as a ratio.
    print("\n(no reference compared: no other container TUI runs on this machine)")
    return 0


Row = tuple[str, float | None, list[float]]


async def _measure(paths: EnginePaths, seconds: float, refresh: float) -> list[Row]:
    engine = Engine(paths)
    rows: list[Row] = []
    try:
        idle = BerthApp(engine, config=TuiConfig(refresh=3600.0))
        async with idle.run_test(size=SIZE) as pilot:
            await pilot.pause(1.0)  # the first listing, drawn
            rows.append(("idle (nothing refreshing)", await _cpu(seconds), []))
        app = BerthApp(engine, config=TuiConfig(refresh=refresh))
        app.animation_level = "none"
        async with app.run_test(size=SIZE) as pilot:
            view = app.query_one(ContainersView)
            await _until(lambda: view.table.row_count > 0 and _has_stats(view), 30)
            rows.append(("containers view, refreshing", await _cpu(seconds), []))
            rows.append(("key j/k (cursor), refreshing", None, await _cursor_keys(app, view)))
            rows.append(("key o (sort all rows), refreshing", None, await _sort_keys(app, view)))
            await pilot.press("S")
            stats = app.screen
            assert isinstance(stats, StatsScreen)
            await _until(lambda: stats.ticks >= 2, 30)
            rows.append(("stats dashboard, every card", await _cpu(seconds), []))
    finally:
        engine.close()
    return rows


def _has_stats(view: ContainersView) -> bool:
    # The CPU % column reads "—" until the stream's second tick gives a rate.
    return str(view.table.get_row_at(0)[5]) != "—"


async def _cpu(seconds: float) -> float:
    """CPU seconds of this process (every thread) per wall second, over ``seconds``."""
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    return (time.process_time() - cpu) / (time.perf_counter() - wall)


async def _cursor_keys(app: BerthApp, view: ContainersView) -> list[float]:
    times = []
    for index in range(KEYS):
        key = "j" if index % 2 == 0 else "k"
        before = view.table.cursor_row
        times.append(
            await _round_trip(app, key, lambda before=before: view.table.cursor_row != before)
        )
        await asyncio.sleep(0.05)
    return times


async def _sort_keys(app: BerthApp, view: ContainersView) -> list[float]:
    times = []
    for _ in range(KEYS):
        before = view.sort_column
        times.append(await _round_trip(app, "o", lambda before=before: view.sort_column != before))
        await asyncio.sleep(0.05)
    return times


async def _round_trip(app: BerthApp, key: str, handled: Callable[[], bool]) -> float:
    """Seconds from posting ``key`` as the terminal would to the screen refreshed after it.

    Not Pilot.press: it waits for the app to go idle, which a refreshing view may delay.
    """
    refreshed = asyncio.Event()
    start = time.perf_counter()
    app.post_message(events.Key(key, key))
    while not handled():
        await asyncio.sleep(0.001)
    app.screen.call_after_refresh(refreshed.set)
    await refreshed.wait()
    return time.perf_counter() - start


async def _until(condition: Callable[[], bool], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
