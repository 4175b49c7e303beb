"""tui.toml: the settings it gives the app, and the one line a mistake in it gets."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from engine.paths import EnginePaths
from tests.conftest import BERTH
from tui.config import ConfigError, TuiConfig, config_path, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tui.toml"
    path.write_text(text)
    return path


def test_no_file_means_the_defaults(tmp_path: Path):
    assert load_config(tmp_path / "absent.toml") == TuiConfig(refresh=1.0, theme=None, keys={})


def test_settings_and_keys_are_read(tmp_path: Path):
    path = write(
        tmp_path,
        'refresh = 2\ntheme = "textual-light"\n'
        '[keys]\n"containers.stop" = "x, Ctrl+s"\n"berth.stats" = "F5,G"\n',
    )
    config = load_config(path)
    assert config.refresh == 2.0 and config.theme == "textual-light"
    # Named keys are Textual's lower-case names; a single character keeps its case.
    assert config.keys == {"containers.stop": "x,ctrl+s", "berth.stats": "f5,G"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("refresh = ", "Invalid value"),
        ('[keys]\n"containers.stp" = "x"\n', 'unknown binding id "containers.stp" (see ? in'),
        ("refresh = 0\n", "refresh must be a number of seconds above 0, not 0"),
        ("refresh = true\n", "refresh must be a number of seconds above 0, not True"),
        ('theme = "solarised"\n', "unknown theme 'solarised' (themes: "),
        ("refesh = 1\n", 'unknown setting "refesh"'),
        ('[keys]\n"containers.stop" = 8\n', 'keys for "containers.stop" must be a string'),
        ('[keys]\n"containers.stop" = "x,,y"\n', 'keys for "containers.stop" must be a string'),
        ('keys = "x"\n', "[keys] must be a table"),
    ],
)
def test_a_mistake_is_one_line_naming_the_file(tmp_path: Path, text: str, problem: str):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and problem in message and "\n" not in message


def test_the_file_is_found_by_env_then_xdg(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("BERTH_TUI_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_path() == tmp_path / "xdg" / "berth" / "tui.toml"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config_path() == tmp_path / ".config" / "berth" / "tui.toml"
    monkeypatch.setenv("BERTH_TUI_CONFIG", str(tmp_path / "mine.toml"))
    assert config_path() == tmp_path / "mine.toml"


def test_berth_refuses_a_bad_config_before_opening_the_tui(engine_paths: EnginePaths, tmp_path):
    path = write(tmp_path, '[keys]\n"containers.stp" = "x"\n')
    result = subprocess.run(
        [BERTH, "--root", str(engine_paths.root), "--runroot", str(engine_paths.runroot)],
        env={**os.environ, "BERTH_TUI_CONFIG": str(path)},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == (
        f'berth: {path}: unknown binding id "containers.stp" (see ? in the TUI for ids)\n'
    )
    assert result.stdout == ""  # no TUI was drawn
