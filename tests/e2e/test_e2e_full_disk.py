"""A full engine root, as a user meets it: containers keep running, berth keeps answering.

The root is a small tmpfs filled to the last byte while a container logs. Docker's
json-file driver drops what it cannot write and the container carries on; so must
berth, and every command that can work read-only must, and rm and rmi must free space.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.berth_cli import Berth, describe, poll
from tests.small_fs import fill, small_tmpfs

_LOGGER = "i=0; while :; do echo line $i; i=$((i+1)); usleep 2000; done"


@pytest.fixture
def small_root(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs where the engine ``full`` keeps its root (set up before engines)."""
    with small_tmpfs(tmp_path / "full" / "root", "size=24m") as root:
        yield root


def _last_line(berth: Berth, name: str) -> str:
    result = berth.ok("logs", "--tail", "1", name)
    return result.stdout.strip()


def test_a_full_root_keeps_containers_running_and_berth_answering(
    small_root: Path, engines: Callable[[str], Berth]
) -> None:
    berth = engines("full")
    berth.ok("run", "-d", "--name", "chatty", "--network", "none", "busybox", "sh", "-c", _LOGGER)
    assert poll(lambda: _last_line(berth, "chatty").startswith("line"), 10)
    berth.ok("commit", "chatty", "snap:1")
    ballast = fill(small_root)

    # Full: the container runs on, and what only reads still works.
    stuck = _last_line(berth, "chatty")
    assert poll(lambda: berth.state("chatty")["Running"], 2)
    assert berth.ps()["chatty"][0] == "running"
    assert "line" in berth.ok("logs", "--tail", "3", "chatty").stdout
    # What must write says so in one line.
    refused = berth("create", "--network", "none", "busybox")
    assert refused.returncode != 0, describe(refused)
    assert refused.stderr.strip() == f"berth: no space left on the engine root ({small_root})", (
        describe(refused)
    )

    # Room again: the log resumes where the disk let it.
    ballast.unlink()
    assert poll(lambda: _last_line(berth, "chatty") != stuck, 10), "the log never resumed"
    fill(small_root)
    # rm -f frees space even on a full root, and takes everything with it.
    removed = berth("rm", "-f", "chatty")
    assert removed.returncode == 0, describe(removed)
    assert "chatty" not in berth.ps()
    fill(small_root)
    removed = berth("rmi", "snap:1")  # and so does rmi
    assert removed.returncode == 0, describe(removed)
    for ballast_file in small_root.glob("ballast-*"):
        ballast_file.unlink()
    assert berth.ok("run", "--rm", "--network", "none", "busybox", "echo", "ok").stdout == "ok\n"
