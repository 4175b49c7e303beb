"""berth diff and berth export agree with what the container did; export -> import -> run
gives the same files."""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

from engine.images.layer_files import LayerChange
from tests.conftest import BERTH
from tests.files.conftest import ok

# Adds files, changes /etc/passwd, deletes /etc/group (an image file: a whiteout) and
# replaces /usr/sbin by a new directory (opaque: every image file below it is deleted).
CHANGES = (
    "echo added > /added && mkdir -p /srv/new && echo deep > /srv/new/deep"
    " && echo 'extra:x:5:5::/:/bin/sh' >> /etc/passwd && rm /etc/group"
    " && rm -rf /usr/sbin && mkdir /usr/sbin && echo only > /usr/sbin/only"
)
# What lists a tree with sizes, modes and owners, but for what each start mounts anew.
LISTING = (
    "find / -xdev ! -path '/proc*' ! -path '/sys*' ! -path '/dev*' ! -path /etc/hostname"
    " ! -path /etc/hosts ! -path /etc/resolv.conf | sort"
    " | while read p; do stat -c '%n %s %a %u:%g %F' \"$p\"; done"
)


async def test_diff_lists_additions_changes_and_deletions(engine, berth) -> None:
    image_sbin = ok(berth, "run", "--rm", "busybox", "ls", "/usr/sbin").split()
    ok(berth, "run", "--name", "changed", "busybox", "sh", "-c", CHANGES)
    expected = [
        "A /added", "C /etc", "D /etc/group", "C /etc/passwd", "A /srv", "A /srv/new",
        "A /srv/new/deep", "C /usr", "C /usr/sbin",
        *sorted([f"D /usr/sbin/{name}" for name in image_sbin] + ["A /usr/sbin/only"],
                key=lambda line: line[2:]),
    ]  # fmt: skip
    assert ok(berth, "diff", "changed").splitlines() == expected  # no /etc/hostname, /proc
    changes = {change.path: change for change in await engine.files.diff("changed")}
    assert changes["/usr/sbin"] == LayerChange("/usr/sbin", "dir", "modified", 0, opaque=True)
    assert changes["/usr/sbin/" + image_sbin[0]].change == "deleted"
    assert changes["/srv/new/deep"] == LayerChange("/srv/new/deep", "file", "added", 5)


def test_a_fresh_container_changed_nothing(berth) -> None:
    ok(berth, "run", "--name", "idle", "-v", "/srv/data", "busybox", "true")
    assert ok(berth, "diff", "idle") == ""
    result = berth("diff", "nosuch")
    assert (result.returncode, result.stderr) == (
        1,
        'berth: no such container: "nosuch" (see berth ps -a)\n',
    )


def test_export_then_import_then_run_gives_the_same_files(engine, berth, tmp_path: Path) -> None:
    data = tmp_path / "bind"
    data.mkdir()
    (data / "not-exported").write_text("a bind's file")
    # Changes once, then runs on (again after a restart).
    ok(berth, "run", "-d", "--name", "src", "-v", f"{data}:/data", "busybox", "sh", "-c",
       f"[ -e /ready ] || {{ {CHANGES} && mkdir -p /owned && echo x > /owned/f"
       " && chown 5:6 /owned/f && chmod 640 /owned/f && ln -s f /owned/link && touch /ready; }"
       "; exec sleep 1000")  # fmt: skip
    ok(berth, "exec", "src", "sh", "-c", "while [ ! -e /ready ]; do sleep 0.05; done")
    ok(berth, "stop", "-t", "0", "src")
    archive = tmp_path / "src.tar"
    ok(berth, "export", "-o", str(archive), "src")  # stopped: its overlay is mounted for it
    assert oct(archive.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        owned = tar.getmember("owned/f")
    assert "data/not-exported" not in names and "data" in names  # the bind's, not its files
    assert "proc" in names and not any(name.startswith("proc/") for name in names)
    assert (owned.uid, owned.gid, owned.mode, owned.uname) == (5, 6, 0o640, "")

    ok(berth, "import", str(archive), "exported:v1")
    ok(berth, "start", "src")  # to list the original
    original = ok(berth, "exec", "src", "sh", "-c", LISTING)
    copy = ok(berth, "run", "--rm", "exported:v1", "sh", "-c", LISTING)
    assert copy == original and "/owned/f 2 640 5:6 regular file" in copy

    command = [BERTH, "--root", str(engine.paths.root), "--runroot", str(engine.paths.runroot)]
    streamed = subprocess.run([*command, "export", "src"], capture_output=True, check=True)
    assert streamed.stdout[:512] and streamed.stderr == b""  # a running one, to stdout
    assert not list(tmp_path.glob(".src.tar.*"))  # no temporary file left


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_export_to_a_reader_that_stops_early_ends(engine, berth) -> None:
    """export | head: the reader goes after a few bytes; export ends (no helper left
    blocked on a full pipe), as a command whose output closed does."""
    ok(berth, "run", "-d", "--name", "web", "busybox", "sleep", "1000")
    command = [BERTH, "--root", str(engine.paths.root), "--runroot", str(engine.paths.runroot)]
    export = subprocess.Popen([*command, "export", "web"], stdout=subprocess.PIPE)
    assert export.stdout is not None
    assert len(export.stdout.read(512)) == 512
    export.stdout.close()
    assert export.wait(timeout=60) == 141  # 128 + SIGPIPE, as Docker's CLI ends
    helpers = subprocess.run(["pgrep", "-f", f"engine.files.inside.*{engine.paths.root}"],
                             capture_output=True, text=True, check=False)  # fmt: skip
    assert helpers.stdout == ""
