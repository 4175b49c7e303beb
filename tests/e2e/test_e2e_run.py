"""run, create and start as a user types them, held to Docker's behaviour.

Timings are asserted loosely (a busy 2-core machine): a bound several times Docker's,
with the measured time in the message.
"""

from __future__ import annotations

import subprocess

from tests.e2e import leaks
from tests.e2e.berth_cli import BERTH, HEX64, Berth, describe, poll, timed


def test_foreground_keeps_stdout_and_stderr_apart(berth: Berth) -> None:
    result = berth("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert (result.returncode, result.stdout, result.stderr) == (0, "out\n", "err\n"), describe(
        result
    )


def test_foreground_exits_with_the_containers_code(berth: Berth) -> None:
    result = berth("run", "--rm", "busybox", "sh", "-c", "exit 3")
    assert result.returncode == 3, describe(result)


def test_detached_prints_the_id_and_runs(berth: Berth) -> None:
    result, seconds = timed(lambda: berth("run", "-d", "--name", "dd", "busybox", "sleep", "1000"))
    assert result.returncode == 0, describe(result)
    assert HEX64.fullmatch(result.stdout.strip()), describe(result)
    assert seconds < 5, f"run -d took {seconds:.2f} s (Docker: well under 1 s)"
    state, status = berth.ps()["dd"]
    assert state == "running" and status.startswith("Up"), (state, status)


def test_rm_container_is_gone_when_run_returns(berth: Berth) -> None:
    result = berth("run", "--rm", "--name", "gone", "busybox", "true")
    assert result.returncode == 0, describe(result)
    listed = berth.ok("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert "gone" not in listed, f"run --rm returned, yet ps -a still lists it: {listed}"


def _rm_name_reuse(berth: Berth, times: int) -> None:
    # "xx": names take 2 characters at least, in Docker as in berth.
    for attempt in range(times):
        result = berth("run", "--rm", "--name", "xx", "busybox", "true")
        assert result.returncode == 0, f"attempt {attempt + 1} of {times}: {describe(result)}"


def test_rm_name_is_free_at_once(berth: Berth) -> None:
    _rm_name_reuse(berth, 10)


def test_rm_name_is_free_at_once_100_times_ACCEPTANCE(berth: Berth) -> None:
    """The acceptance check: 100 back-to-back ``run --rm --name xx`` never say "in use"."""
    _rm_name_reuse(berth, 100)


def test_create_then_start(berth: Berth) -> None:
    created = berth.ok("create", "--name", "cs", "busybox", "sh", "-c", "echo started; sleep 1000")
    assert HEX64.fullmatch(created.stdout.strip()), describe(created)
    assert berth.ps()["cs"][0] == "created"
    started = berth.ok("start", "cs")
    assert started.stdout.strip() == "cs", describe(started)
    assert berth.ps()["cs"][0] == "running"
    logs = poll(lambda: berth.ok("logs", "cs").stdout, timeout=5)
    assert logs == "started\n"


def test_reported_sequence_lists_every_container(berth: Berth) -> None:
    """The report: a detached container exits while two more are created; ps -a shows all."""
    b = " ".join(berth.argv())
    script = (f"{b} run -d --name aa busybox sleep 3 && {b} create --name bb busybox && "
              f"{b} create --name cc busybox && sleep 6 && {b} ps -a")  # fmt: skip
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                            check=False)  # fmt: skip
    assert result.returncode == 0, f"rc {result.returncode}: {result.stdout}{result.stderr}"
    table = result.stdout[result.stdout.index("CONTAINER ID") :].splitlines()[1:]
    rows = {line.split()[-1]: line for line in table if line.strip()}
    assert sorted(rows) == ["aa", "bb", "cc"], result.stdout
    assert "Exited (0)" in rows["aa"], result.stdout
    assert leaks.integrity(berth.root) == ["ok"]


def test_berth_is_the_installed_command() -> None:
    # The suite means the command a user runs, next to this interpreter.
    result = subprocess.run([BERTH, "--help"], capture_output=True, text=True, timeout=60,
                            check=False)  # fmt: skip
    assert result.returncode == 0 and "daemonless" in result.stdout
