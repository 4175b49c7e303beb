"""What the engine knows of networks, attachments and published ports."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

DEFAULT_NETWORK = "bridge"
# Modes that are not the name of a network.
NO_NETWORK, HOST_NETWORK, CONTAINER_PREFIX = "none", "host", "container:"


@dataclass(frozen=True)
class Network:
    id: str
    name: str
    subnet: IPv4Network
    gateway: IPv4Address
    bridge: str
    internal: bool
    created: str

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def resolves_names(self) -> bool:
        """Docker's rule: containers find each other by name on user networks only."""
        return self.name != DEFAULT_NETWORK

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Network:
        return cls(
            id=row["id"], name=row["name"], subnet=IPv4Network(row["subnet"]),
            gateway=IPv4Address(row["gateway"]), bridge=row["bridge"],
            internal=bool(row["internal"]), created=row["created"],
        )  # fmt: skip


@dataclass(frozen=True)
class Endpoint:
    """A running container's attachment to a network: its veth, its leased address."""

    container_id: str
    network_id: str
    address: IPv4Address
    ifname: str
    host_ifname: str
    netns: str
    aliases: list[str] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Endpoint:
        return cls(
            container_id=row["container_id"], network_id=row["network_id"],
            address=IPv4Address(row["address"]), ifname=row["ifname"],
            host_ifname=row["host_ifname"], netns=row["netns"], aliases=json.loads(row["aliases"]),
        )  # fmt: skip


@dataclass(frozen=True)
class PortMapping:
    host_ip: str  # "" for every host address
    host_port: int
    container_port: int
    protocol: str = "tcp"

    def __str__(self) -> str:
        """Docker's PORTS notation: 0.0.0.0:18080->80/tcp."""
        host = f"{self.host_ip or '0.0.0.0'}:{self.host_port}"
        return f"{host}->{self.container_port}/{self.protocol}"


@dataclass(frozen=True)
class ContainerNetwork:
    """What a container's bundle needs from its network: where its namespace is, its files."""

    namespace: dict[str, Any] | None  # the OCI namespace entry; None shares the host's
    hosts: Path  # written, and kept current, by the network
    resolv_conf: str
