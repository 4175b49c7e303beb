"""berth cp against real containers: both ways, Docker's path rules, owners, links, streams."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import subprocess
import tarfile
from pathlib import Path

import pytest

from engine.errors import BerthError, NotFoundError
from tests.conftest import BERTH
from tests.files.conftest import ok


def cat(berth, container: str, *paths: str) -> str:
    return ok(berth, "exec", container, "cat", *paths)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A host directory: a file, a subdirectory with a file, a relative link."""
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha\n")
    (src / "sub" / "b.txt").write_text("beta\n")
    os.symlink("a.txt", src / "link")
    return src


def test_files_and_directories_go_in_by_dockers_rules(berth, web, tree: Path) -> None:
    result = berth("cp", str(tree / "a.txt"), "web:/tmp/new.txt")  # missing name: that name
    assert result.returncode == 0 and result.stdout == ""
    assert result.stderr.startswith("Successfully copied ") and result.stderr.endswith(
        "B to web:/tmp/new.txt\n"
    )
    assert ok(berth, "cp", "-q", str(tree / "a.txt"), "web:/tmp/") == ""  # into a directory
    assert ok(berth, "cp", "-q", str(tree), "web:/srv") == ""  # a new directory
    ok(berth, "cp", "-q", str(tree), "web:/srv")  # an existing one: under its name
    ok(berth, "exec", "web", "mkdir", "/dot")
    ok(berth, "cp", "-q", f"{tree}/.", "web:/dot")  # dir/.: its contents
    listing = ok(berth, "exec", "web", "sh", "-c",
                 "cd / && find /tmp/new.txt /tmp/a.txt /srv /dot | sort")  # fmt: skip
    assert listing.split() == [
        "/dot", "/dot/a.txt", "/dot/link", "/dot/sub", "/dot/sub/b.txt",
        "/srv", "/srv/a.txt", "/srv/link", "/srv/sub", "/srv/sub/b.txt",
        "/srv/tree", "/srv/tree/a.txt", "/srv/tree/link", "/srv/tree/sub",
        "/srv/tree/sub/b.txt", "/tmp/a.txt", "/tmp/new.txt",
    ]  # fmt: skip
    assert cat(berth, "web", "/tmp/new.txt", "/srv/tree/sub/b.txt", "/dot/link") == (
        "alpha\nbeta\nalpha\n"
    )


def test_files_and_directories_come_out_by_dockers_rules(berth, web, tmp_path: Path) -> None:
    ok(berth, "exec", "web", "sh", "-c", "mkdir -p /data/sub && echo one > /data/one"
                                         " && echo two > /data/sub/two")  # fmt: skip
    out = tmp_path / "out"
    out.mkdir()
    result = berth("cp", "web:/data/one", str(out / "renamed"))
    assert result.returncode == 0 and result.stderr.endswith(f"B to {out}/renamed\n")
    ok(berth, "cp", "-q", "web:data/one", f"{out}/")  # relative to /, into a directory
    ok(berth, "cp", "-q", "web:/data", str(out / "copy"))
    ok(berth, "cp", "-q", "web:/data", str(out / "copy"))  # again: under its name inside
    (out / "dot").mkdir()
    ok(berth, "cp", "-q", "web:/data/.", str(out / "dot"))
    found = sorted(str(path.relative_to(out)) for path in out.rglob("*"))
    assert found == [
        "copy", "copy/data", "copy/data/one", "copy/data/sub", "copy/data/sub/two",
        "copy/one", "copy/sub", "copy/sub/two", "dot", "dot/one", "dot/sub", "dot/sub/two",
        "one", "renamed",
    ]  # fmt: skip
    assert (out / "renamed").read_text() == "one\n"
    assert (out / "dot" / "sub" / "two").read_text() == "two\n"


def test_path_rules_refuse_with_one_line_and_write_nothing(
    berth, web, tree: Path, tmp_path: Path
) -> None:
    tmp_path = tree.parent / "host"  # the engine's root is beside it
    tmp_path.mkdir()
    (tmp_path / "file").write_text("keep")
    cases = {
        ("cp", str(tree / "a.txt"), "web:/nodir/"): "destination directory must exist: web:/nodir/",
        ("cp", str(tree), "web:/etc/passwd"): "cannot copy a directory to a file: web:/etc/passwd",
        ("cp", str(tree / "a.txt"), "web:/no/such/x"):
            "no such directory: web:/no/such/x (its parent directory must exist)",
        ("cp", f"{tree}/a.txt/", "web:/tmp"): f"not a directory: {tree}/a.txt/",
        ("cp", str(tmp_path / "nope"), "web:/tmp"): f"no such file or directory: {tmp_path}/nope",
        ("cp", "web:/nope", str(tmp_path / "x")):
            "no such file or directory in container web: /nope",
        ("cp", "web:/etc/passwd/", str(tmp_path / "x")):
            "not a directory in container web: /etc/passwd/",
        ("cp", "web:/etc", str(tmp_path / "file")):
            f"cannot copy a directory to a file: {tmp_path}/file",
        ("cp", "web:/etc/passwd", f"{tmp_path}/nodir/"):
            f"destination directory must exist: {tmp_path}/nodir/",
        ("cp", "nosuch:/etc", str(tmp_path)): 'no such container: "nosuch" (see berth ps -a)',
        ("cp", "web:/etc", "web:/tmp"): "copying between containers is not supported",
        ("cp", str(tree), str(tmp_path / "y")): "must specify at least one container source "
                                                "(CONTAINER:PATH as SRC or DEST)",
    }  # fmt: skip
    before = ok(berth, "exec", "web", "find", "/", "-xdev")
    for args, message in cases.items():
        result = berth(*args)
        assert (result.returncode, result.stdout, result.stderr) == (1, "", f"berth: {message}\n")
    assert ok(berth, "exec", "web", "find", "/", "-xdev") == before
    assert [path.name for path in tmp_path.iterdir()] == ["file"]
    assert (tmp_path / "file").read_text() == "keep"


def test_owners_are_root_unless_archive_keeps_them(berth, web, tmp_path: Path) -> None:
    mine = tmp_path / "owned"
    mine.write_text("x")
    os.chown(mine, 1234, 5678)
    ok(berth, "cp", "-q", str(mine), "web:/plain")
    ok(berth, "cp", "-q", "-a", str(mine), "web:/kept")
    owners = ok(berth, "exec", "web", "stat", "-c", "%u:%g", "/plain", "/kept")
    assert owners.split() == ["0:0", "1234:5678"]

    ok(berth, "exec", "web", "sh", "-c", "echo y > /theirs && chown 7:8 /theirs")
    ok(berth, "cp", "-q", "web:/theirs", str(tmp_path / "plain"))
    ok(berth, "cp", "-q", "--archive", "web:/theirs", str(tmp_path / "kept"))
    assert (tmp_path / "plain").stat().st_uid == os.getuid()
    kept = (tmp_path / "kept").stat()
    assert (kept.st_uid, kept.st_gid) == (7, 8)


def test_follow_link_copies_what_a_source_link_points_at(berth, web, tmp_path: Path) -> None:
    ok(berth, "exec", "web", "ln", "-s", "/etc/passwd", "/pw")
    ok(berth, "cp", "-q", "web:/pw", str(tmp_path / "link"))
    ok(berth, "cp", "-q", "-L", "web:/pw", str(tmp_path / "followed"))
    assert os.readlink(tmp_path / "link") == "/etc/passwd"  # the link itself, as data
    assert (tmp_path / "followed").read_text() == cat(berth, "web", "/etc/passwd")


def test_tar_streams_on_stdout_and_stdin(engine, berth, web, tmp_path: Path) -> None:
    command = [BERTH, "--root", str(engine.paths.root), "--runroot", str(engine.paths.runroot)]
    out = subprocess.run([*command, "cp", "web:/etc/passwd", "-"], capture_output=True,
                         check=True)  # fmt: skip
    assert out.stderr == b""  # nothing said: stdout is the data
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tar:
        member = tar.next()
        assert member is not None and member.name == "passwd"
        assert tar.extractfile(member).read().decode() == cat(berth, "web", "/etc/passwd")

    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:  # compressed, as Docker accepts
        for name, body in (("in/one", b"1\n"), ("two", b"2\n")):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    ok(berth, "exec", "web", "mkdir", "/drop")
    into = subprocess.run([*command, "cp", "-", "web:/drop"], input=data.getvalue(),
                          capture_output=True, check=False)  # fmt: skip
    assert into.returncode == 0, into.stderr
    assert cat(berth, "web", "/drop/in/one", "/drop/two") == "1\n2\n"
    refused = subprocess.run([*command, "cp", "-", "web:/etc/passwd"], input=data.getvalue(),
                             capture_output=True, check=False)  # fmt: skip
    assert (refused.returncode, refused.stderr) == (
        1,
        b'berth: destination "web:/etc/passwd" must be a directory\n',
    )


def test_stopped_and_never_started_containers(berth, tmp_path: Path) -> None:
    data = tmp_path / "bind"
    data.mkdir()
    ok(berth, "create", "--name", "fresh", "-v", f"{data}:/data", "-v", "vol:/vol",
       "busybox", "sh", "-c", "cat /in.txt /data/f /vol/g")  # fmt: skip
    note = tmp_path / "note"
    note.write_text("from the host\n")
    ok(berth, "cp", "-q", str(note), "fresh:/in.txt")
    ok(berth, "cp", "-q", str(note), "fresh:/data/f")  # through the bind
    ok(berth, "cp", "-q", str(note), "fresh:/vol/g")  # into the volume
    assert (data / "f").read_text() == "from the host\n"
    assert ok(berth, "start", "-a", "fresh") == "from the host\n" * 3
    ok(berth, "cp", "-q", "fresh:/vol/g", str(tmp_path / "back"))  # stopped now
    assert (tmp_path / "back").read_text() == "from the host\n"
    assert ok(berth, "diff", "fresh") == "A /in.txt\n"  # its mount points are the engine's


async def test_a_100_megabyte_file_round_trips(engine, berth, web, tmp_path: Path) -> None:
    big = tmp_path / "big"
    with big.open("wb") as out:
        for _ in range(100):
            out.write(os.urandom(1 << 20))
    copied = await engine.files.copy_to("web", str(big), "/big")
    assert copied > 100 << 20
    await engine.files.copy_from("web", "/big", str(tmp_path / "back"))
    with big.open("rb") as one, (tmp_path / "back").open("rb") as other:
        assert (
            hashlib.file_digest(one, "sha256").digest()
            == hashlib.file_digest(other, "sha256").digest()
        )


async def test_engine_errors_name_the_container_and_path(engine, web) -> None:
    with pytest.raises(NotFoundError, match='no such container: "gone"'):
        await engine.files.copy_from("gone", "/etc", "/tmp")
    with pytest.raises(BerthError, match="no such file or directory in container web: /nope"):
        await engine.files.copy_from("web", "/nope", io.BytesIO())


def test_archive_keeps_file_capabilities(berth, web, tmp_path: Path) -> None:
    """-a keeps a file's capabilities (security.capability, as Docker's archives carry
    it) both ways; without -a a copy gains none."""
    capability = struct.pack("<5I", 0x02000001, 1 << 13, 0, 0, 0)  # cap_net_raw+ep
    tool = tmp_path / "tool"
    tool.write_bytes(b"#!/bin/sh\n")
    os.setxattr(tool, "security.capability", capability)
    ok(berth, "cp", "-q", "-a", str(tool), "web:/kept")
    ok(berth, "cp", "-q", str(tool), "web:/plain")
    ok(berth, "cp", "-q", "-a", "web:/kept", str(tmp_path / "back"))
    ok(berth, "cp", "-q", "-a", "web:/plain", str(tmp_path / "plain"))
    assert os.getxattr(tmp_path / "back", "security.capability") == capability
    with pytest.raises(OSError):
        os.getxattr(tmp_path / "plain", "security.capability")
