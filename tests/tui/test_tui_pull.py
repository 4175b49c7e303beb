"""Pull and push from the images view, against a real engine and a real registry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, ProgressBar, Switch

from tests.oci_images import (
    busybox_rootfs_layer,
    file_layer,
    sized_layers,
    skopeo_inspect,
    skopeo_push,
    write_oci_layout,
)
from tests.registry_server import RegistryServer
from tests.tui.test_app import SIZE, Recorder, make_app, rows, screenshot, select, settle
from tests.tui.test_image_forms import rootfs_tar
from tui.app import BerthApp
from tui.screens.transfer import PullForm, PushScreen, TransferScreen
from tui.transfer_progress import TransferProgress

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryServer]:
    with RegistryServer(tmp_path / "reg") as server:
        yield server


@pytest.fixture
def app_image(tmp_path: Path, registry: RegistryServer) -> str:
    """HOST/app:latest in the registry: two small layers."""
    layers = [busybox_rootfs_layer(), file_layer({"etc/x": b"x"})]
    write_oci_layout(tmp_path / "layout", layers)
    skopeo_push(tmp_path / "layout", "latest", registry, "app")
    return f"{registry.host}/app"


async def wait_until(
    pilot: Pilot, done: Callable[[], bool], seconds: float = 30, step: float = 0.05
) -> None:
    async with asyncio.timeout(seconds):
        while not done():
            await pilot.pause(step)


async def open_pull_form(pilot: Pilot, reference: str) -> PullForm:
    await settle(pilot)
    await pilot.press("2")
    await settle(pilot)
    await pilot.press("P")
    form = pilot.app.screen
    assert isinstance(form, PullForm)
    form.query_one("#pull-reference", Input).value = reference
    return form


async def finish(pilot: Pilot, screen: TransferScreen[object]) -> None:
    await pilot.pause()
    await wait_until(pilot, lambda: not screen.running)
    await settle(pilot)


def tags(app: BerthApp) -> set[str]:
    return {f"{row[0]}:{row[1]}" for row in rows(app, "images")}


def selected_tag(app: BerthApp) -> str:
    row = rows(app, "images")[app.query_one("#images DataTable").cursor_row]
    return f"{row[0]}:{row[1]}"


async def test_capital_p_pulls_with_live_layer_progress(engine, app_image):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_pull_form(pilot, app_image)
        assert form.query_one("#pull-tls-verify", Switch).value  # verified unless turned off
        started = time.monotonic()
        await pilot.press("enter")
        await finish(pilot, form)
        elapsed = time.monotonic() - started
        assert app.screen is form and form.message == "", form.message
        progress = form.query_one(TransferProgress)
        assert len(progress.layer_rows) == 2
        for row in progress.layer_rows.values():
            assert len(row.layer_id) == 12 and row.status == "Pull complete"
            bar = row.bar
            assert bar.total and bar.progress == bar.total  # every byte counted
        assert progress.lines[0] == "latest: Pulling from app"
        assert progress.lines[-1] == f"Status: Downloaded newer image for {app_image}:latest"
        screenshot(app, "pull")
        # Under the form, the list already shows the image, selected.
        assert f"{app_image}:latest" in tags(app)
        assert selected_tag(app) == f"{app_image}:latest"
        await pilot.press("escape")
        assert not isinstance(app.screen, TransferScreen)
        assert (await engine.images.resolve(f"{app_image}:latest")).tags
    assert elapsed < 20


async def test_bad_reference_and_unknown_repository_are_one_error_line(engine, registry):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_pull_form(pilot, "Not A Reference")
        await pilot.press("enter")
        await finish(pilot, form)
        assert app.screen is form and form.has_class("-error")
        assert form.message and "\n" not in form.message
        bad_reference = form.message
        form.query_one("#pull-reference", Input).value = f"{registry.host}/nothing-here"
        await pilot.click(".pull-submit")
        await finish(pilot, form)
        assert app.screen is form and form.has_class("-error")
        assert form.message != bad_reference and "\n" not in form.message
        assert "nothing-here" in form.message
        assert tags(app) == {"busybox:latest"}


async def test_escape_while_pulling_cancels_and_leaves_nothing(engine, tmp_path, registry):
    layers = sized_layers(3, 60_000_000, seed=1)  # 0.6 s to pull here
    write_oci_layout(tmp_path / "big", layers, compression=None)
    skopeo_push(tmp_path / "big", "latest", registry, "big")
    layers_before = set(engine.paths.layers.iterdir())
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_pull_form(pilot, f"{registry.host}/big")
        # Not pilot.press: it waits for the app to idle, which a pull at full speed
        # only is at its end.
        app.post_message(events.Key("enter", "\r"))
        progress = form.query_one(TransferProgress)
        await wait_until(pilot, lambda: bool(progress.layer_rows), step=0.005)
        await pilot.press("escape")
        await finish(pilot, form)
        assert app.screen is form and form.message == "Pull cancelled"
        assert not any(line.startswith("Status:") for line in progress.lines)  # stopped midway
        assert tags(app) == {"busybox:latest"}
        await pilot.press("escape")  # now idle: closes
        assert not isinstance(app.screen, TransferScreen)
    assert [image.repo_tags for image in await engine.images.list()] == [["busybox:latest"]]
    assert set(engine.paths.layers.iterdir()) == layers_before
    assert list(engine.paths.tmp.iterdir()) == []


async def test_u_on_an_untagged_image_asks_for_a_tag(engine, tmp_path):
    image = await engine.images.import_(str(rootfs_tar(tmp_path / "rootfs.tar.gz")), None)
    recorder = Recorder()
    app = make_app(engine)
    async with app.run_test(size=SIZE, message_hook=recorder) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        select(app, "images", "<none>")
        await pilot.press("u")
        assert not isinstance(app.screen, TransferScreen)
        [warning] = recorder.texts("warning")
        assert warning.startswith(image.short_id) and "tag it first (berth tag)" in warning


@pytest.mark.skipif(
    not (REPO / "engine/images/push.py").exists(), reason="engine push not written yet"
)
async def test_u_pushes_the_selected_tag_with_progress(engine, registry):
    await engine.images.tag("busybox:latest", f"{registry.host}/app2:latest")
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        select(app, "images", f"{registry.host}/app2")
        await pilot.press("u")
        screen = app.screen
        assert isinstance(screen, PushScreen)
        await finish(pilot, screen)
        assert screen.message == "", screen.message
        progress = screen.query_one(TransferProgress)
        assert progress.lines[0] == f"The push refers to repository [{registry.host}/app2]"
        assert progress.lines[-1].startswith("latest: digest: sha256:")
        assert all(row.done for row in progress.layer_rows.values()) and progress.layer_rows
        assert all(
            row.query_one(ProgressBar).percentage == 1 for row in progress.layer_rows.values()
        )
    skopeo_inspect(registry, "app2:latest")
