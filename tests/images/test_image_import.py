"""docker import: compressions, streams, content addressing, one copy per layer."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import sqlite3
import sys
import threading
import types

import pytest

from engine.errors import InvalidArgumentError, NotFoundError
from engine.images import layers
from engine.linux import syscalls
from tests.images.tarballs import TREE, tree_tar

COMPRESSIONS = {"tar": lambda b: b, "gzip": gzip.compress, "bzip2": bz2.compress,
                "xz": lzma.compress}  # fmt: skip


@pytest.mark.parametrize("kind", COMPRESSIONS)
async def test_import_any_compression(images, tmp_path, kind):
    raw = tree_tar(TREE)
    path = tmp_path / "rootfs.tar"  # the name says nothing; the magic bytes decide
    path.write_bytes(COMPRESSIONS[kind](raw))
    image = await images.import_(str(path), "mine:v1", changes=["CMD sh"])
    assert image.layers == ("sha256:" + hashlib.sha256(raw).hexdigest(),)
    assert image.tags == ("mine:v1",)
    assert image.config["config"] == {"Cmd": ["/bin/sh", "-c", "sh"]}
    assert image.size == len(b"hello\n") + len(b"#!/bin/sh\n")
    [diff] = images.layer_paths(image)
    assert (diff / "etc" / "motd").read_bytes() == b"hello\n"


async def test_the_stored_config(images, db, tmp_path):
    path = tmp_path / "a.tar"
    path.write_bytes(tree_tar(TREE))
    image = await images.import_(path, message="my rootfs")
    [row] = db.query("SELECT config, created FROM images")
    assert image.id == "sha256:" + hashlib.sha256(row["config"]).hexdigest()
    config = json.loads(row["config"])
    assert config["rootfs"] == {"type": "layers", "diff_ids": list(image.layers)}
    assert config["os"] == "linux" and config["config"] == {}  # no Cmd, as docker import
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", config["created"])
    assert config["history"] == [
        {"created": config["created"], "created_by": "", "comment": "my rootfs"}
    ]
    assert image.created == row["created"] == config["created"]


class _Trickle(io.RawIOBase):
    """A stream that cannot seek and hands out at most 3 bytes per read, like a slow pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = 3 if size < 0 else min(size, 3)
        chunk, self._data = self._data[:size], self._data[size:]
        return chunk


async def test_import_from_a_non_seekable_stream(images):
    raw = tree_tar(TREE)
    image = await images.import_(_Trickle(gzip.compress(raw)), "trickled")
    assert image.layers == ("sha256:" + hashlib.sha256(raw).hexdigest(),)
    assert image.config["history"][0]["comment"] == "Imported from -"


async def test_import_from_stdin_pipe(images, monkeypatch):
    raw = tree_tar(TREE)
    reader, writer = os.pipe()
    feeder = threading.Thread(target=_feed, args=(writer, lzma.compress(raw)))
    feeder.start()
    with open(reader, "rb") as pipe:
        monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=pipe))
        image = await images.import_("-", "piped")
    feeder.join()
    assert image.layers == ("sha256:" + hashlib.sha256(raw).hexdigest(),)
    assert image.tags == ("piped:latest",)


def _feed(fd: int, data: bytes) -> None:
    with open(fd, "wb") as pipe:
        pipe.write(data)


async def test_same_layer_is_stored_once(images, paths, db, tmp_path):
    path = tmp_path / "a.tar"
    path.write_bytes(tree_tar(TREE))
    first = await images.import_(path, "one")
    second = await images.import_(path, "two", changes=["CMD x"])
    assert first.id != second.id and first.layers == second.layers
    assert len(list(paths.layers.iterdir())) == 1
    assert len(list(paths.links.iterdir())) == 1
    assert len(db.query("SELECT id FROM layers")) == 1
    assert not list(paths.tmp.iterdir())


async def test_short_links_point_at_the_diff(images, paths, tmp_path):
    path = tmp_path / "a.tar"
    path.write_bytes(tree_tar(TREE))
    image = await images.import_(path)
    [link] = images.short_links(image)
    [diff] = images.layer_paths(image)
    assert re.fullmatch(r"[A-Z0-9]{26}", link)
    assert os.readlink(paths.links / link) == f"../layers/{diff.parent.name}/diff"
    assert (paths.links / link).resolve() == diff.resolve()
    assert diff == paths.layer_dir(image.layers[0]) / "diff"


def test_concurrent_imports_of_one_layer(images, paths, db, tmp_path):
    path = tmp_path / "a.tar"
    path.write_bytes(tree_tar(TREE))
    errors = []
    start = threading.Barrier(4)

    def run(name: str) -> None:
        start.wait()
        try:
            images._import(str(path), str(path), name, {}, "test")
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(f"t{i}:latest",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(db.query("SELECT id FROM layers")) == 1
    assert len(list(paths.layers.iterdir())) == 1
    assert len(list(paths.links.iterdir())) == 1
    assert len(db.query("SELECT name FROM tags")) == 4
    assert not list(paths.tmp.iterdir())


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (b"this is not a tar archive" * 100, InvalidArgumentError, "not a valid tar archive"),
        (b"", InvalidArgumentError, "not a valid tar archive"),
        (gzip.compress(tree_tar(TREE))[:-40], InvalidArgumentError, "is not valid gzip data"),
        (b"BZh9" + b"junk" * 50, InvalidArgumentError, "is not valid bzip2 data"),
        (b"\x28\xb5\x2f\xfd" + b"zstd frame", InvalidArgumentError, "is not valid zstd data"),
    ],
    ids=["junk", "empty", "truncated-gzip", "corrupt-bzip2", "corrupt-zstd"],
)
async def test_bad_tarballs(images, paths, db, tmp_path, content, error, message):
    path = tmp_path / "bad.tar"
    path.write_bytes(content)
    with pytest.raises(error, match=message):
        await images.import_(path, "bad")
    assert not list(paths.tmp.iterdir())
    assert not list(paths.layers.iterdir())
    assert db.query("SELECT * FROM images") == []


async def test_bad_sources(images, tmp_path):
    with pytest.raises(NotFoundError, match=r'^no such file: ".*missing\.tar"$'):
        await images.import_(str(tmp_path / "missing.tar"))
    with pytest.raises(InvalidArgumentError, match="is a directory"):
        await images.import_(tmp_path)
    with pytest.raises(InvalidArgumentError, match="cannot import from a URL"):
        await images.import_("https://example.com/rootfs.tar")
    with pytest.raises(InvalidArgumentError, match="invalid reference format"):
        await images.import_(tmp_path, "Bad:Name")  # checked before any work
    with pytest.raises(InvalidArgumentError, match="unsupported --change"):
        await images.import_(tmp_path, changes=["RUN x"])


async def test_layer_files_are_on_disk_before_their_row_commits(images, paths, monkeypatch):
    events = []

    def committed() -> bool:
        with sqlite3.connect(paths.database) as other:  # another process's view
            return bool(other.execute("SELECT 1 FROM layers").fetchall())

    def sync_file_system(directory):
        assert (directory / "diff" / "etc" / "motd").read_bytes() == b"hello\n"
        assert (directory / "link").read_text()
        events.append(("syncfs", committed()))
        real_sync(directory)

    def sync_directory(directory):
        events.append((directory.name, committed(), len(list(directory.iterdir()))))
        real_sync_directory(directory)

    real_sync, real_sync_directory = layers._sync_file_system, layers._sync_directory
    monkeypatch.setattr(layers, "_sync_file_system", sync_file_system)
    monkeypatch.setattr(layers, "_sync_directory", sync_directory)
    await images.import_(io.BytesIO(tree_tar(TREE)))
    assert events == [("syncfs", False), ("layers", False, 1), ("l", False, 1)]
    assert committed()


def test_syncfs_reports_errors(tmp_path):
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        syscalls.syncfs(fd)
    finally:
        os.close(fd)
    with pytest.raises(OSError, match="Bad file descriptor"):
        syscalls.syncfs(fd)
