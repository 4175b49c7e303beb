"""Container rows: lookup by name, id or id prefix, and state changes."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from engine.containers.model import Container, CreateOptions, stored_options
from engine.errors import AmbiguousError, ConflictError, NotFoundError
from engine.state import Database
from engine.volumes.model import MountPoint


class ContainerStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def insert(
        self, container_id: str, name: str, image_id: str, options: CreateOptions,
        args: list[str], created: str, run_by: str | None = None, runtime: str = "berth",
        mounts: Sequence[MountPoint] = (),
    ) -> None:  # fmt: skip
        """The container's row and its mounts, in one transaction."""
        try:
            with self._db.write() as tx:
                tx.execute(
                    "INSERT INTO containers (id, name, image_id, image_ref, created, options,"
                    " state, run_by, runtime) VALUES (?, ?, ?, ?, ?, ?, 'created', ?, ?)",
                    (container_id, name, image_id, options.image, created,
                     stored_options(options, args), run_by, runtime),
                )  # fmt: skip
                tx.executemany(
                    "INSERT INTO container_mounts (container_id, position, spec, volume)"
                    " VALUES (?, ?, ?, ?)",
                    [(container_id, position, mount.to_json(),
                      mount.source if mount.type == "volume" else None)
                     for position, mount in enumerate(mounts)],
                )  # fmt: skip
        except sqlite3.IntegrityError:
            owner = self._db.query("SELECT id FROM containers WHERE name = ?", (name,))
            if not owner:
                raise
            raise ConflictError(
                f'the name "{name}" is already in use by container {owner[0]["id"][:12]}: '
                "remove it (berth rm) or choose another name"
            ) from None

    def mounts(self, container_id: str) -> list[MountPoint]:
        """The container's mounts, in mount order."""
        rows = self._db.query(
            "SELECT spec FROM container_mounts WHERE container_id = ? ORDER BY position",
            (container_id,),
        )
        return [MountPoint.from_json(row["spec"]) for row in rows]

    def ids(self) -> set[str]:
        return {row["id"] for row in self._db.query("SELECT id FROM containers")}

    def name_taken(self, name: str) -> bool:
        return bool(self._db.query("SELECT 1 FROM containers WHERE name = ?", (name,)))

    def all(self) -> list[Container]:
        rows = self._db.query("SELECT * FROM containers ORDER BY created DESC")
        return [Container.from_row(row) for row in rows]

    def get(self, container_id: str) -> Container | None:
        rows = self._db.query("SELECT * FROM containers WHERE id = ?", (container_id,))
        return Container.from_row(rows[0]) if rows else None

    def resolve(self, ref: str) -> Container:
        """The container ``ref`` names: exact id, then exact name, then a unique id prefix."""
        ref = ref.removeprefix("/")
        rows = self._db.query("SELECT * FROM containers WHERE id = ? OR name = ?", (ref, ref))
        if not rows and ref and all(c in "0123456789abcdef" for c in ref):
            rows = self._db.query(
                "SELECT * FROM containers WHERE id >= ? AND id < ? ORDER BY id",
                (ref, ref + "g"),
            )
            if len(rows) > 1:
                raise AmbiguousError(
                    f'container id prefix "{ref}" matches {len(rows)} containers: '
                    "give more characters"
                )
        if not rows:
            raise NotFoundError(f'no such container: "{ref}" (see berth ps -a)')
        # An exact id beats a name that happens to equal another container's id.
        rows.sort(key=lambda row: row["id"] != ref)
        return Container.from_row(rows[0])

    def update(self, container_id: str, **fields: object) -> None:
        columns = ", ".join(f"{column} = ?" for column in fields)
        with self._db.write() as tx:
            tx.execute(
                f"UPDATE containers SET {columns} WHERE id = ?", (*fields.values(), container_id)
            )

    def rename(self, container_id: str, name: str) -> None:
        try:
            self.update(container_id, name=name)
        except sqlite3.IntegrityError:
            raise ConflictError(
                f'the name "{name}" is already in use: remove or rename that container first'
            ) from None

    def delete(self, container_id: str) -> None:
        with self._db.write() as tx:
            tx.execute("DELETE FROM containers WHERE id = ?", (container_id,))
