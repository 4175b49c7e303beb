"""The JSON ``berth inspect`` prints, in a scrollable modal."""

from __future__ import annotations

import json
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.highlight import highlight
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class InspectScreen(ModalScreen[None]):
    """Shows ``document`` as indented JSON under ``title``; Escape closes it."""

    BINDINGS = [Binding("escape,q", "close", "Close", id="inspect.close")]

    def __init__(self, title: str, document: dict[str, Any]) -> None:
        super().__init__()
        self._title = title
        self._document = document

    def compose(self) -> ComposeResult:
        text = json.dumps(self._document, indent=4)
        with Vertical(id="inspect-dialog", classes="dialog"):
            yield Label(self._title, id="inspect-title", markup=False)
            with VerticalScroll(id="inspect-body"):
                # Textual's highlighter colours by the app's theme, on the dialog's background.
                yield Static(highlight(text, language="json"))

    def on_mount(self) -> None:
        # Focused, the scroll view takes the arrow and page keys.
        self.query_one("#inspect-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
