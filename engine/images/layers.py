"""The layer store: each layer extracted once, named by its diffID, shared read-only.

A layer's id is ``sha256:`` + the sha256 of its uncompressed tar (the OCI diffID). Its
files live in ``layers/<hex>/diff``; ``l/<short>`` links to that directory so overlay
mount options stay short, and ``layers/<hex>/link`` holds the short name.

Order, for crashes and for other berth processes: a layer is extracted into scratch
space, then moved in place and its row inserted in one write transaction (the caller's,
which also inserts the image naming it, so no rmi can remove the layer in between).
Files are deleted only after the row is gone, under the same lock, so a layer that an
import registers again meanwhile is never deleted under it. A layer directory no row
names (a crash, or a transaction rolled back, after the move) is collected the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import sqlite3
import string
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from engine.images.extract import extract_layer, record_layout, without_overlay_bookkeeping
from engine.images.tar_layout import LAYOUT_NAME, LayoutRecorder, rebuilt_tar, tar_size
from engine.linux import syscalls
from engine.paths import EnginePaths
from engine.state import Database
from engine.storage import scratch
from engine.storage.space import reported_as_no_space
from engine.timestamps import now

_LINK_ALPHABET = string.ascii_uppercase + string.digits
_LINK_LENGTH = 26
_DRAIN_CHUNK = 1 << 20
_LAYER_DIR = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class StagedLayer:
    """A layer extracted into scratch space, not yet part of the store."""

    id: str  # sha256:<hex> of the uncompressed tar
    size: int  # bytes of its regular files
    scratch: Path  # holds diff/; moved to layers/<hex> when registered


class _Hashing:
    """Reads through to ``stream`` while hashing every byte."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.digest.update(data)
        return data


def _drain(stream: BinaryIO) -> None:
    """tar readers stop at the end-of-archive blocks; the id covers every byte."""
    while stream.read(_DRAIN_CHUNK):
        pass


class LayerStore:
    def __init__(self, paths: EnginePaths, db: Database) -> None:
        self._paths = paths
        self._db = db

    def diff_path(self, layer_id: str) -> Path:
        """The layer's extracted files (an overlay lower directory)."""
        return self._paths.layer_dir(layer_id) / "diff"

    def short_link(self, layer_id: str) -> str:
        """The name of the layer's link in ``l/``: ``l/<name>`` is its diff directory."""
        return (self._paths.layer_dir(layer_id) / "link").read_text()

    def tar(self, layer_id: str) -> Iterator[bytes]:
        """The layer's tar exactly as it was stored (its sha256 is ``layer_id``), in chunks."""
        return rebuilt_tar(self._paths.layer_dir(layer_id), layer_id)

    def tar_size(self, layer_id: str) -> int:
        """The bytes of :meth:`tar`'s result, known without reading the layer's files."""
        return tar_size(self._paths.layer_dir(layer_id))

    def stage(self, stream: BinaryIO) -> StagedLayer:
        """Extract the tar read from ``stream`` into scratch space, hashing it on the way.

        Nothing is left behind when extraction fails; a full disk is NoSpaceError. Pass
        the results to :meth:`persist`, then each to :meth:`register` inside a write
        transaction, then to :meth:`discard` whatever happened.
        """
        with reported_as_no_space(self._paths.root):
            staging = scratch.new_dir(self._paths.tmp, "layer")
            try:
                (staging / "diff").mkdir()
                hashing = _Hashing(stream)
                with open(staging / LAYOUT_NAME, "wb") as layout:
                    recorder = LayoutRecorder(hashing, layout)
                    size = extract_layer(recorder, staging / "diff", recorder)
                    _drain(recorder)
                    recorder.close()
                self._write_link(staging)
            except BaseException:
                scratch.remove(staging)
                raise
        return StagedLayer("sha256:" + hashing.digest.hexdigest(), size, staging)

    def adopt(self, directory: Path, stream: BinaryIO) -> StagedLayer:
        """Stage ``directory`` itself as the layer whose tar ``stream`` was made from it
        (a build step's upper directory): the tar is hashed and its layout recorded,
        and the directory moved in, instead of extracting every file again."""
        with reported_as_no_space(self._paths.root):
            staging = scratch.new_dir(self._paths.tmp, "layer")
            try:
                hashing = _Hashing(stream)
                with open(staging / LAYOUT_NAME, "wb") as layout:
                    recorder = LayoutRecorder(hashing, layout)
                    size = record_layout(recorder, recorder)
                    _drain(recorder)
                    recorder.close()
                without_overlay_bookkeeping(directory)
                directory.rename(staging / "diff")
                self._write_link(staging)
            except BaseException:
                scratch.remove(staging)
                raise
        return StagedLayer("sha256:" + hashing.digest.hexdigest(), size, staging)

    @staticmethod
    def _write_link(staging: Path) -> None:
        link = "".join(secrets.choice(_LINK_ALPHABET) for _ in range(_LINK_LENGTH))
        (staging / "link").write_text(link)

    def persist(self, staged: Sequence[StagedLayer]) -> None:
        """Every file of the staged layers on disk, so their rows may commit as soon as
        they are moved in: one syncfs(2) for all of them (a pull stages several)."""
        if staged:
            with reported_as_no_space(self._paths.root):
                _sync_file_system(staged[0].scratch)

    def register(self, tx: sqlite3.Connection, staged: StagedLayer) -> None:
        """Move a staged layer in place and record it, unless the store has it already.

        The move is on disk before the row can commit: a row never names missing files.
        """
        if tx.execute("SELECT 1 FROM layers WHERE id = ?", (staged.id,)).fetchone():
            return
        home = self._paths.layer_dir(staged.id)
        if home.exists():  # files of a removal that crashed after its commit
            self._delete_files(home)
        os.rename(staged.scratch, home)
        link = (home / "link").read_text()
        os.symlink(f"../layers/{home.name}/diff", self._paths.links / link)
        _sync_directory(self._paths.layers)
        _sync_directory(self._paths.links)
        tx.execute(
            "INSERT INTO layers (id, size, created) VALUES (?, ?, ?)",
            (staged.id, staged.size, now()),
        )

    def discard(self, staged: StagedLayer) -> None:
        """Remove the scratch copy if it was not moved in (already stored, or failed before)."""
        scratch.remove(staged.scratch)

    def remove_files(self, layer_id: str) -> None:
        """Delete the files of a layer whose row the caller has deleted and committed."""
        with self._db.write() as tx:
            if tx.execute("SELECT 1 FROM layers WHERE id = ?", (layer_id,)).fetchone():
                return  # imported again since: the files are in use once more
            trash = self._to_trash([self._paths.layer_dir(layer_id).name])
        self._empty_trash(trash)

    def collect_orphans(self) -> None:
        """Delete the layer directories no row names: a crash between moving a layer in
        and committing its row, or a transaction rolled back after the move, leaves them.

        Costs a scandir and a query when there are none.
        """
        with os.scandir(self._paths.layers) as scan:
            on_disk = {entry.name for entry in scan if _LAYER_DIR.fullmatch(entry.name)}
        if on_disk <= self._stored(self._db.query("SELECT id FROM layers")):
            return
        # A registration between its move and its commit holds this lock: wait it out.
        with self._db.write() as tx:
            trash = self._to_trash(on_disk - self._stored(tx.execute("SELECT id FROM layers")))
        self._empty_trash(trash)

    @staticmethod
    def _stored(rows: Iterable[sqlite3.Row]) -> set[str]:
        return {row[0].removeprefix("sha256:") for row in rows}

    def _to_trash(self, names: Iterable[str]) -> Path | None:
        """Move the layer directories ``names`` out of the store, under the caller's lock,
        into scratch space that a crash leaves for the next collector; None if none were."""
        trash = None
        for name in names:
            trash = trash or scratch.new_dir(self._paths.tmp, "removed")
            with contextlib.suppress(FileNotFoundError):
                os.rename(self._paths.layers / name, trash / name)
        return trash

    def _empty_trash(self, trash: Path | None) -> None:
        if trash is None:
            return
        for home in trash.iterdir():
            self._delete_files(home)
        scratch.remove(trash)

    def _delete_files(self, home: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self._paths.links / (home / "link").read_text()).unlink(missing_ok=True)
        scratch.remove(home)


def _sync_file_system(directory: Path) -> None:
    """Every file just extracted, on disk: one syncfs(2), not an fsync per file."""
    with _opened(directory) as fd:
        syscalls.syncfs(fd)


def _sync_directory(directory: Path) -> None:
    """Entries just made in ``directory`` (a rename, a symlink), on disk."""
    with _opened(directory) as fd:
        os.fsync(fd)


@contextlib.contextmanager
def _opened(directory: Path) -> Iterator[int]:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)
