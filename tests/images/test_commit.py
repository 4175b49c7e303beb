"""berth commit: a container's changes become the top layer of a new image."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from engine.errors import BerthError
from engine.images.commit import write_layer
from engine.images.extract import OPAQUE_XATTR
from engine.images.layer_files import LayerChange

# Adds a file and a symlink, modifies /etc/passwd, deletes /etc/group (a base layer
# file) and replaces /usr/sbin (full of base layer links) by a new directory: opaque.
CHANGES = (
    "echo added > /added && echo 'extra:x:5:5::/:/bin/sh' >> /etc/passwd && rm /etc/group"
    " && rm -rf /usr/sbin && mkdir /usr/sbin && echo only > /usr/sbin/only"
    " && ln -s /added /link"
)
# What the container's runtime mounts on, absent from busybox: never part of a layer.
MOUNT_STUBS = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}


def ok(berth, *args: str) -> str:
    result = berth(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def committed(engine, berth) -> str:
    """The id of an image committed from a busybox container that ran CHANGES."""
    ok(berth, "run", "--name", "src", "busybox", "sh", "-c", CHANGES)
    image_id = ok(berth, "commit", "-m", "my changes", "-a", "Jane", "src", "mine:v1").strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    return image_id


async def test_the_new_layer_holds_the_container_changes(engine, committed):
    base = await engine.images.resolve("busybox")
    image = await engine.images.resolve("mine:v1")
    assert image.id == committed
    assert image.layers[:1] == base.layers and len(image.layers) == 2
    assert image.config["author"] == "Jane"
    layers = await engine.images.layers("mine:v1")
    assert [layer.index for layer in layers] == [0, 1]
    assert layers[1].created_by == f"sh -c {CHANGES}" and layers[1].comment == "my changes"

    changes = {change.path: change for change in await engine.images.layer_changes(committed, 1)}
    passwd = (engine.paths.layer_dir(image.layers[1]) / "diff/etc/passwd").read_bytes()
    assert passwd.endswith(b"extra:x:5:5::/:/bin/sh\n")
    assert changes["/added"] == LayerChange("/added", "file", "added", 6)
    assert changes["/etc/passwd"] == LayerChange("/etc/passwd", "file", "modified", len(passwd))
    assert changes["/etc/group"] == LayerChange("/etc/group", "file", "deleted", 0)
    assert changes["/usr/sbin"] == LayerChange("/usr/sbin", "dir", "modified", 0, opaque=True)
    assert changes["/usr/sbin/only"] == LayerChange("/usr/sbin/only", "file", "added", 5)
    assert changes["/link"] == LayerChange("/link", "symlink", "added", 0, target="/added")
    assert not MOUNT_STUBS & set(changes)  # the engine's mount points stay out


async def test_the_merged_tree_is_what_a_container_of_it_sees(engine, berth, committed):
    merged = {entry.path: entry for entry in await engine.images.merged_files(committed)}
    assert merged["/added"].layer == 1 and merged["/bin/busybox"].layer == 0
    assert merged["/etc"].layer == 1 and merged["/etc/passwd"].layer == 1
    assert "/etc/group" not in merged
    assert [path for path in merged if path.startswith("/usr/sbin/")] == ["/usr/sbin/only"]
    # -xdev: the root file system only, not /proc, /sys or /dev mounted on it.
    listing = ok(berth, "run", "--rm", "mine:v1", "find", "/", "-xdev").split()
    assert set(listing) - {"/"} - MOUNT_STUBS == set(merged)
    shown = ok(berth, "run", "--rm", "mine:v1", "sh", "-c",
               "cat /added; ls /usr/sbin; tail -n1 /etc/passwd; ls /etc/group || true")  # fmt: skip
    assert shown.splitlines() == ["added", "only", "extra:x:5:5::/:/bin/sh"]


async def test_change_sets_the_command_and_history_lists_both_steps(engine, berth, committed):
    ok(berth, "commit", "--change", 'CMD ["echo","hi"]', "src", "hello")
    assert ok(berth, "run", "--rm", "hello") == "hi\n"
    lines = ok(berth, "history", "mine:v1").splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert lines[1].startswith(committed.removeprefix("sha256:")[:12])
    assert f"   {f'sh -c {CHANGES}'[:44]}…   " in lines[1]  # Docker's 45 columns
    assert lines[1].endswith("my changes")
    assert lines[2].startswith("<missing>") and "berth starter" in lines[2]
    assert len(lines) == 3
    full = ok(berth, "history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}", "mine:v1")
    assert full.splitlines()[0] == f"{committed}|sh -c {CHANGES}"
    assert ok(berth, "history", "-q", "mine:v1").split() == [committed[7:19], "<missing>"]


async def test_the_config_is_the_container_s_own_as_it_ran(engine, berth):
    ok(berth, "run", "--name", "ran", "-e", "FOO=bar", "-w", "/tmp", "--stop-signal", "SIGUSR1",
       "busybox", "sh", "-c", "echo hi > /x")  # fmt: skip
    ok(berth, "commit", "ran", "img")
    config = (await engine.images.inspect("img"))["Config"]
    assert config["Cmd"] == ["sh", "-c", "echo hi > /x"]
    assert "FOO=bar" in config["Env"] and any(e.startswith("PATH=") for e in config["Env"])
    assert config["WorkingDir"] == "/tmp" and config["StopSignal"] == "SIGUSR1"
    assert ok(berth, "run", "--name", "again", "img") == ""  # the same command line
    assert (await engine.containers.get("again")).args == ["sh", "-c", "echo hi > /x"]
    shown = ok(berth, "run", "--rm", "img", "sh", "-c", "echo $FOO; cat /x; pwd")
    assert shown == "bar\nhi\n/tmp\n"
    ok(berth, "commit", "--change", 'CMD ["echo","changed"]', "ran", "changed")
    assert ok(berth, "run", "--rm", "changed") == "changed\n"


async def test_an_entrypoint_given_at_run_replaces_the_image_s(engine, berth):
    ok(berth, "run", "--name", "ep", "--entrypoint", "echo", "-u", "nobody", "busybox", "one")
    ok(berth, "commit", "ep", "img")
    config = (await engine.images.inspect("img"))["Config"]
    assert config["Entrypoint"] == ["echo"] and config["Cmd"] == ["one"]
    assert config["User"] == "nobody"
    assert ok(berth, "run", "--rm", "img", "two") == "two\n"


async def test_the_layer_is_deterministic_and_no_change_adds_no_layer(engine, berth, committed):
    again = ok(berth, "commit", "src").strip()
    first, second = await engine.images.resolve(committed), await engine.images.resolve(again)
    assert second.layers == first.layers  # the same tar: the same diffID, stored once
    assert second.tags == ()
    ok(berth, "create", "--name", "untouched", "busybox")
    empty = await engine.images.resolve(ok(berth, "commit", "untouched").strip())
    assert empty.layers == (await engine.images.resolve("busybox")).layers
    assert empty.config["history"][-1]["empty_layer"] is True
    assert len(await engine.images.layers(empty.id)) == 1


async def test_a_running_container_is_paused_only_while_committing(engine, berth):
    ok(berth, "run", "-d", "--name", "busy", "busybox", "sleep", "600")
    ok(berth, "exec", "busy", "sh", "-c", "echo x > /x")
    image = await engine.images.resolve(ok(berth, "commit", "busy").strip())
    assert (await engine.containers.get("busy")).state == "running"
    assert "/x" in {entry.path for entry in await engine.images.merged_files(image.id)}
    ok(berth, "commit", "--pause=false", "busy")
    ok(berth, "pause", "busy")
    ok(berth, "commit", "busy")
    assert (await engine.containers.get("busy")).state == "paused"  # and stays so


async def test_errors_are_one_line_and_leave_nothing_behind(engine, berth):
    ok(berth, "run", "-d", "--name", "busy", "busybox", "sleep", "600")
    before = ok(berth, "images", "-q", "--no-trunc"), _stored_files(engine.paths.root)
    missing = berth("commit", "nosuch", "x")
    assert missing.returncode == 1
    assert missing.stderr == 'berth: no such container: "nosuch" (see berth ps -a)\n'
    bad = berth("commit", "-c", "RUN make", "busy")
    assert bad.returncode == 1
    assert bad.stderr == (
        'berth: unsupported --change instruction: "RUN" (commit supports CMD, ENTRYPOINT, '
        "ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR)\n"
    )
    assert (await engine.containers.get("busy")).state == "running"  # not left paused
    invalid = berth("commit", "busy", "Bad:Name")
    assert invalid.returncode == 1 and invalid.stderr.startswith("berth: invalid reference")
    after = ok(berth, "images", "-q", "--no-trunc"), _stored_files(engine.paths.root)
    assert after == before


def _stored_files(root: Path) -> tuple[list[str], list[str]]:
    return sorted(os.listdir(root / "layers")), sorted(os.listdir(root / "tmp"))


# -- the tar itself ----------------------------------------------------------------


def _upper(tmp_path: Path) -> Path:
    """An overlay upper dir as a container leaves it, by hand."""
    upper = tmp_path / "upper"
    (upper / "etc").mkdir(parents=True)
    (upper / "etc/motd").write_text("hi\n")
    os.link(upper / "etc/motd", upper / "etc/motd.again")
    os.setxattr(upper / "etc/motd", "user.note", b"\xffbinary")
    os.mknod(upper / "etc/gone", stat.S_IFCHR, os.makedev(0, 0))
    (upper / "etc/hosts").touch()  # mounted on by the engine
    (upper / "opt").mkdir()
    os.setxattr(upper / "opt", OPAQUE_XATTR, b"y")
    os.setxattr(upper / "opt", "trusted.overlay.origin", b"bookkeeping")
    (upper / "proc").mkdir()  # the engine's, to mount on: absent from the image
    (upper / "run/secrets").mkdir(parents=True)  # likewise, with a parent made for it
    return upper


@pytest.mark.root("an upper dir by hand: mknod, trusted.overlay xattrs")
def test_the_tar_is_an_oci_layer_and_deterministic(tmp_path):
    upper = _upper(tmp_path)
    lower = tmp_path / "lower"
    (lower / "etc").mkdir(parents=True)
    mounts = ["proc", "etc/hosts", "run/secrets", "dev"]
    first, second = io.BytesIO(), io.BytesIO()
    assert write_layer(upper, first, mount_points=mounts, lowers=[lower]) == 5
    write_layer(upper, second, mount_points=mounts, lowers=[lower])
    assert first.getvalue() == second.getvalue()
    first.seek(0)
    with tarfile.open(fileobj=first) as archive:
        members = {member.name: member for member in archive}
    assert list(members) == [
        "etc", "etc/.wh.gone", "etc/motd", "etc/motd.again", "opt", "opt/.wh..wh..opq",
    ]  # fmt: skip
    assert (
        members["etc/motd"].pax_headers["SCHILY.xattr.user.note"].encode("utf-8", "surrogateescape")
        == b"\xffbinary"
    )
    assert members["etc/motd.again"].islnk() and members["etc/motd.again"].linkname == "etc/motd"
    assert members["etc/.wh.gone"].isreg() and members["etc/.wh.gone"].size == 0
    assert not any("overlay" in key for key in members["opt"].pax_headers)
    assert all(
        member.uname == "" and member.mtime == int(member.mtime) for member in members.values()
    )


@pytest.mark.root("an upper dir by hand: mknod, trusted.overlay xattrs")
def test_redirected_directories_are_refused(tmp_path):
    upper = tmp_path / "upper"
    (upper / "moved").mkdir(parents=True)
    os.setxattr(upper / "moved", "trusted.overlay.redirect", b"/old")
    with pytest.raises(BerthError, match='cannot commit "/moved": overlayfs redirect_dir'):
        write_layer(upper, io.BytesIO())
