"""The runtime's view of an init's life, as its state directory and /proc tell it."""

from __future__ import annotations

import io
import os
import subprocess

import pytest

from engine import process_identity
from engine.runtime import statedir as states


def test_a_live_process_is_alive() -> None:
    assert states.is_alive(os.getpid(), states.process_start(os.getpid()))


def test_a_reaped_process_is_not() -> None:
    process = subprocess.Popen(["sleep", "60"])
    start = states.process_start(process.pid)
    process.kill()
    process.wait()
    assert not states.is_alive(process.pid, start)


def test_a_process_reaped_while_its_stat_is_read_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    """/proc/<pid>/stat, opened before the reap and read after, says ESRCH, not ENOENT."""

    class Reaped(io.BytesIO):
        def read(self, *_: object) -> bytes:
            raise ProcessLookupError(3, "No such process")

    monkeypatch.setattr(process_identity, "open", lambda *_: Reaped(), raising=False)
    assert not states.is_alive(os.getpid(), 1)


def test_a_delete_killed_half_way_leaves_a_container_the_next_delete_finds(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """state.json goes last: killed before it, the directory is still a container."""
    directory = tmp_path / ("a" * 64)
    directory.mkdir()
    for name in (states.EXEC_FIFO, "zz-other", states.STATE_FILE):
        (directory / name).write_text("{}")
    unlinked = []

    def killed_after_one(self, missing_ok: bool = False) -> None:
        if unlinked:
            raise KeyboardInterrupt  # SIGKILL, as near as a test gets to it
        unlinked.append(self.name)
        os.unlink(self)

    monkeypatch.setattr(type(directory), "unlink", killed_after_one)
    with pytest.raises(KeyboardInterrupt):
        states.remove_dir(tmp_path, "a" * 64)
    assert unlinked != [states.STATE_FILE]
    assert (directory / states.STATE_FILE).exists()
    monkeypatch.undo()
    states.remove_dir(tmp_path, "a" * 64)
    assert not directory.exists()
