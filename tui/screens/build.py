"""``docker build`` from the images view: a form for what to build, then the build live.

The form reads the Dockerfile through the engine (a bad context, Dockerfile or tag is its
one-line refusal, in the form); the build screen shows one row per step, as BuildKit's
progress does, and the output of the step under the cursor, which follows the build.
Escape while it runs cancels: the engine unwinds the step in flight (its container, its
mounts) before the screen says so, and nothing is tagged.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, DataTable, Input, Label, Log, Static
from textual.worker import Worker, WorkerState

from engine.api import BuildEvent, BuildOptions, Engine, Image, parse_build_args
from engine.errors import InvalidArgumentError
from tui.screens.image_forms import EngineForm, form_row
from tui.workers import describe_error

# A step's state as its row shows it: BuildKit's words, and a colour for each.
RUNNING, DONE, CACHED, ERROR, CANCELLED = "running", "DONE", "CACHED", "ERROR", "CANCELLED"
_STATE_STYLES = {RUNNING: "bold yellow", DONE: "green", CACHED: "blue", ERROR: "bold red",
                 CANCELLED: "red"}  # fmt: skip
_STATES = {"started": RUNNING, "done": DONE, "cached": CACHED, "error": ERROR}
_NAME_WIDTH = 80  # a long RUN line is cut: the row must fit the dialog
_KEEP = 64 * 1024  # characters of output kept per step: "the last lines", not a log file
_TICK = 0.1  # seconds between updates of the running steps' times


class BuildForm(EngineForm[BuildOptions]):
    """Context, Dockerfile, tags, build args, target, --no-cache; dismisses with the
    checked BuildOptions, before anything is built."""

    HEADING = "Build an image from a Dockerfile"
    SUBMIT_LABEL = "Build"

    def fields(self) -> ComposeResult:
        def field(name: str, placeholder: str, value: str = "") -> Input:
            return Input(value, id=f"form-{name}", placeholder=placeholder, compact=True)

        yield form_row("Context", field("context", "PATH, a directory", os.getcwd()))
        yield form_row(
            "Dockerfile", field("dockerfile", "-f, relative to the context", "Dockerfile")
        )
        yield form_row("Tags", field("tags", "-t NAME[:TAG] ..., e.g. myapp:1.0 myapp:latest"))
        yield form_row("Build args", field("build-args", "--build-arg KEY=VALUE ..."))
        yield form_row("Target", field("target", "--target STAGE (default: the last)"))
        yield Checkbox("No cache (--no-cache): run every step again", id="form-no-cache",
                       compact=True)  # fmt: skip

    def description(self) -> str:
        return f"Reading the Dockerfile of {self.value('context')}"

    async def perform(self) -> BuildOptions:
        context = os.path.expanduser(self.value("context"))
        if not context:
            raise InvalidArgumentError("give the context: the directory to build from")
        # The engine takes -f relative to the working directory, as docker build does;
        # here it is the context's (an absolute path stays as it is).
        dockerfile = self.value("dockerfile")
        path = os.path.join(context, os.path.expanduser(dockerfile)) if dockerfile else None
        # In a thread: it reads the Dockerfile and the .dockerignore.
        return await asyncio.to_thread(
            self.engine.build.definition, context, path,
            tags=self.value("tags").replace(",", " ").split(),
            build_args=parse_build_args(self.value("build-args").split()),
            target=self.value("target") or None,
            no_cache=self.query_one("#form-no-cache", Checkbox).value,
        )  # fmt: skip


@dataclass
class Step:
    """A step as the screen knows it from its events."""

    name: str
    state: str
    started: float  # time.monotonic() when its first event arrived
    elapsed: float | None = None  # final, once it has ended; None while it runs
    output: str = ""  # its last _KEEP characters of output, and its error

    def add_output(self, text: str) -> None:
        self.output += text
        start = len(self.output) - _KEEP
        if start > 0:  # from a line's start where there is one, so that no line shows cut
            newline = self.output.find("\n", start)
            self.output = self.output[start if newline < 0 else newline + 1 :]

    def time_text(self, now: float) -> str:
        if self.state == CACHED:
            return ""
        return f"{self.elapsed if self.elapsed is not None else now - self.started:.1f}s"


class BuildScreen(ModalScreen[Image | None]):
    """Runs the build of ``options`` at once and shows it; dismisses with the image built,
    or None when it failed or was cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel / close", id="build.cancel")]

    def __init__(self, engine: Engine, options: BuildOptions) -> None:
        super().__init__()
        self.engine = engine
        self.options = options
        self.steps: dict[int, Step] = {}  # by the step's number, in the order they began
        self.message = ""  # what the status line says: building, built, the error
        self.image: Image | None = None
        self.finished = False  # its end (built, failed, cancelled) is on the screen
        self._worker: Worker[Image] | None = None
        self._shown: int | None = None  # the step whose output the log shows

    def compose(self) -> ComposeResult:
        tags = f" as {', '.join(self.options.tags)}" if self.options.tags else ""
        heading = f"Building {self.options.context} ({self.options.dockerfile_name}){tags}"
        with Vertical(classes="dialog build-dialog"):
            yield Label(heading, classes="form-heading", markup=False)
            yield Static(classes="build-status", markup=False)
            yield DataTable(id="build-steps", cursor_type="row", zebra_stripes=True)
            yield Label(classes="build-output-title", markup=False)
            yield Log(id="build-output", max_lines=1000)
            with Horizontal(classes="form-buttons"):
                yield Button("Cancel", classes="build-close")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in ("STATE", "STEP", "TIME"):
            table.add_column(column, key=column)
        table.focus()
        self.show_message("Building… (Escape cancels)")
        self.set_interval(_TICK, self._tick)
        self._worker = self.run_worker(
            self._build, group="build", exit_on_error=False, description="Building"
        )

    async def _build(self) -> Image:
        running = self.engine.build.build(self.options)
        async with running:  # left early (cancelled, failed): the build stops and unwinds
            async for event in running:
                self._show(event)
            return await running.result()

    def _show(self, event: BuildEvent) -> None:
        if event.kind == "warning":
            self.app.notify(event.text, title="Build warning", severity="warning", markup=False)
            return
        step = self.steps.get(event.step)
        if step is None:
            step = self.steps[event.step] = Step(event.name, RUNNING, time.monotonic())
            self._add_row(event.step, step)
        if event.kind == "output":
            self._add_output(event.step, event.text)
            return
        step.state = _STATES[event.kind]
        if step.state in (DONE, ERROR):
            step.elapsed = event.elapsed
        if step.state == ERROR:  # under its output, as BuildKit prints it
            self._follow(event.step)
            self._add_output(event.step, f"ERROR: {event.text}\n")
        self._update_row(event.step, step)

    def _add_output(self, number: int, text: str) -> None:
        self.steps[number].add_output(text)
        if number == self._shown:
            self.query_one(Log).write(text)

    def _add_row(self, number: int, step: Step) -> None:
        name = step.name if len(step.name) <= _NAME_WIDTH else step.name[: _NAME_WIDTH - 1] + "…"
        table = self.query_one(DataTable)
        # Text: a str cell is markup, and "[internal] load …" would lose its "[internal]".
        table.add_row(_state_cell(step.state), Text(name), step.time_text(time.monotonic()),
                      key=str(number))  # fmt: skip
        self._follow(number)

    def _follow(self, number: int) -> None:
        """The cursor, and with it the output shown, on step ``number``."""
        table = self.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(str(number)), animate=False)
        # At once, not on the RowHighlighted message: the step's first output may come first.
        self._show_output(number)

    def _update_row(self, number: int, step: Step) -> None:
        table = self.query_one(DataTable)
        # Widened as needed: "CANCELLED" outgrows "running", "10.0s" outgrows "9.9s".
        table.update_cell(str(number), "STATE", _state_cell(step.state), update_width=True)
        table.update_cell(str(number), "TIME", step.time_text(time.monotonic()), update_width=True)

    def _tick(self) -> None:
        for number, step in self.steps.items():
            if step.state == RUNNING:
                self._update_row(number, step)

    @on(DataTable.RowHighlighted)
    def _step_chosen(self, event: DataTable.RowHighlighted) -> None:
        self._show_output(int(str(event.row_key.value)))

    def _show_output(self, number: int) -> None:
        if number == self._shown:
            return
        self._shown = number
        step = self.steps[number]
        self.query_one(".build-output-title", Label).update(f"Output of {step.name}")
        log = self.query_one(Log)
        log.clear()
        log.write(step.output)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Sent once the worker has ended: after the engine unwound a cancelled build.
        if event.worker is not self._worker:
            return
        if event.state is WorkerState.SUCCESS:
            self.image = event.worker.result
            tags = ", ".join(self.options.tags) or "untagged"
            self._ended(f"Built {self.image.id} ({tags})", error=False)
        elif event.state is WorkerState.CANCELLED:
            self._ended("Build cancelled: nothing was kept", error=False)
        elif event.state is WorkerState.ERROR:
            self._ended(describe_error(event.worker.error), error=True)

    def _ended(self, message: str, *, error: bool) -> None:
        for number, step in self.steps.items():
            if step.state == RUNNING:  # the step a cancellation stopped
                step.state, step.elapsed = CANCELLED, time.monotonic() - step.started
                self._update_row(number, step)
        self.show_message(message, error=error)
        self.query_one(".build-close", Button).label = "Close"
        self.finished = True

    def show_message(self, text: str, *, error: bool = False) -> None:
        self.message = text
        self.query_one(".build-status", Static).update(text)
        self.set_class(error, "-error")

    @on(Button.Pressed, ".build-close")
    def action_cancel(self) -> None:
        """Escape: cancel the build in flight, else close."""
        if self.finished:
            self.dismiss(self.image)
        elif self._worker is not None and not self._worker.is_cancelled:
            self.show_message("Cancelling…")
            self._worker.cancel()


def _state_cell(state: str) -> Text:
    return Text(state, style=_STATE_STYLES[state])
