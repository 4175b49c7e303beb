"""``--runtime``: the same container steps with berth's own runtime and with runc.

Each test runs once per runtime (``[berth]`` and ``[runc]``), driving only the
installed ``berth`` command, so what passes with berth-runtime is shown to pass with
runc too. runc is Debian's (/usr/sbin/runc); the runc cases skip, naming it, where it
is not installed. crun refuses cgroup v1 and hybrid hosts: its cases skip there
and run on pure v2 (or say that it is not installed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.berth_cli import Berth, describe, poll, timed
from tests.e2e.conftest import settled_leaks
from tests.terminal import Terminal

#: also on pure cgroup v2, in ../shared/tools/cgroup2-vm, where crun runs too (a few
#: only: every runc call is slow under User-Mode Linux)
on_v2_too = pytest.mark.cgroup2

_SBIN_PATH = os.pathsep.join([os.environ.get("PATH", os.defpath), "/usr/local/sbin", "/usr/sbin",
                              "/sbin"])  # fmt: skip
RUNC = shutil.which("runc", path=_SBIN_PATH)
CRUN = shutil.which("crun", path=_SBIN_PATH)
CGROUP = Path("/sys/fs/cgroup")
UNIFIED = (CGROUP / "cgroup.controllers").exists()  # else v1: legacy or hybrid

RUNTIMES = [
    pytest.param("berth", id="berth"),
    pytest.param(
        "runc", id="runc",
        marks=pytest.mark.skipif(
            RUNC is None, reason="runc is not installed (Debian's runc package: /usr/sbin/runc)"
        ),
    ),
    pytest.param(
        "crun", id="crun",
        marks=[
            pytest.mark.skipif(CRUN is None, reason="crun is not installed (Debian's crun)"),
            pytest.mark.skipif(
                not UNIFIED, reason="crun refuses cgroup v1 and hybrid layouts: this host's is "
                "not pure v2 (run it under ../shared/tools/cgroup2-vm)",
            ),
        ],
    ),
]  # fmt: skip
SLEEPER = ("busybox", "sleep", "1000")
#: the cgroup2 VM cannot load the bridge network's nftables rules; no test here needs one
NO_NETWORK = ("--network", "none")
# Exits promptly at TERM (a PID 1 without a handler would ignore it).
TERM_HANDLER = ("busybox", "sh", "-c", 'trap "exit 143" TERM; while true; do sleep 0.1; done')


def _run(
    berth: Berth, runtime: str, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``berth run --runtime RUNTIME ARGS...`` (any outcome)."""
    return berth("run", "--runtime", runtime, *NO_NETWORK, *args, timeout=timeout)


def _run_ok(berth: Berth, runtime: str, *args: str) -> str:
    result = _run(berth, runtime, *args)
    assert result.returncode == 0, describe(result)
    return result.stdout


def _cgroup_file(container_id: str, v1_controller: str, v1_name: str, v2_name: str) -> Path:
    """A file of the container's cgroup, wherever this host's layout keeps it."""
    if UNIFIED:
        return CGROUP / "berth" / container_id / v2_name
    return CGROUP / v1_controller / "berth" / container_id / v1_name


@on_v2_too
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_run_prints_the_output_and_exits_0(berth: Berth, runtime: str) -> None:
    result = _run(berth, runtime, "--rm", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert result.returncode == 0, describe(result)
    assert result.stdout == "out\n", describe(result)
    assert result.stderr == "err\n", describe(result)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_non_zero_exit_code_is_kept(berth: Berth, runtime: str) -> None:
    result = _run(berth, runtime, "--name", "nz", "busybox", "sh", "-c", "echo bye; exit 3")
    assert result.returncode == 3, describe(result)
    state = berth.state("nz")
    assert (state["Status"], state["ExitCode"]) == ("exited", 3), state
    logs = berth.ok("logs", "nz")
    assert logs.stdout == "bye\n", describe(logs)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_command_not_found_is_127(berth: Berth, runtime: str) -> None:
    result = _run(berth, runtime, "--rm", "busybox", "no-such-command")
    assert result.returncode == 127, describe(result)
    assert "no-such-command" in result.stderr, describe(result)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_run_d_then_stop_records_the_exit(berth: Berth, runtime: str) -> None:
    _run_ok(berth, runtime, "-d", "--name", "th", *TERM_HANDLER)
    assert berth.state("th")["Running"]
    result, seconds = timed(lambda: berth("stop", "th"))
    assert result.returncode == 0, describe(result)
    state = berth.state("th")
    assert (state["Status"], state["ExitCode"]) == ("exited", 143), f"{state} after {seconds:.2f} s"
    assert seconds < 5, f"stop took {seconds:.2f} s; the container exits at TERM"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_stop_kills_after_the_timeout(berth: Berth, runtime: str) -> None:
    _run_ok(berth, runtime, "-d", "--name", "ww", *SLEEPER)
    result, seconds = timed(lambda: berth("stop", "-t", "1", "ww"))
    assert result.returncode == 0, describe(result)
    state = berth.state("ww")
    assert (state["Status"], state["ExitCode"]) == ("exited", 137), f"{state} after {seconds:.2f} s"
    assert seconds < 5, f"stop -t 1 took {seconds:.2f} s"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_exec_runs_in_the_container_with_its_exit_code(berth: Berth, runtime: str) -> None:
    _run_ok(berth, runtime, "-d", "--name", "ex", *SLEEPER)
    result = berth("exec", "ex", "sh", "-c", "echo in-$(hostname); exit 5")
    assert result.returncode == 5, describe(result)
    hostname = berth.inspect("ex")[0]["Config"]["Hostname"]
    assert result.stdout == f"in-{hostname}\n", describe(result)
    missing = berth("exec", "ex", "no-such-command")
    assert missing.returncode == 127, describe(missing)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_run_it_through_a_terminal(berth: Berth, runtime: str) -> None:
    terminal = Terminal(berth.argv("run", "-it", "--runtime", runtime, *NO_NETWORK, "--name",
                                   "tt", "busybox", "sh"), rows=30, columns=100)  # fmt: skip
    try:
        terminal.expect(r"/ # ")
        terminal.send("tty; echo size=$(stty size 2>/dev/null || echo none); exit 7\r")
        terminal.expect(r"/dev/pts/\d+")
        assert terminal.wait(timeout=15) == 7, terminal.output
    finally:
        terminal.close()
    assert berth.state("tt")["ExitCode"] == 7


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_exec_it_through_a_terminal(berth: Berth, runtime: str) -> None:
    _run_ok(berth, runtime, "-d", "--name", "et", *SLEEPER)
    terminal = Terminal(berth.argv("exec", "-it", "et", "sh"))
    try:
        terminal.expect(r"/ # ")
        terminal.send("echo hi-$((6*7)); exit 6\r")
        terminal.expect("hi-42")
        assert terminal.wait(timeout=15) == 6, terminal.output
    finally:
        terminal.close()


@on_v2_too
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_memory_limit_lands_in_the_cgroup(berth: Berth, runtime: str) -> None:
    container_id = _run_ok(berth, runtime, "-d", "--memory", "64m", *SLEEPER).strip()
    limit = _cgroup_file(container_id, "memory", "memory.limit_in_bytes", "memory.max")
    assert limit.read_text().strip() == str(64 * 1024 * 1024), limit
    berth.ok("update", "--memory", "96m", container_id)
    assert limit.read_text().strip() == str(96 * 1024 * 1024), limit


@on_v2_too
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_stats_reads_the_containers_cgroup(berth: Berth, runtime: str) -> None:
    container_id = _run_ok(berth, runtime, "-d", "--memory", "64m", *SLEEPER).strip()
    shown = berth.ok("stats", "--no-stream", "--format", "{{.MemUsage}}\t{{.PIDs}}",
                     container_id).stdout.strip()  # fmt: skip
    usage, pids = shown.split("\t")
    assert usage.endswith("/ 64MiB") and not usage.startswith("0B"), shown
    assert pids == "1", shown


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_pause_and_unpause(berth: Berth, runtime: str) -> None:
    container_id = _run_ok(berth, runtime, "-d", "--name", "pp", *SLEEPER).strip()
    berth.ok("pause", "pp")
    state = berth.state("pp")
    assert (state["Status"], state["Paused"]) == ("paused", True), state
    if not UNIFIED:
        freezer = _cgroup_file(container_id, "freezer", "freezer.state", "")
        assert freezer.read_text().strip() == "FROZEN", freezer
    refused = berth("exec", "pp", "true")
    assert refused.returncode != 0 and "paused" in refused.stderr, describe(refused)
    berth.ok("unpause", "pp")
    state = berth.state("pp")
    assert (state["Status"], state["Paused"]) == ("running", False), state
    assert berth.ok("exec", "pp", "echo", "thawed").stdout == "thawed\n"
    # A paused container stops too.
    berth.ok("pause", "pp")
    berth.ok("stop", "-t", "1", "pp")
    assert berth.state("pp")["Status"] == "exited"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_rm_f_of_a_running_container_leaves_nothing(berth: Berth, runtime: str) -> None:
    _run_ok(berth, runtime, "-d", "--name", "gone", *SLEEPER)
    berth.ok("exec", "-d", "gone", "sleep", "1000")
    berth.ok("rm", "-f", "gone")
    assert berth.ids() == []
    found = settled_leaks(berth)
    assert not found, "\n".join(str(leak) for leak in found)
    state = berth.runroot / "runtimes" / runtime
    left = sorted(path.name for path in state.iterdir()) if state.is_dir() else []
    assert left == [], f"{runtime}'s state under {state} was left: {left}"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_restart_policy_brings_it_back(berth: Berth, runtime: str) -> None:
    _run_ok(berth, runtime, "-d", "--name", "rs", "--restart", "on-failure:2",
            "busybox", "sh", "-c", "exit 1")  # fmt: skip

    def done() -> dict | None:
        found = berth.inspect("rs")[0]
        return (
            found if found["State"]["Status"] == "exited" and found["RestartCount"] == 2 else None
        )

    found = poll(done, timeout=30, interval=0.2)
    assert found, berth.inspect("rs")[0]
    assert found["State"]["ExitCode"] == 1


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_inspect_shows_the_runtime(berth: Berth, runtime: str) -> None:
    berth.ok("create", "--runtime", runtime, "--name", "ins", "busybox", "true")
    assert berth.inspect("ins")[0]["HostConfig"]["Runtime"] == runtime
    berth.ok("start", "ins")
    assert berth.inspect("ins")[0]["HostConfig"]["Runtime"] == runtime


def test_the_default_runtime_is_berth_or_berth_runtime_env(
    berth: Berth, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BERTH_RUNTIME", raising=False)
    berth.ok("create", "--name", "plain", "busybox", "true")
    assert berth.inspect("plain")[0]["HostConfig"]["Runtime"] == "berth"
    if RUNC is None:
        return
    monkeypatch.setenv("BERTH_RUNTIME", "runc")
    result = berth("run", *NO_NETWORK, "--name", "env", "busybox", "sh", "-c", "exit 4")
    assert result.returncode == 4, describe(result)
    assert berth.inspect("env")[0]["HostConfig"]["Runtime"] == "runc"


@pytest.mark.parametrize("command", ["run", "create"])
def test_an_unknown_runtime_is_refused_and_nothing_is_made(berth: Berth, command: str) -> None:
    result = berth(command, "--runtime", "runx", "--name", "nope", "busybox", "true")
    assert result.returncode == 125, describe(result)
    assert result.stderr == (
        'berth: no such OCI runtime: "runx" (install it, or see --runtime)\n'
    ), describe(result)
    assert berth.ids() == []
    containers = berth.root / "containers"
    assert not containers.is_dir() or not any(containers.iterdir())


@pytest.mark.skipif(RUNC is None, reason="runc is not installed (Debian's runc: /usr/sbin/runc)")
def test_a_runtime_given_by_its_absolute_path(berth: Berth) -> None:
    result = berth("run", "--rm", "--runtime", RUNC, *NO_NETWORK, "busybox", "echo", "by-path")
    assert (result.returncode, result.stdout) == (0, "by-path\n"), describe(result)
