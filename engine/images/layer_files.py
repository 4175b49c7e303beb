"""What the layers of an image hold: each layer's changes and the merged tree on top.

Pure functions over extracted layer directories (overlayfs format: whiteouts are 0/0
character devices, an opaque directory carries ``trusted.overlay.opaque=y``), read with
``os.scandir`` and ``lstat`` only; they never follow a symlink of a layer.

Lists are sorted by path component by component, which puts every directory right
before its contents.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.images.extract import OPAQUE_XATTR


@dataclass(frozen=True)
class LayerChange:
    """One entry a layer adds, changes or deletes."""

    path: str  # absolute inside the image, e.g. "/etc/passwd"
    kind: str  # "file" | "dir" | "symlink" | "device" | "fifo" | "socket"
    change: str  # "added" | "modified" | "deleted"
    size: int  # bytes of a regular file (0 otherwise, and for deletions)
    opaque: bool = False  # a dir that hides everything below it from lower layers
    target: str = ""  # a symlink's target


@dataclass(frozen=True)
class MergedEntry:
    """One path of the image's merged tree, as a container of the image sees it."""

    path: str
    kind: str
    size: int
    layer: int  # index (0 = base) of the layer the visible entry comes from
    target: str = ""


@dataclass(frozen=True)
class LayerInfo:
    """One layer of an image and the history step that made it."""

    index: int  # 0 = base
    diff_id: str  # "sha256:<hex>"
    size: int
    created: str  # from the image config history step that made it ("" if none)
    created_by: str
    comment: str


@dataclass(slots=True)
class _Node:
    kind: str
    size: int
    layer: int
    target: str = ""
    children: dict[str, _Node] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Entry:
    """One directory entry of a layer, as overlayfs reads it."""

    name: str
    path: str  # on the host
    kind: str
    size: int
    target: str
    whiteout: bool
    opaque: bool


def layer_changes(diffs: Sequence[Path], index: int) -> list[LayerChange]:
    """What layer ``index`` of the layers ``diffs`` (base first) adds, changes and deletes.

    "modified" means the path exists in the merged view of the layers below; a deleted
    directory is one entry, its contents are not listed.
    """
    lower = _merge(diffs[:index])
    changes: list[LayerChange] = []
    _collect_changes(str(diffs[index]), "", lower, changes)
    return changes


def merged_files(diffs: Sequence[Path]) -> list[MergedEntry]:
    """Every path of the merged tree of ``diffs`` (base first): upper layers win,
    whiteouts and opaque directories hide what lies below them."""
    entries: list[MergedEntry] = []
    _flatten(_merge(diffs), "", entries)
    return entries


def directory_files(directory: Path) -> list[MergedEntry]:
    """Every path under a plain directory (a volume's), as layer 0: nothing in it is a
    whiteout, so a 0/0 character device is listed as the device it is."""
    root = _Node("dir", 0, 0)
    _apply(root, str(directory), 0, overlay=False)
    entries: list[MergedEntry] = []
    _flatten(root, "", entries)
    return entries


def _merge(diffs: Sequence[Path]) -> _Node:
    root = _Node("dir", 0, 0)
    for index, diff in enumerate(diffs):
        _apply(root, str(diff), index)
    return root


def _apply(node: _Node, directory: str, layer: int, *, overlay: bool = True) -> None:
    """Lay the directory ``directory`` of layer ``layer`` over ``node``; ``overlay``:
    read it as overlayfs does (whiteouts delete)."""
    for entry in _entries(directory):
        if entry.whiteout and overlay:
            node.children.pop(entry.name, None)
            continue
        below = node.children.get(entry.name)
        if entry.kind != "dir":
            node.children[entry.name] = _Node(entry.kind, entry.size, layer, entry.target)
            continue
        if below is None or below.kind != "dir" or entry.opaque:
            below = node.children[entry.name] = _Node("dir", 0, layer)
        below.layer = layer
        _apply(below, entry.path, layer, overlay=overlay)


def _collect_changes(
    directory: str, prefix: str, lower: _Node | None, out: list[LayerChange]
) -> None:
    for entry in _entries(directory):
        path = f"{prefix}/{entry.name}"
        below = lower.children.get(entry.name) if lower else None
        if entry.whiteout:
            out.append(LayerChange(path, below.kind if below else "file", "deleted", 0))
            continue
        change = "modified" if below else "added"
        out.append(LayerChange(path, entry.kind, change, entry.size, entry.opaque, entry.target))
        if entry.kind == "dir":
            _collect_changes(
                entry.path, path, below if below and below.kind == "dir" else None, out
            )


def _flatten(node: _Node, prefix: str, out: list[MergedEntry]) -> None:
    for name in sorted(node.children):
        child = node.children[name]
        path = f"{prefix}/{name}"
        out.append(MergedEntry(path, child.kind, child.size, child.layer, child.target))
        if child.kind == "dir":
            _flatten(child, path, out)


def _entries(directory: str) -> Iterator[_Entry]:
    """The entries of one layer directory, sorted by name."""
    with os.scandir(directory) as scan:
        found = sorted(scan, key=lambda entry: entry.name)
    for entry in found:
        yield _describe(entry)


def _describe(entry: os.DirEntry[str]) -> _Entry:
    # d_type answers most questions without a syscall: lstat only files and devices.
    if entry.is_symlink():
        return _Entry(entry.name, entry.path, "symlink", 0, os.readlink(entry.path), False, False)
    if entry.is_dir(follow_symlinks=False):
        return _Entry(entry.name, entry.path, "dir", 0, "", False, _is_opaque(entry.path))
    info = entry.stat(follow_symlinks=False)
    mode = info.st_mode
    if stat.S_ISREG(mode):
        return _Entry(entry.name, entry.path, "file", info.st_size, "", False, False)
    whiteout = stat.S_ISCHR(mode) and info.st_rdev == 0
    return _Entry(entry.name, entry.path, _kind(mode), 0, "", whiteout, False)


def _kind(mode: int) -> str:
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISFIFO(mode):
        return "fifo"
    return "socket"


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:  # ENODATA: an ordinary directory
        return False
