"""A volume's files and a container's changes, in the layer browser's tree."""

from __future__ import annotations

import asyncio

from engine.api import Engine, humanize
from tui.layer_tree import FileNode, changes_tree, merged_tree, summarize
from tui.screens.layer_browser import FileBrowser

# berth diff's letters (Docker's): C for a changed path, where a layer's view says M.
DIFF_MARKS = {"added": "A", "modified": "C", "deleted": "D"}


class VolumeBrowser(FileBrowser):
    """What a volume holds, read from its ``_data`` on the host (mounted or not)."""

    def __init__(self, engine: Engine, name: str, mountpoint: str) -> None:
        super().__init__(engine, f"Volume {name}")
        self.volume = name
        self.mountpoint = mountpoint

    async def read_tree(self) -> FileNode:
        entries = await self.engine.volumes.files(self.volume)
        # One source, no changes: the merged tree's shape without its layer column.
        return await asyncio.to_thread(merged_tree, entries, 0)

    def title_line(self) -> str:
        return f"{self.title_text} · {self.mountpoint}"

    def summary_parts(self) -> list[str]:
        assert self.tree_root is not None
        summary = summarize(self.tree_root)
        files = f"{summary.files} file{'' if summary.files == 1 else 's'}"
        return [f"{files}, {humanize.size(summary.size)}"]


class DiffBrowser(FileBrowser):
    """What a container changed in its image's files, as ``berth diff`` lists it.

    A diff is usually short: it opens fully expanded, as the command's list reads.
    """

    MARKS = DIFF_MARKS
    EXPAND_SMALL = True

    def __init__(self, engine: Engine, container_id: str, name: str) -> None:
        super().__init__(engine, f"Container {name}")
        self.container_id = container_id

    async def read_tree(self) -> FileNode:
        changes = await self.engine.files.diff(self.container_id)
        return await asyncio.to_thread(changes_tree, changes)

    def reading(self) -> str:
        return f"the changes of {self.title_text}"

    def title_line(self) -> str:
        return f"{self.title_text} · its changes to the image's files (berth diff)"

    def summary_parts(self) -> list[str]:
        assert self.tree_root is not None
        return [f"Changes: {summarize(self.tree_root).line(modified='changed')}"]
