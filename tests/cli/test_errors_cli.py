"""No traceback reaches a user: every failure is one line on stderr and Docker's exit status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.paths import EnginePaths
from tests.conftest import BERTH

# berth, with one command's handler swapped for one that raises what the test names: an
# internal error can only be made on purpose.
_FAILING = """
import errno, sys
from cli import containers, images, main

async def fail(args):
    raise {error}

containers._create = images._images = fail
sys.exit(main.main())
"""


def _failing(paths: EnginePaths, error: str, *args: str) -> subprocess.CompletedProcess:
    """Run berth with ``error`` raised by its handler; a root not there gets made first."""
    if paths.root.parent.is_dir():
        paths.root.mkdir(exist_ok=True)
    script = _FAILING.format(error=error)
    command = [sys.executable, "-c", script, "--root", str(paths.root),
               "--runroot", str(paths.runroot), *args]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


@pytest.fixture
def bare(engine_paths: EnginePaths):
    """``berth`` on a fresh root with no image: for mistakes that need nothing made."""

    def run(*args: str) -> subprocess.CompletedProcess:
        command = [BERTH, "--root", str(engine_paths.root), "--runroot",
                   str(engine_paths.runroot), *args]  # fmt: skip
        return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)

    return run


def test_internal_error_is_one_line_and_its_trace_goes_to_the_debug_log(engine_paths):
    result = _failing(engine_paths, 'ValueError("bad\\nvalue")', "images")
    log = engine_paths.root / "debug.log"
    assert result.returncode == 1
    assert result.stderr == (
        'berth: internal error in "berth images": ValueError: bad value '
        f"(full trace in {log}; rerun with --debug to print it)\n"
    )
    assert "Traceback" in log.read_text() and "ValueError: bad" in log.read_text()


def test_internal_error_of_create_exits_125(engine_paths):
    result = _failing(engine_paths, "KeyError('x')", "create", "busybox")
    assert result.returncode == 125
    assert result.stderr.startswith('berth: internal error in "berth create": KeyError')


def test_debug_prints_the_trace(engine_paths):
    result = _failing(engine_paths, "ValueError('boom')", "--debug", "images")
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert result.stderr.splitlines()[-1].startswith('berth: internal error in "berth images"')


def test_unwritable_root_puts_the_trace_under_tmp(tmp_path):
    paths = EnginePaths(Path("/proc/berth-test/root"), tmp_path / "run")
    result = _failing(paths, "ValueError('boom')", "images")
    assert result.returncode == 1
    log = result.stderr.split("full trace in ")[1].split(";")[0]
    try:
        assert log.startswith("/tmp/berth-debug-") and "ValueError: boom" in Path(log).read_text()
    finally:
        os.unlink(log)


@pytest.mark.parametrize("code", ["ENOSPC", "EDQUOT"])
def test_a_full_disk_is_named(engine_paths, code):
    error = f"OSError(errno.{code}, 'No space left on device', '/x/y')"
    result = _failing(engine_paths, error, "images")
    assert result.returncode == 1
    assert result.stderr == f"berth: no space left on the engine root ({engine_paths.root})\n"


def test_a_file_error_names_the_file(engine_paths):
    result = _failing(engine_paths, "PermissionError(13, 'Permission denied', '/x/y')", "images")
    assert result.returncode == 1
    assert result.stderr == 'berth: "/x/y": Permission denied\n'


@pytest.mark.root("a tmpfs mounted for the test")
def test_a_really_full_root(tmp_path):
    root = tmp_path / "small"
    root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(root)], check=True)
    try:
        result = subprocess.run(
            [BERTH, "--root", str(root / "root"), "--runroot", str(tmp_path / "run"), "starter"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        subprocess.run(["umount", str(root)], check=True)
    assert result.returncode == 1
    assert result.stderr == f"berth: no space left on the engine root ({root / 'root'})\n"


def _closed_stdout(*command: str) -> subprocess.CompletedProcess:
    """Run with stdout a pipe nobody reads any more, as ``| head -1`` leaves it."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run(command, stdout=writer, stderr=subprocess.PIPE, text=True,
                              timeout=30, check=False)  # fmt: skip
    finally:
        os.close(writer)


def _closed_stderr(*command: str) -> int:
    """The exit status with stderr a pipe nobody reads any more (``2>&1 | head -1``)."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run(command, stdout=subprocess.DEVNULL, stderr=writer, timeout=30,
                              check=False).returncode  # fmt: skip
    finally:
        os.close(writer)


@pytest.mark.parametrize("args", [["ps"], ["images"], ["network", "ls"]])
def test_a_closed_stdout_ends_quietly(engine_paths, args):
    command = [BERTH, "--root", str(engine_paths.root), "--runroot", str(engine_paths.runroot)]
    result = _closed_stdout(*command, *args)
    assert (result.returncode, result.stderr) == (141, "")


def test_logs_into_a_closed_pipe(berth, engine):
    script = "seq 1 20000; seq 1 20000 >&2"
    assert berth("run", "--name", "talker", "busybox", "sh", "-c", script).returncode == 0
    command = [BERTH, "--root", str(engine.paths.root), "--runroot", str(engine.paths.runroot)]
    result = _closed_stdout(*command, "logs", "talker")
    assert (result.returncode, result.stderr) == (141, "")
    assert _closed_stderr(*command, "logs", "talker") == 141


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ps", "--format", "{{.ID"], "template parsing error: unclosed action"),
        (["ps", "--format", "{{json}}"], "template parsing error: unsupported action {{json}}"),
        (["kill", "-s", "²", "x"], 'invalid signal: "²"'),
        (["port", "x", "http"], 'invalid port "http"'),
        (["network", "create", "--gateway", "10.1.2.1", "n"],
         "every ip-range or gateway must have a corresponding subnet"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line(bare, args, message):
    result = bare(*args)
    assert result.returncode == 1
    assert result.stderr.startswith("berth: ") and message in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--dns", "bogus"], 'invalid argument "bogus" for "--dns" flag: bogus is not an ip'),
        (["--add-host", "h:bogus"], 'invalid IP address in add-host: "bogus"'),
        (["--dns-search", "a b"], 'invalid argument "a b" for "--dns-search" flag'),
        (["--security-opt", "seccomp=/proc/self/exe"], "is not UTF-8 JSON"),
    ],
)  # fmt: skip
def test_bad_run_flags_are_one_line(bare, flags, message):
    result = bare("run", "--rm", *flags, "busybox", "true")
    assert result.returncode == 125
    assert result.stderr.startswith("berth: ") and message in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_format_keeps_other_characters(berth):
    result = berth("images", "--format", r"→ {{.Repository}}\x")
    assert (result.returncode, result.stdout, result.stderr) == (0, "→ busybox\\x\n", "")


@pytest.mark.root("the berth command, which refuses other users")
def test_root_that_is_a_file(tmp_path):
    root = tmp_path / "file"
    root.write_text("")
    command = [BERTH, "--root", str(root), "--runroot", str(tmp_path / "run"), "ps"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr == (
        f'berth: cannot use "{root}" for the engine: it is not a directory '
        "(see --root, --runroot)\n"
    )


def test_env_file_that_is_not_utf8(berth, tmp_path):
    env = tmp_path / "env"
    env.write_bytes(b"A=1\nB=caf\xe9\n")
    result = berth("run", "--rm", "--env-file", str(env), "busybox", "true")
    assert result.returncode == 125
    assert result.stderr == (
        f'berth: cannot read env file "{env}": it is not UTF-8 text '
        "(byte 0xe9 at offset 9, line 2)\n"
    )


@pytest.mark.parametrize(
    ("path", "message"), [("missing", "no such env file"), (".", "Is a directory")]
)
def test_env_file_missing_or_a_directory(berth, tmp_path, path, message):
    result = berth("run", "--rm", "--env-file", str(tmp_path / path), "busybox", "true")
    assert result.returncode == 125
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


TOO_BIG = "1000000000000000000000000000000"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["-m", TOO_BIG], f'invalid argument "{TOO_BIG}" for "--memory" flag: value out of range'),
        (["--memory-swap", TOO_BIG], 'for "--memory-swap" flag: value out of range'),
        (["--memory-reservation", "9999999p"], 'for "--memory-reservation" flag: value out of'),
        (["--cpu-shares", TOO_BIG], 'for "--cpu-shares" flag: value out of range'),
        (["--pids-limit", TOO_BIG], 'for "--pids-limit" flag: value out of range'),
        (["--cpu-quota", TOO_BIG], 'for "--cpu-quota" flag: value out of range'),
        (["--cpu-period", TOO_BIG], 'for "--cpu-period" flag: value out of range'),
        (["--blkio-weight", TOO_BIG], 'for "--blkio-weight" flag: value out of range'),
        (["--cpus", "1e999999999"], 'for "--cpus" flag: value out of range'),
        (["--cpus", "1e-999999999"], 'for "--cpus" flag: value is too precise'),
        (["--cpuset-cpus", "0-99999999999"], "value out of range, maximum is 8192"),
        (["--log-opt", f"max-size={TOO_BIG}"], "value out of range"),
        (["-m", "100p"], "Memory limit 100PiB is more than the host's memory ("),
        (["--memory-reservation", "100p"], "Memory reservation 100PiB is more than the host's"),
    ],
)  # fmt: skip
def test_numbers_too_big_are_refused(berth, flags, message):
    result = berth("run", "--rm", *flags, "busybox", "true", timeout=10)
    assert result.returncode == 125
    assert result.stderr.startswith("berth: ") and message in result.stderr, result.stderr
    assert berth("ps", "-a", "-q").stdout == ""


def test_update_refuses_more_memory_than_the_host_has(berth):
    assert berth("create", "--name", "small", "busybox", "true").returncode == 0
    result = berth("update", "-m", "100p", "small")
    assert result.returncode == 1
    assert "is more than the host's memory" in result.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--stop-timeout", TOO_BIG],
         f'invalid argument "{TOO_BIG}" for "--stop-timeout" flag: value out of range'),
        (["--stop-timeout", "ten"], 'for "--stop-timeout" flag: it must be a whole number'),
        (["--restart", f"on-failure:{TOO_BIG}"], "value out of range"),
        (["--log-opt", f"max-file={TOO_BIG}"], f'invalid max-file: "{TOO_BIG}": value out of'),
        (["-u", TOO_BIG], f'invalid user "{TOO_BIG}": uid {TOO_BIG} is out of range'),
        (["-u", f"0:{TOO_BIG}"], f"gid {TOO_BIG} is out of range (use 0 to 4294967294)"),
    ],
)  # fmt: skip
def test_more_numbers_out_of_range_are_one_line(berth, flags, message):
    result = berth("run", "--rm", *flags, "busybox", "true", timeout=10)
    assert result.returncode == 125
    assert result.stderr.startswith("berth: ") and message in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert berth("ps", "-a", "-q").stdout == ""


@pytest.mark.parametrize("command", ["stop", "restart"])
@pytest.mark.parametrize(
    ("value", "message"),
    [(TOO_BIG, "value out of range"), ("soon", "it must be a whole number")],
)
def test_stop_time_is_a_number_in_range(bare, command, value, message):
    result = bare(command, "-t", value, "x")
    assert result.returncode == 1
    assert result.stderr == f'berth: invalid argument "{value}" for "--time" flag: {message}\n'


def test_a_tail_beyond_int64_is_all(berth):
    assert berth("run", "--name", "talker", "busybox", "echo", "hi").returncode == 0
    result = berth("logs", "--tail", TOO_BIG, "talker")
    assert (result.returncode, result.stdout, result.stderr) == (0, "hi\n", "")


def test_a_tail_of_other_digits_is_refused(bare):
    result = bare("logs", "--tail", "²", "x")
    assert (result.returncode, result.stderr) == (
        1, 'berth: invalid --tail "²": use a number or "all"\n'
    )  # fmt: skip


@pytest.fixture
def sleeper(berth):
    assert berth("run", "-d", "--name", "sleeper", "busybox", "sleep", "60").returncode == 0
    return "sleeper"


def test_top_with_a_bad_ps_option_says_what_ps_said(berth, sleeper):
    result = berth("top", sleeper, "-o", "pid,bogus")
    assert result.returncode == 1
    assert result.stderr == (
        'berth: ps -o pid,bogus failed: error: unknown user-defined format specifier "bogus"\n'
    )


def _unusable_root(tmp_path: Path, kind: str) -> Path:
    """An engine root whose berth.db cannot be opened, as ``kind`` says."""
    root = tmp_path / kind
    root.mkdir()
    if kind == "junk":
        (root / "berth.db").write_text("x\n")
    elif kind == "directory":
        (root / "berth.db").mkdir()
    else:  # a root made, then its file system mounted read-only
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(root)], check=True)
        command = [BERTH, "--root", str(root), "--runroot", str(tmp_path / "run"), "ps"]
        try:
            subprocess.run(command, capture_output=True, check=True)
            subprocess.run(["mount", "-o", "remount,ro", str(root)], check=True)
        except subprocess.CalledProcessError:
            subprocess.run(["umount", str(root)], check=True)  # leave no mount behind
            raise
    return root


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("junk", "file is not a database (move it aside, or choose another --root)"),
        ("directory", "it is a directory (remove it, or choose another --root)"),
        ("read-only", "the engine root is read-only (choose a writable --root)"),
    ],
)
@pytest.mark.root("the berth command, which refuses other users")
def test_a_database_that_cannot_be_opened_is_named(tmp_path, kind, reason):
    root = _unusable_root(tmp_path, kind)
    try:
        results = [
            subprocess.run([BERTH, "--root", str(root), "--runroot", str(tmp_path / "run"),
                            *args], capture_output=True, text=True, timeout=30, check=False)
            for args in (["ps"], ["create", "busybox"])
        ]  # fmt: skip
    finally:
        if kind == "read-only":
            subprocess.run(["umount", str(root)], check=True)
    line = f"berth: cannot open the engine database {root / 'berth.db'}: {reason}\n"
    assert [(r.returncode, r.stderr) for r in results] == [(1, line), (125, line)]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--device", "/dev/null:relative"], "relative is not an absolute path"),
        (["--device", "/dev/null:/dev/n:xyz"], "bad mode specified: xyz"),
        (["--device", "a:b:c:d"], "bad format for path: a:b:c:d"),
        (["--tmpfs", "/t:size=abc"], '--tmpfs "/t:size=abc": invalid size "abc"'),
        (["--tmpfs", "/t:mode=999"], 'invalid mode "999": use octal permissions'),
        (["--tmpfs", "/t:bogus"], 'unknown option "bogus"'),
    ],
)  # fmt: skip
def test_bad_devices_and_tmpfs_options_are_refused_at_create(berth, flags, message):
    result = berth("run", "--rm", *flags, "busybox", "true", timeout=10)
    assert result.returncode == 125
    assert result.stderr.startswith("berth: ") and message in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert berth("ps", "-a", "-q").stdout == ""


def test_tmpfs_sizes_reach_the_kernel_in_bytes(berth):
    result = berth("run", "--rm", "--tmpfs", "/t:size=1.5m,defaults", "busybox",
                   "sh", "-c", "grep ' /t ' /proc/mounts")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "size=1536k" in result.stdout


def test_an_ipv6_subnet_is_not_supported_yet(bare):
    result = bare("network", "create", "--subnet", "::1/64", "n")
    assert (result.returncode, result.stderr) == (1, (
        'berth: invalid subnet "::1/64": IPv6 subnets are not supported yet: '
        "give an IPv4 subnet like 10.89.0.0/24\n"
    ))  # fmt: skip


def test_an_import_that_cannot_be_read_names_the_file(bare):
    result = bare("import", "/proc/self/mem")
    assert (result.returncode, result.stderr) == (
        1, 'berth: cannot read "/proc/self/mem": Input/output error\n'
    )  # fmt: skip


def test_exec_in_a_missing_workdir_exits_126(berth, sleeper):
    result = berth("exec", "-w", "/nonexist", sleeper, "true")
    assert (result.returncode, result.stderr) == (126, 'berth: cwd "/nonexist" does not exist\n')


def test_a_bad_flag_is_one_line_and_exit_125_as_in_docker(tmp_path) -> None:
    for argv in (["ps", "--bogus"], ["run", "--sig-proxy", "maybe", "busybox"], ["rm"]):
        result = subprocess.run([BERTH, "--root", str(tmp_path / "r"), "--runroot",
                                 str(tmp_path / "rr"), *argv], capture_output=True, text=True,
                                check=False)  # fmt: skip
        assert result.returncode == 125, result
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("berth: "), result
        assert "--help" in result.stderr


def test_a_working_directory_that_is_a_file_and_an_exec_user_that_is_not_there(berth) -> None:
    result = berth("run", "--rm", "--network", "none", "-w", "/etc/passwd", "busybox", "true")
    assert result.returncode == 125
    assert result.stderr == (
        'berth: the working directory "/etc/passwd" is not a directory in the image (see -w)\n'
    )
    assert berth("run", "-d", "--name", "box", "--network", "none", "busybox", "sleep",
                 "60").returncode == 0  # fmt: skip
    result = berth("exec", "-u", "nosuch", "box", "true")
    assert result.returncode == 126, result  # Docker: OCI runtime exec failed
    assert result.stderr.count("\n") == 1 and "nosuch" in result.stderr
    assert berth("rm", "-f", "box").returncode == 0
