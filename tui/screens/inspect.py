"""The JSON ``berth inspect`` prints, as a folded tree one can search."""

from __future__ import annotations

import json
import re
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static, Tree
from textual.widgets.tree import TreeNode


class InspectScreen(ModalScreen[None]):
    """Shows ``document`` under ``title``: Enter or a click folds and unfolds, ``/`` searches
    keys and values (every match unfolded and highlighted, ``n``/``N`` go through them)."""

    BINDINGS = [
        Binding("escape,q", "close", "Close", id="inspect.close"),
        Binding("slash", "search", "Search", id="inspect.search"),
        Binding("n", "next_match(1)", "Next", id="inspect.next"),
        Binding("N", "next_match(-1)", "Previous", id="inspect.previous", show=False),
        Binding("e", "unfold_all", "Unfold all", id="inspect.unfold-all"),
        Binding("c", "fold_all", "Fold all", id="inspect.fold-all"),
    ]

    def __init__(self, title: str, document: dict[str, Any]) -> None:
        super().__init__()
        self._title = title
        self._document = document
        self.matches: list[TreeNode[str]] = []
        self._match = -1
        self.search = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="inspect-dialog", classes="dialog"):
            yield Label(self._title, id="inspect-title", markup=False)
            yield Tree("{}", id="inspect-tree")
            yield Input(placeholder="Search keys and values (Enter)", id="inspect-search")
            yield Static(id="inspect-status", markup=False)

    def on_mount(self) -> None:
        tree = self.tree
        tree.show_root = False
        _add_children(tree.root, self._document)
        tree.root.expand()  # the top-level keys show; every object and list below is folded
        self.query_one("#inspect-search").display = False
        self._update_status()
        tree.focus()

    @property
    def tree(self) -> Tree[str]:
        return self.query_one("#inspect-tree", Tree)

    def action_search(self) -> None:
        field = self.query_one("#inspect-search", Input)
        field.value = self.search
        field.display = True
        field.focus()

    @on(Input.Submitted, "#inspect-search")
    def _searched(self, event: Input.Submitted) -> None:
        event.input.display = False
        self.search = event.value.strip()
        self._find()
        self.tree.focus()
        if self.matches:
            self.action_next_match(1)

    def _find(self) -> None:
        """Highlight every node whose key or value holds the search, unfolding its parents."""
        pattern = re.compile(re.escape(self.search), re.IGNORECASE) if self.search else None
        self.matches, self._match = [], -1
        for node in _walk(self.tree.root):
            label = Text(str(node.data))
            if pattern and pattern.search(label.plain):
                label.highlight_regex(pattern, style="bold reverse")
                self.matches.append(node)
                _unfold_to(node)
            node.set_label(label)
        self._update_status()

    def action_next_match(self, step: int) -> None:
        if not self.matches:
            return
        self._match = (self._match + step) % len(self.matches)
        node, tree = self.matches[self._match], self.tree
        # Unfolding left the tree's line numbers stale; reading last_line lays them out.
        _ = tree.last_line
        tree.move_cursor(node)
        tree.scroll_to_node(node, animate=False)
        self._update_status()

    def action_unfold_all(self) -> None:
        self.tree.root.expand_all()

    def action_fold_all(self) -> None:
        for node in self.tree.root.children:
            node.collapse_all()

    def _update_status(self) -> None:
        status = "Enter folds/unfolds · / search · e unfold all · c fold all · Escape closes"
        if self.search:
            position = f"{self._match + 1}/{len(self.matches)}" if self.matches else "no match"
            status = f"“{self.search}”: {position} (n/N) · " + status
        self.query_one("#inspect-status", Static).update(status)

    def action_close(self) -> None:
        # Escape first closes the search field, then the screen.
        field = self.query_one("#inspect-search", Input)
        if field.display:
            field.display = False
            self.tree.focus()
        else:
            self.dismiss(None)


def _add_children(parent: TreeNode[str], value: dict[str, Any] | list[Any]) -> None:
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in items:
        if isinstance(child, (dict, list)) and child:
            brackets = "{}" if isinstance(child, dict) else "[]"
            label = f"{key} {brackets[0]}{len(child)}{brackets[1]}"
            _add_children(parent.add(label, data=label), child)
        else:
            label = f"{key}: {json.dumps(child)}"
            parent.add_leaf(label, data=label)


def _walk(node: TreeNode[str]) -> list[TreeNode[str]]:
    """Every node below ``node``, in document order."""
    found = []
    for child in node.children:
        found.append(child)
        found.extend(_walk(child))
    return found


def _unfold_to(node: TreeNode[str]) -> None:
    parent = node.parent
    while parent is not None:
        parent.expand()
        parent = parent.parent
