"""``inspect`` output for containers, shaped like Docker's so existing tooling reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.containers.layout import container_dirs
from engine.containers.limits import host_config
from engine.containers.model import Container, CreateOptions
from engine.containers.run_config import run_config
from engine.images import Image
from engine.monitor.restart import RestartPolicy
from engine.network.model import Endpoint, Network, PortMapping

_ZERO_TIME = "0001-01-01T00:00:00Z"


def container_inspect(
    container: Container, image: Image, bundle: Path, pid: int, lowers: list[Path]
) -> dict[str, Any]:
    options = container.options
    policy = RestartPolicy.parse(options.restart)
    image_config = image.config.get("config", {})
    config = run_config(container, image)
    upper, work, merged = container_dirs(bundle)
    return {
        "Id": container.id,
        "Created": container.created,
        "Path": container.args[0],
        "Args": container.args[1:],
        "State": {
            "Status": container.state,
            "Running": container.state in ("running", "paused"),
            "Paused": container.state == "paused",
            "Restarting": container.state == "restarting",
            "OOMKilled": container.oom_killed,
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
        "LogPath": str(bundle / "ctr.log"),
        "Name": "/" + container.name,
        "RestartCount": container.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "HostConfig": {
            "AutoRemove": options.auto_remove,
            "Runtime": container.runtime,
            "RestartPolicy": {"Name": policy.name, "MaximumRetryCount": policy.maximum_retries},
            "LogConfig": {"Type": "json-file", "Config": _log_config(options)},
            **host_config(options),
        },
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
            "Tty": options.tty,
            "OpenStdin": options.interactive,
            "User": config["User"] or "",
            "Env": config["Env"],
            "Cmd": config["Cmd"],
            "Image": container.image_ref,
            "WorkingDir": config["WorkingDir"] or "",
            "Entrypoint": config["Entrypoint"],
            "Labels": image_config.get("Labels") or {},
        },
    }  # fmt: skip


def _log_config(options: CreateOptions) -> dict[str, str]:
    config = {}
    if options.log_max_size:
        config["max-size"] = str(options.log_max_size)
        config["max-file"] = str(options.log_max_files)
    return config


def network_settings(
    endpoints: list[tuple[Network, Endpoint]], ports: list[PortMapping]
) -> dict[str, Any]:
    """Docker's NetworkSettings: the first network's address on top, every network below."""
    networks = {
        network.name: {
            "NetworkID": network.id,
            "Aliases": endpoint.aliases or None,
            "IPAddress": str(endpoint.address),
            "IPPrefixLen": network.subnet.prefixlen,
            "Gateway": str(network.gateway),
        }
        for network, endpoint in endpoints
    }
    first = next(iter(networks.values()), {})
    published: dict[str, list[dict[str, str]] | None] = {}
    for mapping in ports:
        published.setdefault(f"{mapping.container_port}/{mapping.protocol}", []).append(
            {"HostIp": mapping.host_ip or "0.0.0.0", "HostPort": str(mapping.host_port)}
        )
    return {
        "IPAddress": first.get("IPAddress", ""),
        "IPPrefixLen": first.get("IPPrefixLen", 0),
        "Gateway": first.get("Gateway", ""),
        "Ports": published,
        "Networks": networks,
    }
