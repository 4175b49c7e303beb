"""The engine's public surface: the one module front ends import, besides engine.errors.

The CLI, the TUI and any later front end hold an :class:`Engine` and call its services'
coroutines; everything else they need is re-exported here: the value types those
coroutines return, the parsers that check a user's input the way the engine will, the
attach session that drives a terminal, and Docker's wording of durations, sizes and
container states. Nothing below this module is a front end's business; the import
contracts in pyproject.toml ([tool.importlinter]) hold every front end to it.
"""

from __future__ import annotations

import importlib
import os
from functools import cached_property
from typing import TYPE_CHECKING

from engine.errors import PermissionError_
from engine.paths import DEFAULT_ROOT, EnginePaths
from engine.storage import space

if TYPE_CHECKING:
    from engine.build.service import BuildService
    from engine.containers.service import ContainerService
    from engine.files.service import ContainerFiles
    from engine.images import ImageService
    from engine.network.service import NetworkService
    from engine.state import Database
    from engine.stats import StatsService
    from engine.system import SystemService
    from engine.volumes.service import VolumeService

#: Every name below, with the module it comes from: a front end's ``from engine.api import
#: X`` loads X's module alone (module ``__getattr__``), so ``berth ps`` never imports the
#: build, the registry or the runtime. ``humanize`` and ``space`` are modules themselves.
_EXPORTS: dict[str, tuple[str, str | None]] = {
    "humanize": ("engine.humanize", None),
    "AttachClient": ("engine.attach.client", "AttachClient"),
    "DEFAULT_DETACH_KEYS": ("engine.attach.detach_keys", "DEFAULT_DETACH_KEYS"),
    "parse_detach_keys": ("engine.attach.detach_keys", "parse_detach_keys"),
    "SessionEnd": ("engine.attach.terminal", "SessionEnd"),
    "SessionOptions": ("engine.attach.terminal", "SessionOptions"),
    "run_session": ("engine.attach.terminal", "run_session"),
    "terminal_size": ("engine.attach.terminal", "terminal_size"),
    "read_env_file": ("engine.containers.environment", "read_env_file"),
    "resolve_user_entries": ("engine.containers.environment", "resolve_user_entries"),
    "LIMIT_FLAGS": ("engine.containers.limits", "FLAGS"),
    "limits_in_effect": ("engine.containers.limits", "in_effect"),
    "parse_limit": ("engine.containers.limits", "parse"),
    "LogEntry": ("engine.containers.logs", "LogEntry"),
    "parse_tail": ("engine.containers.logs", "parse_tail"),
    "parse_time_filter": ("engine.containers.logs", "parse_time_filter"),
    "Container": ("engine.containers.model", "Container"),
    "CreateOptions": ("engine.containers.model", "CreateOptions"),
    "container_status": ("engine.containers.status", "container_status"),
    "Image": ("engine.images", "Image"),
    "ImageSummary": ("engine.images", "ImageSummary"),
    "LayerChange": ("engine.images.layer_files", "LayerChange"),
    "LayerInfo": ("engine.images.layer_files", "LayerInfo"),
    "MergedEntry": ("engine.images.layer_files", "MergedEntry"),
    "Operation": ("engine.images.progress", "Operation"),
    "Progress": ("engine.images.progress", "Progress"),
    "RestartPolicy": ("engine.monitor.restart", "RestartPolicy"),
    "start_monitor_ahead": ("engine.monitor.launcher", "start_ahead"),
    "CONTAINER_PREFIX": ("engine.network.model", "CONTAINER_PREFIX"),
    "DEFAULT_NETWORK": ("engine.network.model", "DEFAULT_NETWORK"),
    "HOST_NETWORK": ("engine.network.model", "HOST_NETWORK"),
    "NO_NETWORK": ("engine.network.model", "NO_NETWORK"),
    "Network": ("engine.network.model", "Network"),
    "PortMapping": ("engine.network.model", "PortMapping"),
    "parse_port_spec": ("engine.network.ports", "parse"),
    "parse_signal": ("engine.signals", "parse_signal"),
    "ContainerStats": ("engine.stats.reading", "ContainerStats"),
    "ContainerUsage": ("engine.system", "ContainerUsage"),
    "DiskUsage": ("engine.system", "DiskUsage"),
    "ImageUsage": ("engine.system", "ImageUsage"),
    "PruneFilter": ("engine.system", "PruneFilter"),
    "VolumeSpace": ("engine.system", "VolumeSpace"),
    "parse_timestamp": ("engine.timestamps", "parse"),
    "INT64_MAX": ("engine.units", "INT64_MAX"),
    "parse_size": ("engine.units", "parse_size"),
    "MountPoint": ("engine.volumes.model", "MountPoint"),
    "Volume": ("engine.volumes.model", "Volume"),
    "VolumeUsage": ("engine.volumes.model", "VolumeUsage"),
    "BuildOptions": ("engine.build.builder", "BuildOptions"),
    "BuildError": ("engine.build.builder", "BuildError"),
    "BuildEvent": ("engine.build.events", "BuildEvent"),
    "parse_build_args": ("engine.build.service", "build_args"),
    "parse_build_secrets": ("engine.build.service", "secrets"),
}

__all__ = [  # noqa: RUF022, F822 (grouped by what they are; module __getattr__ has them)
    # the engine and its root
    "Engine", "engine_root",
    # containers
    "Container", "CreateOptions", "LogEntry", "RestartPolicy", "container_status",
    "read_env_file", "resolve_user_entries", "parse_tail", "parse_time_filter",
    "LIMIT_FLAGS", "parse_limit", "limits_in_effect", "parse_signal", "start_monitor_ahead",
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
    "BuildOptions", "BuildEvent", "BuildError", "parse_build_args", "parse_build_secrets",
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
    """The local engine: images and containers under one root, as async services.

    Each service is built on first use, with its modules: a command pays for the
    services it touches. Opening one that keeps leftovers of killed commands (images,
    containers) collects them then.
    """

    def __init__(self, paths: EnginePaths) -> None:
        paths.ensure()
        self.paths = paths
        space.keep_reserve(paths.root)

    @classmethod
    def open(cls, root: str | None = None, runroot: str | None = None) -> Engine:
        """Open the engine at ``root``/``runroot`` (or BERTH_ROOT/BERTH_RUNROOT, or defaults)."""
        if os.geteuid() != 0:
            raise PermissionError_(
                "berth needs root to create containers: run it as root (sudo berth ...)"
            )
        return cls(EnginePaths.resolve(root, runroot))

    @cached_property
    def db(self) -> Database:
        from engine.state import Database

        return Database(self.paths.database)

    @cached_property
    def images(self) -> ImageService:
        from engine.images import ImageService

        images = ImageService(self.paths, self.db)
        images.collect_leftovers()
        return images

    @cached_property
    def networks(self) -> NetworkService:
        from engine.network.service import NetworkService

        return NetworkService(self.paths, self.db)

    @cached_property
    def volumes(self) -> VolumeService:
        from engine.volumes.service import VolumeService

        return VolumeService(self.paths, self.db)

    @cached_property
    def containers(self) -> ContainerService:
        from engine.containers.service import ContainerService

        containers = ContainerService(self.paths, self.db, lambda: self.images,
                                      lambda: self.networks, lambda: self.volumes)  # fmt: skip
        containers.collect_leftovers()
        return containers

    @cached_property
    def files(self) -> ContainerFiles:
        from engine.files.service import ContainerFiles

        return ContainerFiles(self.paths, self.containers, self.images)

    @cached_property
    def stats(self) -> StatsService:
        from engine.stats import StatsService

        return StatsService(self.containers, self.paths.runroot)

    @cached_property
    def system(self) -> SystemService:
        from engine.system import SystemService

        return SystemService(self.paths, self.db, self.images, self.containers, self.networks,
                             self.volumes)  # fmt: skip

    @cached_property
    def build(self) -> BuildService:
        from engine.build.service import BuildService

        return BuildService(self.paths, self.db, self.images, self.containers)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.close()


def __getattr__(name: str) -> object:
    """A name of ``__all__``, its module imported only now (not when the import system
    probes this module for ``__path__`` and the like)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    imported = importlib.import_module(module)
    value = imported if attribute is None else getattr(imported, attribute)
    globals()[name] = value  # the next lookup is a plain one
    return value


def engine_root(root: str | None = None, runroot: str | None = None) -> str:
    """The engine root that ``--root`` (or BERTH_ROOT, or the default) names, for messages."""
    try:
        return str(EnginePaths.resolve(root, runroot).root)
    except OSError:  # a relative root, and the working directory is gone
        return root or os.environ.get("BERTH_ROOT") or DEFAULT_ROOT
