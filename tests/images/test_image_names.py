"""Names and removal: tag, list, resolve (names, ids, prefixes), rmi, inspect, history."""

from __future__ import annotations

import itertools
import re

import pytest

from engine.errors import AmbiguousError, ConflictError, InvalidArgumentError, NotFoundError
from tests.images.conftest import add_container
from tests.images.tarballs import TREE, tree_tar

_count = itertools.count()


@pytest.fixture
def make_image(images, tmp_path):
    """Import a tarball; distinct content each time unless ``tree`` is given."""

    async def make(reference=None, tree=None, changes=()):
        path = tmp_path / f"{next(_count)}.tar"
        path.write_bytes(tree_tar(tree or {"unique": str(path).encode()}))
        return await images.import_(path, reference, changes=changes)

    return make


async def test_resolve_by_name_id_and_prefix(images, make_image):
    image = await make_image("app:v1")
    hex_id = image.id.removeprefix("sha256:")
    for ref in ("app:v1", image.id, hex_id, hex_id[:12], hex_id[:1], "sha256:" + hex_id[:5]):
        assert (await images.resolve(ref)).id == image.id
    with pytest.raises(NotFoundError, match=r'^no such image: "app" \(see berth images\)$'):
        await images.resolve("app")  # app:latest
    with pytest.raises(NotFoundError, match='no such image: "Not A Name"'):
        await images.resolve("Not A Name")


async def test_a_name_wins_over_an_id_prefix(images, make_image):
    first = await make_image()
    prefix = first.id[7:10]
    named = await make_image(prefix)  # a repository called like the start of first's id
    assert (await images.resolve(prefix)).id == named.id
    assert (await images.resolve(first.id[7:20])).id == first.id


async def test_ambiguous_prefix(images, make_image):
    ids = [(await make_image()).id[7:] for _ in range(20)]
    shared = next(i[0] for i in ids if sum(j[0] == i[0] for j in ids) > 1)
    count = sum(i[0] == shared for i in ids)
    with pytest.raises(AmbiguousError, match=f'prefix "{shared}" matches {count} images'):
        await images.resolve(shared)


async def test_tag_adds_and_moves_names(images, make_image):
    first, second = await make_image("app"), await make_image()
    assert (await images.tag("app", "other:1")).id == first.id
    assert (await images.resolve("other:1")).tags == ("app:latest", "other:1")
    await images.tag(second.id, "app")  # the name moves; first keeps its other name
    assert (await images.resolve("app")).id == second.id
    assert (await images.resolve(first.id)).tags == ("other:1",)
    with pytest.raises(NotFoundError):
        await images.tag("missing", "x")
    with pytest.raises(InvalidArgumentError):
        await images.tag("app", "Bad Name")


async def test_list_newest_first_with_dangling_images(images, make_image, db):
    old = await make_image("old:1", changes=["CMD a"])
    await images.tag("old:1", "old:2")
    dangling = await make_image()
    newest = await make_image("new")
    add_container(db, old.id)
    summaries = await images.list()
    assert [s.id for s in summaries] == [newest.id, dangling.id, old.id]
    assert [s.repo_tags for s in summaries] == [["new:latest"], [], ["old:1", "old:2"]]
    assert [s.containers for s in summaries] == [0, 0, 1]
    assert summaries[2].size == old.size > 0


async def test_rmi_untags_then_deletes(images, make_image, paths):
    image = await make_image("app", tree=TREE)
    await images.tag("app", "other:1")
    assert await images.remove("other:1") == ["Untagged: other:1"]
    assert await images.remove("app") == [
        "Untagged: app:latest",
        f"Deleted: {image.id}",
        f"Deleted: {image.layers[0]}",
    ]
    assert await images.list() == []
    assert not list(paths.layers.iterdir())
    assert not list(paths.links.iterdir())
    assert not list(paths.tmp.iterdir())


async def test_rmi_by_id_with_several_names_needs_force(images, make_image):
    image = await make_image("app")
    await images.tag("app", "other:1")
    with pytest.raises(ConflictError, match=r"has 2 names \(app:latest, other:1\).*rmi -f"):
        await images.remove(image.id[7:19])
    assert await images.remove(image.id, force=True) == [
        "Untagged: app:latest",
        "Untagged: other:1",
        f"Deleted: {image.id}",
        f"Deleted: {image.layers[0]}",
    ]


async def test_rmi_refuses_an_image_in_use(images, make_image, db, paths):
    image = await make_image("app")
    add_container(db, image.id, "web")
    short = image.id[7:19]
    expected = (
        f"unable to remove image app:latest ({short}): container 3f2a1b000000 (web) is using it; "
        "remove it first (berth rm) or use rmi -f"
    )
    with pytest.raises(ConflictError, match=f"^{re.escape(expected)}$"):
        await images.remove("app")
    with pytest.raises(ConflictError, match=f"unable to remove image {short}: container"):
        await images.remove(image.id)
    # Forced: the name goes, the image stays for its container, dangling.
    assert await images.remove("app", force=True) == ["Untagged: app:latest"]
    [summary] = await images.list()
    assert (summary.id, summary.repo_tags) == (image.id, [])
    assert images.layer_paths(image)[0].is_dir()


async def test_several_names_with_a_container_only_untag(images, make_image, db):
    image = await make_image("app")
    await images.tag("app", "other")
    add_container(db, image.id)
    assert await images.remove("other") == ["Untagged: other:latest"]
    assert (await images.resolve(image.id)).tags == ("app:latest",)


async def test_shared_layers_go_with_the_last_image(images, make_image, paths):
    first = await make_image("first", tree=TREE)
    second = await make_image("second", tree=TREE, changes=["CMD x"])
    [diff] = images.layer_paths(first)
    assert await images.remove("first") == ["Untagged: first:latest", f"Deleted: {first.id}"]
    assert (diff / "etc" / "motd").read_bytes() == b"hello\n"
    assert len(list(paths.links.iterdir())) == 1
    lines = await images.remove("second")
    assert lines[-1] == f"Deleted: {second.layers[0]}"
    assert not diff.exists() and not list(paths.links.iterdir())
    again = await make_image("again", tree=TREE)  # a removed layer can come back
    assert (images.layer_paths(again)[0] / "etc" / "motd").is_file()


async def test_layer_files_stay_while_a_row_names_them(images, make_image, paths):
    image = await make_image("app", tree=TREE)
    # A layer imported again between rmi's commit and its file removal keeps its files.
    images._layers.remove_files(image.layers[0])
    assert (images.layer_paths(image)[0] / "etc" / "motd").is_file()
    assert (paths.links / images.short_links(image)[0]).is_symlink()


async def test_inspect(images, make_image):
    image = await make_image("app:v1", tree=TREE, changes=["ENV A=1", "CMD sh"])
    details = await images.inspect("app:v1")
    assert details["Id"] == image.id
    assert details["RepoTags"] == ["app:v1"] and details["RepoDigests"] == []
    assert details["Created"] == image.created
    assert details["Size"] == image.size
    assert details["Os"] == "linux" and details["Architecture"]
    assert details["Config"] == {"Env": ["A=1"], "Cmd": ["/bin/sh", "-c", "sh"]}
    assert details["RootFS"] == {"Type": "layers", "Layers": list(image.layers)}
    assert details["Comment"].startswith("Imported from ")
    assert details["GraphDriver"]["Data"]["LowerDir"] == str(images.layer_paths(image)[0])


async def test_history(images, make_image):
    image = await make_image("app", tree=TREE)
    [row] = await images.history("app")
    assert row["Id"] == image.id and row["Tags"] == ["app:latest"]
    assert (row["Created"], row["CreatedBy"], row["Size"]) == (image.created, "", image.size)
    assert row["Comment"].startswith("Imported from ")
