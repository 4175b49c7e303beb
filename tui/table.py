"""A DataTable that also moves the way vim and k9s users' fingers expect."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import DataTable


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
