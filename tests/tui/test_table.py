"""tui.table.Table: a changed cell is drawn, and only it is rendered again.

Table.update_cells leans on DataTable's render caches (Textual's own, private): these
tests say so at once if a Textual release changes them.
"""

from __future__ import annotations

from textual.app import App, ComposeResult

from tui.table import Table

COLUMNS = ("NAME", "STATUS", "CPU %")


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Table(cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(Table)
        for column in COLUMNS:
            table.add_column(column, key=column)
        for index in range(5):
            table.add_row(f"box-{index}", "Up 5 seconds", "0.0%", key=f"box-{index}")


def line(table: Table, row: int) -> str:
    """The row's line as drawn (line 0 is the header)."""
    return table.render_line(row + 1).text


async def test_update_cells_draws_the_new_values_and_renders_only_those_cells(monkeypatch):
    app = TableApp()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(Table)
        await pilot.pause()
        assert "Up 5 seconds" in line(table, 2)
        rendered: list[tuple[int, int]] = []
        real = Table._render_cell

        def spying(self, row_index, column_index, *args, **kwargs):
            rendered.append((row_index, column_index))
            return real(self, row_index, column_index, *args, **kwargs)

        monkeypatch.setattr(Table, "_render_cell", spying)
        table.update_cells([("box-2", "STATUS", "Up 6 seconds"), ("box-4", "CPU %", "1.5%")])
        await pilot.pause()
        # The other rows come from DataTable's caches: their cells are not even asked for
        # (stock update_cell would have every row in view rendered anew).
        assert {row for row, _ in rendered} == {2, 4}
        assert "Up 6 seconds" in line(table, 2) and "1.5%" in line(table, 4)
        assert "Up 5 seconds" in line(table, 1) and "0.0%" in line(table, 3)
        assert table.get_row("box-2")[1] == "Up 6 seconds"
