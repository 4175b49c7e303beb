#!/usr/bin/env python3
"""Log flood: does the TUI's logs pane keep up with 1,000, 5,000 and 20,000 lines a second?

For each rate a busybox container writes `seq` batches every 100 ms for --seconds
seconds, and the app, headless (`run_test`) in this process, follows it in a LogsScreen
from its first line. Measured while it floods:

- lines the pane received against the lines in the container's log, once it stopped
  (they must be equal: the pane drops none);
- the app process's CPU use while following (CPU time of every thread / wall time),
  during the first half of the flood, with nobody touching a key;
- the UI's responsiveness during the second half: from the key `t` arriving (timestamps
  on or off, which changes every line shown) to the screen refreshed after handling it,
  again and again;
- how far behind the pane ended: from the last line's timestamp to the pane having
  every line and knowing the container stopped (the engine polls every 0.1 s).

    .venv/bin/python bench/log_flood.py [--rates 1000,5000,20000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from dataclasses import dataclass

from scratch_engine import scratch_engine
from textual import events

from engine.api import Engine
from engine.paths import EnginePaths
from tui.app import BerthApp
from tui.screens.logs import LogsScreen, LogWindow

BATCHES_PER_SECOND = 10
START_DELAY = 2  # seconds the container waits, so that the pane follows from its first line
SIZE = (120, 30)


@dataclass
class Result:
    rate: int  # lines a second asked for
    logged: int  # lines in the container's log
    received: int  # lines the pane received
    written_per_second: float  # what the container achieved
    cpu: float  # CPU seconds per wall second while following
    keys: list[float]  # seconds from a key press to the screen refreshed after it
    behind: float  # seconds from the last line written to the pane having all


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="1000,5000,20000")
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    results = []
    with scratch_engine("berth-flood-") as scratch:
        for rate in (int(rate) for rate in args.rates.split(",")):
            name = f"flood-{rate}"
            scratch.run("run", "-d", "--network", "none", "--name", name, "busybox",
                        "sh", "-c", _flood_script(rate, args.seconds))  # fmt: skip
            try:
                results.append(asyncio.run(_measure(scratch.paths, name, rate, args.seconds)))
            finally:
                scratch.run("rm", "-f", name)
    _print(results)
    return 0 if all(result.received == result.logged for result in results) else 1


def _flood_script(rate: int, seconds: int) -> str:
    batch = rate // BATCHES_PER_SECOND
    return (
        f"sleep {START_DELAY}; i=0; while [ $i -lt {seconds * BATCHES_PER_SECOND} ]; do "
        f"seq $((i*{batch}+1)) $((i*{batch}+{batch})); usleep {1_000_000 // BATCHES_PER_SECOND}; "
        "i=$((i+1)); done"
    )


async def _measure(paths: EnginePaths, name: str, rate: int, seconds: int) -> Result:
    engine = Engine(paths)
    container = await engine.containers.get(name)
    app = BerthApp(engine)
    app.animation_level = "none"
    async with app.run_test(size=SIZE) as pilot:
        screen = LogsScreen(engine, [container], window=LogWindow(tail=None))
        await app.push_screen(screen)
        await _until(lambda: screen.received > 0, START_DELAY + 30)
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds / 2)
        cpu = (time.process_time() - cpu) / (time.perf_counter() - wall)
        keys = []
        while not screen.ended:
            keys.append(await _key_round_trip(app, screen))
            with contextlib.suppress(TimeoutError):  # a pause between presses, or the end
                await _until(lambda: screen.ended, 0.1)
        done = time.time()
        await pilot.pause()
        received = screen.received
    logged = [entry async for entry in engine.containers.logs(name)]
    engine.close()
    span = logged[-1].timestamp - logged[0].timestamp if len(logged) > 1 else 1.0
    behind = done - logged[-1].timestamp
    return Result(rate, len(logged), received, len(logged) / span, cpu, keys, behind)


async def _key_round_trip(app: BerthApp, screen: LogsScreen) -> float:
    """Seconds from posting `t` as the terminal would to the screen refreshed after it.

    Not Pilot.press: it waits for the process to go idle, which a flood never lets it.
    """
    before, refreshed = screen.timestamps, asyncio.Event()
    start = time.perf_counter()
    app.post_message(events.Key("t", "t"))
    while screen.timestamps == before:
        await asyncio.sleep(0.001)
    screen.call_after_refresh(refreshed.set)
    await refreshed.wait()
    return time.perf_counter() - start


async def _until(condition, seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)


def _print(results: list[Result]) -> None:
    titles = ("lines/s asked", "written/s", "in log", "received", "dropped", "CPU %",
              "key ms med", "key ms max", "keys", "behind s")  # fmt: skip
    print("".join(f"{title:>13}" for title in titles))
    for r in results:
        keys = [key * 1e3 for key in r.keys] or [float("nan")]
        cells = (f"{r.rate:,}", f"{r.written_per_second:,.0f}", f"{r.logged:,}",
                 f"{r.received:,}", f"{r.logged - r.received:,}", f"{r.cpu * 100:.0f}",
                 f"{statistics.median(keys):.1f}", f"{max(keys):.1f}", f"{len(r.keys)}",
                 f"{r.behind:.2f}")  # fmt: skip
        print("".join(f"{cell:>13}" for cell in cells))
    # docker and podman have no pane to follow a log in; lazydocker and k9s are not
    # installed here: nothing to set beside these figures as a ratio.
    print("\n(no reference compared: no other log pane runs on this machine)")


if __name__ == "__main__":
    sys.exit(main())
