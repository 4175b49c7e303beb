"""stop, kill, restart, wait, rm, exec and logs, each step a fresh ``berth`` process.

Expectations are Docker's: exit codes exactly, timings loosely (the measured time is
in every message).
"""

from __future__ import annotations

import os
import signal

from tests.e2e.berth_cli import Berth, describe, pid_alive, timed

# A PID 1 ignores signals it has no handler for, so sleep as PID 1 outlives TERM.
SLEEPER = ("busybox", "sleep", "1000")


def _stopped(berth: Berth, name: str, *args: str) -> float:
    """Seconds ``stop`` took; it must succeed and print the name."""
    result, seconds = timed(lambda: berth("stop", *args, name))
    assert result.returncode == 0, describe(result)
    assert result.stdout.strip() == name, describe(result)
    return seconds


def test_stop_kills_after_the_timeout_the_reported_case(berth: Berth) -> None:
    """The report: ``stop -t 1`` of sleep took 11 s and said 255; Docker: 1 s and 137."""
    berth.ok("run", "-d", "--name", "ww", *SLEEPER)
    seconds = _stopped(berth, "ww", "-t", "1")
    state = berth.state("ww")
    assert (state["Status"], state["ExitCode"]) == ("exited", 137), f"{state} after {seconds:.2f} s"
    assert seconds < 5, f"stop -t 1 took {seconds:.2f} s (Docker: about 1 s)"


def test_stop_kills_a_pid1_that_ignores_term(berth: Berth) -> None:
    berth.ok("run", "-d", "--name", "ig", "busybox", "sh", "-c", 'trap "" TERM; sleep 1000')
    seconds = _stopped(berth, "ig", "-t", "1")
    state = berth.state("ig")
    assert (state["Status"], state["ExitCode"]) == ("exited", 137), f"{state} after {seconds:.2f} s"
    assert seconds < 5, f"stop -t 1 took {seconds:.2f} s (Docker: about 1 s)"


def test_stop_waits_the_default_ten_seconds_then_kills(berth: Berth) -> None:
    berth.ok("run", "-d", "--name", "dflt", *SLEEPER)
    seconds = _stopped(berth, "dflt")
    assert berth.state("dflt")["ExitCode"] == 137
    assert 8 < seconds < 20, f"stop took {seconds:.2f} s (Docker: 10 s, then SIGKILL)"


def test_stop_of_a_term_handler_is_prompt(berth: Berth) -> None:
    loop = 'trap "exit 143" TERM; while true; do sleep 0.1; done'
    berth.ok("run", "-d", "--name", "th", "busybox", "sh", "-c", loop)
    seconds = _stopped(berth, "th")
    state = berth.state("th")
    assert (state["Status"], state["ExitCode"]) == ("exited", 143), f"{state} after {seconds:.2f} s"
    assert seconds < 5, f"stop took {seconds:.2f} s; the container exits at TERM (Docker: < 1 s)"


def test_sigkill_from_outside_is_exit_137(berth: Berth) -> None:
    berth.ok("run", "-d", "--name", "kk", *SLEEPER)
    pid = berth.state("kk")["Pid"]
    assert pid > 0 and pid_alive(pid)
    os.kill(pid, signal.SIGKILL)
    result, seconds = timed(lambda: berth("wait", "kk", timeout=30))
    assert (result.returncode, result.stdout) == (0, "137\n"), describe(result)
    assert seconds < 5, f"wait took {seconds:.2f} s after the init was killed"
    state = berth.state("kk")
    assert (state["Status"], state["Running"], state["ExitCode"]) == ("exited", False, 137), state


def test_kill_command_is_exit_137(berth: Berth) -> None:
    berth.ok("run", "-d", "--name", "kc", *SLEEPER)
    assert berth.ok("kill", "kc").stdout.strip() == "kc"
    result = berth("wait", "kc", timeout=30)
    assert (result.returncode, result.stdout) == (0, "137\n"), describe(result)


def test_restart_runs_it_again(berth: Berth) -> None:
    berth.ok("run", "-d", "--name", "rs", *SLEEPER)
    before = berth.state("rs")
    result, seconds = timed(lambda: berth("restart", "-t", "1", "rs"))
    assert result.returncode == 0, describe(result)
    after = berth.state("rs")
    assert after["Running"] and after["Pid"] != before["Pid"] and pid_alive(after["Pid"]), after
    assert after["StartedAt"] != before["StartedAt"], after
    assert seconds < 6, f"restart -t 1 took {seconds:.2f} s (Docker: about 1 s)"


def test_restart_of_an_exited_container_starts_it(berth: Berth) -> None:
    berth.ok("create", "--name", "rx", *SLEEPER)
    berth.ok("restart", "rx")
    assert berth.state("rx")["Running"]


def test_wait_prints_the_exit_code(berth: Berth) -> None:
    berth.ok("run", "-d", "--name", "wt", "busybox", "sh", "-c", "sleep 1; exit 5")
    result, seconds = timed(lambda: berth("wait", "wt", timeout=30))
    assert (result.returncode, result.stdout) == (0, "5\n"), describe(result)
    assert seconds < 5, f"wait took {seconds:.2f} s for a 1 s container"
    again = berth("wait", "wt")  # an exited container: at once
    assert again.stdout == "5\n", describe(again)


def test_rm_force_frees_the_name_at_once(berth: Berth) -> None:
    berth.ok("run", "-d", "--name", "same", *SLEEPER)
    removed, seconds = timed(lambda: berth("rm", "-f", "same"))
    assert (removed.returncode, removed.stdout.strip()) == (0, "same"), describe(removed)
    assert seconds < 5, f"rm -f took {seconds:.2f} s (Docker: SIGKILL, well under 1 s)"
    berth.ok("run", "-d", "--name", "same", *SLEEPER)


def test_rm_frees_the_name_of_an_exited_container(berth: Berth) -> None:
    berth.ok("run", "--name", "ex", "busybox", "true")
    berth.ok("rm", "ex")
    berth.ok("run", "--name", "ex", "busybox", "true")
    berth.ok("create", "--name", "cr", "busybox")
    berth.ok("rm", "cr")
    berth.ok("create", "--name", "cr", "busybox")


def test_rm_refuses_a_running_container(berth: Berth) -> None:
    berth.ok("run", "-d", "--name", "up", *SLEEPER)
    result = berth("rm", "up")
    assert result.returncode != 0, describe(result)
    assert berth.state("up")["Running"]


def test_exec_output_and_exit_code(berth: Berth) -> None:
    berth.ok("run", "-d", "--name", "ec", *SLEEPER)
    result = berth("exec", "ec", "sh", "-c", "echo out; echo err >&2; exit 4")
    assert (result.returncode, result.stdout, result.stderr) == (4, "out\n", "err\n"), describe(
        result
    )
    assert berth.state("ec")["Running"], "exec's end must not end the container"


def test_logs_after_exit(berth: Berth) -> None:
    berth.ok("run", "--name", "lg", "busybox", "sh", "-c", "echo one; echo two >&2")
    result = berth("logs", "lg")
    assert (result.returncode, result.stdout, result.stderr) == (0, "one\n", "two\n"), describe(
        result
    )


def test_logs_follow_ends_when_the_container_exits(berth: Berth) -> None:
    berth.ok("run", "-d", "--name", "lf", "busybox", "sh", "-c", "echo a; sleep 1; echo b")
    result, seconds = timed(lambda: berth("logs", "-f", "lf", timeout=30))
    assert (result.returncode, result.stdout) == (0, "a\nb\n"), describe(result)
    assert seconds < 6, f"logs -f took {seconds:.2f} s for a 1 s container"


def test_stop_with_a_negative_timeout_waits_for_the_container(berth: Berth) -> None:
    slow = 'trap "sleep 2; exit 5" TERM; while true; do sleep 0.1; done'
    berth.ok("run", "-d", "--name", "slow", "busybox", "sh", "-c", slow)
    berth.ok("stop", "-t", "-1", "slow")  # Docker: -1 waits as long as it takes, no SIGKILL
    assert berth.state("slow")["ExitCode"] == 5
