"""One image: its config as ``docker image inspect`` holds it, and its layers, base first."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table as Grid
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from engine.api import Engine, humanize
from engine.api import parse_timestamp as parse
from tui.screens.layer_browser import LayerBrowser
from tui.table import Table
from tui.workers import run_engine_task

if TYPE_CHECKING:
    from engine.api import LayerInfo

LAYER_COLUMNS = ("#", "DIFF ID", "SIZE", "CREATED", "CREATED BY")
_HISTORY_WIDTH = 72  # the history line's room at 120 columns, as `docker history` cuts it


class ImageDetailScreen(Screen[None]):
    """Loads the image once: an image never changes, only its names do."""

    BINDINGS = [
        Binding("escape,q", "close", "Close", id="image-detail.close"),
        Binding("m", "merged", "Merged tree", id="image-detail.merged"),
    ]

    def __init__(self, engine: Engine, ref: str) -> None:
        super().__init__()
        self.engine = engine
        self.ref = ref
        self.image_id = ""
        self.image_layers: list[LayerInfo] = []

    def compose(self) -> ComposeResult:
        yield Static(f"Image {self.ref}", id="detail-title", markup=False)
        with VerticalScroll(id="detail-config"):
            yield Static("Reading the image…", id="detail-config-body")
        yield Static(id="detail-layers-caption", markup=False)
        yield Table(id="detail-layers", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.layer_table
        for column in LAYER_COLUMNS:
            table.add_column(column, key=column)
        table.focus()
        run_engine_task(
            self, self._load(), group=f"image-detail-{id(self)}", description=f"Reading {self.ref}"
        )

    @property
    def layer_table(self) -> DataTable:
        return self.query_one("#detail-layers", DataTable)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "merged":
            return True if self.image_layers else None
        return True

    async def _load(self) -> None:
        document = await self.engine.images.inspect(self.ref)
        self.image_id = document["Id"]
        self.image_layers = await self.engine.images.layers(self.image_id)
        self.query_one("#detail-config-body", Static).update(config_grid(document, time.time()))
        self._show_layers(self.image_layers)
        self.refresh_bindings()

    def _show_layers(self, layers: Sequence[LayerInfo]) -> None:
        now = time.time()
        table = self.layer_table
        for info in layers:
            table.add_row(*layer_cells(info, now), key=str(info.index))
        if layers:  # the newest layer first under the cursor: what the last step did
            table.move_cursor(row=len(layers) - 1)
        total = humanize.size(sum(info.size for info in layers))
        self.query_one("#detail-layers-caption", Static).update(
            f"Layers · {len(layers)} · {total} · Enter browses a layer's files, m the merged tree"
        )

    @on(DataTable.RowSelected, "#detail-layers")
    def _layer_chosen(self, event: DataTable.RowSelected) -> None:
        self._browse(int(str(event.row_key.value)), merged=False)

    def action_merged(self) -> None:
        # The merged tree marks what the layer under the cursor did.
        self._browse(self.layer_table.cursor_row, merged=True)

    def _browse(self, index: int, *, merged: bool) -> None:
        if not self.image_layers:
            return
        title = f"Image {self.ref}"
        self.app.push_screen(
            LayerBrowser(self.engine, self.image_id, title, self.image_layers, index, merged=merged)
        )

    def action_close(self) -> None:
        self.dismiss(None)


def config_grid(document: dict[str, Any], now: float) -> Grid:
    """The image's identity and run settings, one labelled line each ("—" where unset)."""
    config = document.get("Config") or {}
    created = document.get("Created", "")
    when = "—"
    if created:
        ago = humanize.duration(now - parse(created))
        when = f"{created[:19].replace('T', ' ')} UTC ({ago} ago)"
    rows = [
        ("ID", document.get("Id", "")),
        ("Tags", ", ".join(document.get("RepoTags") or []) or "<none>"),
        ("Created", when),
        ("Size", humanize.size(document.get("Size", 0))),
        ("OS/Arch", f"{document.get('Os') or '—'}/{document.get('Architecture') or '—'}"),
        ("Entrypoint", _argv(config.get("Entrypoint"))),
        ("Cmd", _argv(config.get("Cmd"))),
        ("Env", "\n".join(config.get("Env") or []) or "—"),
        ("WorkingDir", config.get("WorkingDir") or "—"),
        ("User", config.get("User") or "—"),
        ("ExposedPorts", ", ".join(sorted(config.get("ExposedPorts") or {})) or "—"),
        ("Labels", _labels(config.get("Labels") or {})),
    ]
    grid = Grid.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for label, value in rows:
        grid.add_row(label, Text(value))
    return grid


def _argv(value: list[str] | None) -> str:
    # As a Dockerfile's exec form writes it, which is how Docker's inspect shows it too.
    return json.dumps(value) if value else "—"


def _labels(labels: dict[str, str]) -> str:
    return "\n".join(f"{key}={value}" for key, value in sorted(labels.items())) or "—"


def layer_cells(info: LayerInfo, now: float) -> tuple[str, ...]:
    """A layer's row: index, short diff id, size, age, and the history step that made it."""
    history = info.created_by or info.comment
    if info.created_by and info.comment:
        history = f"{info.created_by}  # {info.comment}"
    if len(history) > _HISTORY_WIDTH:
        history = history[: _HISTORY_WIDTH - 1] + "…"
    created = f"{humanize.duration(now - parse(info.created))} ago" if info.created else "—"
    return (
        str(info.index),
        info.diff_id.removeprefix("sha256:")[:12],
        humanize.size(info.size),
        created,
        history,
    )
