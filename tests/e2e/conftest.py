"""Engines for tests that drive only the installed ``berth`` command.

No fixture here creates an ``Engine`` or opens the database: tests/conftest.py's
``engine`` does, and its ``berth`` fixture depends on it, which is how a lost exit
record once went unseen. ``berth`` below shadows that one on purpose.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import require_root
from tests.e2e import leaks
from tests.e2e.berth_cli import Berth


def make_engine(directory: Path) -> Berth:
    """A fresh engine root and run dir under ``directory``, with busybox:latest."""
    berth = Berth(directory / "root", directory / "run")
    berth.ok("starter")
    berth.watch()
    return berth


def networks(berth: Berth) -> list[tuple[str, str]]:
    """(name, short id) of every network the engine lists."""
    result = berth.ok("network", "ls", "--format", "{{.Name}}\t{{.ID}}")
    return [tuple(line.split("\t")) for line in result.stdout.splitlines() if "\t" in line]


def remove_everything(berth: Berth) -> None:
    """What a user would type to empty the engine: rm -f every container, rm every network
    and volume."""
    ids = berth.ids()
    if ids:
        berth("rm", "-f", *ids, timeout=120)
    for name, short_id in networks(berth):
        berth.bridges.add(f"br-{short_id}")
        berth("network", "rm", name)
    volumes = berth("volume", "ls", "-q").stdout.split()
    if volumes:  # a volume with a file system of its own (-o type=tmpfs) is a mount
        berth("volume", "rm", *volumes)


def settled_leaks(berth: Berth, grace: float = 3.0, **kwargs: object) -> list[leaks.Leak]:
    """What remains once a moment has passed (an exiting monitor may still be tidying up)."""
    deadline = time.monotonic() + grace
    while True:
        found = leaks.find(berth.root, berth.runroot, berth.seen, bridges=berth.bridges,
                           **kwargs)  # fmt: skip
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def tear_down(berth: Berth) -> list[str]:
    """Empty the engine as a user would; what failed, and what it left, cleaned up after."""
    berth.unwatch()
    problems = []
    try:
        remove_everything(berth)
    except (AssertionError, subprocess.SubprocessError) as error:
        problems.append(f"emptying the engine failed: {error}")
    found = settled_leaks(berth)
    leaks.clean(found)
    return problems + [str(leak) for leak in found]


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[Callable[[str], Berth]]:
    """Make engines on demand; afterwards each is emptied and must leave nothing behind."""
    require_root("real containers run by the installed berth")
    made: list[Berth] = []

    def make(name: str = "e") -> Berth:
        berth = make_engine(tmp_path / name)
        made.append(berth)
        return berth

    yield make
    report = {str(berth.root): tear_down(berth) for berth in made}
    left = {root: problems for root, problems in report.items() if problems}
    assert not left, "berth left things behind:\n" + "\n".join(
        f"{root}:\n" + "\n".join(f"  {problem}" for problem in problems)
        for root, problems in left.items()
    )


@pytest.fixture
def berth(engines: Callable[[str], Berth]) -> Berth:
    """One engine for the test (shadows tests/conftest.py's engine-backed ``berth``)."""
    return engines("e")
