"""`berth exec`: one more process in a running container, with its namespaces and cgroup."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.conftest import BERTH
from tests.terminal import Terminal


@pytest.fixture
def running(berth):
    result = berth("run", "-d", "--name", "box", "busybox", "sleep", "300")
    assert result.returncode == 0, result.stderr
    return "box"


def test_exec_sees_the_containers_processes(berth, running):
    result = berth("exec", running, "ps", "-o", "pid,comm")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert ["1", "sleep"] in rows and any(row[1] == "ps" for row in rows)


def test_exec_exit_codes(berth, running):
    assert berth("exec", running, "sh", "-c", "exit 3").returncode == 3
    missing = berth("exec", running, "nosuchcmd")
    assert missing.returncode == 127
    assert 'exec: "nosuchcmd": executable file not found in $PATH' in missing.stderr


def test_exec_options(berth, running):
    result = berth("exec", "-u", "nobody", "-w", "/tmp", "-e", "GREETING=hi", running,
                   "sh", "-c", "id -u; pwd; echo $GREETING")  # fmt: skip
    assert result.stdout == "65534\n/tmp\nhi\n"
    assert berth("exec", "-i", running, "cat", input="piped\n").stdout == "piped\n"


def test_exec_shows_up_in_top(berth, engine, running):
    background = subprocess.Popen(
        [BERTH, "--root", str(engine.paths.root), "--runroot", str(engine.paths.runroot),
         "exec", running, "sleep", "7"]
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while "sleep 7" not in berth("top", running).stdout:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        background.kill()
        background.wait()


def test_exec_into_a_stopped_or_paused_container(berth, running):
    berth("create", "--name", "idle", "busybox", "true")
    stopped = berth("exec", "idle", "true")
    assert (stopped.returncode, stopped.stderr) == (1, "berth: container idle is not running\n")
    assert berth("pause", running).returncode == 0
    paused = berth("exec", running, "true")
    assert "is paused, unpause the container before exec" in paused.stderr
    assert berth("unpause", running).returncode == 0


def test_exec_it_shell(berth, engine, running):
    term = Terminal([BERTH, "--root", str(engine.paths.root), "--runroot",
                     str(engine.paths.runroot), "exec", "-it", running, "sh"])  # fmt: skip
    try:
        term.expect("/ # ")
        term.send("tty; echo $((3*4))\r")
        term.expect("/dev/pts/")
        term.expect("12")
        term.send("exit 4\r")
        assert term.wait() == 4
    finally:
        term.close()
