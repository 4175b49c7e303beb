"""Pull and push from the images view: a dialog that runs the engine's Operation in a
worker and shows its progress live (tui/transfer_progress.py).

Escape while it runs cancels the worker: leaving the iteration is how the engine learns
to stop, and it unwinds before the worker ends, so nothing is half-registered. Escape
when nothing runs closes. A failure is the engine's one line in the dialog, which stays
open to be corrected and run again.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import aclosing
from typing import Generic, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, Switch
from textual.worker import Worker, WorkerState

from engine.api import Engine, Image, Operation
from tui.screens.image_forms import form_row
from tui.transfer_progress import TransferProgress
from tui.workers import describe_error

ResultT = TypeVar("ResultT")


class TransferScreen(ModalScreen[None], Generic[ResultT]):
    """Runs one Operation at a time and shows its progress; subclasses say which."""

    BINDINGS = [Binding("escape", "cancel", "Cancel / close", id="transfer.cancel")]
    VERB = ""  # "Pull", "Push": names the operation in what the dialog says

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.message = ""  # what the dialog says of the last run: an error, "Pull cancelled"
        self._worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog transfer-dialog"):
            yield Label(self.heading(), classes="form-heading", markup=False)
            yield from self.fields()
            yield Static(classes="transfer-message", markup=False)
            yield TransferProgress()
            with Horizontal(classes="form-buttons"):
                yield from self.buttons()
                yield Button("Close", classes="transfer-close")

    def heading(self) -> str:
        raise NotImplementedError

    def fields(self) -> ComposeResult:
        """The dialog's fields, above the progress."""
        yield from ()

    def buttons(self) -> ComposeResult:
        """Buttons before Close."""
        yield from ()

    def begin(self) -> Operation[ResultT]:
        """The engine call; a bad argument raises here, as the engine does."""
        raise NotImplementedError

    def succeeded(self, result: ResultT) -> None:
        """Called with the operation's result once it has finished."""

    @property
    def running(self) -> bool:
        return self._worker is not None and not self._worker.is_finished

    def start(self) -> None:
        if self.running:  # a second Enter must not start a second transfer
            return
        self.show_message("")
        # Owned by this screen, so that its end (cancelled, failed) is reported here.
        self._worker = self.run_worker(
            self._transfer, group="transfer", exclusive=True, exit_on_error=False,
            description=f"{self.VERB}ing",
        )  # fmt: skip

    async def _transfer(self) -> None:
        progress = self.query_one(TransferProgress)
        await progress.clear()
        operation = self.begin()
        # Closed on the way out, cancelled or not: an async generator left by a
        # cancellation raised outside it (here while drawing) is only closed when it is
        # collected, and the engine would pull on in the background until then.
        async with aclosing(aiter(operation)) as events:
            async for event in events:
                await progress.show(event)
        self.succeeded(await operation.result())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Sent once the worker has ended, after the engine unwound a cancelled transfer.
        if event.worker is not self._worker:
            return
        if event.state is WorkerState.CANCELLED:
            self.show_message(f"{self.VERB} cancelled")
        elif event.state is WorkerState.ERROR:
            self.show_message(describe_error(event.worker.error), error=True)

    def show_message(self, text: str, *, error: bool = False) -> None:
        self.message = text
        self.query_one(".transfer-message", Static).update(text)
        self.set_class(bool(text), "-message")
        self.set_class(error, "-error")

    @on(Button.Pressed, ".transfer-close")
    def action_cancel(self) -> None:
        """Escape: cancel the transfer in flight, else close."""
        if self._worker is None or self._worker.is_finished:
            self.dismiss(None)
        elif not self._worker.is_cancelled:
            self.show_message("Cancelling…")
            self._worker.cancel()


class PullForm(TransferScreen[Image]):
    """``docker pull``: a reference, a platform, TLS verification; ``pulled`` gets the image."""

    VERB = "Pull"

    def __init__(self, engine: Engine, pulled: Callable[[Image, str], None]) -> None:
        super().__init__(engine)
        self._pulled = pulled

    def heading(self) -> str:
        return "Pull an image from a registry"

    def fields(self) -> ComposeResult:
        yield form_row(
            "Image", Input(id="pull-reference", placeholder="[HOST/]REPOSITORY[:TAG]", compact=True)
        )
        yield form_row(
            "Platform", Input(id="pull-platform", placeholder="linux/amd64", compact=True)
        )
        yield form_row("TLS verify", Switch(True, id="pull-tls-verify"))

    def buttons(self) -> ComposeResult:
        yield Button("Pull", variant="primary", classes="pull-submit")

    @property
    def reference(self) -> str:
        return self.query_one("#pull-reference", Input).value.strip()

    @on(Input.Submitted)
    @on(Button.Pressed, ".pull-submit")
    def _submitted(self) -> None:
        self.start()

    def begin(self) -> Operation[Image]:
        platform = self.query_one("#pull-platform", Input).value.strip() or None
        # On: as the registries' configuration says (a loopback registry may be plain HTTP).
        verify = None if self.query_one("#pull-tls-verify", Switch).value else False
        return self.engine.images.pull(self.reference, platform=platform, tls_verify=verify)

    def succeeded(self, result: Image) -> None:
        self._pulled(result, self.reference)


class PushScreen(TransferScreen[str]):
    """``docker push`` of one tag, started at once; its registry is in its name."""

    VERB = "Push"

    def __init__(self, engine: Engine, tag: str) -> None:
        super().__init__(engine)
        self.tag = tag

    def heading(self) -> str:
        return f"Push {self.tag}"

    def on_mount(self) -> None:
        self.start()

    def begin(self) -> Operation[str]:
        return self.engine.images.push(self.tag)
