"""An image service on a fresh engine root, without the rest of the engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.images import ImageService
from engine.paths import EnginePaths
from engine.state import Database
from tests.conftest import require_root


@pytest.fixture
def paths(tmp_path: Path) -> EnginePaths:
    require_root("layer extraction keeps owners, modes and device nodes (chown, mknod)")
    paths = EnginePaths(root=tmp_path / "root", runroot=tmp_path / "run")
    paths.ensure()
    return paths


@pytest.fixture
def db(paths: EnginePaths) -> Iterator[Database]:
    database = Database(paths.database)
    yield database
    database.close()


@pytest.fixture
def images(paths: EnginePaths, db: Database) -> ImageService:
    return ImageService(paths, db)


def add_container(db: Database, image_id: str, name: str = "user") -> str:
    """A containers row using ``image_id``, as the containers service would write it."""
    container_id = "3f2a1b" + "0" * 58
    with db.write() as tx:
        tx.execute(
            "INSERT INTO containers (id, name, image_id, image_ref, created, options, state)"
            " VALUES (?, ?, ?, ?, '2026-01-01T00:00:00.000000000Z', '{}', 'created')",
            (container_id, name, image_id, name),
        )
    return container_id
