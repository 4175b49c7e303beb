"""The keyboard layer: ? help, the command palette, a user's keymap, Ctrl-L and themes.

Driven headlessly by Pilot against a real engine, as tests/tui/test_app.py does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from textual._compositor import Compositor
from textual.app import App, ComposeResult
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import DataTable, OptionList

from engine.api import Engine
from engine.paths import EnginePaths
from tests.tui import test_app
from tests.tui.test_app import SIZE, rows, screenshot, select, settle
from tui.app import BerthApp
from tui.commands import BerthCommands
from tui.config import TuiConfig, load_config
from tui.keys_doc import binding_ids, declared_bindings, markdown
from tui.screens.help import HelpScreen
from tui.screens.stats import StatsScreen
from tui.table import Table
from tui.widgets.engine_table import EngineTable

# Stops at once on SIGTERM, so `stop` needn't wait out its timeout.
STOPPABLE = ("busybox", "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done")


# No polls (and with them no endless stats feed that no settle() could wait out): rows
# load when a test's action reloads them, so each test decides what happens when.
NO_POLLS = TuiConfig(refresh=3600)


@pytest.fixture(autouse=True)
def no_polls(monkeypatch) -> None:
    # For the views that don't take the config's refresh (yet).
    monkeypatch.setattr(EngineTable, "DEFAULT_REFRESH", NO_POLLS.refresh)


def make_app(engine: Engine, config: TuiConfig = NO_POLLS) -> BerthApp:
    return test_app.make_app(engine, config)


async def run_command(pilot: Pilot, key: str, typed: str, name: str) -> None:
    """Open the palette with ``key``, type ``typed``, and Enter once ``name`` is the top hit."""
    await pilot.press(key, *typed)
    options = pilot.app.screen.query_one(OptionList)

    def top_hit() -> str:
        highlighted = options.highlighted_option
        # The prompt is the command's name, then its help line.
        return "" if highlighted is None else str(highlighted.prompt).partition("\n")[0]

    await wait_until(pilot, lambda: top_hit() == name)
    await pilot.press("enter")


async def wait_until(pilot: Pilot, condition: Callable[[], bool], seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await pilot.pause(0.05)


def help_rows(app: BerthApp) -> list[list[str]]:
    """The help table's rows: [where (on a group's first row), keys, action, id]."""
    assert isinstance(app.screen, HelpScreen)
    table = app.screen.query_one("#help-keys", DataTable)
    return [[str(cell) for cell in table.get_row(key)] for key in table.rows]


def help_by_id(app: BerthApp) -> dict[str, list[str]]:
    return {row[3]: row for row in help_rows(app)}


async def state(engine: Engine, name: str) -> str:
    return (await engine.containers.get(name)).state


async def test_question_mark_lists_the_keys_in_force_with_their_ids(engine, berth_ok):
    berth_ok("run", "-d", "--name", "web", *STOPPABLE)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        listed = help_by_id(app)
        assert listed["containers.stop"][1:3] == ["x", "Stop"]
        assert listed["berth.help"][1:3] == ["?", "Help"]
        assert listed["table.filter"][1] == "/"  # inherited by the view: listed with it
        groups = [row[0] for row in help_rows(app) if row[0]]
        assert groups[0] == "App-wide" and "Containers view" in groups
        assert "containers.start" in listed  # greyed out (it runs), yet a key that exists
        screenshot(app, "help")
        for close in ("escape", "q", "question_mark"):
            await pilot.press(close)
            assert not isinstance(app.screen, HelpScreen), close
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
        # Elsewhere, it lists that screen's keys.
        await pilot.press("escape", "S")
        await pilot.press("question_mark")
        assert "stats.close" in help_by_id(app) and "containers.stop" not in help_by_id(app)


async def test_a_keymap_file_remaps_stop_to_f8(engine, berth_ok, tmp_path: Path):
    config_file = tmp_path / "tui.toml"
    config_file.write_text('refresh = 3600\n[keys]\n"containers.stop" = "F8"\n')
    berth_ok("run", "-d", "--name", "web", *STOPPABLE)
    app = make_app(engine, load_config(config_file))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("x")  # no longer stop
        await settle(pilot)
        assert await state(engine, "web") == "running"
        await pilot.press("question_mark")
        assert help_by_id(app)["containers.stop"][1] == "f8"
        await pilot.press("escape", "f8")
        await settle(pilot)
        assert await state(engine, "web") == "exited"


async def test_palette_runs_what_the_key_would(engine, berth_ok):
    berth_ok("create", "--name", "idle", "busybox", "true")
    berth_ok("run", "-d", "--name", "web", *STOPPABLE)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, "containers", "web")
        await pilot.press("colon")
        assert isinstance(app.screen, CommandPalette)
        offered = palette_names(app)
        # Start is greyed out for a running container: not offered; Stop is, with its key.
        assert "Stop" in offered and "Start" not in offered
        assert {"Containers view", "Images view", "Stats", "Toggle dark/light theme"} <= offered
        assert "Quit" in offered and "Cursor up" not in offered  # Textual's keys: no commands
        await pilot.press("escape")
        await run_command(pilot, "colon", "stop", "Stop")
        await settle(pilot)
        assert not isinstance(app.screen, CommandPalette)
        assert await state(engine, "web") == "exited"
        assert rows(app, "containers")[0][4].startswith("Exited")
        # Ctrl+P opens it too (Textual's key); from there, the images view.
        await run_command(pilot, "ctrl+p", "images view", "Images view")
        await pilot.pause()
        assert app.query_one("TabbedContent").active == "images-tab"


def palette_names(app: BerthApp) -> set[str]:
    """What the open palette's berth provider offers for the screen underneath."""
    provider = BerthCommands(app.screen_stack[-2])
    return {command.name for command in provider.commands()}


async def test_colon_is_typed_into_a_filter_not_taken_by_the_palette(engine, berth_ok):
    berth_ok("create", "--name", "idle", "busybox", "true")
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", "colon", "question_mark")
        assert not isinstance(app.screen, CommandPalette | HelpScreen)
        assert app.query_one("#containers .filter").value == ":?"


async def test_ctrl_l_redraws_every_cell(engine_paths: EnginePaths, monkeypatch):
    full_updates = 0
    render_full_update = Compositor.render_full_update

    def counted(self: Compositor, *args: object, **kwargs: object) -> object:
        nonlocal full_updates
        full_updates += 1
        return render_full_update(self, *args, **kwargs)

    monkeypatch.setattr(Compositor, "render_full_update", counted)
    app = make_app(Engine(engine_paths))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = full_updates
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: full_updates > before)
        assert app.is_running


async def test_light_theme_from_the_config_and_ctrl_t_toggles(engine, berth, berth_ok):
    berth_ok("run", "-d", "--name", "web", *STOPPABLE)
    berth_ok("run", "--name", "job", "busybox", "true")
    berth_ok("create", "--name", "idle", "busybox", "true")
    assert berth("run", "--name", "broken", "busybox", "sh", "-c", "exit 3").returncode == 3
    app = make_app(engine, TuiConfig(refresh=3600, theme="textual-light"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.theme == "textual-light"
        select(app, "containers", "idle")  # the cursor row hides the status colours
        await pilot.pause()
        screenshot(app, "containers-light")
        await pilot.press("ctrl+t")
        assert app.theme == "textual-dark"
        await pilot.press("ctrl+t")
        assert app.theme == "textual-light"


async def test_views_switch_with_brackets_and_numbers_from_any_screen(engine_paths: EnginePaths):
    app = make_app(Engine(engine_paths))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tabs = app.query_one("TabbedContent")
        await pilot.press("right_square_bracket")
        assert tabs.active == "images-tab"
        await pilot.press("right_square_bracket")
        assert tabs.active == "volumes-tab"
        await pilot.press("right_square_bracket")
        assert tabs.active == "containers-tab"
        await pilot.press("left_square_bracket")
        assert tabs.active == "volumes-tab"
        await pilot.press("2")
        assert tabs.active == "images-tab"
        await pilot.press("S")
        assert isinstance(app.screen, StatsScreen)
        await pilot.press("4")  # back from stats to the views
        await pilot.pause()
        assert not isinstance(app.screen, StatsScreen) and tabs.active == "volumes-tab"


class _TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Table(cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(Table)
        table.add_column("n")
        table.add_rows([[str(n)] for n in range(50)])


async def test_table_moves_with_j_k_g_and_shift_g():
    app = _TableApp()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(Table)
        await pilot.press("j", "j", "j", "k")
        assert table.cursor_row == 2
        await pilot.press("G")
        assert table.cursor_row == 49
        await pilot.press("g")
        assert table.cursor_row == 0


def test_every_binding_has_a_unique_id_and_is_documented():
    declared = [binding for _, binding in declared_bindings()]
    assert declared and all(binding.id for binding in declared), "a Binding without id"
    ids = [binding.id for binding in declared]
    assert len(ids) == len(set(ids)), "an id declared twice"
    table = markdown()
    assert all(f"`{binding_id}`" in table for binding_id in binding_ids())
    assert "| App-wide | `?` | Help | `berth.help` |" in table
    assert "| Containers view, Images view, Volumes view | `/` | Filter | `table.filter` |" in table
