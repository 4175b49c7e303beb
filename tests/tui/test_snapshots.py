"""What the main views look like, compared with stored SVGs at a fixed terminal size.

pytest-textual-snapshot's ``snap_compare`` draws the real app on a real engine and
compares the screen with ``__snapshots__/test_snapshots/<test>.svg``; a changed view
fails here with a side-by-side report (snapshot_report.html) instead of only changing a
README screenshot. After a deliberate change of a view, look at the report, then accept
the new picture with ``pytest tests/tui/test_snapshots.py --snapshot-update``.

What would differ from run to run is kept off the screen, or fixed:
- containers are only created, never run, where the list shows them ("Created", not
  "Up 3 seconds"); their random ids show as ids derived from their fixed names;
- the clock the images view reads is the image's creation plus three days;
- the stats screen draws real cards of a real running container from one sampler,
  with fixed figures (usage depends on the host and the moment);
- the subtitle names a fixed engine root instead of the test's temporary one;
- the help screen names a fixed config file.
The starter image is made from the host's /bin/busybox: its id and size are this host's
(a new busybox package changes them, and the snapshots need updating with it).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import types
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest
from pytest_textual_snapshot import normalize_svg
from textual.pilot import Pilot

from engine.api import Container, Engine, parse_timestamp
from engine.stats import Snapshot
from tests.tui.test_app import make_app, select, settle
from tui.config import TuiConfig
from tui.screens.help import HelpScreen
from tui.screens.image_detail import ImageDetailScreen
from tui.screens.layer_browser import LayerBrowser
from tui.screens.logs import LogsScreen
from tui.screens.stats import StatsScreen
from tui.widgets import images as images_widget

SIZE = (120, 30)
ROOT = "/var/lib/berth"  # the subtitle's engine root, instead of a temporary directory
MIB = 1 << 20

Compare = Callable[..., bool]


@pytest.fixture(autouse=True)
def fixed_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """A container's short id is made of its name: the same in every run."""
    monkeypatch.setattr(
        Container, "short_id", property(lambda c: hashlib.sha256(c.name.encode()).hexdigest()[:12])
    )


@pytest.fixture(autouse=True)
def fixed_config_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_TUI_CONFIG", "/etc/berth/tui.toml")


async def _start(pilot: Pilot) -> None:
    pilot.app.sub_title = ROOT
    await settle(pilot)


async def _until(pilot: Pilot, done: Callable[[], bool]) -> None:
    async with asyncio.timeout(20):
        while not done():
            await pilot.pause(0.05)


async def _steady(pilot: Pilot) -> None:
    """Wait until two screenshots a moment apart agree: every deferred layout (a table's
    column widths, measured when idle) has been drawn."""
    previous = None
    async with asyncio.timeout(20):
        while (shot := normalize_svg(pilot.app.export_screenshot())) != previous:
            previous = shot
            await pilot.pause(0.2)


def test_containers_view(snap_compare: Compare, engine: Engine, berth_ok) -> None:
    berth_ok("create", "--name", "db", "-p", "127.0.0.1:15432:5432", "busybox", "sleep", "1d")
    berth_ok("create", "--name", "worker", "busybox", "sh", "-c", "while true; do sleep 5; done")
    berth_ok("create", "--name", "web", "busybox", "httpd", "-f", "-p", "8080")

    async def ready(pilot: Pilot) -> None:
        await _start(pilot)
        select(pilot.app, "containers", "worker")
        await _steady(pilot)

    assert snap_compare(make_app(engine), terminal_size=SIZE, run_before=ready)


def test_images_view(
    snap_compare: Compare, engine: Engine, berth_ok, monkeypatch: pytest.MonkeyPatch
) -> None:
    berth_ok("tag", "busybox", "tools/busybox:1.0")
    berth_ok("create", "--name", "user", "busybox", "true")  # one image in use
    [image] = asyncio.run(engine.images.list())
    now = parse_timestamp(image.created) + 3 * 24 * 3600
    monkeypatch.setattr(images_widget, "time", types.SimpleNamespace(time=lambda: now))

    async def ready(pilot: Pilot) -> None:
        await _start(pilot)
        await pilot.press("2")
        await settle(pilot)
        await _steady(pilot)

    assert snap_compare(make_app(engine), terminal_size=SIZE, run_before=ready)


def test_image_layers(snap_compare: Compare, engine: Engine) -> None:
    """The starter image's one layer in the layer browser, its top directories open."""

    async def ready(pilot: Pilot) -> None:
        await _start(pilot)
        await pilot.press("2")
        await settle(pilot)
        select(pilot.app, "images", "busybox")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(pilot.app.screen, ImageDetailScreen)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(pilot.app.screen, LayerBrowser)
        await _steady(pilot)

    assert snap_compare(make_app(engine), terminal_size=SIZE, run_before=ready)


def test_logs_view(snap_compare: Compare, engine: Engine, berth_ok) -> None:
    # Running (a stopped container's pane names the time it stopped), its output done.
    # stdout and stderr are two pipes, read in either order: the stderr lines come after
    # a pause, so that they are drawn after the stdout ones in every run.
    script = (
        "for i in $(seq 1 20); do echo line $i; done; sleep 0.5; "
        "for i in 1 2 3; do echo warning $i >&2; done; sleep 600"
    )
    berth_ok("run", "-d", "--name", "talker", "busybox", "sh", "-c", script)

    async def ready(pilot: Pilot) -> None:
        await _start(pilot)
        select(pilot.app, "containers", "talker")
        await pilot.press("l")
        screen = pilot.app.screen
        assert isinstance(screen, LogsScreen)
        await _until(pilot, lambda: len(screen.entries) == 23)
        await pilot.press("slash", *"line 1", "enter")
        await pilot.pause()
        await _steady(pilot)

    assert snap_compare(make_app(engine), terminal_size=SIZE, run_before=ready)


def test_stats_view(
    snap_compare: Compare, engine: Engine, berth_ok, monkeypatch: pytest.MonkeyPatch
) -> None:
    berth_ok("run", "-d", "--name", "cruncher", "-m", "64m", "--cpus", "0.5", "busybox",
             "sleep", "600")  # fmt: skip
    berth_ok("create", "--name", "idle", "busybox", "true")  # not running: no card
    real = engine.stats.watch

    async def fixed(*, interval: float = 1.0) -> AsyncIterator[Snapshot]:
        """The real ticks' containers, each with the same figures every tick."""
        async with contextlib.aclosing(real(interval=interval)) as snapshots:
            async for snapshot in snapshots:
                stats = {
                    key: replace(sample, cpu_percent=12.5, memory_usage=8 * MIB,
                                 memory_limit=64 * MIB, memory_percent=12.5, net_rx=0,
                                 net_tx=0, block_read=0, block_write=0, pids=1)
                    if sample.running else sample
                    for key, sample in snapshot.stats.items()
                }  # fmt: skip
                yield replace(snapshot, stats=stats)

    monkeypatch.setattr(engine.stats, "watch", fixed)
    app = make_app(engine, TuiConfig(refresh=0.2))

    async def ready(pilot: Pilot) -> None:
        await _start(pilot)
        await pilot.press("S")
        screen = pilot.app.screen
        assert isinstance(screen, StatsScreen)
        # From the second tick on, the rates and sparklines look the same every tick.
        await _until(pilot, lambda: screen.ticks >= 3)
        await _steady(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_help_screen(snap_compare: Compare, engine: Engine, berth_ok) -> None:
    berth_ok("create", "--name", "web", "busybox", "true")

    async def ready(pilot: Pilot) -> None:
        await _start(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(pilot.app.screen, HelpScreen)
        await _steady(pilot)

    assert snap_compare(make_app(engine), terminal_size=SIZE, run_before=ready)
