"""The ``berth-runtime`` command line, run as the engine runs it: a subprocess."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from engine import cgroups
from engine.errors import InvalidArgumentError
from engine.signals import parse_signal

if TYPE_CHECKING:
    from tests.runtime.conftest import Console, Containers

Runtime = Callable[..., subprocess.CompletedProcess]


def test_run_passes_stdio_through_and_exits_with_the_status(
    containers: Containers, berth_runtime: Runtime
) -> None:
    bundle = containers.bundle("sh", "-c", "echo out; echo err >&2; exit 7")
    bundle.write()
    result = berth_runtime("run", "--bundle", str(bundle.path), bundle.container_id)
    assert (result.returncode, result.stdout, result.stderr) == (7, "out\n", "err\n")
    assert not (containers.state_root / bundle.container_id).exists()


def test_create_state_start_kill_delete(containers: Containers, berth_runtime: Runtime) -> None:
    bundle = containers.bundle("sleep", "100")
    bundle.write()
    pid_file = bundle.path / "pid"
    cid = bundle.container_id
    created = berth_runtime("create", "-b", str(bundle.path), "--pid-file", str(pid_file), cid)
    assert created.returncode == 0, created.stderr
    state = json.loads(berth_runtime("state", cid).stdout)
    assert (state["status"], state["pid"]) == ("created", int(pid_file.read_text()))
    assert berth_runtime("start", cid).returncode == 0
    assert json.loads(berth_runtime("state", cid).stdout)["status"] == "running"
    refused = berth_runtime("delete", cid)
    assert refused.returncode == 125 and "use --force" in refused.stderr
    assert berth_runtime("kill", cid, "KILL").returncode == 0
    deadline = time.monotonic() + 5
    while json.loads(berth_runtime("state", cid).stdout)["status"] != "stopped":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert berth_runtime("delete", cid).returncode == 0
    gone = berth_runtime("state", cid)
    assert (gone.returncode, gone.stderr) == (
        125, f'berth-runtime: container "{cid}" does not exist\n'
    )  # fmt: skip


def test_delete_force(containers: Containers, berth_runtime: Runtime) -> None:
    bundle = containers.bundle("sleep", "100")
    bundle.write()
    berth_runtime("create", "-b", str(bundle.path), bundle.container_id)
    berth_runtime("start", bundle.container_id)
    assert berth_runtime("delete", "--force", bundle.container_id).returncode == 0
    assert not (containers.state_root / bundle.container_id).exists()


def test_errors_go_to_stderr_and_the_json_log(
    containers: Containers, berth_runtime: Runtime, tmp_path: Path
) -> None:
    bundle = containers.bundle("no-such-command")
    bundle.write()
    log = tmp_path / "runtime.log"
    result = berth_runtime("run", "-b", str(bundle.path), bundle.container_id, log=log)
    message = 'exec: "no-such-command": executable file not found in $PATH'
    assert (result.returncode, result.stderr) == (127, f"berth-runtime: {message}\n")
    entry = json.loads(log.read_text().splitlines()[-1])
    assert (entry["level"], entry["msg"]) == ("error", message)
    assert entry["time"].endswith("Z")


def test_a_container_that_fails_by_itself_logs_nothing(
    containers: Containers, berth_runtime: Runtime, tmp_path: Path
) -> None:
    bundle = containers.bundle("false")
    bundle.write()
    log = tmp_path / "runtime.log"
    result = berth_runtime("run", "-b", str(bundle.path), bundle.container_id, log=log)
    assert result.returncode == 1
    assert not log.exists()


@pytest.mark.parametrize(
    ("text", "number"),
    [("TERM", 15), ("SIGTERM", 15), ("kill", 9), ("9", 9), ("SIGRTMIN", signal.SIGRTMIN)],
)
def test_signal_names(text: str, number: int) -> None:
    assert parse_signal(text) == number


@pytest.mark.parametrize("text", ["NOPE", "0", "999", "SIG"])
def test_unknown_signals(text: str) -> None:
    with pytest.raises(InvalidArgumentError, match="invalid signal"):
        parse_signal(text)


def test_create_sends_the_terminal_to_the_console_socket(
    containers: Containers, berth_runtime: Runtime, console: Console
) -> None:
    bundle = containers.bundle("sh", "-c", "tty; exit 5")
    bundle.process["terminal"] = True
    bundle.write()
    cid = bundle.container_id
    options = ("-b", str(bundle.path), "--console-socket", str(console.path))
    # The runtime exits before anybody accepts: its connection waits in the backlog.
    assert berth_runtime("create", *options, cid).returncode == 0
    console.receive()
    assert berth_runtime("start", cid).returncode == 0
    assert console.read_until(b"\r\n") == b"/dev/pts/0\r\n"


def test_a_terminal_needs_a_console_socket(containers: Containers, berth_runtime: Runtime) -> None:
    bundle = containers.bundle("true")
    bundle.process["terminal"] = True
    bundle.write()
    result = berth_runtime("run", "-b", str(bundle.path), bundle.container_id)
    assert result.returncode == 125
    assert "a console socket is required" in result.stderr


def test_exec_like_runc_exec(
    containers: Containers, berth_runtime: Runtime, tmp_path: Path
) -> None:
    bundle = containers.bundle("sleep", "100")
    containers.start(bundle)
    cid = bundle.container_id
    script = 'echo "$FOO"; pwd; id -u; exit 3'
    changed = ("-e", "FOO=bar", "--cwd", "/tmp", "-u", "1000:1000")
    result = berth_runtime("exec", *changed, cid, "sh", "-c", script)
    assert (result.returncode, result.stdout) == (3, "bar\n/tmp\n1000\n")
    process = tmp_path / "process.json"
    process.write_text(json.dumps({**bundle.process, "args": ["hostname"]}))
    result = berth_runtime("exec", "--process", str(process), cid)
    assert (result.returncode, result.stdout) == (0, "testbox\n")
    refused = berth_runtime("exec", "-t", cid, "true")
    assert refused.returncode == 125 and "a console socket is required" in refused.stderr


@pytest.mark.usefixtures("subreaper")
def test_exec_detached_writes_the_pid_file(
    containers: Containers, berth_runtime: Runtime, tmp_path: Path
) -> None:
    bundle = containers.bundle("sleep", "100")
    containers.start(bundle)
    pid_file = tmp_path / "exec.pid"
    result = berth_runtime(
        "exec", "-d", "--pid-file", str(pid_file), bundle.container_id, "sleep", "100"
    )
    assert result.returncode == 0, result.stderr
    pid = int(pid_file.read_text())
    containers.adopt(pid)  # the runtime exited: its child is the subreaper's now
    assert pid in cgroups.get(bundle.cgroups_path).pids()


def test_exec_into_a_stopped_container(containers: Containers, berth_runtime: Runtime) -> None:
    bundle = containers.bundle("true")
    containers.wait(containers.start(bundle))
    result = berth_runtime("exec", bundle.container_id, "true")
    assert (result.returncode, result.stderr) == (
        125, f"berth-runtime: container {bundle.container_id} is not running\n"
    )  # fmt: skip
