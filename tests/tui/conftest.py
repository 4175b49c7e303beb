"""Fixtures the TUI's test modules share."""

from __future__ import annotations

import pytest


@pytest.fixture
def berth_ok(berth):
    """Like ``berth``, failing the test when the command fails."""

    def run(*args: str) -> str:
        result = berth(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    return run
