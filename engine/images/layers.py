"""The layer store: each layer extracted once, named by its diffID, shared read-only.

A layer's id is ``sha256:`` + the sha256 of its uncompressed tar (the OCI diffID). Its
files live in ``layers/<hex>/diff``; ``l/<short>`` links to that directory so overlay
mount options stay short, and ``layers/<hex>/link`` holds the short name.

Order, for crashes and for other berth processes: a layer is extracted into scratch
space, then moved in place and its row inserted in one write transaction (the caller's,
which also inserts the image naming it, so no rmi can remove the layer in between).
Files are deleted only after the row is gone, under the same lock, so a layer that an
import registers again meanwhile is never deleted under it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import sqlite3
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from engine.images.extract import extract_layer
from engine.paths import EnginePaths
from engine.state import Database
from engine.timestamps import now

_LINK_ALPHABET = string.ascii_uppercase + string.digits
_LINK_LENGTH = 26
_DRAIN_CHUNK = 1 << 20


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

    def drain(self) -> None:
        """tar readers stop at the end-of-archive blocks; the id covers every byte."""
        while self.read(_DRAIN_CHUNK):
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

    def stage(self, stream: BinaryIO) -> StagedLayer:
        """Extract the tar read from ``stream`` into scratch space, hashing it on the way.

        Nothing is left behind when extraction fails. Pass the result to :meth:`register`
        inside a write transaction, then to :meth:`discard` whatever happened.
        """
        scratch = Path(tempfile.mkdtemp(prefix="layer-", dir=self._paths.tmp))
        try:
            (scratch / "diff").mkdir()
            hashing = _Hashing(stream)
            size = extract_layer(hashing, scratch / "diff")
            hashing.drain()
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        return StagedLayer("sha256:" + hashing.digest.hexdigest(), size, scratch)

    def register(self, tx: sqlite3.Connection, staged: StagedLayer) -> None:
        """Move a staged layer in place and record it, unless the store has it already."""
        if tx.execute("SELECT 1 FROM layers WHERE id = ?", (staged.id,)).fetchone():
            return
        home = self._paths.layer_dir(staged.id)
        if home.exists():  # files of a removal that crashed after its commit
            self._delete_files(home)
        link = "".join(secrets.choice(_LINK_ALPHABET) for _ in range(_LINK_LENGTH))
        (staged.scratch / "link").write_text(link)
        os.rename(staged.scratch, home)
        os.symlink(f"../layers/{home.name}/diff", self._paths.links / link)
        tx.execute(
            "INSERT INTO layers (id, size, created) VALUES (?, ?, ?)",
            (staged.id, staged.size, now()),
        )

    def discard(self, staged: StagedLayer) -> None:
        """Remove the scratch copy if it was not moved in (already stored, or rolled back)."""
        shutil.rmtree(staged.scratch, ignore_errors=True)

    def remove_files(self, layer_id: str) -> None:
        """Delete the files of a layer whose row the caller has deleted and committed."""
        home = self._paths.layer_dir(layer_id)
        trash = self._paths.tmp / f"removed-{home.name}-{secrets.token_hex(4)}"
        with self._db.write() as tx:
            if tx.execute("SELECT 1 FROM layers WHERE id = ?", (layer_id,)).fetchone():
                return  # imported again since: the files are in use once more
            try:
                os.rename(home, trash)
            except FileNotFoundError:
                return
        self._delete_files(trash)

    def _delete_files(self, home: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self._paths.links / (home / "link").read_text()).unlink(missing_ok=True)
        shutil.rmtree(home, ignore_errors=True)
