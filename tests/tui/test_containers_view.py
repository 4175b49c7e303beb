"""The containers view's own arrangement: filter, sort, marks for bulk actions, and the
CPU, memory and ports columns fed by the engine's stats stream."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from textual.pilot import Pilot
from textual.widgets import DataTable

from engine.api import ContainerStats
from engine.attach.terminal import SessionEnd
from engine.stats.sampler import Reader
from tests.conftest import cgroup_dirs
from tests.tui.test_app import SIZE, make_app, names, rows, screenshot, select, settle
from tests.tui.test_handover import FakeTerminal
from tui.app import BerthApp
from tui.config import TuiConfig
from tui.rows import ContainerRows
from tui.screens.confirm import ConfirmScreen
from tui.screens.logs import LogsScreen
from tui.screens.prompt import PromptScreen

SLEEPER = ("busybox", "sleep", "600")


def column(app: BerthApp, name: str) -> int:
    table = app.query_one("#containers DataTable", DataTable)
    return [str(c.label) for c in table.columns.values()].index(name)


def cell(app: BerthApp, container: str, name: str) -> str:
    return {row[0]: row for row in rows(app, "containers")}[container][column(app, name)]


async def wait_until(pilot: Pilot, condition, seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await pilot.pause(0.1)


async def test_slash_filters_rows_and_escape_clears(engine, berth_ok):
    for name in ("web-1", "web-2", "db"):
        berth_ok("create", "--name", name, "busybox", "true")
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", "w", "e", "b")
        assert sorted(names(app)) == ["web-1", "web-2"]
        await pilot.press("enter")  # kept while the table has the keys again
        await settle(pilot)
        assert sorted(names(app)) == ["web-1", "web-2"]
        assert "filter “web”: 2 shown" in str(app.query_one("#containers .caption").render())
        await pilot.press("escape")
        await settle(pilot)
        assert sorted(names(app)) == ["db", "web-1", "web-2"]


async def test_o_sorts_by_each_column_and_a_header_click_reverses(engine, berth_ok):
    for name in ("bravo", "alpha", "charlie"):
        berth_ok("create", "--name", name, "busybox", "true")
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert names(app) == ["charlie", "alpha", "bravo"]  # newest first, as ps
        await pilot.press("o")  # NAME
        assert names(app) == ["alpha", "bravo", "charlie"]
        await pilot.click("#containers DataTable", offset=(2, 0))  # NAME's header
        await pilot.pause()
        assert names(app) == ["charlie", "bravo", "alpha"]
        await pilot.press("O")  # back to the engine's order
        assert names(app) == ["charlie", "alpha", "bravo"]


async def test_marked_containers_stop_and_remove_together(engine, berth_ok):
    for name in ("one", "two", "three"):
        berth_ok("run", "-d", "--name", name, *SLEEPER)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, "containers", "two")
        await pilot.press("space", "space")  # marks two, then one (the cursor moves on)
        assert "2 marked" in str(app.query_one("#containers .caption").render())
        await pilot.press("x")
        await settle(pilot)
        states = {c.name: c.state for c in await engine.containers.list(all=True)}
        assert states == {"one": "exited", "two": "exited", "three": "running"}
        assert app.query_one("#containers").marked == set()  # a bulk action spends them
        select(app, "containers", "two")
        await pilot.press("space", "space", "d")
        assert isinstance(app.screen, ConfirmScreen)
        question = str(app.screen.query_one("#confirm-question").render())
        assert "Remove 2 containers: two, one" in question
        await pilot.press("y")
        await settle(pilot)
        assert names(app) == ["three"]
        assert [c.name for c in await engine.containers.list(all=True)] == ["three"]


async def test_l_with_marks_opens_their_merged_logs(engine, berth_ok):
    for name in ("left", "right"):
        berth_ok("run", "-d", "--name", name, *SLEEPER)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, "containers", "right")
        await pilot.press("space", "space", "l")
        assert isinstance(app.screen, LogsScreen)
        assert sorted(c.name for c in app.screen.containers) == ["left", "right"]


async def test_cpu_memory_and_ports_columns_are_live(engine, berth_ok):
    # 32 MiB in a tmpfs is charged to the container's memory cgroup and is not file cache.
    berth_ok("run", "-d", "--name", "hog", "--network", "none", "busybox", "sh", "-c",
             "head -c 33554432 /dev/zero > /dev/shm/fill; sleep 600")  # fmt: skip
    berth_ok("run", "-d", "--name", "web", "-p", "127.0.0.1:18089:80", "busybox", "httpd", "-f")
    berth_ok("run", "--name", "migrate", "busybox", "true")
    hog = await engine.containers.get("hog")
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert cell(app, "web", "PORTS") == "127.0.0.1:18089->80/tcp"
        await wait_until(pilot, lambda: cell(app, "hog", "CPU %") != "—")
        assert cell(app, "hog", "CPU %").endswith("%")
        memory = _mebibytes(cell(app, "hog", "MEM"))
        assert memory >= 32
        kernel = _cgroup_memory_mib(hog.id)
        assert abs(memory - kernel) <= 0.05 * kernel + 1
        select(app, "containers", "web")
        await pilot.pause()
        screenshot(app, "containers")


async def test_the_view_lists_nothing_of_its_own_while_the_stats_sampler_does(
    engine, berth_ok, monkeypatch
):
    # One listing per tick, the sampler's, which the view follows: not one for the rows
    # and another for their CPU and memory.
    berth_ok("run", "-d", "--name", "box", *SLEEPER)
    listings, readings = [], []
    real_list, real_read = engine.containers.list, Reader.read

    async def counting_list(*, all: bool = False) -> list:
        listings.append(all)
        return await real_list(all=all)

    def counting_read(self, containers):
        readings.append(len(containers))
        return real_read(self, containers)

    monkeypatch.setattr(engine.containers, "list", counting_list)
    monkeypatch.setattr(Reader, "read", counting_read)
    app = make_app(engine, TuiConfig(refresh=0.1))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(readings) >= 10)
        ticks, listed = len(readings), len(listings)
        assert cell(app, "box", "STATUS").startswith("Up ")
    # The first rows come from the view's own listing, as the tab shows (and the sampler's
    # task may have started one more tick by the time the counts were taken).
    assert listed <= ticks + 2, (listed, ticks)


async def test_a_row_is_made_again_only_when_what_it_shows_changed(engine, berth_ok):
    berth_ok("run", "-d", "--name", "box", *SLEEPER)
    [box] = await engine.containers.list()
    sample = ContainerStats(
        id=box.id, name="box", running=True, cpu_percent=1.0, memory_usage=2**20,
        memory_limit=2**30, memory_percent=0.1, net_rx=0, net_tx=0, block_read=0,
        block_write=0, pids=1, cpu_ns=0,
    )  # fmt: skip
    made = ContainerRows()
    now = time.time()
    [first] = made.rows([box], now, {box.id: sample}, {})
    # Network bytes are not a column: the same row, not even re-formatted.
    [same] = made.rows([box], now, {box.id: replace(sample, net_rx=4096)}, {})
    assert same is first
    [busier] = made.rows([box], now, {box.id: replace(sample, cpu_percent=2.5)}, {})
    assert busier is not first and busier.cells[5] == "2.5%"
    [later] = made.rows([box], now + 7200, {box.id: replace(sample, cpu_percent=2.5)}, {})
    assert later is not busier and str(later.cells[4]) != str(busier.cells[4])


async def test_brackets_in_a_command_are_shown_not_read_as_markup(engine, berth_ok):
    berth_ok("create", "--name", "brackets", "busybox", "echo", "[b]x[/b]")
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.query_one("#containers DataTable", DataTable)
        drawn = table.render_line(1).text  # line 0 is the header
        assert "brackets" in drawn and "echo [b]x[/b]" in drawn, drawn


async def test_capital_e_runs_the_command_the_user_chooses(engine, berth_ok):
    berth_ok("run", "-d", "--name", "box", *SLEEPER)
    terminal = FakeTerminal(SessionEnd(exit_code=0, detached=False))
    app = BerthApp(engine, hand_over=terminal)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("E")
        assert isinstance(app.screen, PromptScreen)
        for key in "ash -l":
            await pilot.press("space" if key == " " else key)
        await pilot.press("enter")
        await settle(pilot)
        [request] = terminal.requests
        assert (request.command, request.tty) == (("ash", "-l"), True)


def _mebibytes(text: str) -> float:
    units = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return float(text.removesuffix(unit)) * units[unit]
    raise AssertionError(f"not a size: {text!r}")


def _cgroup_memory_mib(container_id: str) -> float:
    """Docker's figure from the kernel's files: usage less inactive file cache."""
    for directory in cgroup_dirs(container_id):
        for usage_name, stat_name, inactive in (
            ("memory.current", "memory.stat", "inactive_file"),
            ("memory.usage_in_bytes", "memory.stat", "total_inactive_file"),
        ):
            if (directory / usage_name).exists():
                usage = int((directory / usage_name).read_text())
                stat = dict(
                    line.split() for line in (directory / stat_name).read_text().splitlines()
                )
                return (usage - int(stat.get(inactive, 0))) / 2**20
    raise AssertionError("no memory cgroup found")
