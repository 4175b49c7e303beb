"""Importing or committing onto a full engine root: NoSpaceError, and nothing left."""

from __future__ import annotations

import io
import os

import pytest

from engine.errors import NoSpaceError
from engine.images.layers import LayerStore
from engine.paths import EnginePaths
from tests.images.tarballs import TREE, tree_tar
from tests.small_fs import fill, small_tmpfs


@pytest.fixture
def paths(tmp_path):
    """An engine root of 4 MiB (conftest's db and images fixtures use it)."""
    with small_tmpfs(tmp_path / "fs", "size=4m") as directory:
        paths = EnginePaths(directory / "root", tmp_path / "run")
        paths.ensure()
        yield paths


def _message(paths):
    return rf"^no space left on the engine root \({paths.root}\)$"


async def test_an_import_that_does_not_fit_is_no_space_and_leaves_nothing(paths, db, images):
    big = tree_tar({"blob": os.urandom(6 << 20)})
    with pytest.raises(NoSpaceError, match=_message(paths)):
        await images.import_(io.BytesIO(big), "big:latest")
    assert list(paths.tmp.iterdir()) == list(paths.layers.iterdir()) == []
    assert db.query("SELECT * FROM images") == []
    image = await images.import_(io.BytesIO(tree_tar(TREE)), "small:latest")
    assert image.tags == ("small:latest",)


async def test_a_commit_that_does_not_fit_is_no_space(paths, images, tmp_path):
    base = await images.import_(io.BytesIO(tree_tar(TREE)), "base:latest")
    upper = tmp_path / "upper"  # a container's changes, on another file system
    upper.mkdir()
    (upper / "blob").write_bytes(os.urandom(1 << 20))
    ballast = fill(paths.root, leave=256 << 10)
    with pytest.raises(NoSpaceError, match=_message(paths)):
        await images.commit(base.id, upper, "committed:latest")
    assert list(paths.tmp.iterdir()) == []
    ballast.unlink()
    committed = await images.commit(base.id, upper, "committed:latest")
    assert len(committed.layers) == 2


def test_a_full_disk_at_the_row_s_commit_leaves_layer_files_to_collect(paths, db, images):
    store = LayerStore(paths, db)
    staged = store.stage(io.BytesIO(tree_tar(TREE)))  # extracted and synced; then the
    ballast = fill(paths.root)  # disk fills before the row commits
    with pytest.raises(NoSpaceError), db.write() as tx:
        store.register(tx, staged)
        tx.execute("INSERT INTO images (id, config, created) VALUES ('x', ?, 'now')",
                   (b"x" * 100_000,))  # fmt: skip
    store.discard(staged)
    assert paths.layer_dir(staged.id).exists()  # moved in by a transaction that failed...
    ballast.unlink()
    images.collect_leftovers()  # ...and collected by the next command
    assert not paths.layer_dir(staged.id).exists()
    assert list(paths.links.iterdir()) == list(paths.tmp.iterdir()) == []
