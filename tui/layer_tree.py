"""A layer's file changes, or an image's merged files, as a tree of nodes (dive's model).

The engine lists paths flat and sorted; the layer browser shows them as a tree it fills
lazily. This module builds that tree once, in plain Python, and answers what the screen
asks of it: a directory's children in display order, a filtered copy, the counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from engine.api import humanize

if TYPE_CHECKING:
    from engine.api import LayerChange, MergedEntry


@dataclass
class FileNode:
    """One path of the tree; ``change`` is what the layer in view did to it ("" nothing).

    A directory's ``size`` is the sum of the files under it; directories the listing only
    implies (parents of listed paths) have ``listed`` False.
    """

    name: str
    path: str
    kind: str = "dir"
    size: int = 0
    change: str = ""
    layer: int | None = None  # the layer the merged file comes from (merged trees only)
    opaque: bool = False
    target: str = ""
    listed: bool = False
    children: dict[str, FileNode] = field(default_factory=dict)

    @property
    def is_dir(self) -> bool:
        return self.kind == "dir"

    def sorted_children(self) -> list[FileNode]:
        """Children as a file manager lists them: directories first, then by name."""
        return sorted(self.children.values(), key=lambda node: (not node.is_dir, node.name))

    def walk(self) -> Iterator[FileNode]:
        """Every node under this one (not itself), parents before their children."""
        for child in self.children.values():
            yield child
            yield from child.walk()


@dataclass(frozen=True)
class Summary:
    """How many listed paths each change touched, and their bytes."""

    counts: dict[str, int]
    sizes: dict[str, int]
    files: int  # listed paths that are not directories
    size: int  # their bytes
    opaque: int  # opaque directories

    def line(self, modified: str = "modified") -> str:
        """The counts in words; ``modified`` names that change ("changed" as berth diff's C)."""
        # A deletion is a whiteout: it frees nothing of the image, so it has no bytes to show.
        words = {"added": "added", "modified": modified}
        parts = [
            f"{self.counts.get(change, 0)} {word} ({humanize.size(self.sizes.get(change, 0))})"
            for change, word in words.items()
        ]
        parts.append(f"{self.counts.get('deleted', 0)} deleted")
        if self.opaque:
            parts.append(f"{self.opaque} opaque dir{'s' if self.opaque > 1 else ''}")
        return " · ".join(parts)


def normalized(path: str) -> str:
    """``path`` without the leading "/" or "./" and trailing "/" the engine may give."""
    return path.removeprefix(".").strip("/")


def changes_tree(changes: Iterable[LayerChange]) -> FileNode:
    """The tree of one layer's changes: added, modified and deleted paths."""
    root = FileNode("", "")
    for change in changes:
        node = _place(root, change.path)
        node.kind, node.size, node.change = change.kind, change.size, change.change
        node.opaque, node.target, node.listed = change.opaque, change.target, True
    _total(root)
    return root


def merged_tree(
    entries: Iterable[MergedEntry], layer: int, changes: Iterable[LayerChange] = ()
) -> FileNode:
    """The image's files, each naming its layer; what ``layer`` did (``changes``) is marked.

    A path ``layer`` added or modified is marked so where the merged file still comes
    from it; a path it deleted that no later layer brought back shows as deleted, as
    dive's aggregated view shows removed files.
    """
    by_path = {normalized(change.path): change for change in changes}
    root = FileNode("", "")
    for entry in entries:
        node = _place(root, entry.path)
        node.kind, node.size, node.layer = entry.kind, entry.size, entry.layer
        node.target, node.listed = entry.target, True
        change = by_path.get(node.path)
        if change and entry.layer == layer and change.change != "deleted":
            node.change, node.opaque = change.change, change.opaque
    present = {node.path for node in root.walk() if node.listed}
    for path, change in by_path.items():
        if change.change == "deleted" and path not in present:
            node = _place(root, path)
            node.kind, node.change, node.layer, node.listed = change.kind, "deleted", layer, True
    _total(root)
    return root


def _place(root: FileNode, path: str) -> FileNode:
    """The node for ``path``, made with its missing parents."""
    node = root
    for name in normalized(path).split("/"):
        child = node.children.get(name)
        if child is None:
            prefix = f"{node.path}/" if node.path else ""
            child = node.children[name] = FileNode(name, prefix + name)
        node = child
    return node


def _total(node: FileNode) -> int:
    """Give every directory the bytes of the files under it (deleted ones count nothing)."""
    if not node.is_dir:
        return 0 if node.change == "deleted" else node.size
    node.size = sum(_total(child) for child in node.children.values())
    return node.size


def filtered(root: FileNode, keep: str, *, changed_only: bool = False) -> FileNode:
    """A copy with only the paths containing ``keep`` (case-insensitive), and their parents.

    ``changed_only`` keeps only paths the layer in view changed (dive's "hide unmodified").
    Sizes stay those of the full tree: a filter narrows the view, not the image.
    """
    needle = keep.casefold()

    def wanted(node: FileNode) -> bool:
        return (not needle or needle in node.path.casefold()) and (
            not changed_only or bool(node.change)
        )

    def copy(node: FileNode) -> FileNode | None:
        children = {name: kept for name, child in node.children.items() if (kept := copy(child))}
        if children or (node.listed and wanted(node)):
            return replace(node, children=children)
        return None

    return copy(root) or FileNode("", "")


def summarize(root: FileNode) -> Summary:
    """Counts and bytes of the listed paths by change (directories count, sizing nothing)."""
    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    files = size = opaque = 0
    for node in root.walk():
        if not node.listed:
            continue
        opaque += node.opaque
        own = 0 if node.is_dir else node.size
        if node.change:
            counts[node.change] += 1
            sizes[node.change] += own
        if not node.is_dir and node.change != "deleted":
            files += 1
            size += own
    return Summary(dict(counts), dict(sizes), files, size, opaque)


def count(root: FileNode) -> int:
    """How many nodes the tree holds below ``root``."""
    return sum(1 for _ in root.walk())
