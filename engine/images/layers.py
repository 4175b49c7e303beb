"""The layer store: each layer extracted once, named by its diffID, shared read-only.

A layer's id is ``sha256:`` + the sha256 of its uncompressed tar (the OCI diffID). Its
files live in ``layers/<hex>/diff``; ``l/<short>`` links to that directory so overlay
mount options stay short. A row in ``layers`` exists only once the files are complete.
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
from pathlib import Path
from typing import BinaryIO

from engine.images.extract import extract_layer
from engine.paths import EnginePaths
from engine.timestamps import now

_LINK_ALPHABET = string.ascii_uppercase + string.digits
_LINK_LENGTH = 26


class _Hashing:
    """Reads through to ``stream`` while hashing and counting every byte."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.digest.update(data)
        return data

    def drain(self) -> None:
        """tar readers stop at the end-of-archive blocks; the id covers every byte."""
        while self.read(1 << 20):
            pass


class LayerStore:
    def __init__(self, paths: EnginePaths) -> None:
        self._paths = paths

    def diff_path(self, layer_id: str) -> Path:
        return self._paths.layer_dir(layer_id) / "diff"

    def short_link(self, layer_id: str) -> str:
        return (self._paths.layer_dir(layer_id) / "link").read_text()

    def extract(self, stream: BinaryIO) -> tuple[str, int, Path]:
        """Extract a layer into scratch space: its id, size and the scratch directory.

        The caller registers it with :meth:`register` inside its write transaction.
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
        return "sha256:" + hashing.digest.hexdigest(), size, scratch

    def register(self, tx: sqlite3.Connection, layer_id: str, size: int, scratch: Path) -> None:
        """Move an extracted layer in place and record it, unless it is already there."""
        if tx.execute("SELECT 1 FROM layers WHERE id = ?", (layer_id,)).fetchone():
            shutil.rmtree(scratch, ignore_errors=True)
            return
        home = self._paths.layer_dir(layer_id)
        if home.exists():  # files of a removal that crashed after its commit
            shutil.rmtree(home)
        link = "".join(secrets.choice(_LINK_ALPHABET) for _ in range(_LINK_LENGTH))
        (scratch / "link").write_text(link)
        os.rename(scratch, home)
        os.symlink(f"../layers/{home.name}/diff", self._paths.links / link)
        tx.execute(
            "INSERT INTO layers (id, size, created) VALUES (?, ?, ?)", (layer_id, size, now())
        )

    def remove_files(self, layer_id: str) -> None:
        """Delete a layer's files; only after its row is gone (committed)."""
        home = self._paths.layer_dir(layer_id)
        with contextlib.suppress(FileNotFoundError):
            (self._paths.links / (home / "link").read_text()).unlink(missing_ok=True)
        shutil.rmtree(home, ignore_errors=True)
