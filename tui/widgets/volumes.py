"""Local volumes, as ``docker volume ls`` lists them, with their size and their users."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import replace
from typing import TYPE_CHECKING

from textual import on
from textual.binding import Binding
from textual.widgets import DataTable

from engine.api import Engine, humanize
from tui.rows import VOLUME_COLUMNS, Row, volume_row
from tui.screens.confirm import ConfirmScreen
from tui.screens.files import VolumeBrowser
from tui.screens.inspect import InspectScreen
from tui.widgets.engine_table import EngineTable
from tui.workers import run_engine_task

if TYPE_CHECKING:
    from engine.api import Volume

# Actions on the volume under the cursor.
_ON_VOLUME = {"remove", "inspect"}
# A volume's size walks its whole tree: measured this often, not on every poll (r: now).
_SIZE_SECONDS = 10.0


class VolumesView(EngineTable):
    """One row per volume, keyed by its name; Enter browses its files.

    ``p`` prunes as ``docker volume prune`` does (unused anonymous volumes), ``P`` as
    ``volume prune -a`` (every unused volume, named ones too).
    """

    COLUMNS = VOLUME_COLUMNS
    EMPTY_TEXT = "No volumes yet — try: berth volume create data, or berth run -v data:/data …"
    BINDINGS = [
        Binding("d", "remove", "Remove", id="volumes.remove"),
        Binding("i", "inspect", "Inspect", id="volumes.inspect"),
        Binding("p", "prune(False)", "Prune", id="volumes.prune"),
        Binding("P", "prune(True)", "Prune all unused", id="volumes.prune-all"),
        Binding("r", "reload", "Refresh", id="volumes.refresh", show=False),
    ]

    def __init__(
        self, engine: Engine, *, id: str = "volumes", refresh: float | None = None
    ) -> None:
        super().__init__(engine, id=id, refresh=refresh)
        self._volumes: dict[str, Volume] = {}
        self._sizes: dict[str, int] = {}
        self._sized_at = -_SIZE_SECONDS

    async def fetch(self) -> list[Row]:
        volumes = await self.engine.volumes.list()
        due = time.monotonic() - self._sized_at >= _SIZE_SECONDS
        measure = due or any(volume.name not in self._sizes for volume in volumes)
        usage = await self.engine.volumes.usage(sizes=measure)
        if measure:
            self._sizes = {name: used.size for name, used in usage.items()}
            self._sized_at = time.monotonic()
        usage = {name: replace(used, size=self._sizes.get(name, -1))
                 for name, used in usage.items()}  # fmt: skip
        containers = await self.engine.containers.list(all=True)
        names = {container.id: container.name for container in containers}
        self._volumes = {volume.name: volume for volume in volumes}
        now = time.time()
        return [volume_row(v, usage.get(v.name), names, now) for v in volumes]

    def caption(self) -> str:
        return f"Volumes · {len(self._volumes)} · Enter: its files"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in _ON_VOLUME:
            return True if self.selected_key else None
        return True

    @on(DataTable.RowSelected)
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        volume = self._volumes.get(str(event.row_key.value))
        if volume is not None:
            self.app.push_screen(VolumeBrowser(self.engine, volume.name, str(volume.mountpoint)))

    def action_reload(self) -> None:
        self._sized_at = -_SIZE_SECONDS  # sizes measured again too
        self.reload()

    def action_inspect(self) -> None:
        name = self.selected_key
        if name is not None:
            self._run(self._inspect(name), f"Inspecting volume {name}")

    async def _inspect(self, name: str) -> None:
        document = await self.engine.volumes.inspect(name)
        self.app.push_screen(InspectScreen(f"Volume {name}", document))

    def action_remove(self) -> None:
        name = self.selected_key
        if name is None:
            return

        def removal_confirmed(confirmed: bool | None) -> None:
            if confirmed:
                self._run(self._remove(name), f"Removing volume {name}")

        question = f"Remove volume {name} and all its data?"
        self.app.push_screen(ConfirmScreen(question, "Remove"), removal_confirmed)

    async def _remove(self, name: str) -> None:
        try:
            # Not forced, as `docker volume rm` isn't: a volume a container uses stays,
            # and the engine's refusal (naming the containers) becomes the notification.
            await self.engine.volumes.remove(name)
            self.notify(f"Removed volume {name}", markup=False)
        finally:
            self.reload()

    def action_prune(self, all: bool) -> None:
        what = "every volume" if all else "every anonymous volume"
        question = f"Remove {what} no container uses, with its data?"

        def prune_confirmed(confirmed: bool | None) -> None:
            if confirmed:
                self._run(self._prune(all), "Pruning volumes")

        self.app.push_screen(ConfirmScreen(question, "Prune"), prune_confirmed)

    async def _prune(self, all: bool) -> None:
        try:
            removed, reclaimed = await self.engine.volumes.prune(all=all)
        finally:
            self.reload()
        if not removed:
            what = "volumes" if all else "anonymous volumes (P prunes named ones too)"
            self.notify(f"No unused {what} to remove", markup=False)
            return
        # As `docker volume prune` reports: what went, then the space it gave back.
        lines = [*removed, f"Total reclaimed space: {humanize.size(reclaimed)}"]
        title = f"Removed {len(removed)} volume{'s' if len(removed) > 1 else ''}"
        self.notify("\n".join(lines), title=title, markup=False)

    def _run(self, work: Awaitable[None], description: str) -> None:
        run_engine_task(self, work, group="volumes", description=description)
