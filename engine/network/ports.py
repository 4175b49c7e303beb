"""Published ports: Docker's -p notation, and free host ports for the ones left open."""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from ipaddress import IPv4Address

from engine.errors import ConflictError, InvalidArgumentError
from engine.network.model import PortMapping

_PROTOCOLS = ("tcp", "udp")


@dataclass(frozen=True)
class PortSpec:
    host_ip: str  # "" for every host address
    host_port: int | None  # None: any free port
    container_port: int
    protocol: str


def parse(spec: str) -> PortSpec:
    """``[HOSTIP:][HOSTPORT:]CTRPORT[/tcp|udp]``, as ``docker run -p`` takes it."""
    ports, _, protocol = spec.partition("/")
    protocol = protocol or "tcp"
    if protocol not in _PROTOCOLS:
        raise InvalidArgumentError(f'-p {spec}: the protocol must be tcp or udp, not "{protocol}"')
    parts = ports.rsplit(":", 2)
    host_ip = parts[0] if len(parts) == 3 else ""
    host_port = parts[-2] if len(parts) >= 2 else ""
    if host_ip:
        try:
            IPv4Address(host_ip)
        except ValueError:
            raise InvalidArgumentError(f'-p {spec}: "{host_ip}" is not an IPv4 address') from None
    return PortSpec(
        host_ip if host_ip != "0.0.0.0" else "",
        _port(host_port, spec) if host_port else None,
        _port(parts[-1], spec),
        protocol,
    )


def exposed(image_config: dict) -> list[PortSpec]:
    """-P: every port the image EXPOSEs, each on a free host port."""
    specs = []
    for key in image_config.get("ExposedPorts") or {}:
        port, _, protocol = key.partition("/")
        specs.append(PortSpec("", None, _port(port, key), protocol or "tcp"))
    return specs


def resolve(specs: list[PortSpec], published: set[tuple[int, str]]) -> list[PortMapping]:
    """Host ports for every spec: the asked one if free, else one the kernel picks."""
    mappings = []
    taken = set(published)
    for spec in specs:
        port = spec.host_port
        if port is None:
            port = _free_port(spec, taken)
        elif (port, spec.protocol) in taken or not _bindable(spec, port):
            raise ConflictError(
                f"cannot publish {spec.host_ip or '0.0.0.0'}:{port}/{spec.protocol}: "
                "the port is already in use"
            )
        taken.add((port, spec.protocol))
        mappings.append(PortMapping(spec.host_ip, port, spec.container_port, spec.protocol))
    return mappings


def _free_port(spec: PortSpec, taken: set[tuple[int, str]]) -> int:
    for _ in range(20):
        with _socket(spec.protocol) as sock:
            sock.bind((spec.host_ip, 0))
            port = sock.getsockname()[1]
        if (port, spec.protocol) not in taken:
            return port
    raise ConflictError("no free host port found to publish on")


def _bindable(spec: PortSpec, port: int) -> bool:
    """Whether no host process listens on the port (which the DNAT rule would shadow)."""
    with _socket(spec.protocol) as sock:
        try:
            sock.bind((spec.host_ip, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def _socket(protocol: str) -> socket.socket:
    if protocol == "udp":
        return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A port whose old connections linger in TIME_WAIT is free to publish.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


def _port(text: str, spec: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidArgumentError(f'-p {spec}: "{text}" is not a port number (1-65535)')
    return int(text)
