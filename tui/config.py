"""The user's settings for the TUI: refresh interval, theme and key bindings, from TOML.

The file is ``$XDG_CONFIG_HOME/berth/tui.toml`` (``~/.config/berth/tui.toml``), or the one
``$BERTH_TUI_CONFIG`` names. It is checked whole before the app opens, so a typo is one
line naming the file and the problem, not a key that silently does nothing::

    refresh = 1.0          # seconds between refreshes of the views and stats
    theme = "textual-dark" # any Textual theme name
    [keys]
    "containers.stop" = "x,ctrl+s"   # binding id = keys, as App.set_keymap takes them
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.theme import BUILTIN_THEMES

from tui.keys_doc import binding_ids

DEFAULT_REFRESH = 1.0
_SETTINGS = {"refresh", "theme", "keys"}


class ConfigError(Exception):
    """The config file can't be used; the message is one line naming the file and why."""


@dataclass(frozen=True)
class TuiConfig:
    """Settings in effect: the file's where it has them, else the defaults."""

    refresh: float = DEFAULT_REFRESH  # seconds between polls of the views and stats
    theme: str | None = None  # None: Textual's default theme
    keys: dict[str, str] = field(default_factory=dict)  # binding id -> "key,key"


def config_path() -> Path:
    """Where the config is read from: $BERTH_TUI_CONFIG, else the XDG location."""
    explicit = os.environ.get("BERTH_TUI_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "berth" / "tui.toml"


def load_config(path: Path | None = None) -> TuiConfig:
    """Read and check ``path`` (default: ``config_path()``); no file means the defaults.

    Raises ConfigError for a file that isn't valid TOML or names an unknown setting,
    binding id or theme, or a refresh that isn't a positive number of seconds.
    """
    path = path or config_path()
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except FileNotFoundError:
        return TuiConfig()
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: {error}") from None
    try:
        return _parse(document)
    except ValueError as error:
        raise ConfigError(f"{path}: {error}") from None


def _parse(document: dict[str, Any]) -> TuiConfig:
    unknown = sorted(set(document) - _SETTINGS)
    if unknown:
        raise ValueError(f'unknown setting "{unknown[0]}" (settings: refresh, theme, [keys])')
    return TuiConfig(
        refresh=_refresh(document.get("refresh", DEFAULT_REFRESH)),
        theme=_theme(document.get("theme")),
        keys=_keys(document.get("keys", {})),
    )


def _refresh(value: object) -> float:
    # bool is an int to Python, not a number of seconds to a user.
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"refresh must be a number of seconds above 0, not {value!r}")
    return float(value)


def _theme(value: object) -> str | None:
    if value is None:
        return None
    if value not in BUILTIN_THEMES:
        themes = ", ".join(sorted(BUILTIN_THEMES))
        raise ValueError(f"unknown theme {value!r} (themes: {themes})")
    return str(value)


def _keys(table: object) -> dict[str, str]:
    if not isinstance(table, dict):
        raise ValueError('[keys] must be a table of "binding.id" = "key,key"')
    known = binding_ids()
    keys: dict[str, str] = {}
    for binding_id, value in table.items():
        if binding_id not in known:
            raise ValueError(f'unknown binding id "{binding_id}" (see ? in the TUI for ids)')
        names = [key.strip() for key in value.split(",")] if isinstance(value, str) else []
        if not names or not all(names):
            raise ValueError(f'keys for "{binding_id}" must be a string such as "x,ctrl+s"')
        keys[binding_id] = ",".join(_key_name(name) for name in names)
    return keys


def _key_name(key: str) -> str:
    # Textual names keys in lower case ("f8", "ctrl+s"); a single character keeps its case,
    # since "G" and "g" are different keys.
    return "+".join(part if len(part) == 1 else part.lower() for part in key.split("+"))
