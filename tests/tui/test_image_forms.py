"""Tag and import from the images view, against a real engine."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from tests.tui.test_app import SIZE, Recorder, make_app, rows, select
from tests.tui.test_run_form import settle
from tui.app import BerthApp
from tui.screens.image_forms import ImportForm
from tui.screens.prompt import PromptScreen


async def show_images(pilot: Pilot) -> None:
    await settle(pilot)
    await pilot.press("2")
    await settle(pilot)


def tags(app: BerthApp) -> set[tuple[str, str]]:
    return {(row[0], row[1]) for row in rows(app, "images")}


def rootfs_tar(path: Path) -> Path:
    """A tiny root file system: one directory and one executable script."""
    with tarfile.open(path, "w:gz") as tar:
        folder = tarfile.TarInfo("app")
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(folder)
        script = b"#!/bin/sh\necho hi\n"
        info = tarfile.TarInfo("app/hello")
        info.size, info.mode = len(script), 0o755
        tar.addfile(info, io.BytesIO(script))
    return path


async def test_t_tags_the_selected_image_and_the_row_appears(engine):
    recorder = Recorder()
    app = make_app(engine)
    async with app.run_test(size=SIZE, message_hook=recorder) as pilot:
        await show_images(pilot)
        select(app, "images", "busybox")
        await pilot.press("t")
        prompt = app.screen
        assert isinstance(prompt, PromptScreen)
        field = prompt.query_one(Input)
        assert field.value == "busybox:latest"  # to be edited, as a name usually is
        field.value = "tools/box:1.0"
        await pilot.press("enter")
        await settle(pilot)
        assert tags(app) == {("busybox", "latest"), ("tools/box", "1.0")}
        assert (await engine.images.resolve("tools/box:1.0")).tags == (
            "busybox:latest",
            "tools/box:1.0",
        )
        assert "Tagged busybox:latest as tools/box:1.0" in recorder.texts("information")
        # A name the engine refuses is its one-line notification; nothing changes.
        await pilot.press("t")
        app.screen.query_one(Input).value = "Bad Name"
        await pilot.press("enter")
        await settle(pilot)
        [error] = recorder.texts("error")
        assert "Bad Name" in error and "\n" not in error
        assert len(tags(app)) == 2


async def test_capital_i_imports_a_tarball_with_a_name_and_changes(engine, tmp_path):
    tarball = rootfs_tar(tmp_path / "rootfs.tar.gz")
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await show_images(pilot)
        await pilot.press("I")
        form = app.screen
        assert isinstance(form, ImportForm)
        # A file that is not there: the engine's message, in the form, which stays open.
        form.query_one("#form-path", Input).value = str(tmp_path / "missing.tar")
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is form and form.error.startswith("no such file: ")
        form.query_one("#form-path", Input).value = str(tarball)
        form.query_one("#form-reference", Input).value = "imported:1"
        form.query_one("#form-changes", TextArea).text = 'CMD ["/app/hello"]\nENV MODE=test\n'
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, ImportForm)
        assert ("imported", "1") in tags(app)
        config = (await engine.images.resolve("imported:1")).config["config"]
        assert config["Cmd"] == ["/app/hello"] and config["Env"] == ["MODE=test"]
