"""A live table of engine objects, the shape both the containers and images views share."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static
from textual.worker import Worker

from engine.api import Engine
from tui.rows import Row
from tui.workers import run_engine_task


class EngineTable(Vertical):
    """Polls the engine while it is on screen and keeps the cursor on the same row.

    Subclasses give the columns, the empty-state text and ``fetch``; they act on
    ``selected_key``, the key of the row under the cursor.
    """

    POLL_SECONDS = 2.0
    COLUMNS: Sequence[str] = ()
    EMPTY_TEXT = ""

    def __init__(self, engine: Engine, *, id: str) -> None:
        super().__init__(id=id)
        self.engine = engine
        self._loading: Worker[object] | None = None

    def compose(self) -> ComposeResult:
        yield Static(classes="caption")
        yield DataTable(cursor_type="row", zebra_stripes=True)
        yield Static(self.EMPTY_TEXT, classes="empty-state", markup=False)

    def on_mount(self) -> None:
        for column in self.COLUMNS:
            self.table.add_column(column, key=column)
        self.set_interval(self.POLL_SECONDS, self._poll)

    @property
    def table(self) -> DataTable:
        return self.query_one(DataTable)

    @property
    def selected_key(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    async def fetch(self) -> list[Row]:
        """The rows to show now, in order; called in a worker."""
        raise NotImplementedError

    def caption(self) -> str:
        """The line above the table."""
        raise NotImplementedError

    def reload(self) -> None:
        """Fetch now, cancelling a fetch in flight: its answer may predate a user's action."""
        self._loading = run_engine_task(
            self,
            self._load(),
            group=f"load-{self.id}",
            description=f"Listing {self.id}",
            exclusive=True,
        )

    def _poll(self) -> None:
        # As dolphie does: the next poll starts only after the previous one finished, and
        # nothing is fetched for a hidden tab or under a modal.
        if self._loading is not None and not self._loading.is_finished:
            return
        if self.screen is not self.app.screen or not self._on_visible_tab():
            return
        self.reload()

    def _on_visible_tab(self) -> bool:
        # TabbedContent hides an inactive pane with display: none on the pane, not on us.
        return all(node.display for node in self.ancestors_with_self)

    async def _load(self) -> None:
        self._show(await self.fetch())

    def _show(self, rows: list[Row]) -> None:
        table = self.table
        if [row.key for row in rows] == [key.value for key in table.rows]:
            self._update_cells(rows)
        else:
            self._rebuild(rows)
        self.set_class(not rows, "-empty")
        self.query_one(".caption", Static).update(self.caption())
        self.refresh_bindings()

    def _update_cells(self, rows: list[Row]) -> None:
        # Same rows in the same order (the usual poll): update in place, so the cursor
        # and the scroll position stay exactly where the user left them.
        table = self.table
        for row in rows:
            if tuple(table.get_row(row.key)) != row.cells:
                for column, value in zip(self.COLUMNS, row.cells, strict=True):
                    # Widen a column when a cell outgrows it ("Up 5 minutes" -> "Exited (137)").
                    table.update_cell(row.key, column, value, update_width=True)

    def _rebuild(self, rows: list[Row]) -> None:
        table = self.table
        selected, index = self.selected_key, table.cursor_row
        table.clear()
        for row in rows:
            table.add_row(*row.cells, key=row.key)
        if not rows:
            return
        if selected is not None and selected in table.rows:
            index = table.get_row_index(selected)
        # A vanished row leaves the cursor at its old place, now its neighbour's.
        table.move_cursor(row=min(index, table.row_count - 1), animate=False)

    @on(DataTable.RowHighlighted)
    def _selection_moved(self) -> None:
        # Which actions apply depends on the row (only a running container can be killed).
        self.refresh_bindings()
