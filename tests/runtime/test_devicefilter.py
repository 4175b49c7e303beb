"""The cgroup v2 device filter: rules folded as v1 folds them, and the kernel's verdicts.

The kernel tests attach the program to a scratch cgroup on the host's cgroup2
hierarchy (pure v2, or the controller-less one of a hybrid host: BPF device programs
need no controller) and open real device nodes from a process inside it.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import cgroups
from engine.runtime import devicefilter, resources
from engine.runtime.devicecgroup import DEFAULT_ALLOWED, DeviceRule
from engine.runtime.devicefilter import DeviceException, Policy, effective
from tests.conftest import require_root

DENY_ALL = DeviceRule(False, "a")
ALLOW_ALL = DeviceRule(True, "a")


def allow(kind: str, major: int | None, minor: int | None, access: str = "rwm") -> DeviceRule:
    return DeviceRule(True, kind, major, minor, access)


def deny(kind: str, major: int | None, minor: int | None, access: str = "rwm") -> DeviceRule:
    return DeviceRule(False, kind, major, minor, access)


def exception(kind: str, major: int | None, minor: int | None, access: str) -> DeviceException:
    return DeviceException(kind, major, minor, frozenset(access))


# -- folding, as the v1 devices controller does ------------------------------------------


def test_no_rules_leave_the_parents_allow_all():
    assert effective([]) == Policy(True, ())


def test_deny_all_then_allows_are_a_whitelist():
    policy = effective([DENY_ALL, allow("c", 1, 3), allow("b", None, None, "m")])
    assert policy == Policy(False, (exception("c", 1, 3, "rwm"), exception("b", None, None, "m")))


def test_an_all_rule_drops_every_exception_before_it():
    assert effective([DENY_ALL, allow("c", 1, 3), ALLOW_ALL]) == Policy(True, ())


def test_access_to_one_device_merges():
    policy = effective([DENY_ALL, allow("c", 1, 3, "r"), allow("c", 1, 3, "w")])
    assert policy == Policy(False, (exception("c", 1, 3, "rw"),))


def test_a_rule_agreeing_with_the_default_trims_that_very_exception_only():
    rules = [DENY_ALL, allow("c", 1, None), allow("c", 1, 3), deny("c", 1, 3, "w")]
    # A deny cannot punch a hole in a wildcard allow (v1 refuses to, too).
    assert effective(rules) == Policy(False, (exception("c", 1, None, "rwm"),
                                              exception("c", 1, 3, "rm")))  # fmt: skip
    assert effective([*rules, deny("c", 1, 3, "rm")]).exceptions == (
        exception("c", 1, None, "rwm"),
    )


def test_a_blacklist():
    policy = effective([ALLOW_ALL, deny("b", 8, None, "w")])
    assert policy == Policy(True, (exception("b", 8, None, "w"),))


# -- the kernel's verdicts ----------------------------------------------------------------


def _cgroup2_root() -> Path | None:
    for hierarchy in cgroups.mounted_hierarchies(cgroups.detect()):
        if hierarchy.fstype == "cgroup2":
            return hierarchy.mountpoint
    return None


CGROUP2 = _cgroup2_root()
needs_cgroup2 = pytest.mark.skipif(CGROUP2 is None, reason="the host has no cgroup2 hierarchy")


@pytest.fixture
def scratch_cgroup() -> Iterator[Path]:
    require_root("a scratch cgroup and a BPF device program")
    assert CGROUP2 is not None
    directory = CGROUP2 / f"berth-test-devices-{uuid.uuid4().hex[:8]}"
    directory.mkdir()
    try:
        yield directory
    finally:
        os.rmdir(directory)  # the programs attached to it go with it


@pytest.fixture
def nodes(tmp_path: Path) -> Path:
    """null (1:3), zero (1:5) and kmsg (1:11) as fresh character nodes."""
    for name, minor in (("null", 3), ("zero", 5), ("kmsg", 11)):
        os.mknod(tmp_path / name, 0o020666, os.makedev(1, minor))
    return tmp_path


def opens(cgroup: Path, path: Path, mode: str) -> bool:
    """Whether a process inside ``cgroup`` may open ``path`` for reading (r) or writing (w)."""
    redirect = f"< {path}" if mode == "r" else f"> {path}"
    script = f"echo 0 > {cgroup}/cgroup.procs && exec true {redirect}"
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0 or "Operation not permitted" in result.stderr, result.stderr
    return result.returncode == 0


def makes(cgroup: Path, path: Path, major: int, minor: int) -> bool:
    script = f"echo 0 > {cgroup}/cgroup.procs && exec mknod {path} c {major} {minor}"
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False)
    return result.returncode == 0


@needs_cgroup2
@pytest.mark.cgroup2
def test_the_default_rules_allow_the_defaults_only(scratch_cgroup, nodes):
    rules = [DENY_ALL, allow("c", None, None, "m"), allow("b", None, None, "m"), *DEFAULT_ALLOWED]
    devicefilter.install(scratch_cgroup, rules)
    assert opens(scratch_cgroup, nodes / "null", "w")
    assert opens(scratch_cgroup, nodes / "zero", "r")
    assert not opens(scratch_cgroup, nodes / "kmsg", "r")
    assert makes(scratch_cgroup, nodes / "made", 1, 11)  # mknod is allowed, use is not
    assert not opens(scratch_cgroup, nodes / "made", "r")


@needs_cgroup2
@pytest.mark.cgroup2
def test_an_allow_covers_only_the_access_it_names(scratch_cgroup, nodes):
    devicefilter.install(scratch_cgroup, [DENY_ALL, allow("c", 1, 5, "r")])
    assert opens(scratch_cgroup, nodes / "zero", "r")
    assert not opens(scratch_cgroup, nodes / "zero", "w")
    assert not opens(scratch_cgroup, nodes / "null", "r")
    assert not makes(scratch_cgroup, nodes / "made", 1, 5)


@needs_cgroup2
@pytest.mark.cgroup2
def test_a_blacklist_denies_what_it_names(scratch_cgroup, nodes):
    devicefilter.install(scratch_cgroup, [ALLOW_ALL, deny("c", 1, None, "w")])
    assert opens(scratch_cgroup, nodes / "kmsg", "r")
    assert not opens(scratch_cgroup, nodes / "null", "w")


@needs_cgroup2
@pytest.mark.cgroup2
def test_installing_again_replaces_the_program(scratch_cgroup, nodes):
    devicefilter.install(scratch_cgroup, [DENY_ALL])
    first = devicefilter.attached(scratch_cgroup)
    assert len(first) == 1
    assert not opens(scratch_cgroup, nodes / "zero", "r")
    devicefilter.install(scratch_cgroup, [ALLOW_ALL])
    second = devicefilter.attached(scratch_cgroup)
    assert len(second) == 1 and second != first
    assert opens(scratch_cgroup, nodes / "kmsg", "r")


@pytest.mark.cgroup2
def test_update_replaces_a_running_containers_device_rules(containers):
    """runc update -r with devices: the new set replaces the old (on v2, the program)."""
    bundle = containers.bundle("sleep", "60")
    bundle.config["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
    os.mknod(bundle.rootfs / "kmsg", 0o020600, os.makedev(1, 11))
    containers.start(bundle)
    opens = ["sh", "-c", "(exec 3</kmsg) 2>/dev/null && echo opened || echo refused"]
    assert containers.exec(bundle, *opens).stdout.strip() == "refused"
    rules = [{"allow": False, "access": "rwm"},
             {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "r"}]  # fmt: skip
    notes = resources.update(bundle.container_id, {"devices": rules},
                             state_root=containers.state_root)  # fmt: skip
    assert notes == []
    assert containers.exec(bundle, *opens).stdout.strip() == "opened"
