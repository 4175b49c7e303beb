"""Restart policies across a host restart: ``berth system boot``, as a user runs it.

A restart is simulated as the kernel would do it to berth: every process of the
engine dies, mounts, cgroups, links and nftables rules vanish, and the run dir (a
tmpfs) is empty; the engine root and its database stay as they were.
"""

from __future__ import annotations

import os
import shutil
import signal

from tests.e2e import leaks
from tests.e2e.berth_cli import Berth, describe, parent_of, poll

# What a reboot takes with it; the engine root's files and rows survive it.
_VOLATILE = {"process", "mount", "cgroup", "netns", "link", "bridge", "nft"}


def _reboot(berth: Berth) -> None:
    for kind in ("process", *sorted(_VOLATILE - {"process"})):  # nothing may re-make the rest
        leaks.clean(leak for leak in leaks.find(berth.root, berth.runroot, berth.seen)
                    if leak.kind == kind)  # fmt: skip
    shutil.rmtree(berth.runroot)


def test_boot_brings_back_always_and_unless_stopped(berth: Berth) -> None:
    berth.ok("run", "-d", "--name", "always", "--restart", "always", "busybox", "sleep", "1000")
    berth.ok("run", "-d", "--name", "unless", "--restart", "unless-stopped", "--network", "none",
             "busybox", "sleep", "1000")  # fmt: skip
    berth.ok("run", "-d", "--name", "stopped", "--restart", "unless-stopped", "busybox", "sleep",
             "1000")  # fmt: skip
    berth.ok("stop", "-t", "0", "stopped")
    berth.ok("run", "-d", "--name", "plain", "busybox", "sleep", "1000")
    berth.ok("inspect", "always", "unless", "stopped", "plain")  # records every id

    _reboot(berth)
    result = berth.ok("system", "boot")

    assert sorted(result.stdout.split()) == ["always", "unless"], describe(result)
    states = berth.ps()
    assert states["always"][0] == "running" and states["unless"][0] == "running", states
    assert states["stopped"][0] == "exited" and states["plain"][0] == "exited", states
    plain = berth.state("plain")
    assert plain["ExitCode"] == 255 and "host restarted" in plain["Error"], plain
    # What came back works: it can be stopped, and stopped it stays.
    berth.ok("stop", "-t", "0", "always")
    assert poll(lambda: berth.ps()["always"][0] == "exited", 5), berth.ps()


def test_boot_with_nothing_to_start_says_nothing(berth: Berth) -> None:
    berth.ok("create", "--name", "idle", "--restart", "always", "busybox")
    result = berth.ok("system", "boot")
    # A created container never ran: boot starts what was running or would be restarted.
    assert result.stdout.split() in ([], ["idle"]), describe(result)


def test_a_monitor_told_to_stop_stops_its_container_as_stop_does(berth: Berth) -> None:
    """At shutdown the host SIGTERMs every process: the exit is recorded, not lost."""
    berth.ok("run", "-d", "--name", "polite", "--restart", "always", "busybox", "sh", "-c",
             'trap "exit 7" TERM; while :; do sleep 0.1; done')  # fmt: skip
    berth.ok("run", "-d", "--name", "deaf", "--restart", "always", "--stop-timeout", "1",
             "busybox", "sleep", "1000")  # fmt: skip
    for name in ("polite", "deaf"):
        os.kill(parent_of(berth.state(name)["Pid"]), signal.SIGTERM)
    assert poll(lambda: all(state == "exited" for state, _ in berth.ps().values()), 10)
    polite, deaf = berth.state("polite"), berth.state("deaf")
    assert (polite["ExitCode"], polite["Error"]) == (7, ""), polite
    assert (deaf["ExitCode"], deaf["Error"]) == (137, ""), deaf  # SIGKILL after its timeout
