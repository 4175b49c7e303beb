"""cp, diff and export as a user types them, one fresh berth process per step.

The host directory a container's links aim at stands for the host's /etc: its snapshot
(names, modes, owners, contents) must be the same after every copy.
"""

from __future__ import annotations

import hashlib
import os
import pty
import subprocess
import tarfile
from pathlib import Path

from tests.e2e.berth_cli import Berth, describe


def snapshot(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        digest.update(f"{path} {info.st_mode} {info.st_uid}:{info.st_gid}\n".encode())
        if path.is_file() and not path.is_symlink():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_cp_both_ways_and_links_that_aim_at_the_host(berth: Berth, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "secret").write_text("host only\n")
    before = snapshot(victim)
    berth.ok("run", "-d", "--name", "web", "busybox", "sleep", "1000")
    berth.ok("exec", "web", "sh", "-c",
             f"ln -s /etc /tmp/evil && ln -s {'../' * 10}{victim} /tmp/dots"
             f" && mkdir -p {victim} && echo inside > {victim}/secret")  # fmt: skip
    host = tmp_path / "host"
    (host / "tree" / "sub").mkdir(parents=True)
    (host / "tree" / "sub" / "f").write_text("from the host\n")

    copied = berth("cp", str(host / "tree"), "web:/srv")
    assert copied.returncode == 0 and copied.stderr.endswith("B to web:/srv\n"), describe(copied)
    (host / "four").write_text("abc\n")  # Docker's count: a header, a block, the end
    small = berth.ok("cp", str(host / "four"), "web:/four")
    assert small.stderr == "Successfully copied 2.048kB to web:/four\n"
    assert berth.ok("exec", "web", "cat", "/srv/sub/f").stdout == "from the host\n"
    berth.ok("cp", "-q", str(host / "tree" / "sub" / "f"), "web:/tmp/evil/planted")
    berth.ok("cp", "-q", str(host / "tree" / "sub" / "f"), "web:/tmp/dots/")
    berth.ok("cp", "-q", "web:/tmp/evil/passwd", str(host / "passwd"))
    berth.ok("cp", "-q", "web:/tmp/dots/secret", str(host / "secret"))
    assert (host / "passwd").read_text() == berth.ok("exec", "web", "cat", "/etc/passwd").stdout
    assert (host / "secret").read_text() == "inside\n"
    assert berth.ok("exec", "web", "cat", "/etc/planted", f"{victim}/f").stdout == (
        "from the host\n" * 2
    )

    berth.ok("stop", "-t", "0", "web")  # stopped: the same, through its own overlay
    berth.ok("cp", "-q", str(host / "tree" / "sub" / "f"), "web:/tmp/dots/again")
    berth.ok("cp", "-q", "web:/tmp/dots/secret", str(host / "secret2"))
    assert (host / "secret2").read_text() == "inside\n"
    assert snapshot(victim) == before


def test_bad_cp_says_one_line_and_writes_nothing(berth: Berth, tmp_path: Path) -> None:
    berth.ok("create", "--name", "idle", "busybox")
    (tmp_path / "f").write_text("x")
    for args, message in (
        (("cp", str(tmp_path / "f"), "idle:/no/such/f"),
         "no such directory: idle:/no/such/f (its parent directory must exist)"),
        (("cp", "idle:/nope", str(tmp_path / "out")),
         "no such file or directory in container idle: /nope"),
        (("cp", "ghost:/etc", str(tmp_path / "out")),
         'no such container: "ghost" (see berth ps -a)'),
        (("cp", str(tmp_path / "f"), str(tmp_path / "g")),
         "must specify at least one container source (CONTAINER:PATH as SRC or DEST)"),
    ):  # fmt: skip
        result = berth(*args)
        assert (result.returncode, result.stderr) == (1, f"berth: {message}\n"), describe(result)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["e", "f"]
    assert berth.ok("diff", "idle").stdout == ""


def test_diff_and_export_then_import(berth: Berth, tmp_path: Path) -> None:
    berth.ok("run", "--name", "box", "busybox", "sh", "-c",
             "echo new > /new && rm /etc/group && echo more >> /etc/passwd")  # fmt: skip
    assert berth.ok("diff", "box").stdout == "C /etc\nD /etc/group\nC /etc/passwd\nA /new\n"
    refused = _on_a_terminal(berth.argv("export", "box"))
    assert refused == (
        1,
        "berth: cowardly refusing to save to a terminal. Use the -o flag or redirect",
    )
    archive = tmp_path / "box.tar"
    berth.ok("export", "-o", str(archive), "box")
    with tarfile.open(archive) as tar:
        assert tar.extractfile("new").read() == b"new\n"
        assert "etc/group" not in tar.getnames()
    berth.ok("import", str(archive), "boxed:1")
    listing = "ls -ln /new /etc/passwd && cat /new && ! test -e /etc/group"
    ran = berth.ok("run", "--rm", "boxed:1", "sh", "-c", listing).stdout
    assert ran.endswith("new\n") and "/etc/passwd" in ran, ran


def _on_a_terminal(argv: list[str]) -> tuple[int, str]:
    """Run with stdout on a pseudo-terminal: the exit status and what it printed."""
    controller, terminal = pty.openpty()
    try:
        result = subprocess.run(argv, stdout=terminal, stderr=subprocess.PIPE, text=True,
                                timeout=60, check=False)  # fmt: skip
    finally:
        os.close(terminal)
        os.close(controller)
    return result.returncode, result.stderr.strip()
