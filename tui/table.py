"""A DataTable that also moves the way vim and k9s users' fingers expect."""

from __future__ import annotations

from collections.abc import Iterable

from textual.binding import Binding
from textual.widgets import DataTable
from textual.widgets.data_table import CellType, ColumnKey, RowKey


class Table(DataTable):
    """DataTable plus ``j``/``k`` (down, up) and ``g``/``G`` (first row, last row).

    The arrows, Home/End and Page keys work as in any DataTable; these come first in
    the binding chain (the table has the focus), so a view must not use them for its own.
    """

    BINDINGS = [
        Binding("j", "cursor_down", "Down", id="table.down", show=False),
        Binding("k", "cursor_up", "Up", id="table.up", show=False),
        Binding("g", "scroll_top", "First row", id="table.first", show=False),
        Binding("G", "scroll_bottom", "Last row", id="table.last", show=False),
    ]

    def update_cells(self, changes: Iterable[tuple[str, str, CellType]]) -> None:
        """Set cells (row key, column key, value) that fit their columns; redraw their rows.

        DataTable.update_cell redraws every row in view, each cell through Rich, for one
        changed cell: its render caches are keyed by a count of all updates, which it
        bumps. With 50 containers whose STATUS ticks every second ("Up 5 seconds") that
        was half the TUI's CPU. Here the count stays; the changed rows leave the caches.
        """
        cells = {(RowKey(row), ColumnKey(column)): value for row, column, value in changes}
        for (row, column), value in cells.items():
            self._data[row][column] = value
        rows = {row for row, _ in cells}
        # Cached cells are keyed (row, column, ...) and rows (row, ...), in every style
        # they were drawn in (cursor, hover): the other cells of a row stay drawn.
        for cache, stale in ((self._cell_render_cache, lambda key: key[:2] in cells),
                             (self._row_render_cache, lambda key: key[0] in rows)):  # fmt: skip
            for key in [key for key in cache.keys() if stale(key)]:  # noqa: SIM118 (no __iter__)
                cache.discard(key)
        indexes = [self.get_row_index(row) for row in rows]
        for index in indexes:
            self._row_renderable_cache.discard((self._update_count, index))
        self._line_cache.clear()  # by line number; rebuilt from the row cache cheaply
        for index in indexes:
            self.refresh_row(index)
