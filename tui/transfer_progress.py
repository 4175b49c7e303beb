"""The live progress of a pull or a push, as ``docker pull`` prints it: the operation's
opening lines, one row per layer with its status and a bar of its bytes, then its closing
lines (digest, status)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Label, ProgressBar, Static

from engine.api import Progress, humanize

# Statuses that count bytes (current of total), and those that end a layer's part.
_COUNTING = {"Downloading", "Pushing"}
_FINISHED = {"Pull complete", "Already exists", "Pushed", "Layer already exists"}


class LayerRow(Horizontal):
    """A layer's short id, its latest status, and a bar of its bytes."""

    def __init__(self, layer_id: str) -> None:
        super().__init__(classes="transfer-layer")
        self.layer_id = layer_id
        self.status = ""

    def compose(self) -> ComposeResult:
        yield Label(self.layer_id, classes="transfer-id", markup=False)
        yield Label(classes="transfer-status", markup=False)
        # Indeterminate until the first byte count says how big the layer is.
        yield ProgressBar(show_eta=False)

    @property
    def bar(self) -> ProgressBar:
        return self.query_one(ProgressBar)

    @property
    def done(self) -> bool:
        return self.status in _FINISHED or self.status.startswith("Mounted from")

    def show(self, event: Progress) -> None:
        self.status = event.status
        text = event.status
        if event.status in _COUNTING and event.total:
            text += f" {humanize.size(event.current)}/{humanize.size(event.total)}"
            self.bar.update(total=event.total, progress=event.current)
        elif self.done:
            self.bar.update(total=self.bar.total or 1, progress=self.bar.total or 1)
        self.query_one(".transfer-status", Label).update(text)


class TransferProgress(Vertical):
    """Shows a pull's or a push's Progress events as they arrive; ``clear`` starts over."""

    def __init__(self) -> None:
        super().__init__(id="transfer-progress")
        self.lines: list[str] = []  # the operation's own lines (id ""), in order
        self.layer_rows: dict[str, LayerRow] = {}
        self._opening = 0  # how many of ``lines`` came before the first layer's row

    def compose(self) -> ComposeResult:
        yield Static(id="transfer-lines", markup=False)
        yield VerticalScroll(id="transfer-layers")
        yield Static(id="transfer-summary", markup=False)

    async def clear(self) -> None:
        self.lines.clear()
        self.layer_rows.clear()
        self._opening = 0
        self.query_one("#transfer-lines", Static).update("")
        self.query_one("#transfer-summary", Static).update("")
        await self.query_one("#transfer-layers").remove_children()

    async def show(self, event: Progress) -> None:
        if not event.id:
            self.lines.append(event.status)
            if not self.layer_rows:
                self._opening = len(self.lines)
            opening, closing = self.lines[: self._opening], self.lines[self._opening :]
            self.query_one("#transfer-lines", Static).update("\n".join(opening))
            self.query_one("#transfer-summary", Static).update("\n".join(closing))
            return
        row = self.layer_rows.get(event.id)
        if row is None:
            row = self.layer_rows[event.id] = LayerRow(event.id)
            await self.query_one("#transfer-layers").mount(row)  # composed: show() finds its parts
        row.show(event)
