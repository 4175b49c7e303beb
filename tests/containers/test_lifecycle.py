"""Detached containers under their monitor: start, stop, restart, logs, wait, pause."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from tests.conftest import cgroup_dirs


def _inspect(berth, ref):
    result = berth("inspect", ref)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[0]


def _wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_detached_container_outlives_the_command(berth):
    started = time.monotonic()
    result = berth("run", "-d", "--name", "web", "busybox", "httpd", "-f", "-p", "8000")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 10
    container_id = result.stdout.strip()
    assert len(container_id) == 64
    ps = berth("ps", "--format", "{{.Names}} {{.Status}}").stdout
    assert ps.startswith("web Up ")
    assert _inspect(berth, "web")["State"]["Pid"] > 0


def test_logs_keep_streams_and_follow_until_exit(berth):
    berth("run", "-d", "--name", "talker", "busybox", "sh", "-c",
          "echo out1; echo err1 >&2; sleep 1; echo out2; echo err2 >&2")  # fmt: skip
    followed = berth("logs", "-f", "-t", "talker", timeout=20)
    assert followed.returncode == 0
    assert [line.split(" ", 1)[1] for line in followed.stdout.splitlines()] == ["out1", "out2"]
    assert [line.split(" ", 1)[1] for line in followed.stderr.splitlines()] == ["err1", "err2"]
    assert followed.stdout.splitlines()[0].split(" ")[0].endswith("Z")
    last = berth("logs", "--tail", "1", "talker")
    assert (last.stdout, last.stderr) == ("", "err2\n")


def test_wait_prints_the_exit_code(berth):
    berth("run", "-d", "--name", "waiter", "busybox", "sh", "-c", "sleep 0.5; exit 7")
    result = berth("wait", "waiter")
    assert result.stdout == "7\n"


def test_stop_kills_after_the_timeout_when_sigterm_is_ignored(berth):
    berth("run", "-d", "--name", "stubborn", "busybox", "sh", "-c",
          "trap '' TERM; while true; do sleep 0.1; done")  # fmt: skip
    started = time.monotonic()
    assert berth("stop", "-t", "1", "stubborn").returncode == 0
    assert 1 <= time.monotonic() - started < 8
    state = _inspect(berth, "stubborn")["State"]
    assert (state["Status"], state["ExitCode"]) == ("exited", 137)


def test_stop_sends_sigterm_first(berth):
    berth("run", "-d", "--name", "polite", "busybox", "sh", "-c",
          "trap 'exit 5' TERM; while true; do sleep 0.1; done")  # fmt: skip
    started = time.monotonic()
    assert berth("stop", "polite").stdout == "polite\n"
    assert time.monotonic() - started < 5
    assert _inspect(berth, "polite")["State"]["ExitCode"] == 5


def test_killing_the_monitor_leaves_nothing_running(berth, engine):
    container_id = berth("run", "-d", "busybox", "sleep", "300").stdout.strip()
    details = _inspect(berth, container_id)
    init_pid = details["State"]["Pid"]
    monitor = int(Path(f"/proc/{init_pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    os.kill(monitor, signal.SIGKILL)
    _wait_for(lambda: not Path(f"/proc/{init_pid}").exists())
    status = berth("ps", "-a", "--format", "{{.Status}}").stdout
    assert status.startswith("Exited (255)")
    assert "monitor was lost" in _inspect(berth, container_id)["State"]["Error"]
    assert not cgroup_dirs(container_id)


def test_restart_on_failure_counts(berth):
    berth("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "false")
    _wait_for(lambda: _inspect(berth, "flaky")["State"]["Status"] == "exited"
              and _inspect(berth, "flaky")["RestartCount"] == 2)  # fmt: skip
    assert _inspect(berth, "flaky")["HostConfig"]["RestartPolicy"] == {
        "Name": "on-failure", "MaximumRetryCount": 2
    }  # fmt: skip


def test_detached_rm_removes_on_exit(berth):
    berth("run", "-d", "--rm", "--name", "gone", "busybox", "true")
    _wait_for(lambda: berth("ps", "-a", "-q").stdout == "")


def test_pause_freezes_and_unpause_thaws(berth):
    container_id = berth("run", "-d", "--name", "paused", "busybox", "sleep", "60").stdout.strip()
    assert berth("pause", "paused").returncode == 0
    assert "Paused" in berth("ps", "--format", "{{.Status}}").stdout
    freezer = [d for d in cgroup_dirs(container_id) if d.parent.parent.name in ("freezer", "")]
    state = (freezer[0] / "freezer.state") if (freezer[0] / "freezer.state").exists() else None
    if state is not None:
        assert state.read_text().strip() == "FROZEN"
    assert berth("unpause", "paused").returncode == 0
    assert "Paused" not in berth("ps", "--format", "{{.Status}}").stdout


def test_start_restart_rename_and_top(berth):
    berth("create", "--name", "later", "busybox", "sleep", "60")
    assert berth("start", "later").stdout == "later\n"
    top = berth("top", "later").stdout.splitlines()
    assert top[0].split()[:2] == ["UID", "PID"] and "sleep 60" in top[1]
    assert berth("restart", "-t", "1", "later").returncode == 0
    assert berth("rename", "later", "renamed").returncode == 0
    assert berth("ps", "--format", "{{.Names}}").stdout == "renamed\n"


def test_twenty_detached_containers(berth, engine):
    ids = [berth("run", "-d", "busybox", "sleep", "60").stdout.strip() for _ in range(20)]
    assert len(set(ids)) == 20
    assert len(berth("ps", "-q").stdout.split()) == 20
    assert berth("rm", "-f", *ids).returncode == 0
    assert berth("ps", "-a", "-q").stdout == ""
    assert not any(cgroup_dirs(i) for i in ids)
    assert not list((engine.paths.runroot / "containers").iterdir())
