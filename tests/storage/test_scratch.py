"""Scratch space in tmp/: owned by a process, collected once its owner is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.process_identity import start_time
from engine.storage import scratch
from tests.conftest import BERTH
from tests.images.tarballs import TREE, tree_tar


def _dead_owner() -> str:
    """``<pid>-<start>`` of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    owner = f"{child.pid}-{start_time(child.pid)}"
    child.kill()
    child.wait()
    return owner


def test_new_dirs_are_named_after_their_owner(tmp_path):
    made = scratch.new_dir(tmp_path, "layer")
    assert made.is_dir() and made.parent == tmp_path
    kind, pid, started, _ = made.name.split("-")
    assert (kind, int(pid), int(started)) == ("layer", os.getpid(), start_time(os.getpid()))


def test_only_what_dead_owners_left_is_collected(tmp_path):
    mine = scratch.new_dir(tmp_path, "layer")
    (mine / "diff").mkdir()
    dead = tmp_path / f"layer-{_dead_owner()}-abc123"
    (dead / "diff" / "etc").mkdir(parents=True)
    (dead / "diff" / "etc" / "motd").write_text("hi")
    dead_file = tmp_path / f"tmpfile-{_dead_owner()}-x"
    dead_file.write_text("")
    old_unowned, new_unowned = tmp_path / "layer-k3j4h5g6", tmp_path / "tmpq1w2e3r4"
    old_unowned.mkdir()
    new_unowned.write_text("")
    long_ago = time.time() - scratch.UNOWNED_GRACE_SECONDS - 60
    os.utime(old_unowned, (long_ago, long_ago))
    scratch.collect(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, new_unowned.name])
    assert (mine / "diff").is_dir()


@pytest.mark.root("a bind mount")
def test_a_mount_below_is_detached_not_emptied(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep me")
    dead = tmp_path / "tmp" / f"layer-{_dead_owner()}-abc123"
    (dead / "merged").mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(outside), str(dead / "merged")], check=True)
    try:
        scratch.collect(tmp_path / "tmp")
    finally:
        subprocess.run(["umount", "-l", str(dead / "merged")], check=False, capture_output=True)
    assert not dead.exists()
    assert (outside / "precious").read_text() == "keep me"
    assert str(dead) not in Path("/proc/self/mountinfo").read_text()


def test_collecting_an_empty_tmp_is_one_scandir(tmp_path):
    started = time.perf_counter()
    for _ in range(1000):
        scratch.collect(tmp_path)
    assert (time.perf_counter() - started) / 1000 < 0.001


def test_a_crashed_import_leaves_nothing_once_berth_runs_again(engine_paths, tmp_path):
    env = {**os.environ, "BERTH_ROOT": str(engine_paths.root),
           "BERTH_RUNROOT": str(engine_paths.runroot)}  # fmt: skip
    tarball = tree_tar(TREE)
    importer = subprocess.Popen(
        [BERTH, "import", "-", "crashed:latest"], stdin=subprocess.PIPE, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    importer.stdin.write(tarball[:2048])  # half a tarball, and the pipe kept open
    importer.stdin.flush()
    tmp = engine_paths.tmp
    deadline = time.monotonic() + 30
    while not (tmp.is_dir() and any(tmp.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.05)
    [extracting] = list(tmp.iterdir())
    assert extracting.name.startswith(f"layer-{importer.pid}-")
    # Another berth starting meanwhile leaves the live import's work alone...
    subprocess.run([BERTH, "images"], env=env, check=True, capture_output=True)
    assert extracting.exists()
    importer.send_signal(signal.SIGKILL)
    importer.wait()
    importer.stdin.close()
    # ...and the next one after the crash collects it.
    subprocess.run([BERTH, "images"], env=env, check=True, capture_output=True)
    assert list(tmp.iterdir()) == []
