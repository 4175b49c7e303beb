"""Layer tars that try to reach the host: each ends inside the layer or is refused."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from engine.errors import InvalidArgumentError
from engine.images.extract import extract_layer
from tests.conftest import require_root
from tests.images.tarballs import make_tar, member

HUGE = 1 << 40  # 1 TiB of holes


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """A stand-in for the host's file system around the layer directory."""
    require_root("layer extraction keeps owners, modes and device nodes (chown, mknod)")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (tmp_path / "layer" / "diff").mkdir(parents=True)
    return tmp_path


def _snapshot(host: Path) -> dict[str, tuple[int, int, bytes]]:
    """Everything outside the layer: mode, link count and content."""
    found = {}
    for path in sorted(host.rglob("*")):
        if "layer" in path.relative_to(host).parts[:1]:
            continue
        info = os.lstat(path)
        data = path.read_bytes() if stat.S_ISREG(info.st_mode) else b""
        found[str(path.relative_to(host))] = (info.st_mode, info.st_nlink, data)
    return found


def _extract(host: Path, *members) -> Path:
    diff = host / "layer" / "diff"
    extract_layer(io.BytesIO(make_tar(*members)), diff)
    return diff


@pytest.mark.parametrize(
    "members",
    [
        [member("/etc/passwd", data=b"owned\n")],
        [member("//etc/../etc/passwd", data=b"owned\n")],
        [member("etc", tarfile.SYMTYPE, link="HOST/etc"), member("etc/passwd", data=b"owned\n")],
        [member("etc", tarfile.SYMTYPE, link="../../etc"), member("etc/passwd", data=b"owned\n")],
        [member("x", tarfile.LNKTYPE, link="HOST/etc/passwd")],
        [member("x", tarfile.LNKTYPE, link="../../etc/passwd")],
        [member("../../etc/passwd", data=b"owned\n")],
    ],
    ids=["absolute", "absolute-dotdot", "symlink-then-beneath", "relative-symlink-then-beneath",
         "hardlink-absolute", "hardlink-dotdot", "dotdot"],
)  # fmt: skip
def test_the_host_is_never_written(host, members):
    before = _snapshot(host)
    members = [(_aimed(info, host), data) for info, data in members]
    try:
        diff = _extract(host, *members)
    except InvalidArgumentError as error:
        assert "layer entry" in str(error)  # refused, naming the entry
    else:
        # Absolute names are taken relative to the layer, as Docker does.
        assert (diff / "etc" / "passwd").read_bytes() == b"owned\n"
    assert _snapshot(host) == before


def _aimed(info: tarfile.TarInfo, host: Path) -> tarfile.TarInfo:
    info.linkname = info.linkname.replace("HOST", str(host))
    return info


def test_a_symlink_to_the_host_is_kept_but_never_followed(host):
    before = _snapshot(host)
    diff = _extract(host, member("etc", tarfile.SYMTYPE, link=str(host / "etc")))
    assert os.readlink(diff / "etc") == str(host / "etc")  # resolved in the container only
    assert _snapshot(host) == before


def test_device_nodes_stay_in_the_layer(host):
    diff = _extract(host, member("dev/sda", tarfile.BLKTYPE, mode=0o660, devmajor=8, devminor=0))
    info = os.lstat(diff / "dev" / "sda")
    # Created as Docker does; the container's device rules decide whether it opens, and
    # the engine's root (0700) keeps host users from reaching it.
    assert stat.S_ISBLK(info.st_mode) and info.st_rdev == os.makedev(8, 0)
    assert stat.S_IMODE(info.st_mode) == 0o660


def test_setuid_bits_are_kept_inside_the_layer(host):
    diff = _extract(host, member("bin/su", data=b"#!/bin/sh\n", mode=0o4755, uid=0))
    assert stat.S_IMODE(os.lstat(diff / "bin" / "su").st_mode) == 0o4755


def test_engine_directories_keep_host_users_out(engine_paths):
    # Setuid files and device nodes of layers are out of host users' reach, as under
    # Docker's /var/lib/docker.
    engine_paths.ensure()
    for directory in (engine_paths.root, engine_paths.layers):
        assert stat.S_IMODE(directory.stat().st_mode) & 0o077 == 0


def _sparse_member(name: str, size: int, regions: list[tuple[int, bytes]]):
    """A PAX 1.0 sparse entry: the map, then the data regions, as GNU tar writes them."""
    sparse_map = f"{len(regions)}\n" + "".join(f"{off}\n{len(data)}\n" for off, data in regions)
    header = sparse_map.encode().ljust(-(-len(sparse_map) // 512) * 512, b"\0")
    data = header + b"".join(data for _, data in regions)
    info, _ = member(f"GNUSparseFile.0/{name}", data=data, pax_headers={
        "GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": name,
        "GNU.sparse.realsize": str(size),
    })  # fmt: skip
    return info, data


def test_huge_sparse_files_keep_their_holes(host):
    regions = [(0, b"head"), (HUGE - 4, b"tail")]
    diff = _extract(host, _sparse_member("big", HUGE, regions))
    info = os.stat(diff / "big")
    assert info.st_size == HUGE
    assert info.st_blocks * 512 < 1 << 20  # the holes took no disk
    with open(diff / "big", "rb") as file:
        assert file.read(4) == b"head"
        file.seek(HUGE - 4)
        assert file.read() == b"tail"
