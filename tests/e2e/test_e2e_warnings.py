"""What the host cannot apply is said on run/create/start's stderr, as Docker's WARNING lines.

Every limit applies on this hybrid host, so most tests make the condition for real: a
step runs in a mount namespace of its own where the pids cgroup hierarchy is not
mounted (``unshare --mount``, then ``umount /sys/fs/cgroup/pids`` there alone). The
kernel is untouched; berth simply sees, in /proc/self/mountinfo, a host without the
pids controller, as Docker's "... or the cgroup is not mounted" has in mind. The
monitor, started by that step, stays in that namespace; every other step (ps,
inspect, logs, rm) runs on the host as usual.

One test, marked cgroup2, needs no such help on a pure v2 host without the cpuset
controller (the cgroup2 VM has none); elsewhere it skips.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.berth_cli import HEX64, Berth, describe, poll

PIDS_HIERARCHY = Path("/sys/fs/cgroup/pids")
PIDS_WARNING = "WARNING: --pids-limit is not applied: "
CONTAINER = ("--network", "none", "--pids-limit", "50", "busybox")


def _own_v1_hierarchy(path: Path) -> bool:
    """Whether ``path`` is a cgroup v1 mount of its own (one we may unmount privately)."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, tail = line.partition(" - ")
        if fields.split(" ")[4] == str(path) and tail.split(" ")[0] == "cgroup":
            return True
    return False


needs_pids_v1 = pytest.mark.skipif(
    not _own_v1_hierarchy(PIDS_HIERARCHY),
    reason=f"needs the pids controller as a cgroup v1 hierarchy at {PIDS_HIERARCHY} "
    "(to leave it unmounted in a private mount namespace); this host has none there",
)


def without_pids(berth: Berth, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``berth ARGS`` in a new mount namespace where the pids hierarchy is not mounted."""
    argv = berth.argv(*args)
    command = ["unshare", "--mount", "sh", "-c", 'umount "$0" && exec "$@"',
               str(PIDS_HIERARCHY), *argv]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL)  # fmt: skip
    berth.seen.update(HEX64.findall(done.stdout))
    return subprocess.CompletedProcess(argv, done.returncode, done.stdout, done.stderr)


def warning_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("WARNING: ")]


def assert_pids_warning(line: str) -> None:
    assert line.startswith(PIDS_WARNING) and "pids" in line.removeprefix(PIDS_WARNING), line


@needs_pids_v1
def test_foreground_run_warns_first_then_the_containers_output_and_code(berth: Berth) -> None:
    result = without_pids(
        berth, "run", "--rm", *CONTAINER, "sh", "-c", "echo out; echo err >&2; exit 3"
    )
    assert (result.returncode, result.stdout) == (3, "out\n"), describe(result)
    warning, *rest = result.stderr.splitlines()
    assert_pids_warning(warning)
    assert rest == ["err"], describe(result)


@needs_pids_v1
def test_detached_run_warns_and_the_container_runs_without_the_warning_in_its_log(
    berth: Berth,
) -> None:
    result = without_pids(berth, "run", "-d", "--name", "warned", *CONTAINER, "sh", "-c",
                          "echo started; exec sleep 300")  # fmt: skip
    assert result.returncode == 0 and HEX64.fullmatch(result.stdout.strip()), describe(result)
    (warning,) = result.stderr.splitlines()
    assert_pids_warning(warning)
    assert berth.state("warned")["Running"] is True
    poll(lambda: berth.ok("logs", "warned").stdout, timeout=10)
    logs = berth.ok("logs", "warned")
    # The runtime once printed its warning into the container's own stderr.
    assert (logs.stdout, logs.stderr) == ("started\n", ""), describe(logs)


@needs_pids_v1
def test_create_and_start_each_warn(berth: Berth) -> None:
    created = without_pids(berth, "create", "--name", "cw", *CONTAINER, "echo", "hi")
    assert created.returncode == 0 and HEX64.fullmatch(created.stdout.strip()), describe(created)
    (warning,) = created.stderr.splitlines()
    assert_pids_warning(warning)

    started = without_pids(berth, "start", "-a", "cw")
    assert (started.returncode, started.stdout) == (0, "hi\n"), describe(started)
    (warning,) = started.stderr.splitlines()
    assert_pids_warning(warning)

    again = without_pids(berth, "start", "cw")
    assert (again.returncode, again.stdout) == (0, "cw\n"), describe(again)
    assert_pids_warning(again.stderr.splitlines()[0])


@needs_pids_v1
def test_what_the_host_has_is_not_warned_about(berth: Berth) -> None:
    # The same limits with the pids hierarchy mounted: every one applies, nothing said.
    result = berth("run", "--rm", *CONTAINER, "true")
    assert (result.returncode, result.stderr) == (0, ""), describe(result)
    created = berth("create", "--name", "quiet", "--cpus", "1", *CONTAINER, "true")
    assert (created.returncode, created.stderr) == (0, ""), describe(created)


def _v2_without_cpuset() -> bool:
    controllers = Path("/sys/fs/cgroup/cgroup.controllers")
    return controllers.exists() and "cpuset" not in controllers.read_text().split()


@pytest.mark.cgroup2
@pytest.mark.skipif(
    not _v2_without_cpuset(),
    reason="needs a pure cgroup v2 host without the cpuset controller (as "
    "../shared/tools/cgroup2-vm boots); this host has cpuset",
)
def test_run_on_a_host_without_cpuset_warns_about_cpuset_cpus(berth: Berth) -> None:
    result = berth("run", "--rm", "--network", "none", "--cpuset-cpus", "0", "busybox",
                   "sh", "-c", "echo ran; exit 5")  # fmt: skip
    assert (result.returncode, result.stdout) == (5, "ran\n"), describe(result)
    (warning,) = warning_lines(result.stderr)
    prefix = "WARNING: --cpuset-cpus is not applied: "
    assert warning.startswith(prefix) and "cpuset" in warning.removeprefix(prefix), warning
