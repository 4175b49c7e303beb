"""What a container changed, as ``docker diff`` lists it: its upper dir over its image.

The upper dir's entries are the image's layer_changes of one more layer. Two things
are adjusted. What the engine made there to mount on (an empty /etc/hostname, a
/proc the image lacked, and directories made or copied up only to hold them) is left
out, as Docker's init layer hides it. And an opaque directory (the container removed
a directory of the image and made one again) is listed with what it hides: each
path of the image below it that the container did not make again is deleted.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path

from engine.images.commit import holds_mount_point, is_mount_stub
from engine.images.layer_files import LayerChange, layer_changes, merged_files


def container_changes(
    lowers: Sequence[Path], upper: Path, mount_points: Collection[str]
) -> list[LayerChange]:
    """The changes of ``upper`` over the image layers ``lowers`` (base first), sorted by
    path component by component. ``mount_points``: relative, as the runtime mounted them."""
    if not upper.is_dir():  # a create killed half-way made none: nothing changed
        return []
    changes = _without_mount_stubs(layer_changes([*lowers, upper], len(lowers)), upper,
                                   mount_points)  # fmt: skip
    if any(change.opaque for change in changes):
        changes += _hidden(changes, lowers)
    return sorted(changes, key=lambda change: change.path.split("/"))


def _without_mount_stubs(
    changes: list[LayerChange], upper: Path, mount_points: Collection[str]
) -> list[LayerChange]:
    kept: list[LayerChange] = []
    with_changes_below: set[str] = set()
    for change in reversed(changes):  # a directory's contents before the directory
        relative = change.path.lstrip("/")
        if change.change != "deleted" and _engine_made(change, relative, upper, mount_points,
                                                       relative in with_changes_below):  # fmt: skip
            continue
        kept.append(change)
        parent = os.path.dirname(relative)
        while parent:
            with_changes_below.add(parent)
            parent = os.path.dirname(parent)
    kept.reverse()
    return kept


def _engine_made(
    change: LayerChange, relative: str, upper: Path, mount_points: Collection[str],
    changed_below: bool,
) -> bool:  # fmt: skip
    if relative in mount_points:
        return is_mount_stub(str(upper / relative), os.lstat(upper / relative))
    return change.kind == "dir" and not changed_below and holds_mount_point(relative, mount_points)


def _hidden(changes: list[LayerChange], lowers: Sequence[Path]) -> list[LayerChange]:
    """What opaque directories hide: the image's paths below them that the container's
    layer lacks; a hidden directory is one entry, as a deleted one is."""
    opaque = [change.path for change in changes if change.opaque]
    present = {change.path for change in changes if change.change != "deleted"}
    hidden: list[LayerChange] = []
    deleted: set[str] = set()
    for entry in merged_files(lowers):
        path = entry.path
        if path in present or not any(path.startswith(f"{top}/") for top in opaque):
            continue
        deleted.add(path)
        if os.path.dirname(path) not in deleted:
            hidden.append(LayerChange(path, entry.kind, "deleted", 0))
    return hidden
