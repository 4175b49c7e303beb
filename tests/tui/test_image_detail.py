"""The image detail screen and the layer browser: the tree model on hand-made listings,
then the screens on busybox and on a committed two-layer image of a real engine."""

from __future__ import annotations

import io

from rich.console import Console
from rich.style import Style
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from engine.images.layer_files import LayerChange, MergedEntry
from tests.tui.test_app import SIZE, make_app, rows, screenshot, select
from tests.tui.test_run_form import settle
from tui.app import BerthApp
from tui.layer_tree import changes_tree, filtered, merged_tree, summarize
from tui.screens.image_detail import ImageDetailScreen
from tui.screens.layer_browser import LayerBrowser, LayerTree

# -- the tree model ------------------------------------------------------------------

CHANGES = [
    LayerChange("/data", "dir", "added", 0),
    LayerChange("/data/f", "file", "added", 6),
    LayerChange("/etc", "dir", "modified", 0),
    LayerChange("/etc/group", "file", "deleted", 0),
    LayerChange("/etc/passwd", "file", "modified", 40),
    LayerChange("/var/cache", "dir", "modified", 0, opaque=True),
    LayerChange("/var/cache/x", "symlink", "added", 0, target="/bin/busybox"),
]
MERGED = [
    MergedEntry("/bin", "dir", 0, 0),
    MergedEntry("/bin/busybox", "file", 1000, 0),
    MergedEntry("/bin/sh", "symlink", 0, 0, "/bin/busybox"),
    MergedEntry("/data", "dir", 0, 1),
    MergedEntry("/data/f", "file", 6, 1),
    MergedEntry("/etc", "dir", 0, 1),
    MergedEntry("/etc/passwd", "file", 40, 1),
]


def test_a_layers_changes_become_a_tree_with_directory_sizes():
    root = changes_tree(CHANGES)
    assert [node.name for node in root.sorted_children()] == ["data", "etc", "var"]
    var = root.children["var"]
    assert not var.listed and var.children["cache"].opaque  # /var is only implied
    etc = root.children["etc"]
    assert (etc.change, etc.size) == ("modified", 40)  # a deleted file sizes nothing
    assert etc.children["group"].change == "deleted"
    summary = summarize(root)
    assert summary.counts == {"added": 3, "modified": 3, "deleted": 1}
    assert summary.sizes["added"] == 6 and summary.sizes["modified"] == 40
    assert summary.opaque == 1
    assert summary.line() == ("3 added (6B) · 3 modified (40B) · 1 deleted · 1 opaque dir")


def test_the_merged_tree_names_layers_and_marks_the_layers_changes():
    root = merged_tree(MERGED, 1, CHANGES)
    bin_ = root.children["bin"]
    assert (bin_.children["busybox"].layer, bin_.children["busybox"].change) == (0, "")
    assert bin_.size == 1000
    etc = root.children["etc"]
    assert (etc.children["passwd"].layer, etc.children["passwd"].change) == (1, "modified")
    assert etc.children["group"].change == "deleted"  # gone, shown as dive shows it
    # What layer 0 is asked about, layer 1's files are not its changes.
    assert merged_tree(MERGED, 0, []).children["data"].children["f"].change == ""


def test_a_filter_keeps_matching_paths_and_their_parents():
    root = merged_tree(MERGED, 1, CHANGES)
    kept = filtered(root, "PASS")
    assert list(kept.children) == ["etc"] and list(kept.children["etc"].children) == ["passwd"]
    changed = filtered(root, "", changed_only=True)
    assert sorted(changed.children) == ["data", "etc"]
    assert "bin" not in changed.children
    assert filtered(root, "nothing-like-it").children == {}


# -- the screens, on a real engine ---------------------------------------------------


async def open_detail(pilot: Pilot, app: BerthApp, repository: str) -> ImageDetailScreen:
    await settle(pilot)
    await pilot.press("2")
    await settle(pilot)
    select(app, "images", repository)
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(app.screen, ImageDetailScreen)
    return app.screen


def plain(renderable: object) -> str:
    console = Console(width=SIZE[0], file=io.StringIO(), record=True)
    console.print(renderable)
    return console.export_text()


def layer_rows(screen: ImageDetailScreen) -> list[list[str]]:
    table = screen.query_one("#detail-layers", DataTable)
    return [[str(cell) for cell in table.get_row(key)] for key in table.rows]


def shown(tree: LayerTree) -> dict[str, tuple[str, str, int, int | None]]:
    """Every node the tree holds now: path -> (the mark it draws, change, size, layer)."""
    found = {}
    pending = list(tree.root.children)
    while pending:
        node = pending.pop()
        entry = node.data
        assert entry is not None
        mark = tree.render_label(node, Style(), Style()).plain[0]
        found[entry.path] = (mark, entry.change, entry.size, entry.layer)
        pending.extend(node.children)
    return found


async def test_enter_on_busybox_shows_its_config_and_its_one_layer(engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, app, "busybox")
        config = plain(screen.query_one("#detail-config-body", Static).content)
        [summary] = await engine.images.list()
        assert summary.id in config and "busybox:latest" in config
        assert '["sh"]' in config and "PATH=/usr/local/sbin" in config
        assert "linux/" in config
        [layer] = layer_rows(screen)
        [info] = await engine.images.layers("busybox")
        assert layer[:2] == ["0", info.diff_id.removeprefix("sha256:")[:12]]
        assert layer[4] == "berth starter (from /bin/busybox)"
        screenshot(app, "image-detail")
        await pilot.press("escape")
        assert not isinstance(app.screen, ImageDetailScreen)


CHANGE_FILES = (
    "echo hello > /new.txt && echo x >> /etc/passwd && rm /etc/group"
    " && mkdir /data && echo 12345 > /data/f"
)


async def test_the_layer_browser_shows_a_commits_changes_and_the_merged_tree(engine, berth_ok):
    berth_ok("run", "--name", "box", "--network", "none", "busybox", "sh", "-c", CHANGE_FILES)
    berth_ok("commit", "box", "snap:1")
    [passwd] = [e for e in await engine.images.merged_files("busybox") if e.path == "/etc/passwd"]
    appended = passwd.size + 2  # "x\n"
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, app, "snap")
        assert [row[0] for row in layer_rows(screen)] == ["0", "1"]
        await pilot.press("enter")  # the cursor starts on the newest layer
        await settle(pilot)
        browser = app.screen
        assert isinstance(browser, LayerBrowser) and browser.index == 1
        tree = browser.query_one(LayerTree)
        await pilot.press("e")  # expand all
        files = shown(tree)
        assert files["new.txt"] == ("A", "added", 6, None)
        assert files["data/f"] == ("A", "added", 6, None)
        assert files["etc/passwd"] == ("M", "modified", appended, None)
        assert files["etc/group"][:2] == ("D", "deleted")
        assert "bin/busybox" not in files  # not this layer's
        summary = str(browser.query_one("#layers-summary", Static).render())
        assert "1 deleted" in summary and "(12B)" in summary  # new.txt + data/f added
        await pilot.pause()
        screenshot(app, "layers")

        await pilot.press("m")  # the merged tree
        await settle(pilot)
        await pilot.press("e")
        merged = shown(tree)
        mark, change, _, layer = merged["bin/busybox"]
        assert (mark, change, layer) == (" ", "", 0)
        assert merged["etc/passwd"] == ("M", "modified", appended, 1)
        assert merged["new.txt"] == ("A", "added", 6, 1)
        assert merged["etc/group"][:2] == ("D", "deleted")
        await pilot.press("u")  # only what layer 1 changed
        assert "bin/busybox" not in shown(tree) and "new.txt" in shown(tree)
        await pilot.press("slash", "p", "a", "s", "s")
        assert set(shown(tree)) == {"etc", "etc/passwd"}
        await pilot.press("escape")  # drops the filter
        await pilot.press("less_than_sign", "m")  # the base layer's own changes
        await settle(pilot)
        assert (browser.index, browser.merged) == (0, False)
        summary = str(browser.query_one("#layers-summary", Static).render())
        assert summary.startswith("Changes in layer 0: ") and "bin" in shown(tree)
        await pilot.press("escape")
        assert isinstance(app.screen, ImageDetailScreen)


async def test_m_on_the_detail_opens_the_merged_tree_of_busybox(engine):
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, app, "busybox")
        await pilot.press("m")
        await settle(pilot)
        browser = app.screen
        assert isinstance(browser, LayerBrowser) and browser.merged
        top = shown(browser.query_one(LayerTree))
        assert {"bin", "etc", "usr"} <= set(top)  # closed directories: only the top level
        assert all(layer == 0 for _, _, _, layer in top.values())
        assert rows(app, "images")  # the images view stays underneath
