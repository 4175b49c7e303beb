"""The build cache: a step's key to the image it made, kept in the database.

A step's key is a digest of the image it ran on, the step as written after expansion,
the build args it used and, for COPY and ADD, its sources' digest: the same key on a
later build means the same result, so that image is taken again instead of a new run.
Entries go with their image (a removed image takes its entries along).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from engine.state import Database
from engine.timestamps import now


def step_key(parent_id: str, step: str, args: Mapping[str, str], sources: str = "") -> str:
    """The cache key of ``step`` on image ``parent_id``."""
    material = json.dumps([parent_id, step, sorted(args.items()), sources])
    return "sha256:" + hashlib.sha256(material.encode()).hexdigest()


class BuildCache:
    def __init__(self, db: Database) -> None:
        self._db = db

    def find(self, key: str) -> str | None:
        """The image a step with ``key`` made, if it is still there; marked as used."""
        with self._db.write() as tx:
            row = tx.execute("SELECT image_id FROM build_cache WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            tx.execute("UPDATE build_cache SET last_used = ? WHERE key = ?", (now(), key))
            return row["image_id"]

    def record(self, key: str, image_id: str, parent_id: str, description: str) -> None:
        stamp = now()
        with self._db.write() as tx:
            tx.execute(
                "INSERT OR REPLACE INTO build_cache"
                " (key, image_id, parent_id, description, created, last_used)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (key, image_id, parent_id, description, stamp, stamp),
            )


def usage(db: Database) -> tuple[int, int]:
    """(cache entries, bytes of the layers only a build's intermediate images hold)."""
    entries = db.query("SELECT COUNT(*) FROM build_cache")[0][0]
    rows = db.query(
        "SELECT l.id, l.size, il.image_id IN (SELECT parent_id FROM build_cache)"
        " AND il.image_id NOT IN (SELECT image_id FROM tags)"
        " AND il.image_id NOT IN (SELECT image_id FROM containers) AS cached"
        " FROM image_layers il JOIN layers l ON l.id = il.layer_id"
    )
    held: dict[str, int] = {}
    kept: set[str] = set()
    for layer, size, cached in rows:
        if cached:
            held[layer] = size
        else:
            kept.add(layer)
    return entries, sum(size for layer, size in held.items() if layer not in kept)


def intermediate_images(db: Database) -> list[str]:
    """The untagged images later cached steps were built on, that no container uses."""
    return [row[0] for row in db.query(
        "SELECT DISTINCT parent_id FROM build_cache"
        " WHERE parent_id NOT IN (SELECT image_id FROM tags)"
        " AND parent_id NOT IN (SELECT image_id FROM containers)"
    )]  # fmt: skip


def forget(db: Database) -> int:
    """Drop every cache entry; how many there were."""
    with db.write() as tx:
        return tx.execute("DELETE FROM build_cache").rowcount
