"""Shared fixtures: a real engine under a temporary root, cleaned up even on failure."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.api import Engine
from engine.paths import EnginePaths

BERTH = str(Path(sys.executable).with_name("berth"))

# Every test starts berth processes by the hundred; let them cache their bytecode as an
# installed berth has it, rather than compile every module on every start.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


ROOT = os.geteuid() == 0


def require_root(what: str) -> None:
    """Skip the calling test or fixture unless it runs as root, naming what needs it.

    The fixtures that make real containers, mounts, cgroups or bridges call it, so every
    test using them skips; a test that needs root by itself is marked
    ``@pytest.mark.root("what needs it")`` (a module: ``pytestmark = ...``). Every other
    test is pure and runs as any user.
    """
    if not ROOT:
        pytest.skip(f"needs root: {what}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", 'root(what): needs root for "what" (containers, mounts, cgroups, nftables)'
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ROOT:
        return
    for item in items:
        marker = item.get_closest_marker("root")
        if marker is not None:
            what = marker.args[0] if marker.args else "see the test"
            item.add_marker(pytest.mark.skip(reason=f"needs root: {what}"))


@pytest.fixture
def engine_paths(tmp_path: Path) -> Iterator[EnginePaths]:
    """A fresh engine root and run dir; afterwards nothing of them may stay mounted."""
    require_root("a real engine (containers, overlay mounts, cgroups, bridges)")
    paths = EnginePaths(tmp_path / "root", tmp_path / "run")
    yield paths
    _force_clean(paths)


# Every container id the tests' engines held, for the end-of-session cgroup check.
_SEEN_CONTAINERS: set[str] = set()


def _force_clean(paths: EnginePaths) -> None:
    """Remove every container the test left, then fail if the engine leaked a mount."""
    if paths.database.exists():
        _SEEN_CONTAINERS.update(_all_ids(paths))
        subprocess.run(
            [BERTH, "--root", str(paths.root), "--runroot", str(paths.runroot), "rm", "-f",
             *_all_ids(paths)],
            capture_output=True, check=False,
        )  # fmt: skip
        # Bridges and nftables rules are the host's, not the temporary root's: remove them.
        engine = Engine(paths)
        engine.networks.remove_all()
        engine.close()
    leaked = [line for line in Path("/proc/self/mounts").read_text().splitlines()
              if str(paths.root) in line or str(paths.runroot) in line]  # fmt: skip
    for line in leaked:
        subprocess.run(["umount", "-l", line.split()[1]], check=False)
    assert not leaked, f"the test left mounts behind: {leaked}"


def _all_ids(paths: EnginePaths) -> list[str]:
    import sqlite3

    with sqlite3.connect(paths.database) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM containers")]


@pytest.fixture
async def engine(engine_paths: EnginePaths) -> Engine:
    """An engine with busybox:latest, made from the host's static busybox."""
    engine = Engine(engine_paths)
    await engine.images.create_starter()
    return engine


@pytest.fixture
def berth(engine: Engine):
    """Run the installed ``berth`` command on the test's engine."""

    def run(
        *args: str, input: str | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess:
        command = [BERTH, "--root", str(engine.paths.root), "--runroot", str(engine.paths.runroot)]
        return subprocess.run(
            [*command, *args], input=input, capture_output=True, text=True, timeout=timeout,
            check=False,
        )  # fmt: skip

    return run


def cgroup_dirs(container_id: str) -> list[Path]:
    """Every directory of a container's cgroup that exists, on any hierarchy."""
    root = Path("/sys/fs/cgroup")
    candidates = [root / "berth" / container_id, *root.glob(f"*/berth/{container_id}")]
    return [path for path in candidates if path.is_dir()]


@pytest.fixture(scope="session", autouse=True)
def no_cgroups_left_behind() -> Iterator[None]:
    """After the whole suite, no cgroup of the tests' containers may remain.

    Only this session's containers count (other berth users may share the host). The
    empty parents (berth/, berth-test/) are removed here, as nothing else would.
    """
    yield
    root = Path("/sys/fs/cgroup")
    parents = [*root.glob("berth*"), *root.glob("*/berth*")]
    leftovers = [
        child for parent in parents for child in parent.iterdir()
        if child.is_dir() and child.name in _SEEN_CONTAINERS
    ]  # fmt: skip
    for parent in parents:
        with contextlib.suppress(OSError):
            parent.rmdir()
    assert not leftovers, f"the tests left container cgroups behind: {leftovers}"
