"""`berth run` end to end: real containers on a temporary engine root."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from tests.conftest import BERTH, cgroup_dirs


def test_container_sees_itself_as_pid_1_with_its_own_hostname(berth):
    # "; true" keeps sh from exec-ing ps in its own place.
    result = berth("run", "--rm", "busybox", "sh", "-c", "echo $$; hostname; ps -o pid,comm; true")
    assert result.returncode == 0, result.stderr
    pid, hostname, *ps = result.stdout.splitlines()
    assert pid == "1"
    assert re.fullmatch(r"[0-9a-f]{12}", hostname)
    # Only the container's own processes: its shell and ps.
    assert [line.split() for line in ps[1:]] == [["1", "sh"], [ps[2].split()[0], "ps"]]
    assert berth("ps", "-a", "-q").stdout.strip() == ""


def test_hostname_flag(berth):
    result = berth("run", "--rm", "--hostname", "web1", "busybox", "cat", "/etc/hostname")
    assert result.stdout == "web1\n"


def test_exit_codes_follow_the_container(berth):
    assert berth("run", "--rm", "busybox", "false").returncode == 1
    assert berth("run", "--rm", "busybox", "sh", "-c", "exit 42").returncode == 42


def test_killed_by_a_signal_exits_128_plus_n(berth, engine):
    foreground = subprocess.Popen(
        [BERTH, "--root", str(engine.paths.root), "--runroot", str(engine.paths.runroot),
         "run", "--name", "victim", "busybox", "sleep", "30"]
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while "Up" not in berth("ps", "--format", "{{.Status}}").stdout:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert berth("kill", "victim").returncode == 0
        assert foreground.wait(timeout=10) == 137
    finally:
        foreground.kill()
    # A shell that is not PID 1 dies of its own SIGKILL like anywhere else.
    result = berth("run", "--rm", "busybox", "sh", "-c", "sh -c 'kill -9 $$'; echo $?")
    assert result.stdout == "137\n"


def test_pid_1_cannot_kill_itself(berth):
    # The kernel drops signals that PID 1 of a pid namespace sends itself without a
    # handler, SIGKILL included: the shell goes on and exits 0, as under Docker or runc.
    assert berth("run", "--rm", "busybox", "sh", "-c", "kill -9 $$; echo alive").stdout == "alive\n"


def test_stdout_and_stderr_stay_apart(berth):
    result = berth("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert (result.stdout, result.stderr) == ("out\n", "err\n")


def test_stdin_reaches_the_container(berth):
    result = berth("run", "--rm", "-i", "busybox", "tr", "a-z", "A-Z", input="hello\n")
    assert result.stdout == "HELLO\n"


def test_env_workdir_and_user(berth, tmp_path: Path):
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROM_FILE=yes\nOVERRIDDEN=file\n")
    result = berth(
        "run", "--rm", "--env-file", str(env_file), "-e", "OVERRIDDEN=flag", "-w", "/srv/app",
        "-u", "nobody", "busybox", "sh", "-c", 'echo $FROM_FILE $OVERRIDDEN $HOME; pwd; id',
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "yes flag /home",
        "/srv/app",
        "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)",
    ]


def test_user_with_group_and_supplementary_groups(berth):
    result = berth("run", "--rm", "-u", "0:5", "busybox", "id", "-u")
    assert result.stdout == "0\n"
    result = berth("run", "--rm", "-u", "1234:4321", "busybox", "sh", "-c", "id -u; id -g")
    assert result.stdout == "1234\n4321\n"


def test_writes_stay_in_their_container(berth, engine):
    first = berth("create", "--name", "first", "busybox", "sh", "-c", "echo hi > /made-here")
    assert first.returncode == 0, first.stderr
    assert berth("start", "-a", "first").returncode == 0
    second = berth("run", "--rm", "busybox", "ls", "/made-here")
    assert second.returncode == 1  # not in a second container of the same image
    layers = list(engine.paths.layers.iterdir())
    assert len(layers) == 1
    assert not (layers[0] / "diff" / "made-here").exists()  # nor in the image's layer
    upper = engine.paths.container_dir(first.stdout.strip()) / "upper" / "made-here"
    assert upper.read_text() == "hi\n"


def test_containers_share_one_copy_of_the_layers(berth, engine):
    for name in ("one", "two", "three"):
        assert berth("create", "--name", name, "busybox", "true").returncode == 0
    assert len(list(engine.paths.layers.iterdir())) == 1
    assert len(list(engine.paths.containers.iterdir())) == 3


def test_rm_removes_everything_the_container_held(berth, engine):
    container_id = berth("create", "busybox", "sleep", "1").stdout.strip()
    assert berth("start", "-a", container_id).returncode == 0
    directory = engine.paths.container_dir(container_id)
    assert directory.is_dir()
    assert berth("rm", container_id[:8]).stdout == container_id[:8] + "\n"
    assert not directory.exists()
    assert not cgroup_dirs(container_id)
    assert str(directory) not in Path("/proc/self/mounts").read_text()
    assert berth("ps", "-a", "-q").stdout == ""


def test_ps_and_inspect(berth):
    container_id = berth("create", "--name", "web", "busybox", "echo", "hi").stdout.strip()
    ps = berth("ps", "-a").stdout.splitlines()
    assert ps[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS",
                             "PORTS", "NAMES"]  # fmt: skip
    assert ps[1].startswith(container_id[:12]) and "Created" in ps[1] and ps[1].endswith("web")
    assert berth("ps").stdout.splitlines()[1:] == []  # not running
    berth("start", "-a", "web")
    formatted = berth("ps", "-a", "--format", "{{.Names}}|{{.Status}}|{{.Command}}").stdout
    assert re.fullmatch(r'web\|Exited \(0\) .* ago\|"echo hi"\n', formatted)
    assert berth("ps", "-a", "--no-trunc", "-q").stdout == container_id + "\n"
    [details] = json.loads(berth("inspect", "web").stdout)
    assert details["Id"] == container_id
    assert details["Name"] == "/web"
    assert (details["Path"], details["Args"]) == ("echo", ["hi"])
    assert details["State"]["Status"] == "exited"
    assert details["State"]["ExitCode"] == 0


def test_name_generation_and_prefixes(berth):
    first = berth("create", "busybox", "true").stdout.strip()
    [details] = json.loads(berth("inspect", first).stdout)
    assert re.fullmatch(r"/[a-z]+_[a-z]+", details["Name"])
    assert berth("rm", first[:5]).returncode == 0
