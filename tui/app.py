"""The berth terminal UI: containers and images of the local engine, live."""

from __future__ import annotations

import sys

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from engine.api import Engine
from engine.errors import BerthError
from tui.handover import HandOverFn, terminal_hand_over
from tui.screens.stats import StatsScreen
from tui.widgets.containers import ContainersView
from tui.widgets.engine_table import EngineTable
from tui.widgets.images import ImagesView


class BerthApp(App[None]):
    """The app on one engine; tests inject an engine under a temporary root."""

    CSS_PATH = "berth.tcss"
    TITLE = "berth"
    BINDINGS = [
        # The tabs themselves name the views: keep the footer for the view's own keys.
        Binding(
            "1", "show_tab('containers')", "Containers", id="berth.show-containers", show=False
        ),
        Binding("2", "show_tab('images')", "Images", id="berth.show-images", show=False),
        Binding("S,3", "stats", "Stats", id="berth.stats"),
        Binding("q", "quit", "Quit", id="berth.quit"),
    ]

    def __init__(self, engine: Engine, hand_over: HandOverFn | None = None) -> None:
        super().__init__()
        self.engine = engine
        # Tests pass a recorder: a headless app cannot give its terminal away.
        self.hand_over = hand_over or terminal_hand_over(self, engine)

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="containers-tab"):
            with TabPane("Containers", id="containers-tab"):
                yield ContainersView(self.engine, self.hand_over)
            with TabPane("Images", id="images-tab"):
                yield ImagesView(self.engine)
        yield Footer(compact=True)  # every key of a view fits in 120 columns

    def on_mount(self) -> None:
        self.sub_title = str(self.engine.paths.root)

    def action_show_tab(self, name: str) -> None:
        self.query_one(TabbedContent).active = f"{name}-tab"

    def action_stats(self) -> None:
        if not isinstance(self.screen, StatsScreen):
            self.push_screen(StatsScreen(self.engine))

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # A tab shows fresh rows at once instead of waiting for the next poll, and its
        # table takes the focus so that the view's keys apply.
        view = event.pane.query_one(EngineTable)
        view.table.focus()
        view.reload()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place engine failures surface: a notification, and the app goes on."""
        if event.state is not WorkerState.ERROR:
            return
        message = _describe(event.worker.error)
        self.notify(message, title=event.worker.description, severity="error", markup=False)


def _describe(error: BaseException | None) -> str:
    # The engine's errors are written for the user; anything else is a bug, named as such.
    if isinstance(error, BerthError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def run_tui(root: str | None, runroot: str | None) -> int:
    """Open the engine and run the app; 1 with a one-line message when the engine can't open."""
    try:
        engine = Engine.open(root, runroot)
    except BerthError as error:
        print(f"berth: {error}", file=sys.stderr)
        return 1
    try:
        BerthApp(engine).run()
    finally:
        engine.close()
    return 0
