"""What ``dive`` shows: one layer's added, modified and deleted files, or the merged tree.

The engine lists the paths; tui.layer_tree makes them a tree; the Tree widget here gets
a directory's children only when it is opened, so a layer of 20,000 files opens at once.
FileBrowser is that screen without the layers: a volume's files and a container's
changes (tui/screens/files.py) are browsed the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, Tree
from textual.widgets.tree import TreeNode

from engine.api import Engine, humanize
from tui.layer_tree import FileNode, changes_tree, count, filtered, merged_tree, summarize
from tui.workers import run_engine_task

if TYPE_CHECKING:
    from engine.api import LayerChange, LayerInfo, MergedEntry

MARKS = {"added": "A", "modified": "M", "deleted": "D"}  # dive's letters
EXPAND_LIMIT = 500  # a filtered tree up to this many nodes opens fully, as search results
_LAYER_WIDTH = 6


class LayerTree(Tree[FileNode]):
    """Paths marked A/M/D in the theme's colours, a size column, and in the merged tree
    the layer each file comes from; children are added when a directory opens."""

    BINDINGS = [  # as the tables move, for vim and k9s fingers
        Binding("j", "cursor_down", "Down", id="layer-tree.down", show=False),
        Binding("k", "cursor_up", "Up", id="layer-tree.up", show=False),
    ]
    COMPONENT_CLASSES = {
        "layer-tree--added", "layer-tree--modified", "layer-tree--deleted", "layer-tree--muted",
    }  # fmt: skip
    # Names are cut to fit (the columns stay at the right edge): nothing to scroll
    # sideways, and the vertical scrollbar's room is kept so the width never changes.
    DEFAULT_CSS = """
    LayerTree { overflow-x: hidden; scrollbar-gutter: stable; }
    LayerTree > .layer-tree--added { color: $success; }
    LayerTree > .layer-tree--modified { color: $warning; }
    LayerTree > .layer-tree--deleted { color: $error; }
    LayerTree > .layer-tree--muted { color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None, marks: Mapping[str, str] = MARKS) -> None:
        super().__init__("/", id=id)
        self.show_root = False
        self.guide_depth = 3
        self.merged = False  # show the layer column
        self.marks = marks  # change -> the letter drawn before the name

    def show(self, root: FileNode, *, merged: bool, expand: bool) -> None:
        """Show ``root``'s children; ``expand`` opens every directory (small trees only)."""
        self.merged = merged
        self.clear()
        self.root.data = root
        self._fill(self.root)
        if expand:
            self.expand_everything()
        if root.children:  # an empty tree has no line 0 to move to
            self.move_cursor_to_line(0)

    def _fill(self, node: TreeNode[FileNode]) -> None:
        assert node.data is not None
        for child in node.data.sorted_children():
            if child.children:
                node.add(child.name, data=child)
            else:
                node.add_leaf(child.name, data=child)

    @on(Tree.NodeExpanded)
    def _opened(self, event: Tree.NodeExpanded[FileNode]) -> None:
        node = event.node
        if not node.children and node.data is not None and node.data.children:
            self._fill(node)

    def expand_everything(self) -> None:
        """Add every node, then open them all."""
        pending = [self.root]
        while pending:
            node = pending.pop()
            if not node.children and node.data is not None and node.data.children:
                self._fill(node)
            pending.extend(node.children)
        self.root.expand_all()

    def collapse_everything(self) -> None:
        """Close every directory: the tree starts over from its top level, which is much
        quicker than closing thousands of opened nodes one by one."""
        if self.root.data is not None:
            self.show(self.root.data, merged=self.merged, expand=False)

    # -- drawing -----------------------------------------------------------------

    def render_label(self, node: TreeNode[FileNode], base_style: Style, style: Style) -> Text:
        entry = node.data
        if entry is None:
            return Text(str(node.label))
        colour = self._style(entry.change) if entry.change else Style()
        muted = self._style("muted")
        icon = ""
        if node.allow_expand:
            icon = self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE
        name = entry.name + ("/" if entry.is_dir else "")
        text = Text.assemble(
            (f"{self.marks.get(entry.change, ' ')} ", colour + Style(bold=True)),
            (icon or "  ", muted),
            (name, colour),
        )
        # Each space ends a run rather than starting the next: SVG renderers drop a
        # run's leading spaces, and screenshots are made of these lines.
        if entry.target:
            text.append(" ")
            text.append(f"→ {entry.target}", muted)
        if entry.opaque:
            text.append(" ")
            text.append("(opaque)", muted)
        # A deletion is a whiteout: no bytes of its own to show.
        size = "" if entry.change == "deleted" else humanize.size(entry.size)
        columns = Text(size, muted)
        if self.merged:
            layer = "" if entry.layer is None else f"L{entry.layer}"
            columns.append(" " * (_LAYER_WIDTH - len(layer)))
            columns.append(layer, muted)
        # The columns end at the right edge, whatever the depth: names take the rest.
        room = max(self._width - self._guide_width(node) - columns.cell_len, 8)
        text.truncate(room, overflow="ellipsis", pad=True)
        text.append_text(columns)
        text.stylize(style)
        return text

    def get_label_width(self, node: TreeNode[FileNode]) -> int:
        # Every label is padded to the width: no need to render them all to know it.
        return max(self._width - self._guide_width(node), 0)

    @property
    def _width(self) -> int:
        """The columns the lines may use: the width less a vertical scrollbar's."""
        return self.scrollable_content_region.width

    def _guide_width(self, node: TreeNode[FileNode]) -> int:
        depth = 0
        parent = node.parent
        while parent is not None and parent is not self.root:
            depth += 1
            parent = parent.parent
        return depth * self.guide_depth

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"layer-tree--{name}", partial=True)


class FileBrowser(Screen[None]):
    """A tree of files the engine lists, with a title and a summary line above it.

    A subclass reads the tree (``read_tree``) and says what it is (``title_line``,
    ``summary_parts``); ``MARKS`` are the letters its changes are drawn with.
    """

    BINDINGS = [
        Binding("escape,q", "close", "Close", id="layers.close"),
        Binding("slash", "filter", "Filter", id="layers.filter"),
        Binding("e", "expand_all", "Expand all", id="layers.expand-all"),
        Binding("c", "collapse_all", "Collapse all", id="layers.collapse-all"),
    ]
    MARKS: ClassVar[Mapping[str, str]] = MARKS
    EXPAND_SMALL = False  # open a tree of up to EXPAND_LIMIT nodes fully, filtered or not

    def __init__(self, engine: Engine, title: str) -> None:
        super().__init__()
        self.engine = engine
        self.title_text = title
        self.merged = False  # an image's merged tree: files name their layer (a column)
        self.filter_text = ""
        self.tree_root: FileNode | None = None  # the full tree in view, before the filter

    def compose(self) -> ComposeResult:
        yield Static(id="layers-title", markup=False)
        yield Static(id="layers-summary", markup=False)
        yield Input(id="layers-filter", placeholder="Show paths containing (Enter keeps it)")
        yield LayerTree(id="layers-tree", marks=self.MARKS)
        yield Footer(compact=True)  # the layer browser's eight keys fit in 120 columns

    def on_mount(self) -> None:
        self.query_one("#layers-filter").display = False
        self.file_tree.focus()
        self._load()

    @property
    def file_tree(self) -> LayerTree:
        return self.query_one(LayerTree)

    # -- what a subclass says ------------------------------------------------------

    async def read_tree(self) -> FileNode:
        """The tree to show, read from the engine; called in a worker."""
        raise NotImplementedError

    def reading(self) -> str:
        """What ``read_tree`` reads, in words, for the title of its failure."""
        return f"the files of {self.title_text}"

    def title_line(self) -> str:
        return self.title_text

    def summary_parts(self) -> list[str]:
        """What the whole tree holds, before the filter's part of the summary."""
        raise NotImplementedError

    def narrowed(self, root: FileNode) -> FileNode | None:
        """``root`` as the user narrowed it (the filter), or None when it isn't."""
        return filtered(root, self.filter_text) if self.filter_text else None

    # -- loading -------------------------------------------------------------------

    def _load(self) -> None:
        self.query_one("#layers-title", Static).update(self.title_line())
        self.query_one("#layers-summary", Static).update("Reading the files…")
        run_engine_task(
            self,
            self._read,
            group=f"files-{id(self)}",
            description=f"Reading {self.reading()}",
            exclusive=True,
        )

    async def _read(self) -> None:
        try:
            self.tree_root = await self.read_tree()
        except Exception:
            # The app's notification says why; the screen stops saying it is reading.
            self.query_one("#layers-summary", Static).update("Could not read the files")
            raise
        self._show()

    def _show(self) -> None:
        if self.tree_root is None:
            return
        narrowed = self.narrowed(self.tree_root)
        root = self.tree_root if narrowed is None else narrowed
        wanted = narrowed is not None or self.EXPAND_SMALL
        expand = wanted and count(root) <= EXPAND_LIMIT
        self.file_tree.show(root, merged=self.merged, expand=expand)
        self.query_one("#layers-summary", Static).update(self.summary_text(root))
        self.refresh_bindings()

    def summary_text(self, shown: FileNode) -> str:
        """The tree's counts, and what the view shows of them."""
        parts = self.summary_parts()
        if self.filter_text:
            parts.append(f"filter “{self.filter_text}”: {count(shown)} shown (Escape clears)")
        if not shown.children:
            parts.append("nothing to show")
        return " · ".join(parts)

    # -- keys ----------------------------------------------------------------------

    def action_expand_all(self) -> None:
        self.file_tree.expand_everything()

    def action_collapse_all(self) -> None:
        self.file_tree.collapse_everything()

    def action_filter(self) -> None:
        field = self.query_one("#layers-filter", Input)
        field.value = self.filter_text
        field.display = True
        field.focus()

    @on(Input.Changed, "#layers-filter")
    def _filter_typed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self._show()

    @on(Input.Submitted, "#layers-filter")
    def _filter_kept(self) -> None:
        self.query_one("#layers-filter").display = bool(self.filter_text)
        self.file_tree.focus()

    def action_close(self) -> None:
        # Escape first drops the filter, then closes the browser.
        field = self.query_one("#layers-filter", Input)
        if self.filter_text or field.display:
            self.filter_text = ""
            field.value = ""
            field.display = False
            self.file_tree.focus()
            self._show()
        else:
            self.dismiss(None)

    def on_unmount(self) -> None:
        self.app.workers.cancel_group(self.app, f"files-{id(self)}")


class LayerBrowser(FileBrowser):
    """One image's layers, one at a time (``<`` ``>``), as changes or as the merged tree."""

    BINDINGS = [
        Binding("m", "toggle_merged", "Merged/layer", id="layers.toggle-merged"),
        Binding("u", "toggle_changed_only", "Only changes", id="layers.changed-only"),
        # Not [ and ]: those switch the app's views from any screen.
        Binding("less_than_sign", "layer(-1)", "Prev layer", id="layers.previous"),
        Binding("greater_than_sign", "layer(1)", "Next layer", id="layers.next"),
    ]

    def __init__(
        self, engine: Engine, image_id: str, title: str, layers: Sequence[LayerInfo],
        index: int, *, merged: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(engine, title)
        self.image_id = image_id
        self.image_layers = list(layers)
        self.index = index
        self.merged = merged
        self.changed_only = False
        self._changes: dict[int, list[LayerChange]] = {}
        self._merged: list[MergedEntry] | None = None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "layer":
            (step,) = parameters
            assert isinstance(step, int)
            return True if 0 <= self.index + step < len(self.image_layers) else None
        if action == "toggle_changed_only":
            return True if self.merged else None  # a layer's own view shows only changes
        return True

    async def read_tree(self) -> FileNode:
        index, merged = self.index, self.merged
        if index not in self._changes:
            self._changes[index] = await self.engine.images.layer_changes(self.image_id, index)
        changes = self._changes[index]
        if merged and self._merged is None:
            self._merged = await self.engine.images.merged_files(self.image_id)
        # Thousands of paths: built off the event loop, so the screen stays live meanwhile.
        if merged:
            assert self._merged is not None
            return await asyncio.to_thread(merged_tree, self._merged, index, changes)
        return await asyncio.to_thread(changes_tree, changes)

    def reading(self) -> str:
        return f"the files of layer {self.index}"

    def title_line(self) -> str:
        info = self.image_layers[self.index]
        history = info.created_by or info.comment or "no history"
        diff = info.diff_id.removeprefix("sha256:")[:12]
        position = f"layer {self.index} ({self.index + 1} of {len(self.image_layers)})"
        return f"{self.title_text} · {position} · {diff} · {humanize.size(info.size)} · {history}"

    def summary_parts(self) -> list[str]:
        assert self.tree_root is not None
        summary = summarize(self.tree_root)
        if self.merged:
            parts = [
                f"Merged tree: {summary.files} files, {humanize.size(summary.size)}",
                f"layer {self.index}: {summary.line()}",
            ]
        else:
            parts = [f"Changes in layer {self.index}: {summary.line()}"]
        if self.changed_only:
            parts.append("only changes (u shows all)")
        return parts

    def narrowed(self, root: FileNode) -> FileNode | None:
        if not self.changed_only:
            return super().narrowed(root)
        return filtered(root, self.filter_text, changed_only=True)

    # -- keys ----------------------------------------------------------------------

    def action_toggle_merged(self) -> None:
        self.merged = not self.merged
        self._load()

    def action_toggle_changed_only(self) -> None:
        self.changed_only = not self.changed_only
        self._show()

    def action_layer(self, step: int) -> None:
        if 0 <= self.index + step < len(self.image_layers):
            self.index += step
            self._load()
