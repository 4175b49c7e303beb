"""Every key binding berth declares, read from the classes themselves.

The same catalogue gives the ids a keymap file may use (tui/config.py) and the Markdown
table the README shows: ``python -m tui.keys_doc`` prints it. New screens and widgets are
found by importing every module of the ``tui`` package, so nothing here lists them.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType

from textual.app import App
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.keys import format_key


@cache
def declared_bindings() -> tuple[tuple[type[DOMNode], Binding], ...]:
    """(class, binding) for each binding a class of the tui package declares itself.

    Inherited bindings are listed once, under the class that declares them; the order is
    the modules' (app first), then the classes' and the bindings' own.
    """
    found: list[tuple[type[DOMNode], Binding]] = []
    for module in _tui_modules():
        for value in vars(module).values():
            if _declares_bindings(value, module):
                found.extend((value, _as_binding(item)) for item in value.__dict__["BINDINGS"])
    return tuple(found)


def binding_ids() -> frozenset[str]:
    """The ids a keymap may remap."""
    return frozenset(binding.id for _, binding in declared_bindings() if binding.id)


def scope_name(node: type[DOMNode]) -> str:
    """Where a class's bindings apply, in words: "App-wide", "Containers view", "Logs screen"."""
    if issubclass(node, App):
        return "App-wide"
    words = re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", node.__name__)
    return " ".join([words[0], *(word.lower() for word in words[1:])])


def key_names(keys: str) -> str:
    """``"S,3"``, ``"ctrl+l"``, ``"/"``: keys as the keymap file takes them."""
    return ",".join(_key_name(key.strip()) for key in keys.split(","))


def markdown() -> str:
    """A Markdown table of every binding: where it applies, its keys, what it does, its id."""
    lines = ["| Where | Keys | Action | Id (for `[keys]` in tui.toml) |", "|---|---|---|---|"]
    for owner, binding in declared_bindings():
        cells = (_applies_in(owner), f"`{key_names(binding.key)}`", binding.description,
                 f"`{binding.id}`")  # fmt: skip
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def _tui_modules() -> Iterator[ModuleType]:
    # This file's own folder, not ``tui.__path__``: under pytest, tests/tui is ``tui``.
    package = Path(__file__).parent
    for info in pkgutil.walk_packages([str(package)], f"{package.name}."):
        yield importlib.import_module(info.name)


def _declares_bindings(value: object, module: ModuleType) -> bool:
    return (
        isinstance(value, type)
        and issubclass(value, DOMNode)
        and value.__module__ == module.__name__  # defined here, not imported
        and "BINDINGS" in value.__dict__
    )


def _as_binding(item: BindingType) -> Binding:
    return item if isinstance(item, Binding) else Binding(*item)


def _applies_in(owner: type[DOMNode]) -> str:
    # A base class's keys (the tables' filter and sort) apply in each view built on it.
    heirs = [
        scope_name(heir) for heir in owner.__subclasses__() if heir.__module__.startswith("tui.")
    ]
    return ", ".join(heirs) or scope_name(owner)


def _key_name(key: str) -> str:
    # "slash" reads better as "/", and the keymap file takes either; "escape" must stay
    # "escape" there, though Textual's footer writes "esc".
    *modifiers, name = key.split("+")
    shown = format_key(name)
    return "+".join([*modifiers, shown if len(shown) == 1 else name])


if __name__ == "__main__":
    print(markdown())
