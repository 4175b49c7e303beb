"""The engine's public surface: the one module front ends import, besides engine.errors.

The CLI, the TUI and any later front end hold an :class:`Engine` and call its services'
coroutines; everything else they need is re-exported here: the value types those
coroutines return, the parsers that check a user's input the way the engine will, the
attach session that drives a terminal, and Docker's wording of durations, sizes and
container states. Nothing below this module is a front end's business; the import
contracts in pyproject.toml ([tool.importlinter]) hold every front end to it.
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import TYPE_CHECKING

from engine import humanize
from engine.attach.client import AttachClient
from engine.attach.detach_keys import DEFAULT_DETACH_KEYS, parse_detach_keys
from engine.attach.terminal import SessionEnd, SessionOptions, run_session, terminal_size
from engine.containers.environment import read_env_file, resolve_user_entries
from engine.containers.limits import FLAGS as LIMIT_FLAGS
from engine.containers.limits import in_effect as limits_in_effect
from engine.containers.limits import parse as parse_limit
from engine.containers.logs import LogEntry, parse_tail, parse_time_filter
from engine.containers.model import Container, CreateOptions
from engine.containers.service import ContainerService
from engine.containers.status import container_status
from engine.errors import PermissionError_
from engine.files.service import ContainerFiles
from engine.images import Image, ImageService, ImageSummary
from engine.images.layer_files import LayerChange, LayerInfo, MergedEntry
from engine.images.progress import Operation, Progress
from engine.monitor.restart import RestartPolicy
from engine.network.model import (
    CONTAINER_PREFIX,
    DEFAULT_NETWORK,
    HOST_NETWORK,
    NO_NETWORK,
    Network,
    PortMapping,
)
from engine.network.ports import parse as parse_port_spec
from engine.network.service import NetworkService
from engine.paths import DEFAULT_ROOT, EnginePaths
from engine.signals import parse_signal
from engine.state import Database
from engine.stats import StatsService
from engine.stats.reading import ContainerStats
from engine.storage import space
from engine.system import (
    ContainerUsage,
    DiskUsage,
    ImageUsage,
    PruneFilter,
    SystemService,
    VolumeSpace,
)
from engine.timestamps import parse as parse_timestamp
from engine.units import INT64_MAX, parse_size
from engine.volumes.model import MountPoint, Volume, VolumeUsage
from engine.volumes.service import VolumeService

if TYPE_CHECKING:
    from engine.build.service import BuildService

__all__ = [  # noqa: RUF022 (grouped by what they are, not sorted)
    # the engine and its root
    "Engine", "engine_root",
    # containers
    "Container", "CreateOptions", "LogEntry", "RestartPolicy", "container_status",
    "read_env_file", "resolve_user_entries", "parse_tail", "parse_time_filter",
    "LIMIT_FLAGS", "parse_limit", "limits_in_effect", "parse_signal",
    # images
    "Image", "ImageSummary", "LayerChange", "LayerInfo", "MergedEntry",
    # long image operations (pull, push, load): progress to iterate, then a result
    "Operation", "Progress",
    # networks
    "Network", "PortMapping", "parse_port_spec",
    "DEFAULT_NETWORK", "HOST_NETWORK", "NO_NETWORK", "CONTAINER_PREFIX",
    # volumes
    "Volume", "VolumeUsage", "MountPoint",
    # builds: their options, their progress, their failure
    "BuildOptions", "BuildEvent", "BuildError", "parse_build_args", "parse_build_secrets",  # noqa: F822 (module __getattr__)
    # disk usage and prune
    "DiskUsage", "ImageUsage", "ContainerUsage", "VolumeSpace", "PruneFilter",
    # stats
    "ContainerStats",
    # attach sessions on the caller's terminal
    "AttachClient", "SessionOptions", "SessionEnd", "run_session", "terminal_size",
    "DEFAULT_DETACH_KEYS", "parse_detach_keys",
    # Docker's words and numbers
    "humanize", "parse_timestamp", "parse_size", "INT64_MAX",
]  # fmt: skip


class Engine:
    """The local engine: images and containers under one root, as async services."""

    def __init__(self, paths: EnginePaths) -> None:
        paths.ensure()
        self.paths = paths
        self.db = Database(paths.database)
        self.images = ImageService(paths, self.db)
        self.images.collect_leftovers()
        self.networks = NetworkService(paths, self.db)
        self.volumes = VolumeService(paths, self.db)
        self.containers = ContainerService(paths, self.db, self.images, self.networks, self.volumes)
        self.containers.collect_leftovers()
        self.files = ContainerFiles(paths, self.containers, self.images)
        space.keep_reserve(paths.root)
        self.stats = StatsService(self.containers, paths.runroot)
        self.system = SystemService(
            paths, self.db, self.images, self.containers, self.networks, self.volumes
        )

    @classmethod
    def open(cls, root: str | None = None, runroot: str | None = None) -> Engine:
        """Open the engine at ``root``/``runroot`` (or BERTH_ROOT/BERTH_RUNROOT, or defaults)."""
        if os.geteuid() != 0:
            raise PermissionError_(
                "berth needs root to create containers: run it as root (sudo berth ...)"
            )
        return cls(EnginePaths.resolve(root, runroot))

    @cached_property
    def build(self) -> BuildService:
        """``berth build``; its modules load on first use, not with every command."""
        from engine.build.service import BuildService

        return BuildService(self.paths, self.db, self.images, self.containers)

    def close(self) -> None:
        self.db.close()


_BUILD_NAMES = {
    "BuildOptions": ("builder", "BuildOptions"), "BuildError": ("builder", "BuildError"),
    "BuildEvent": ("events", "BuildEvent"), "parse_build_args": ("service", "build_args"),
    "parse_build_secrets": ("service", "secrets"),
}  # fmt: skip


def __getattr__(name: str) -> object:
    """The build's names, imported only when a front end asks for one (not when the import
    system probes this module for ``__path__`` and the like)."""
    if name not in _BUILD_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module, attribute = _BUILD_NAMES[name]
    return getattr(importlib.import_module(f"engine.build.{module}"), attribute)


def engine_root(root: str | None = None, runroot: str | None = None) -> str:
    """The engine root that ``--root`` (or BERTH_ROOT, or the default) names, for messages."""
    try:
        return str(EnginePaths.resolve(root, runroot).root)
    except OSError:  # a relative root, and the working directory is gone
        return root or os.environ.get("BERTH_ROOT") or DEFAULT_ROOT
