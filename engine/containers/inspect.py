"""``inspect`` output for containers, shaped like Docker's so existing tooling reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.containers.bundle import container_dirs
from engine.containers.model import Container
from engine.images import Image

_ZERO_TIME = "0001-01-01T00:00:00Z"


def container_inspect(
    container: Container, image: Image, bundle: Path, pid: int, lowers: list[Path]
) -> dict[str, Any]:
    options = container.options
    image_config = image.config.get("config", {})
    upper, work, merged = container_dirs(bundle)
    return {
        "Id": container.id,
        "Created": container.created,
        "Path": container.args[0],
        "Args": container.args[1:],
        "State": {
            "Status": container.state,
            "Running": container.running,
            "Paused": False,
            "Restarting": False,
            "OOMKilled": False,
            "Dead": False,
            "Pid": pid,
            "ExitCode": container.exit_code or 0,
            "Error": container.error or "",
            "StartedAt": container.started_at or _ZERO_TIME,
            "FinishedAt": container.finished_at or _ZERO_TIME,
        },
        "Image": image.id,
        "ResolvConfPath": str(bundle / "resolv.conf"),
        "HostnamePath": str(bundle / "hostname"),
        "HostsPath": str(bundle / "hosts"),
        "Name": "/" + container.name,
        "RestartCount": 0,
        "Driver": "overlay",
        "Platform": "linux",
        "HostConfig": {"AutoRemove": options.auto_remove},
        "GraphDriver": {
            "Name": "overlay",
            "Data": {
                "LowerDir": ":".join(str(path) for path in reversed(lowers)),
                "UpperDir": str(upper),
                "WorkDir": str(work),
                "MergedDir": str(merged),
            },
        },
        "Config": {
            "Hostname": options.hostname or container.short_id,
            "User": options.user or image_config.get("User", ""),
            "Env": options.env,
            "Cmd": options.command or (None if options.entrypoint is not None
                                       else image_config.get("Cmd")),
            "Image": container.image_ref,
            "WorkingDir": options.workdir or image_config.get("WorkingDir", ""),
            "Entrypoint": ([options.entrypoint] if options.entrypoint else None)
            if options.entrypoint is not None else image_config.get("Entrypoint"),
            "Labels": image_config.get("Labels") or {},
        },
    }  # fmt: skip
