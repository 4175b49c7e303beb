"""The runtime's notes of what the host cannot apply: returned, worded, and printed by its CLI.

This hybrid host has every controller, so the missing one is made for real: a cgroup
handle on this host's hierarchies without the pids one (in process), or
``berth-runtime`` run in a mount namespace of its own where /sys/fs/cgroup/pids is not
mounted. The kernel itself is never faked.
"""

from __future__ import annotations

import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from engine import cgroups
from engine.cgroups import Layout, Limits, V1Cgroup
from engine.runtime import resources
from tests.conftest import require_root
from tests.runtime.conftest import BERTH_RUNTIME, CGROUP_PARENT

if TYPE_CHECKING:
    from tests.runtime.conftest import Containers

MIB = 1024 * 1024
LAYOUT = cgroups.detect()
PIDS_HIERARCHY = Path("/sys/fs/cgroup/pids")
PIDS_NOTE = "linux.resources.pids.limit is not applied (no pids.max): "

needs_pids_v1 = pytest.mark.skipif(
    LAYOUT is Layout.UNIFIED
    or not any(h.mountpoint == PIDS_HIERARCHY for h in cgroups.mounted_hierarchies(LAYOUT)),
    reason=f"needs the pids controller as a cgroup v1 hierarchy at {PIDS_HIERARCHY}; this "
    f"host's cgroup layout is {LAYOUT.value}",
)


@pytest.fixture
def without_pids() -> Iterator[V1Cgroup]:
    """A new cgroup on every hierarchy of this host but the pids one; removed after."""
    require_root("a scratch cgroup")
    hierarchies = [h for h in cgroups.mounted_hierarchies(LAYOUT) if "pids" not in h.controllers]
    cgroup = V1Cgroup(f"{CGROUP_PARENT}/{uuid.uuid4().hex[:12]}", LAYOUT, hierarchies)
    cgroup.create()
    try:
        yield cgroup
    finally:
        cgroup.remove()


# -- in process --------------------------------------------------------------------------


@needs_pids_v1
def test_apply_returns_a_note_naming_the_setting_and_sets_the_rest(
    without_pids: V1Cgroup,
) -> None:
    notes = resources.apply(without_pids, Limits(pids=50, memory=64 * MIB))
    (note,) = notes
    assert note.startswith(PIDS_NOTE) and "pids" in note.removeprefix(PIDS_NOTE), note
    memory = without_pids.controller_dir("memory")
    assert memory is not None
    assert (memory / "memory.limit_in_bytes").read_text().strip() == str(64 * MIB)


@needs_pids_v1
def test_a_note_reads_back_as_its_limit_and_why(without_pids: V1Cgroup) -> None:
    (note,) = resources.apply(without_pids, Limits(pids=50))
    found = resources.setting(note)
    assert found is not None
    assert found == ("pids", note.removeprefix(PIDS_NOTE))


@pytest.mark.root("a scratch cgroup")
@pytest.mark.cgroup2
def test_apply_returns_nothing_when_everything_applies() -> None:
    cgroup = cgroups.create(f"{CGROUP_PARENT}/{uuid.uuid4().hex[:12]}")
    try:
        assert resources.apply(cgroup, Limits(pids=50, memory=64 * MIB)) == []
        assert resources.apply(cgroup, Limits()) == []
    finally:
        cgroup.remove()


@pytest.mark.root("a scratch cgroup")
@pytest.mark.cgroup2
def test_unapplied_tries_on_a_scratch_cgroup_it_removes() -> None:
    parent = cgroups.create(f"{CGROUP_PARENT}/{uuid.uuid4().hex[:12]}")
    try:
        # pids and memory: both on this host and in the cgroup v2 VM
        assert resources.unapplied(Limits(pids=50, memory=64 * MIB), parent.path) == []
        left = [child for path in parent.paths() for child in path.iterdir() if child.is_dir()]
        assert left == []
    finally:
        parent.remove()


class _Driver:
    """A cgroup whose apply returns the notes given: the rewording alone, no kernel."""

    def __init__(self, notes: list[str]) -> None:
        self._notes = notes

    def apply(self, limits: Limits) -> list[str]:
        return list(self._notes)


def test_driver_notes_are_reworded_to_name_the_oci_setting() -> None:
    driver = _Driver([
        "blkio.bfq.weight is not set: neither CFQ (blkio.weight) nor BFQ weighs it",
        "cpu.max is not set: the cpu controller is not enabled for this cgroup",
        "something else entirely",
        "no.such.file is not set: why",
    ])  # fmt: skip
    notes = resources.apply(driver, Limits(blkio_weight=300))  # type: ignore[arg-type]
    assert notes == [
        "linux.resources.blockIO.weight is not applied (no blkio.bfq.weight): neither CFQ "
        "(blkio.weight) nor BFQ weighs it",
        "linux.resources.cpu.quota is not applied (no cpu.max): the cpu controller is not "
        "enabled for this cgroup",
        "something else entirely",
        "no.such.file is not set: why",
    ]
    assert [resources.setting(note) for note in notes] == [
        ("blkio_weight", "neither CFQ (blkio.weight) nor BFQ weighs it"),
        ("cpu_quota", "the cpu controller is not enabled for this cgroup"),
        None,
        None,
    ]


# -- berth-runtime, a process of its own -------------------------------------------------


def _runtime_without_pids(state_root: Path, *args: str) -> subprocess.CompletedProcess:
    """``berth-runtime`` in a new mount namespace where the pids hierarchy is not mounted.

    Output to files, as the berth_runtime fixture does: an init may hold them.
    """
    command = ["unshare", "--mount", "sh", "-c", 'umount "$0" && exec "$@"',
               str(PIDS_HIERARCHY), BERTH_RUNTIME, "--root", str(state_root), *args]  # fmt: skip
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        done = subprocess.run(command, stdout=out, stderr=err, timeout=30, check=False)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(command, done.returncode, out.read(), err.read())


@needs_pids_v1
def test_the_cli_prints_each_note_on_stderr_and_runs_the_container(
    containers: Containers,
) -> None:
    bundle = containers.bundle("sh", "-c", "echo out; echo err >&2; exit 4")
    bundle.config["linux"]["resources"] = {"pids": {"limit": 50}, "memory": {"limit": 64 * MIB}}
    bundle.write()
    result = _runtime_without_pids(
        containers.state_root, "run", "-b", str(bundle.path), bundle.container_id
    )
    assert (result.returncode, result.stdout) == (4, "out\n"), result.stderr
    warning, *rest = result.stderr.splitlines()
    prefix = f"berth-runtime: warning: {PIDS_NOTE}"
    assert warning.startswith(prefix) and "pids" in warning.removeprefix(prefix), warning
    assert rest == ["err"], result.stderr
