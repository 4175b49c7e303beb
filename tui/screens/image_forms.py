"""Modal forms whose submission is one engine call: run an image, import a tarball.

The engine's refusal (a bad value, a name in use, a missing file) shows in the form as
its one-line message and the form stays open to be corrected; success dismisses the form
with what the engine made.
"""

from __future__ import annotations

import os
from typing import Generic, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static, TextArea

from engine.api import Engine, Image
from engine.errors import BerthError, InvalidArgumentError
from tui.workers import run_engine_task

ResultT = TypeVar("ResultT")


class EngineForm(ModalScreen[ResultT], Generic[ResultT]):
    """Enter in a field, the submit button or Ctrl+S submits; Escape cancels."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("ctrl+s", "submit", "Submit", id="form.submit"),
    ]
    HEADING = ""
    SUBMIT_LABEL = "OK"

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.error = ""  # the engine's last refusal, as shown
        self._busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog form-dialog"):
            yield Label(self.heading(), classes="form-heading", markup=False)
            yield from self.fields()
            yield Static(classes="form-error", markup=False)
            with Horizontal(classes="form-buttons"):
                yield Button(self.SUBMIT_LABEL, variant="primary", classes="form-submit")
                yield Button("Cancel", classes="form-cancel")

    def heading(self) -> str:
        return self.HEADING

    def fields(self) -> ComposeResult:
        """The form's labelled fields."""
        raise NotImplementedError

    async def perform(self) -> ResultT:
        """The engine call the fields describe; a BerthError is shown in the form."""
        raise NotImplementedError

    def description(self) -> str:
        """What the call does, for the notification should it fail unexpectedly."""
        return self.SUBMIT_LABEL

    def value(self, name: str) -> str:
        """The text of field ``name``, stripped."""
        return self.query_one(f"#form-{name}", Input).value.strip()

    @on(Input.Submitted)
    @on(Button.Pressed, ".form-submit")
    def action_submit(self) -> None:
        if self._busy:  # one engine call at a time: a second Enter must not run it twice
            return
        self._busy = True
        self.show_error("")
        run_engine_task(
            self, self._submit(), group=f"form-{id(self)}", description=self.description()
        )

    async def _submit(self) -> None:
        try:
            result = await self.perform()
        except BerthError as error:
            self.show_error(str(error))
            return
        finally:
            self._busy = False
        self.dismiss(result)

    def show_error(self, message: str) -> None:
        self.error = message
        self.query_one(".form-error", Static).update(message)
        self.set_class(bool(message), "-error")

    @on(Button.Pressed, ".form-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def form_row(label: str, field: Widget) -> Horizontal:
    """A field with its label on its left."""
    return Horizontal(Label(label, classes="form-label", markup=False), field, classes="form-row")


class ImportForm(EngineForm[Image]):
    """``docker import``: a root file system tarball on the host, a name, --change lines."""

    HEADING = "Import an image from a root file system tarball (tar, tar.gz, tar.bz2, tar.xz)"
    SUBMIT_LABEL = "Import"

    def fields(self) -> ComposeResult:
        yield form_row(
            "Tarball", Input(id="form-path", placeholder="/path/to/rootfs.tar", compact=True)
        )
        yield form_row(
            "Name",
            Input(id="form-reference", placeholder="REPOSITORY[:TAG] (optional)", compact=True),
        )
        yield Label("Changes, one a line: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR",
                    classes="form-note", markup=False)  # fmt: skip
        yield TextArea(id="form-changes", classes="form-changes", compact=True)

    def description(self) -> str:
        return f"Importing {self.value('path')}"

    async def perform(self) -> Image:
        path = os.path.expanduser(self.value("path"))
        if not path:
            raise InvalidArgumentError("give the path of a tarball on this host")
        text = self.query_one("#form-changes", TextArea).text
        changes = [line.strip() for line in text.splitlines() if line.strip()]
        return await self.engine.images.import_(
            path, self.value("reference") or None, changes=changes
        )
