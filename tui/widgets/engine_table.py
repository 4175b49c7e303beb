"""A live table of engine objects, the shape both the containers and images views share.

Rows come from the engine (``fetch``); what the user sees of them is the table's own
business: a filter (``/``), a sort column (``o``, ``O`` or a click on a header) and marks
(``space``) for actions on several rows at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static
from textual.worker import Worker

from engine.api import Engine
from tui.rows import Cell, Row
from tui.table import Table
from tui.workers import run_engine_task

MARK = "● "


class EngineTable(Vertical):
    """Polls the engine while it is on screen and keeps the cursor on the same row.

    Subclasses give the columns, the empty-state text and ``fetch``; they act on
    ``selected_key`` (the row under the cursor) or ``target_keys`` (the marked rows, or
    else the one under the cursor).
    """

    DEFAULT_REFRESH = 1.0  # seconds between polls, unless the app's config says otherwise
    COLUMNS: Sequence[str] = ()
    EMPTY_TEXT = ""
    BINDINGS = [
        Binding("slash", "filter", "Filter", id="table.filter"),
        Binding("o", "sort(1)", "Sort", id="table.sort", show=False),
        Binding("O", "sort(-1)", "Sort back", id="table.sort-back", show=False),
        Binding("space", "mark", "Mark", id="table.mark"),
        Binding("escape", "clear", "Clear", id="table.clear", show=False),
    ]

    def __init__(self, engine: Engine, *, id: str, refresh: float | None = None) -> None:
        super().__init__(id=id)
        self.engine = engine
        self.refresh_seconds = refresh or self.DEFAULT_REFRESH
        self.filter_text = ""
        self.sort_column: int | None = None  # None: the engine's order
        self.sort_reverse = False
        self.marked: set[str] = set()
        self._rows: list[Row] = []  # as fetched, before filter and sort
        self._displayed: dict[str, Row] = {}  # what the table shows, in its order
        self._loading: Worker[object] | None = None
        self._caption = ""
        self._binding_state: object = None

    def compose(self) -> ComposeResult:
        yield Static(classes="caption", markup=False)
        yield Input(classes="filter", placeholder="Filter rows (Enter keeps it, Escape clears)")
        yield Table(cursor_type="row", zebra_stripes=True)
        yield Static(self.EMPTY_TEXT, classes="empty-state", markup=False)

    def on_mount(self) -> None:
        self.query_one(".filter", Input).display = False
        for column in self.COLUMNS:
            self.table.add_column(column, key=column)
        self.set_interval(self.refresh_seconds, self._poll)

    @property
    def table(self) -> Table:
        return self.query_one(Table)

    @property
    def selected_key(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    @property
    def target_keys(self) -> list[str]:
        """What an action applies to: the marked rows in table order, or the cursor's row."""
        if self.marked:
            return [key.value for key in self.table.rows if key.value in self.marked]
        key = self.selected_key
        return [] if key is None else [key]

    async def fetch(self) -> list[Row]:
        """The rows to show now, in the engine's order; called in a worker."""
        raise NotImplementedError

    def caption(self) -> str:
        """What the rows are, for the line above the table."""
        raise NotImplementedError

    def reload(self) -> None:
        """Fetch now, cancelling a fetch in flight: its answer may predate a user's action."""
        self._loading = run_engine_task(
            self,
            self._load,
            group=f"load-{self.id}",
            description=f"Listing {self.id}",
            exclusive=True,
        )

    def _poll(self) -> None:
        # As dolphie does: the next poll starts only after the previous one finished, and
        # nothing is fetched for a hidden tab or under a modal.
        live = self.screen is self.app.screen and self._on_visible_tab()
        fed = self.live_changed(live)
        if not live or fed or (self._loading is not None and not self._loading.is_finished):
            return
        self.reload()

    def live_changed(self, live: bool) -> bool:
        """Called each poll: whether the view is on screen; a subclass starts or stops feeds.

        True: a feed keeps the rows current, so the poll fetches nothing.
        """
        return False

    def _on_visible_tab(self) -> bool:
        # TabbedContent hides an inactive pane with display: none on the pane, not on us.
        return all(node.display for node in self.ancestors_with_self)

    async def _load(self) -> None:
        self.show_rows(await self.fetch())

    def show_rows(self, rows: list[Row]) -> None:
        """Show ``rows`` (the engine's order) through the filter, sort and marks in effect."""
        self._rows = rows
        self.marked &= {row.key for row in rows}  # a mark goes with its row
        shown = self._arranged(rows)
        if [row.key for row in shown] == list(self._displayed):
            self._update_cells(shown)
        else:
            self._rebuild(shown)
        self.set_class(not rows, "-empty")
        caption = self._caption_line(len(shown))
        if caption != self._caption:  # an update re-lays the screen out, even unchanged
            self._caption = caption
            self.query_one(".caption", Static).update(caption)
        self._refresh_bindings_if_changed()

    def binding_state(self) -> object:
        """What the keys' availability depends on; a subclass adds the targets' states."""
        return self.selected_key, frozenset(self.marked)

    def _refresh_bindings_if_changed(self) -> None:
        # The footer is recomposed on every refresh_bindings: only when a key's state may
        # have changed, not on every tick of the stats stream.
        state = self.binding_state()
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    def _arranged(self, rows: list[Row]) -> list[Row]:
        needle = self.filter_text.casefold()
        shown = [row for row in rows if needle in row.text().casefold()] if needle else rows[:]
        if self.sort_column is not None:
            column = self.sort_column
            shown.sort(key=lambda row: row.sort_value(column), reverse=self.sort_reverse)
        return [self._with_mark(row) if row.key in self.marked else row for row in shown]

    def _with_mark(self, row: Row) -> Row:
        accent = self.app.theme_variables.get("accent", "magenta")
        first = Text.assemble((MARK, f"bold {accent}"), row.cells[0])
        return Row(row.key, (first, *row.cells[1:]), row.order)

    def _caption_line(self, shown: int) -> str:
        parts = [self.caption()]
        if self.filter_text:
            parts.append(f"filter “{self.filter_text}”: {shown} shown (Escape clears)")
        if self.sort_column is not None:
            arrow = "descending" if self.sort_reverse else "ascending"
            parts.append(f"sorted by {self.COLUMNS[self.sort_column]}, {arrow}")
        if self.marked:
            parts.append(f"{len(self.marked)} marked")
        return " · ".join(parts)

    def _update_cells(self, rows: list[Row]) -> None:
        # Same rows in the same order (the usual poll): update in place, so the cursor
        # and the scroll position stay exactly where the user left them. Only the cells
        # that changed, and only their rows are drawn again.
        table = self.table
        fitting = []
        for row in rows:
            shown = self._displayed[row.key]
            self._displayed[row.key] = row
            if shown is row:  # unchanged: the view hands back the same Row
                continue
            for column, old, new in zip(self.COLUMNS, shown.cells, row.cells, strict=True):
                if old == new:
                    continue
                # Widen a column when a cell outgrows it ("Up 5 minutes" -> "Exited
                # (137)"), which moves every column right of it: the whole table again.
                # Re-measuring every cell of the column on each change cost a quarter
                # of a CPU with 50 containers refreshing.
                if cell_len(str(new)) > table.columns[column].content_width:
                    table.update_cell(row.key, column, _literal(new), update_width=True)
                else:
                    fitting.append((row.key, column, _literal(new)))
        table.update_cells(fitting)

    def _rebuild(self, rows: list[Row]) -> None:
        table = self.table
        selected, index = self.selected_key, table.cursor_row
        table.clear()
        for row in rows:
            table.add_row(*map(_literal, row.cells), key=row.key)
        self._displayed = {row.key: row for row in rows}
        if not rows:
            return
        if selected is not None and selected in table.rows:
            index = table.get_row_index(selected)
        # A vanished row leaves the cursor at its old place, now its neighbour's.
        table.move_cursor(row=min(index, table.row_count - 1), animate=False)

    def _rearrange(self) -> None:
        self.show_rows(self._rows)

    # -- the user's arrangement ---------------------------------------------------

    def action_filter(self) -> None:
        field = self.query_one(".filter", Input)
        field.value = self.filter_text
        field.display = True
        field.focus()

    @on(Input.Changed, ".filter")
    def _filter_typed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self._rearrange()

    @on(Input.Submitted, ".filter")
    def _filter_kept(self) -> None:
        self.query_one(".filter", Input).display = bool(self.filter_text)
        self.table.focus()

    def action_clear(self) -> None:
        """Escape: drop the filter, then the marks."""
        field = self.query_one(".filter", Input)
        if self.filter_text or field.display:
            self.filter_text = ""
            field.value = ""
            field.display = False
            self.table.focus()
        else:
            self.marked.clear()
        self._rearrange()

    def action_sort(self, step: int) -> None:
        """The next (``o``) or previous (``O``) column to sort by; past the last, none."""
        positions: list[int | None] = [None, *range(len(self.COLUMNS))]
        index = positions.index(self.sort_column)
        self.sort_column = positions[(index + step) % len(positions)]
        self.sort_reverse = False
        self._rearrange()

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        # A click sorts by that column; a second click on it turns the order round.
        if self.sort_column == event.column_index:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = event.column_index, False
        self._rearrange()

    def action_mark(self) -> None:
        key = self.selected_key
        if key is None:
            return
        self.marked ^= {key}
        self._rearrange()
        table = self.table
        if table.cursor_row < table.row_count - 1:  # as k9s: mark and move on
            table.move_cursor(row=table.cursor_row + 1)

    @on(DataTable.RowHighlighted)
    def _selection_moved(self) -> None:
        # Which actions apply depends on the row (only a running container can be killed).
        self._refresh_bindings_if_changed()


def _literal(cell: Cell) -> Text:
    # DataTable reads a str cell as Rich markup: a command "echo [x]" would lose its "[x]"
    # (and each redraw would parse it again).
    return Text(cell) if isinstance(cell, str) else cell
