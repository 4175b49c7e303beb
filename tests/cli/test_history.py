"""berth history: Docker's columns, truncation, -q, -H and --format."""

from __future__ import annotations

import json

from tests.images.tarballs import TREE, tree_tar


def ok(berth, *args: str, input: str | None = None) -> str:
    result = berth(*args, input=input)
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_history_of_the_starter(engine, berth):
    image = await engine.images.resolve("busybox")
    lines = ok(berth, "history", "busybox").splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    [row] = lines[1:]
    assert row.split()[0] == image.short_id
    assert "berth starter (from /bin/busybox)" in row and row.rstrip().endswith("MB")
    assert ok(berth, "history", "-q", "busybox").split() == [image.short_id]
    assert ok(berth, "history", "-q", "--no-trunc", "busybox").split() == [image.id]


async def test_raw_values_and_templates(engine, berth, tmp_path):
    tar = tmp_path / "tree.tar"
    tar.write_bytes(tree_tar(TREE))
    ok(berth, "import", "-m", "from a\ttab", str(tar), "tree")
    image = await engine.images.resolve("tree")
    template = "{{.ID}}|{{.CreatedSince}}|{{.Size}}|{{.Comment}}"
    raw = ok(berth, "history", "-H=false", "--no-trunc", "--format", template, "tree")
    assert raw == f"{image.id}|{image.created}|{image.size}|from a tab\n"
    rows = ok(berth, "history", "--format", "{{json .}}", "tree").splitlines()
    assert set(json.loads(rows[0])) == {
        "ID", "CreatedSince", "CreatedAt", "CreatedBy", "Size", "Comment",
    }  # fmt: skip


async def test_no_such_image(berth):
    result = berth("history", "nothere")
    assert result.returncode == 1
    assert result.stderr == 'berth: no such image: "nothere" (see berth images)\n'
