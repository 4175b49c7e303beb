"""Local images, as ``docker images`` lists them, with a way to get a first one offline."""

from __future__ import annotations

import time
from collections.abc import Awaitable

from textual.binding import Binding

from engine.api import Engine
from tui.rows import IMAGE_COLUMNS, Row, image_rows
from tui.screens.confirm import ConfirmScreen
from tui.screens.inspect import InspectScreen
from tui.widgets.engine_table import EngineTable
from tui.workers import run_engine_task


class ImagesView(EngineTable):
    """One row per tag; a row's key is the reference that removes or inspects it."""

    COLUMNS = IMAGE_COLUMNS
    EMPTY_TEXT = "No images yet — press b to create busybox:latest from the host's busybox"
    BINDINGS = [
        Binding("d", "remove", "Remove", id="images.remove"),
        Binding("i", "inspect", "Inspect", id="images.inspect"),
        Binding("b", "starter", "Busybox image", id="images.starter"),
        Binding("r", "reload", "Refresh", id="images.refresh"),
    ]

    def __init__(self, engine: Engine, *, id: str = "images") -> None:
        super().__init__(engine, id=id)
        self._count = 0

    async def fetch(self) -> list[Row]:
        summaries = await self.engine.images.list()
        self._count = len(summaries)
        now = time.time()
        return [row for summary in summaries for row in image_rows(summary, now)]

    def caption(self) -> str:
        return f"Images · {self._count}"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("remove", "inspect"):
            return True if self.selected_key else None
        return True

    def action_reload(self) -> None:
        self.reload()

    def action_remove(self) -> None:
        ref = self.selected_key
        if ref is None:
            return

        def removal_confirmed(confirmed: bool | None) -> None:
            if confirmed:
                self._run(self._remove(ref), f"Removing {ref}")

        self.app.push_screen(ConfirmScreen(f"Remove image {ref}?", "Remove"), removal_confirmed)

    async def _remove(self, ref: str) -> None:
        try:
            # Not forced, as `docker rmi` isn't: an image a container uses stays, and the
            # engine's refusal becomes the notification.
            lines = await self.engine.images.remove(ref)
            self.notify("\n".join(lines), title=f"Removed {ref}", markup=False)
        finally:
            self.reload()

    def action_inspect(self) -> None:
        ref = self.selected_key
        if ref is not None:
            self._run(self._inspect(ref), f"Inspecting {ref}")

    async def _inspect(self, ref: str) -> None:
        document = await self.engine.images.inspect(ref)
        self.app.push_screen(InspectScreen(f"Image {ref}", document))

    def action_starter(self) -> None:
        self._run(self._create_starter(), "Creating busybox:latest")

    async def _create_starter(self) -> None:
        image = await self.engine.images.create_starter()
        self.notify(f"Created {', '.join(image.tags)} from the host's busybox", markup=False)
        self.reload()

    def _run(self, work: Awaitable[None], description: str) -> None:
        run_engine_task(self, work, group="images", description=description)
