"""Volume rows, and which containers' mounts reference each volume."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping

from engine.errors import ConflictError
from engine.paths import EnginePaths
from engine.state import Database
from engine.volumes.model import Volume

# the names of the containers whose mounts reference a volume
_USER_NAMES = (
    "SELECT DISTINCT c.name FROM container_mounts m JOIN containers c ON c.id = m.container_id"
    " WHERE m.volume = ? ORDER BY c.name"
)


class VolumeStore:
    def __init__(self, paths: EnginePaths, db: Database) -> None:
        self._paths = paths
        self._db = db

    def insert(self, volume: Volume) -> bool:
        """Add ``volume``'s row; False, with nothing written, if its name is taken."""
        try:
            with self._db.write() as tx:
                tx.execute(
                    "INSERT INTO volumes (name, driver, labels, options, created, anonymous)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (volume.name, volume.driver, json.dumps(volume.labels),
                     json.dumps(volume.options), volume.created, int(volume.anonymous)),
                )  # fmt: skip
        except sqlite3.IntegrityError:
            return False
        return True

    def find(self, name: str) -> Volume | None:
        rows = self._db.query("SELECT * FROM volumes WHERE name = ?", (name,))
        return self._volume(rows[0]) if rows else None

    def all(self) -> list[Volume]:
        return [self._volume(row) for row in self._db.query("SELECT * FROM volumes ORDER BY name")]

    def users(self) -> dict[str, list[str]]:
        """Volume name -> ids of the containers whose mounts reference it (in use)."""
        users: dict[str, list[str]] = {}
        rows = self._db.query(
            "SELECT DISTINCT volume, container_id FROM container_mounts"
            " WHERE volume IS NOT NULL ORDER BY container_id"
        )
        for row in rows:
            users.setdefault(row["volume"], []).append(row["container_id"])
        return users

    def delete(self, name: str, before: Callable[[], None]) -> None:
        """Remove the row, unless a container references the volume; ``before`` runs once
        it is known unused, in the same transaction, so no create can take the volume
        between the check and the row's going (the service unmounts its file system)."""
        with self._db.write() as tx:
            rows = tx.execute(_USER_NAMES, (name,)).fetchall()
            if rows:
                raise _in_use(name, [row[0] for row in rows])
            before()
            tx.execute("DELETE FROM volumes WHERE name = ?", (name,))

    def mark_populated(self, name: str) -> None:
        with self._db.write() as tx:
            tx.execute("UPDATE volumes SET populated = 1 WHERE name = ?", (name,))

    def _volume(self, row: Mapping) -> Volume:
        return Volume(
            name=row["name"], driver=row["driver"],
            mountpoint=self._paths.volume_data(row["name"]),
            created=row["created"], labels=json.loads(row["labels"]),
            options=json.loads(row["options"]), anonymous=bool(row["anonymous"]),
            populated=bool(row["populated"]),
        )  # fmt: skip


def _in_use(name: str, containers: list[str]) -> ConflictError:
    return ConflictError(
        f'volume "{name}" is in use by container(s) {", ".join(containers)}: '
        "remove them first (berth rm)"
    )
