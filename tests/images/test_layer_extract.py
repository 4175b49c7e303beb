"""Extracting one layer: overlay's whiteout format, metadata, and never leaving the layer."""

from __future__ import annotations

import io
import os
import re
import stat
import tarfile
from pathlib import Path

import pytest

from engine.errors import BerthError, InvalidArgumentError
from engine.images.extract import extract_layer
from tests.images.tarballs import MTIME, make_tar, member

DIR, FILE, SYMLINK, HARDLINK = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE


@pytest.fixture
def diff(tmp_path: Path) -> Path:
    target = tmp_path / "layer" / "diff"
    target.mkdir(parents=True)
    return target


def extract(diff: Path, *members) -> int:
    return extract_layer(io.BytesIO(make_tar(*members)), diff)


@pytest.mark.root("extraction: chown, mknod, trusted.* xattrs")
def test_metadata_is_kept(diff):
    extract(
        diff,
        member("usr/", DIR, mode=0o750, uid=7, gid=8, mtime=1_000_000),
        member("usr/su", data=b"su", mode=0o4755, uid=0, gid=0),
        member("usr/owned", data=b"x", mode=0o600, uid=1000, gid=2000, mtime=1_234_567),
        member("usr/cap", data=b"c", pax_headers={"SCHILY.xattr.user.note": "kept"}),
    )
    usr = os.lstat(diff / "usr")
    assert (stat.S_IMODE(usr.st_mode), usr.st_uid, usr.st_gid) == (0o750, 7, 8)
    assert usr.st_mtime == 1_000_000  # set after its entries were created
    assert stat.S_IMODE(os.lstat(diff / "usr/su").st_mode) == 0o4755
    owned = os.lstat(diff / "usr/owned")
    assert (owned.st_uid, owned.st_gid, owned.st_mtime) == (1000, 2000, 1_234_567)
    assert os.getxattr(diff / "usr/cap", "user.note") == b"kept"


@pytest.mark.root("extraction: chown, mknod, trusted.* xattrs")
def test_links_devices_and_fifos(diff):
    extract(
        diff,
        member("bin/", DIR),
        member("bin/tool", data=b"tool", mode=0o4711),
        member("bin/alias", HARDLINK, link="bin/tool"),
        member("bin/sh", SYMLINK, link="/bin/busybox", mtime=42),
        member("dev/", DIR),
        member("dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
        member("dev/loop9", tarfile.BLKTYPE, mode=0o660, devmajor=7, devminor=9),
        member("dev/pipe", tarfile.FIFOTYPE, mode=0o620),
    )
    tool, alias = os.lstat(diff / "bin/tool"), os.lstat(diff / "bin/alias")
    assert tool.st_ino == alias.st_ino and tool.st_nlink == 2
    assert stat.S_IMODE(tool.st_mode) == 0o4711  # the link did not chown away setuid
    assert os.readlink(diff / "bin/sh") == "/bin/busybox"  # absolute, kept verbatim
    assert os.lstat(diff / "bin/sh").st_mtime == 42
    null = os.lstat(diff / "dev/null")
    assert stat.S_ISCHR(null.st_mode) and null.st_rdev == os.makedev(1, 3)
    assert stat.S_IMODE(null.st_mode) == 0o666
    assert stat.S_ISBLK(os.lstat(diff / "dev/loop9").st_mode)
    assert stat.S_ISFIFO(os.lstat(diff / "dev/pipe").st_mode)


@pytest.mark.root("extraction: chown, mknod, trusted.* xattrs")
def test_whiteouts_become_overlay_format(diff):
    extract(
        diff,
        member("etc/", DIR),
        member("etc/.wh.gone"),
        member(".wh.toplevel", uid=5),
        member("opaque/", DIR),
        member("opaque/.wh..wh..opq"),
        member("opaque/kept", data=b"k"),
        member("aufs/", DIR),
        member("aufs/.wh..wh.plnk", DIR),
    )
    for hidden in (diff / "etc/gone", diff / "toplevel"):
        info = os.lstat(hidden)
        assert stat.S_ISCHR(info.st_mode) and info.st_rdev == 0
    assert os.lstat(diff / "toplevel").st_uid == 5
    assert os.getxattr(diff / "opaque", "trusted.overlay.opaque") == b"y"
    assert (diff / "opaque/kept").read_bytes() == b"k"
    assert sorted(os.listdir(diff / "etc")) == ["gone"]
    assert os.listdir(diff / "aufs") == []  # aufs bookkeeping means nothing to overlay


@pytest.mark.root("extraction: chown, mknod, trusted.* xattrs")
def test_a_layer_cannot_set_overlay_xattrs(diff):
    headers = {"SCHILY.xattr.trusted.overlay.redirect": "/etc", "SCHILY.xattr.user.ok": "1"}
    extract(diff, member("dir/", DIR, pax_headers=headers))
    assert os.listxattr(diff / "dir") == ["user.ok"]


@pytest.mark.root("extraction: chown, mknod, trusted.* xattrs")
def test_later_entries_replace_earlier_ones(diff):
    size = extract(
        diff,
        member("x", data=b"12345"),
        member("x", data=b"123"),  # counted once, at its final size
        member("d/", DIR),
        member("d/inner", data=b"1234567"),
        member("d", SYMLINK, link="/elsewhere"),  # a symlink replaces a whole directory
        member("f", data=b"1"),
        member("f/", DIR),
        member("f/g", data=b"22"),
    )
    assert (diff / "x").read_bytes() == b"123"
    assert os.readlink(diff / "d") == "/elsewhere"
    assert (diff / "f/g").read_bytes() == b"22"
    assert size == 3 + 2


@pytest.mark.root("extraction: chown, mknod, trusted.* xattrs")
def test_size_counts_hard_links_once(diff):
    size = extract(diff, member("a", data=b"x" * 100), member("b", HARDLINK, link="a"))
    assert size == 100


@pytest.mark.root("extraction: chown, mknod, trusted.* xattrs")
def test_names_are_normalized_inside_the_layer(diff):
    extract(diff, member("/abs/", DIR), member("/abs/file", data=b"a"),
            member("./dot/./x/../y", data=b"b"), member("./", DIR))  # fmt: skip
    assert (diff / "abs/file").read_bytes() == b"a"
    assert (diff / "dot/y").read_bytes() == b"b"
    assert not (diff / "dot/x").exists()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the layer that extraction must never touch."""
    target = tmp_path / "outside"
    (target / "sub").mkdir(parents=True)
    (target / "sub" / "secret").write_text("host file")
    return target


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([member("../escaped", data=b"x")], 'climbs out of the layer with ".."'),
        ([member("a/../../escaped", data=b"x")], 'climbs out of the layer with ".."'),
        ([member("link", SYMLINK, link="OUTSIDE"), member("link/escaped", data=b"x")],
         'lies beneath a symlink ("link")'),
        ([member("d/", DIR), member("d/link", SYMLINK, link="OUTSIDE/sub"),
          member("d/link/deeper/escaped", data=b"x")], 'lies beneath a symlink ("d/link")'),
        ([member("hard", HARDLINK, link="../outside/sub/secret")], "climbs out"),
        ([member("up", SYMLINK, link="OUTSIDE"), member("hard", HARDLINK, link="up/sub/secret")],
         "not a file of this layer"),
        ([member("hard", HARDLINK, link="missing")], "not a file of this layer"),
        ([member("d/", DIR), member("hard", HARDLINK, link="d")], "not a file of this layer"),
        ([member("file", data=b"x"), member("file/child", data=b"y")], '"file" is not a directory'),
        ([member("a/", DIR), member("a/.wh..", data=b"")], "is not a valid whiteout"),
        ([member(".wh.", data=b"")], "is not a valid whiteout"),
    ],
    ids=["dotdot", "nested-dotdot", "through-symlink", "through-deep-symlink", "hardlink-out",
         "hardlink-through-symlink", "hardlink-missing", "hardlink-to-dir", "under-a-file",
         "whiteout-dotdot", "whiteout-empty"],
)  # fmt: skip
@pytest.mark.root("extraction: chown, mknod, trusted.* xattrs")
def test_extraction_never_leaves_the_layer(diff, outside, members, message):
    members = [(_aimed(info, outside), data) for info, data in members]
    with pytest.raises(InvalidArgumentError, match=re.escape(message)) as caught:
        extract(diff, *members)
    assert f'layer entry "{members[-1][0].name}"' in str(caught.value)
    assert sorted(p.name for p in outside.rglob("*")) == ["secret", "sub"]
    assert (outside / "sub" / "secret").read_text() == "host file"
    assert os.stat(outside / "sub" / "secret").st_nlink == 1
    assert not (diff.parent.parent / "escaped").exists()


def _aimed(info: tarfile.TarInfo, outside: Path) -> tarfile.TarInfo:
    info.linkname = info.linkname.replace("OUTSIDE", str(outside))
    return info


def test_junk_is_not_a_tar(diff):
    with pytest.raises(InvalidArgumentError, match="not a valid tar archive"):
        extract_layer(io.BytesIO(b"this is not a tar archive" * 100), diff)


def test_host_errors_name_the_entry(diff):
    name = "dir/" + "n" * 300  # longer than any Linux file name may be
    with pytest.raises(BerthError, match=f'layer entry "{name}": File name too long'):
        extract(diff, member(name, data=b"x"))


@pytest.mark.root("extraction: chown, mknod, trusted.* xattrs")
def test_mtime_defaults(diff):
    extract(diff, member("f", data=b"x"))
    assert os.lstat(diff / "f").st_mtime == MTIME
