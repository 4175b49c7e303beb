"""What an image's layers hold: per-layer changes and the merged tree, over diff dirs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engine.errors import NotFoundError
from engine.images.extract import OPAQUE_XATTR
from engine.images.layer_files import LayerChange, MergedEntry, layer_changes, merged_files
from tests.conftest import require_root


def build(root: Path, tree: dict[str, object]) -> Path:
    """A layer's diff dir in overlay format: bytes are files, None dirs, "opaque" opaque
    dirs, "whiteout" 0/0 char devices, "fifo" fifos, ("symlink", target) symlinks."""
    root.mkdir()
    for name, value in tree.items():
        path = root / name
        if value is None or value == "opaque":
            path.mkdir()
            if value == "opaque":
                os.setxattr(path, OPAQUE_XATTR, b"y")
        elif value == "whiteout":
            os.mknod(path, stat.S_IFCHR, os.makedev(0, 0))
        elif value == "fifo":
            os.mkfifo(path)
        elif isinstance(value, tuple):
            os.symlink(value[1], path)
        else:
            path.write_bytes(value)
    return root


@pytest.fixture
def diffs(tmp_path: Path) -> list[Path]:
    require_root("layer extraction keeps owners, modes and device nodes (chown, mknod)")
    base = build(tmp_path / "0", {
        "bin": None, "bin/sh": b"#!" * 50, "etc": None, "etc/passwd": b"root\n",
        "etc/group": b"root\n", "opt": None, "opt/a": b"a", "opt/b": None, "opt/b/c": b"c",
        "srv": None, "srv/old": b"old", "data": b"a file, then a dir",
        "var": None, "var/cache": None, "var/cache/x": b"x",
    })  # fmt: skip
    top = build(tmp_path / "1", {
        "etc": None, "etc/passwd": b"root\nuser\n", "etc/group": "whiteout",
        "etc/new": b"new", "opt": "opaque", "opt/b": None, "opt/fresh": b"fresh",
        "srv": "whiteout", "data": None, "data/inside": b"in", "var": None,
        "var/cache": b"a dir, now a file", "link": ("symlink", "/etc/new"), "pipe": "fifo",
    })  # fmt: skip
    return [base, top]


def test_changes_of_the_base_are_all_additions(diffs):
    changes = layer_changes(diffs, 0)
    assert {change.change for change in changes} == {"added"}
    assert LayerChange("/bin/sh", "file", "added", 100) in changes
    assert [change.path for change in changes][:3] == ["/bin", "/bin/sh", "/data"]


def test_changes_of_an_upper_layer(diffs):
    changes = {change.path: change for change in layer_changes(diffs, 1)}
    assert changes["/etc"] == LayerChange("/etc", "dir", "modified", 0)
    assert changes["/etc/passwd"] == LayerChange("/etc/passwd", "file", "modified", 10)
    assert changes["/etc/group"] == LayerChange("/etc/group", "file", "deleted", 0)
    assert changes["/etc/new"] == LayerChange("/etc/new", "file", "added", 3)
    assert changes["/opt"] == LayerChange("/opt", "dir", "modified", 0, opaque=True)
    assert changes["/opt/fresh"].change == "added"
    assert changes["/srv"] == LayerChange("/srv", "dir", "deleted", 0)  # one entry, not its files
    assert changes["/data"] == LayerChange("/data", "dir", "modified", 0)
    assert changes["/data/inside"].change == "added"  # below a file: nothing was there
    assert changes["/var/cache"] == LayerChange("/var/cache", "file", "modified", 17)
    assert changes["/link"] == LayerChange("/link", "symlink", "added", 0, target="/etc/new")
    assert changes["/pipe"].kind == "fifo"
    assert "/srv/old" not in changes
    assert list(changes) == sorted(changes, key=lambda path: path.split("/"))


def test_merged_tree(diffs):
    merged = {entry.path: entry for entry in merged_files(diffs)}
    assert merged["/bin/sh"] == MergedEntry("/bin/sh", "file", 100, 0)
    assert merged["/bin"].layer == 0
    assert merged["/etc"].layer == 1  # a directory comes from the topmost layer having it
    assert merged["/etc/passwd"] == MergedEntry("/etc/passwd", "file", 10, 1)
    assert "/etc/group" not in merged  # whited out
    assert not [path for path in merged if path.startswith("/srv")]  # a whited-out dir
    # The opaque /opt hides /opt/a and /opt/b/c; its own /opt/b is a fresh, empty dir.
    assert sorted(path for path in merged if path.startswith("/opt/")) == ["/opt/b", "/opt/fresh"]
    assert merged["/data"].kind == "dir" and merged["/data/inside"].layer == 1
    assert merged["/var/cache"] == MergedEntry("/var/cache", "file", 17, 1)
    assert "/var/cache/x" not in merged
    assert merged["/link"].target == "/etc/new"
    paths = list(merged)
    assert paths == sorted(paths, key=lambda path: path.split("/"))


def test_a_symlinked_directory_is_not_followed(tmp_path):
    outside = build(tmp_path / "outside", {"secret": b"s"})
    layer = build(tmp_path / "0", {"escape": ("symlink", str(outside))})
    assert [entry.path for entry in merged_files([layer])] == ["/escape"]
    assert layer_changes([layer], 0)[0].kind == "symlink"


async def test_service_layers_and_an_index_out_of_range(images):
    image = await images.create_starter()
    [layer] = await images.layers("busybox")
    assert (layer.index, layer.diff_id, layer.size) == (0, image.layers[0], image.size)
    assert layer.created_by.startswith("berth starter")
    changes = await images.layer_changes("busybox", 0)
    size = Path("/bin/busybox").stat().st_size
    assert LayerChange("/bin/busybox", "file", "added", size) in changes
    merged = await images.merged_files("busybox")
    assert [entry.path for entry in merged] == [change.path for change in changes]
    with pytest.raises(NotFoundError, match=r"has no layer 1: its layers are 0 \(the base\) to 0"):
        await images.layer_changes("busybox", 1)
    with pytest.raises(NotFoundError, match="no such image"):
        await images.merged_files("nothere")
