"""The engine's entry point: the one object front ends hold."""

from __future__ import annotations

import os

from engine.containers.service import ContainerService
from engine.errors import PermissionError_
from engine.images import ImageService
from engine.network.service import NetworkService
from engine.paths import EnginePaths
from engine.state import Database
from engine.stats import StatsService
from engine.storage import space


class Engine:
    """The local engine: images and containers under one root, as async services."""

    def __init__(self, paths: EnginePaths) -> None:
        paths.ensure()
        self.paths = paths
        self.db = Database(paths.database)
        self.images = ImageService(paths, self.db)
        self.images.collect_leftovers()
        self.networks = NetworkService(paths, self.db)
        self.containers = ContainerService(paths, self.db, self.images, self.networks)
        self.containers.collect_leftovers()
        space.keep_reserve(paths.root)
        self.stats = StatsService(self.containers, paths.runtime_state)

    @classmethod
    def open(cls, root: str | None = None, runroot: str | None = None) -> Engine:
        """Open the engine at ``root``/``runroot`` (or BERTH_ROOT/BERTH_RUNROOT, or defaults)."""
        if os.geteuid() != 0:
            raise PermissionError_(
                "berth needs root to create containers: run it as root (sudo berth ...)"
            )
        return cls(EnginePaths.resolve(root, runroot))

    def close(self) -> None:
        self.db.close()
