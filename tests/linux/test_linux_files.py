"""write_atomically: the one write-then-rename every layer uses."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engine.linux import files
from engine.linux.files import write_atomically


def test_it_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")
    write_atomically(path, "new")
    assert path.read_text() == "new"
    assert os.listdir(tmp_path) == ["state.json"]


def test_bytes_are_written_as_they_are(tmp_path: Path) -> None:
    write_atomically(tmp_path / "blob", b"\x00\xff")
    assert (tmp_path / "blob").read_bytes() == b"\x00\xff"


def test_the_mode_is_a_plain_files_not_a_private_temporarys(tmp_path: Path) -> None:
    """hosts and resolv.conf are read in the container by users other than root."""
    old = os.umask(0o022)
    try:
        write_atomically(tmp_path / "hosts", "127.0.0.1 localhost\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "hosts").stat().st_mode) == 0o644


def test_durable_syncs_the_file_and_its_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", fsync)
    write_atomically(tmp_path / "state.json", "{}", durable=True)
    assert synced[-1] == str(tmp_path)
    assert len(synced) == 2 and synced[0].startswith(str(tmp_path / ".state.json."))
    synced.clear()
    write_atomically(tmp_path / "pid", "1")
    assert synced == []


def test_a_failed_rename_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")

    def fail(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", fail)
    with pytest.raises(OSError, match="No space"):
        write_atomically(path, "new")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["state.json"]


def test_a_directory_gone_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomically(tmp_path / "gone" / "status", "{}")
