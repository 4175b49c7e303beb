"""The berth terminal UI: containers, images and volumes of the local engine, live."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from engine.api import Engine
from engine.errors import BerthError
from tui.commands import BerthCommands
from tui.config import ConfigError, TuiConfig, config_path, load_config
from tui.handover import HandOverFn, terminal_hand_over
from tui.screens.help import HelpScreen, keys_in_force
from tui.screens.stats import StatsScreen
from tui.widgets.containers import ContainersView
from tui.widgets.engine_table import EngineTable
from tui.widgets.images import ImagesView
from tui.widgets.volumes import VolumesView
from tui.workers import describe_error


class BerthApp(App[None]):
    """The app on one engine; tests inject an engine under a temporary root."""

    CSS_PATH = "berth.tcss"
    TITLE = "berth"
    COMMANDS = App.COMMANDS | {BerthCommands}
    # Priority: these work over dialogs too, where other app keys don't (a modal screen
    # ends Textual's binding chain); a focused input still types ? and : as text.
    BINDINGS = [
        # Not in the footer, which a view's keys fill: the palette's ^p shows there, and
        # lists Help with its key.
        Binding("question_mark", "help", "Help", id="berth.help", show=False, priority=True),
        Binding(
            "ctrl+p,colon",
            "command_palette",
            "Commands",
            id="berth.commands",
            show=False,
            priority=True,
        ),
        # The tabs themselves name the views: keep the footer for the view's own keys.
        Binding(
            "1",
            "show_tab('containers')",
            "Containers view",
            id="berth.show-containers",
            show=False,
        ),
        Binding("2", "show_tab('images')", "Images view", id="berth.show-images", show=False),
        Binding("4", "show_tab('volumes')", "Volumes view", id="berth.show-volumes", show=False),
        Binding(
            "left_square_bracket",
            "next_tab(-1)",
            "Previous view",
            id="berth.previous-tab",
            show=False,
        ),
        Binding(
            "right_square_bracket", "next_tab(1)", "Next view", id="berth.next-tab", show=False
        ),
        Binding("S,3", "stats", "Stats", id="berth.stats"),
        Binding(
            "ctrl+t",
            "toggle_dark",
            "Toggle dark/light theme",
            id="berth.theme",
            show=False,
            priority=True,
        ),
        Binding("ctrl+l", "redraw", "Redraw", id="berth.redraw", show=False, priority=True),
        Binding("q", "quit", "Quit", id="berth.quit"),
    ]

    def __init__(
        self, engine: Engine, hand_over: HandOverFn | None = None,
        config: TuiConfig | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.engine = engine
        # Tests pass a recorder: a headless app cannot give its terminal away.
        self.hand_over = hand_over or terminal_hand_over(self, engine)
        self.config = config or TuiConfig()
        self.set_keymap(self.config.keys)
        if self.config.theme:
            self.theme = self.config.theme

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="containers-tab"):
            with TabPane("Containers", id="containers-tab"):
                yield ContainersView(self.engine, self.hand_over, refresh=self.config.refresh)
            with TabPane("Images", id="images-tab"):
                yield ImagesView(self.engine, refresh=self.config.refresh)
            with TabPane("Volumes", id="volumes-tab"):
                yield VolumesView(self.engine, refresh=self.config.refresh)
        yield Footer(compact=True)  # every key of a view fits in 120 columns

    def on_mount(self) -> None:
        self.sub_title = str(self.engine.paths.root)

    def action_show_tab(self, name: str) -> None:
        self._show_pane(f"{name}-tab")

    def action_next_tab(self, step: int) -> None:
        tabs = self.screen_stack[0].query_one(TabbedContent)
        panes = [str(pane.id) for pane in tabs.query(TabPane)]
        self._show_pane(panes[(panes.index(tabs.active) + step) % len(panes)])

    def _show_pane(self, pane_id: str) -> None:
        # From the logs or stats screen the views are underneath: go back to them.
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.screen.query_one(TabbedContent).active = pane_id

    def action_help(self) -> None:
        self.push_screen(HelpScreen(keys_in_force(self.screen), config_path()))

    def action_redraw(self) -> None:
        """Ctrl-L, as in a shell: repaint every cell, over whatever else wrote to the terminal."""
        self.screen.refresh(layout=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # On the help screen, ? is its own key (it closes it), not a second help.
        return not (action == "help" and isinstance(self.screen, HelpScreen))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        # Textual's Quit and Keys are berth's own q and ?, already in the palette.
        return (
            command for command in super().get_system_commands(screen)
            if command.title not in ("Quit", "Keys")
        )  # fmt: skip

    def action_stats(self) -> None:
        if not isinstance(self.screen, StatsScreen):
            self.push_screen(StatsScreen(self.engine, self.config.refresh))

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
        message = describe_error(event.worker.error)
        self.notify(message, title=event.worker.description, severity="error", markup=False)


def run_tui(root: str | None, runroot: str | None) -> int:
    """Run the app; 1 with a one-line message when the config or the engine is unusable."""
    try:
        config = load_config()
        engine = Engine.open(root, runroot)
    except (ConfigError, BerthError) as error:
        print(f"berth: {error}", file=sys.stderr)
        return 1
    try:
        BerthApp(engine, config=config).run()
    finally:
        engine.close()
    return 0
