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

from engine.errors import InvalidArgumentError
from engine.runtime.cli import parse_signal

if TYPE_CHECKING:
    from tests.runtime.conftest import Containers

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
    with pytest.raises(InvalidArgumentError, match="unknown signal"):
        parse_signal(text)
