"""``berth port CONTAINER [PORT[/PROTO]]``: the container's published ports."""

from __future__ import annotations

import argparse

from cli.engine_access import open_engine
from engine.errors import InvalidArgumentError, NotFoundError

_MAX_PORT = 65535


def register(commands: argparse._SubParsersAction) -> None:
    port = commands.add_parser("port", help="list a container's published ports")
    port.add_argument("container")
    port.add_argument("port", nargs="?", metavar="PORT[/PROTO]", help="only this container port")
    port.set_defaults(handler=_port, error_exit=1)


async def _port(args: argparse.Namespace) -> int:
    if args.port:
        _check_port(args.port)
    engine = open_engine(args)
    container = await engine.containers.get(args.container)
    mappings = await engine.networks.ports(container.id)
    if args.port:
        number, _, protocol = args.port.partition("/")
        mappings = [
            m
            for m in mappings
            if str(m.container_port) == number and m.protocol == (protocol or "tcp")
        ]
        if not mappings:
            raise NotFoundError(f"no public port {args.port} published for {container.name}")
        for mapping in mappings:
            print(f"{mapping.host_ip or '0.0.0.0'}:{mapping.host_port}")
        return 0
    for mapping in mappings:
        host = f"{mapping.host_ip or '0.0.0.0'}:{mapping.host_port}"
        print(f"{mapping.container_port}/{mapping.protocol} -> {host}")
    return 0


def _check_port(spec: str) -> None:
    number = spec.partition("/")[0]
    if not (number.isascii() and number.isdigit() and 0 < int(number) <= _MAX_PORT):
        raise InvalidArgumentError(
            f'invalid port "{spec}": use PORT[/PROTO], a port from 1 to {_MAX_PORT}'
        )
