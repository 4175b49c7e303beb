"""What the cp, diff and export tests share: a running container, host snapshots."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest


def ok(berth, *args: str, input: str | None = None) -> str:
    result = berth(*args, input=input)
    assert result.returncode == 0, result.stderr
    return result.stdout


def snapshot(root: Path) -> str:
    """A hash of everything under ``root``: names, types, modes, owners, link targets and
    file contents. Equal before and after: nothing there changed."""
    digest = hashlib.sha256()
    for parent, directories, files in os.walk(root):
        directories.sort()
        for name in sorted(directories + files):
            path = os.path.join(parent, name)
            info = os.lstat(path)
            digest.update(f"{path} {info.st_mode} {info.st_uid} {info.st_gid}\n".encode())
            if os.path.islink(path):
                digest.update(os.readlink(path).encode())
            elif os.path.isfile(path):
                with open(path, "rb") as file:
                    digest.update(file.read())
    return digest.hexdigest()


@pytest.fixture
def web(engine, berth) -> str:
    """A running busybox container named web."""
    ok(berth, "run", "-d", "--name", "web", "busybox", "sleep", "1000")
    return "web"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A host directory standing for the host's /etc: nothing may ever change it."""
    directory = tmp_path / "victim"
    directory.mkdir()
    (directory / "passwd").write_text("host-only secret\n")
    return directory
