"""The volumes view (4) on a real engine: volumes with their size and users, inspect,
remove (confirmed, refused while in use), prune, and Enter on a volume's files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from textual.pilot import Pilot

from engine.api import Engine, Volume, VolumeUsage, humanize
from engine.errors import ConflictError
from tests.tui.test_app import SIZE, Recorder, make_app, rows, screenshot, select, settle
from tests.tui.test_diff_browser import opened, summary
from tests.tui.test_image_detail import shown
from tui.app import BerthApp
from tui.rows import volume_row
from tui.screens.confirm import ConfirmScreen
from tui.screens.files import VolumeBrowser
from tui.screens.inspect import InspectScreen
from tui.screens.layer_browser import LayerTree

KIB = 1024
# 64 KiB of data and a subdirectory, as a database would leave them.
WRITE = (
    "dd if=/dev/zero of=/data/table bs=1024 count=64 2>/dev/null"
    " && mkdir /data/logs && echo started > /data/logs/today"
)


@pytest.fixture
def volumes(berth_ok) -> dict[str, str]:
    """data (written by one container, mounted by two), spare (unused), and an anonymous
    volume whose container is gone; name -> what it is."""
    berth_ok("volume", "create", "data")
    berth_ok("volume", "create", "spare")
    berth_ok("run", "--name", "writer", "-v", "data:/data", "busybox", "sh", "-c", WRITE)
    berth_ok("create", "--name", "reader", "-v", "data:/data:ro", "busybox", "true")
    berth_ok("create", "--name", "scratch", "-v", "/scratch", "busybox", "true")
    [anonymous] = set(berth_ok("volume", "ls", "-q").split()) - {"data", "spare"}
    berth_ok("rm", "scratch")  # without -v: its anonymous volume stays, unused
    return {"data": "data", "spare": "spare", "anonymous": anonymous}


async def open_view(pilot: Pilot) -> None:
    await settle(pilot)
    await pilot.press("4")
    await settle(pilot)


def volume_rows(app: BerthApp) -> dict[str, list[str]]:
    return {row[0]: row for row in rows(app, "volumes")}


async def test_volumes_are_listed_with_their_size_users_and_age(engine: Engine, volumes):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await open_view(pilot)
        table = volume_rows(app)
        short = volumes["anonymous"][:12] + "…"
        assert set(table) == {"data", "spare", short}
        _, driver, mountpoint, size, users, created = table["data"]
        data = await engine.volumes.get("data")
        usage = (await engine.volumes.usage())["data"]
        assert driver == "local" and len(mountpoint) <= 36
        assert str(data.mountpoint).endswith(mountpoint.removeprefix("…"))
        assert usage.size >= 64 * KIB and size == humanize.size(usage.size)
        assert users == "reader, writer" or users == "writer, reader"
        assert created.endswith(" ago")
        assert table["spare"][4] == "" and table[short][4] == ""
        assert table[short][2].endswith(f"/volumes/{short}/_data")
        assert "Volumes · 3" in str(app.query_one("#volumes .caption").render())
        select(app, "volumes", "data")
        await pilot.pause()
        screenshot(app, "volumes")


def test_the_users_column_names_what_fits_and_counts_the_rest():
    volume = Volume("v", "local", Path("/v/_data"), "2026-01-01T00:00:00Z")
    users = {f"id{n}": name for n, name in enumerate(["alpha", "bravo", "charlie", "delta"])}
    row = volume_row(volume, VolumeUsage(1, tuple(users)), users, 0.0)
    assert row.cells[4] == "alpha, bravo +2"
    assert volume_row(volume, VolumeUsage(1, ("id0",)), users, 0.0).cells[4] == "alpha"
    assert volume_row(volume, VolumeUsage(-1, ()), users, 0.0).cells[3] == "N/A"
    deep = replace(volume, mountpoint=Path("/srv/" + "x" * 40 + "/volumes/v/_data"))
    assert volume_row(deep, None, {}, 0.0).cells[2] == "…" + "x" * 19 + "/volumes/v/_data"


async def test_inspect_shows_the_volumes_json_and_a_containers_its_mounts(engine, volumes):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await open_view(pilot)
        select(app, "volumes", "data")
        await pilot.press("i")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, InspectScreen)
        top = {str(node.data) for node in screen.tree.root.children}
        assert 'Name: "data"' in top and 'Driver: "local"' in top
        await pilot.press("escape", "1")
        await settle(pilot)
        select(app, "containers", "reader")
        await pilot.press("i")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, InspectScreen)
        [mounts] = [node for node in screen.tree.root.children if node.data == "Mounts [1]"]
        [mount] = mounts.children
        fields = {str(node.data) for node in mount.children}
        assert {'Type: "volume"', 'Name: "data"', 'Destination: "/data"', "RW: false"} <= fields


async def test_remove_asks_and_refuses_a_volume_in_use(engine: Engine, volumes):
    with pytest.raises(ConflictError) as in_use:
        await engine.volumes.remove("data")
    recorder = Recorder()
    app = make_app(engine)
    async with app.run_test(size=SIZE, message_hook=recorder) as pilot:
        await open_view(pilot)
        select(app, "volumes", "spare")
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert "spare" in volume_rows(app)
        await pilot.press("d", "y")
        await settle(pilot)
        assert "spare" not in volume_rows(app)
        assert not engine.paths.volume_dir("spare").exists()
        select(app, "volumes", "data")
        await pilot.press("d", "y")
        await settle(pilot)
        assert recorder.texts("error") == [str(in_use.value)]  # the engine's one line
        assert "data" in volume_rows(app)
        assert (engine.paths.volume_dir("data") / "_data" / "table").stat().st_size == 64 * KIB


async def test_prune_removes_unused_anonymous_volumes_then_all_unused(engine, volumes):
    anonymous = volumes["anonymous"]
    recorder = Recorder()
    app = make_app(engine)
    async with app.run_test(size=SIZE, message_hook=recorder) as pilot:
        await open_view(pilot)
        await pilot.press("p")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        [note] = recorder.notes
        assert note.notification.message.splitlines() == [
            anonymous, "Total reclaimed space: 0B"
        ]  # fmt: skip
        assert set(volume_rows(app)) == {"data", "spare"}
        assert not engine.paths.volume_dir(anonymous).exists()
        await pilot.press("P", "y")  # named ones too, but not one in use
        await settle(pilot)
        assert recorder.notes[-1].notification.message.splitlines()[0] == "spare"
        assert set(volume_rows(app)) == {"data"}
        await pilot.press("p", "y")
        await settle(pilot)
        assert "No unused anonymous volumes" in recorder.notes[-1].notification.message


async def test_enter_browses_a_volumes_files_with_their_sizes(engine: Engine, volumes):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await open_view(pilot)
        select(app, "volumes", "data")
        await pilot.press("enter")
        browser = await opened(pilot)
        assert isinstance(browser, VolumeBrowser)
        await pilot.press("e")
        files = shown(browser.query_one(LayerTree))
        assert set(files) == {"table", "logs", "logs/today"}
        assert files["table"] == (" ", "", 64 * KIB, 0)
        assert files["logs/today"][2] == len("started\n")
        assert summary(browser) == f"2 files, {humanize.size(64 * KIB + 8)}"
        await pilot.press("slash", *"tod")
        assert set(shown(browser.query_one(LayerTree))) == {"logs", "logs/today"}
        await pilot.press("escape", "escape")
        assert not isinstance(app.screen, VolumeBrowser)
