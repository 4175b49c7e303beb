"""Mistakes a user will make: one clear line, a non-zero exit, nothing half-created."""

from __future__ import annotations

import json
import subprocess

from tests.conftest import BERTH


def test_unknown_image(berth):
    result = berth("run", "--rm", "busybx", "true")
    assert result.returncode == 125
    # As Docker: not here, so a pull is tried (this machine has no Docker Hub), and fails.
    unable, error = result.stderr.splitlines()
    assert unable == "Unable to find image 'busybx:latest' locally"
    missing = 'berth: no such image: "busybx" (see berth images); pulling it failed: '
    assert error.startswith(missing)
    assert berth("ps", "-a", "-q").stdout == ""


def test_command_not_found(berth):
    result = berth("run", "--name", "nf", "busybox", "nosuchcmd")
    assert result.returncode == 127
    assert 'exec: "nosuchcmd": executable file not found in $PATH' in result.stderr
    assert len(result.stderr.splitlines()) == 1
    [details] = json.loads(berth("inspect", "nf").stdout)
    assert details["State"]["Status"] == "created"
    assert details["State"]["ExitCode"] == 127


def test_command_not_executable(berth):
    result = berth("run", "--rm", "busybox", "/etc/passwd")
    assert result.returncode == 126
    assert "permission denied" in result.stderr


def test_duplicate_name(berth):
    assert berth("create", "--name", "dup", "busybox", "true").returncode == 0
    result = berth("create", "--name", "dup", "busybox", "true")
    assert result.returncode == 125
    assert 'the name "dup" is already in use by container' in result.stderr
    assert len(berth("ps", "-a", "-q").stdout.split()) == 1


def test_ambiguous_prefix(berth):
    ids = [berth("create", "busybox", "true").stdout.strip() for _ in range(40)]
    # 40 random ids: some first hex digits repeat.
    shared = next(i[0] for i in ids if sum(j[0] == i[0] for j in ids) > 1)
    result = berth("rm", shared)
    assert result.returncode == 1
    assert f'container id prefix "{shared}" matches' in result.stderr
    assert len(berth("ps", "-a", "-q").stdout.split()) == 40


def test_no_command_in_image(berth, tmp_path):
    rootfs = tmp_path / "empty"
    rootfs.mkdir()
    tar = tmp_path / "empty.tar"
    subprocess.run(["tar", "-cf", str(tar), "-C", str(rootfs), "."], check=True)
    assert berth("import", str(tar), "empty").returncode == 0
    result = berth("run", "empty")
    assert result.returncode == 125
    assert "no command specified" in result.stderr


def test_relative_workdir(berth):
    result = berth("run", "-w", "relative", "busybox", "true")
    assert result.returncode == 125
    assert "must be an absolute path" in result.stderr


def test_unknown_user(berth):
    result = berth("run", "--rm", "-u", "nosuchuser", "busybox", "true")
    assert result.returncode == 125
    assert "unable to find user nosuchuser" in result.stderr


def test_not_root(engine):
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BERTH,
         "--root", str(engine.paths.root), "ps"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("berth: berth needs root")
