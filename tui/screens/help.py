"""``?``: the keys in force where the user is, grouped by where they apply, with their ids.

Read from the screen's live bindings (after the user's keymap), so keys that other screens
and views add later show up here without anyone listing them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Label

from tui.keys_doc import scope_name
from tui.table import Table


@dataclass(frozen=True)
class KeyEntry:
    """One binding in force: every key that runs it now, and where its action runs."""

    node: DOMNode  # the binding's namespace: its action runs on this node
    binding: Binding  # as remapped; its key is one of ``keys``
    keys: tuple[str, ...]  # as the footer shows them
    enabled: bool  # False: greyed out, there is nothing for it to act on now

    @property
    def scope(self) -> str:
        """Where it applies: "App-wide", "Containers view"."""
        return scope_name(type(self.node))

    @property
    def description(self) -> str:
        return self.binding.description or self.binding.action


def keys_in_force(screen: Screen[object]) -> list[KeyEntry]:
    """Each binding a key press on ``screen`` would run now, app-wide ones first.

    A binding with several keys is one entry; a key another binding shadows, an action
    whose check_action says False, and Textual's system bindings are left out.
    """
    entries: dict[tuple[int, str | None, str], KeyEntry] = {}
    for active in screen.active_bindings.values():
        binding = active.binding
        if binding.system:
            continue
        ident = (id(active.node), binding.id, binding.action)
        known = entries.get(ident)
        keys = known.keys if known else ()
        key = screen.app.get_key_display(binding)
        entries[ident] = KeyEntry(active.node, binding, (*keys, key), active.enabled)
    # Textual's chain runs from the focused widget out to the app; a reader starts wide.
    nodes = list(dict.fromkeys(entry.node for entry in entries.values()))[::-1]
    return sorted(entries.values(), key=lambda entry: nodes.index(entry.node))


class HelpScreen(ModalScreen[None]):
    """Lists ``entries``; Escape, q or ? close it."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help.close")]

    def __init__(self, entries: list[KeyEntry], config_file: Path) -> None:
        super().__init__()
        self.entries = entries
        self._config_file = config_file

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            yield Label("Keys here", id="help-title")
            yield Label(
                f"Remap a key by its id under [keys] in {self._config_file} · Escape closes",
                id="help-hint",
                markup=False,
            )
            # No cursor: the keys are read, not chosen (the palette runs them).
            yield Table(id="help-keys", cursor_type="none", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#help-keys", Table)
        table.add_columns("Where", "Keys", "Action", "Id")
        group = ""
        for entry in self.entries:
            # The group's name once, on its first row, reads as a heading.
            heading, group = ("" if entry.scope == group else entry.scope), entry.scope
            # Greyed out as in the footer: the key exists, but acts on nothing here now.
            style = "" if entry.enabled else "dim"
            table.add_row(
                Text(heading, style="bold"),
                Text(" ".join(entry.keys), style=style),
                Text(entry.description, style=style),
                Text(entry.binding.id or "—", style=style),
            )
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
