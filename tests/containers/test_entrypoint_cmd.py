"""Every cell of Docker's ENTRYPOINT x CMD table, run in real containers.

Images are imported with --change, so the forms go through the same parser a user's
do; `echo` stands in for the executables so each cell shows the argv it ran.
"""

from __future__ import annotations

import subprocess

import pytest

from engine.containers.command import container_args
from engine.errors import InvalidArgumentError

ENTRYPOINTS = {
    "none": None,
    "shell": "ENTRYPOINT echo exec_entry p1_entry",
    "exec": 'ENTRYPOINT ["echo", "exec_entry", "p1_entry"]',
}
CMDS = {
    "none": None,
    "exec": 'CMD ["echo", "exec_cmd", "p1_cmd"]',
    "params": 'CMD ["p1_cmd", "p2_cmd"]',
    "shell": "CMD echo exec_cmd p1_cmd",
}
# What Docker's documentation says each combination runs, as output of `echo`.
EXPECTED = {
    ("none", "none"): None,  # error: no command
    ("none", "exec"): "exec_cmd p1_cmd",
    ("none", "params"): None,  # runs "p1_cmd p2_cmd": not found
    ("none", "shell"): "exec_cmd p1_cmd",
    ("shell", "none"): "exec_entry p1_entry",
    ("shell", "exec"): "exec_entry p1_entry",  # sh -c ignores the rest
    ("shell", "params"): "exec_entry p1_entry",
    ("shell", "shell"): "exec_entry p1_entry",
    ("exec", "none"): "exec_entry p1_entry",
    ("exec", "exec"): "exec_entry p1_entry echo exec_cmd p1_cmd",
    ("exec", "params"): "exec_entry p1_entry p1_cmd p2_cmd",
    ("exec", "shell"): "exec_entry p1_entry /bin/sh -c echo exec_cmd p1_cmd",
}


@pytest.fixture
def busybox_tar(engine, tmp_path):
    """A tarball of the busybox image's root file system, made from its layer on disk."""
    [layer] = engine.paths.layers.iterdir()
    export = tmp_path / "rootfs.tar"
    subprocess.run(["tar", "-cf", str(export), "-C", str(layer / "diff"), "."], check=True)
    return export


@pytest.mark.parametrize(("entrypoint", "cmd"), list(EXPECTED))
def test_cell(berth, busybox_tar, entrypoint, cmd):
    changes = [c for c in (ENTRYPOINTS[entrypoint], CMDS[cmd]) if c]
    flags = [arg for change in changes for arg in ("--change", change)]
    assert berth("import", *flags, str(busybox_tar), "cell").returncode == 0, changes
    result = berth("run", "--rm", "cell")
    expected = EXPECTED[(entrypoint, cmd)]
    if expected is None:
        assert result.returncode in (125, 127), result
    else:
        assert (result.returncode, result.stdout) == (0, expected + "\n"), result.stderr


def test_entrypoint_flag_replaces_entrypoint_and_drops_image_cmd():
    assert container_args(["echo", "e"], ["c"], entrypoint="ls") == ["ls"]
    assert container_args(["echo", "e"], ["c"], entrypoint="ls", command=["-l"]) == ["ls", "-l"]
    assert container_args(["echo"], ["c"], entrypoint="", command=["id"]) == ["id"]
    with pytest.raises(InvalidArgumentError):
        container_args(["echo"], ["c"], entrypoint="")


def test_command_replaces_cmd_and_keeps_entrypoint():
    assert container_args(["echo", "e"], ["c"], command=["x"]) == ["echo", "e", "x"]
    assert container_args(None, ["c"], command=["x"]) == ["x"]
