"""Layer directories no row names (a crash or a rollback after the move) are collected."""

from __future__ import annotations

import io
import threading

import pytest

from engine.images.layers import LayerStore
from tests.images.tarballs import TREE, tree_tar


@pytest.fixture
def store(paths, db):
    return LayerStore(paths, db)


def _rolled_back_registration(store, db, content):
    """What a crash between moving a layer in and committing its row leaves."""
    staged = store.stage(io.BytesIO(tree_tar(content)))
    with pytest.raises(KeyboardInterrupt), db.write() as tx:
        store.register(tx, staged)
        raise KeyboardInterrupt
    store.discard(staged)
    return staged.id


async def test_a_layer_no_row_names_is_collected_with_its_link(images, store, paths, db, tmp_path):
    source = tmp_path / "kept.tar"
    source.write_bytes(tree_tar(TREE))
    kept = await images.import_(source, "kept:latest")
    orphan = _rolled_back_registration(store, db, {"orphan": b"left behind\n"})
    assert paths.layer_dir(orphan).is_dir()
    assert len(list(paths.links.iterdir())) == 2
    images.collect_leftovers()
    assert not paths.layer_dir(orphan).exists()
    assert [link.resolve() for link in paths.links.iterdir()] == images.layer_paths(kept)
    assert (images.layer_paths(kept)[0] / "etc" / "motd").read_bytes() == b"hello\n"
    assert list(paths.tmp.iterdir()) == []


def test_a_registration_not_yet_committed_is_left_alone(images, store, paths, db):
    staged = store.stage(io.BytesIO(tree_tar(TREE)))
    moved, release = threading.Event(), threading.Event()

    def register() -> None:
        with db.write() as tx:
            store.register(tx, staged)  # moved in; its row commits when this block ends
            moved.set()
            release.wait(30)

    registering = threading.Thread(target=register)
    registering.start()
    moved.wait(30)
    collecting = threading.Thread(target=images.collect_leftovers)
    collecting.start()
    collecting.join(0.5)
    assert collecting.is_alive(), "the collector must wait for the registration's commit"
    release.set()
    registering.join()
    collecting.join(30)
    store.discard(staged)
    assert (paths.layer_dir(staged.id) / "diff" / "etc" / "motd").read_bytes() == b"hello\n"
    assert db.query("SELECT id FROM layers") and list(paths.links.iterdir())


def test_removed_layers_go_through_owned_scratch_space(images, store, paths, db):
    staged = store.stage(io.BytesIO(tree_tar(TREE)))
    with db.write() as tx:
        store.register(tx, staged)
    store.discard(staged)
    with db.write() as tx:
        tx.execute("DELETE FROM layers WHERE id = ?", (staged.id,))
    store.remove_files(staged.id)
    assert not paths.layer_dir(staged.id).exists()
    assert list(paths.links.iterdir()) == list(paths.tmp.iterdir()) == []
