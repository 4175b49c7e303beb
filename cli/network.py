"""``berth network ...`` and the networking flags of run/create (--network, -p, --dns...)."""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import sys

from cli.engine_access import open_engine, report_each
from cli.output import render
from engine.api import (
    CONTAINER_PREFIX,
    DEFAULT_NETWORK,
    HOST_NETWORK,
    NO_NETWORK,
    Container,
    Engine,
    parse_port_spec,
)
from engine.errors import InvalidArgumentError

_LS_HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Subnet": "SUBNET",
               "Internal": "INTERNAL"}  # fmt: skip
_LS_DEFAULT = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Subnet}}\t{{.Internal}}"
# Docker's validateDomain: dot-separated labels of letters, digits and inner hyphens
_DOMAIN = re.compile(
    r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?"
)
_MAX_DOMAIN = 255


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """run/create's networking flags, all stored in the container's options."""
    parser.add_argument("--network", "--net", default=DEFAULT_NETWORK,
                        help="bridge | none | host | container:NAME | a network")  # fmt: skip
    parser.add_argument("--network-alias", action="append", default=[], metavar="ALIAS",
                        help="another name peers on the network find it by")  # fmt: skip
    parser.add_argument("--ip", help="fixed IPv4 address on its network")
    parser.add_argument("--add-host", action="append", default=[], metavar="HOST:IP",
                        help="a line for /etc/hosts")  # fmt: skip
    parser.add_argument("--dns", action="append", default=[], metavar="SERVER")
    parser.add_argument("--dns-search", action="append", default=[], metavar="DOMAIN")
    parser.add_argument("-p", "--publish", action="append", default=[],
                        metavar="[HOSTIP:][HOSTPORT:]PORT[/PROTO]",
                        help="publish a container port on the host")  # fmt: skip
    parser.add_argument("-P", "--publish-all", action="store_true",
                        help="publish every EXPOSEd port on a free host port")  # fmt: skip


def run_options(args: argparse.Namespace) -> dict[str, object]:
    """CreateOptions fields from the networking flags, checked before anything is made."""
    for spec in args.publish:
        parse_port_spec(spec)
    _check_names(args)
    mode = args.network
    shared = mode in (NO_NETWORK, HOST_NETWORK) or mode.startswith(CONTAINER_PREFIX)
    if shared and (args.publish or args.publish_all or args.ip or args.network_alias):
        raise InvalidArgumentError(
            f"--network {args.network} takes no -p, -P, --ip or --network-alias: "
            "the container has no network of its own"
        )
    return {
        "network": args.network, "ip": args.ip, "network_aliases": args.network_alias,
        "add_hosts": args.add_host, "dns": args.dns, "dns_search": args.dns_search,
        "publish": args.publish, "publish_all": args.publish_all,
    }  # fmt: skip


def _check_names(args: argparse.Namespace) -> None:
    """--dns, --add-host and --dns-search as Docker's client checks them: they become lines
    of the container's resolv.conf and hosts, which a stray space or newline would break."""
    for server in args.dns:
        if not _is_ip(server):
            raise InvalidArgumentError(
                f'invalid argument "{server}" for "--dns" flag: {server} is not an ip address'
            )
    for entry in args.add_host:
        address = entry.partition(":")[2]
        if address and not _is_ip(address):
            raise InvalidArgumentError(
                f'invalid argument "{entry}" for "--add-host" flag: '
                f'invalid IP address in add-host: "{address}"'
            )
    for domain in args.dns_search:
        if domain != "." and not (len(domain) <= _MAX_DOMAIN and _DOMAIN.fullmatch(domain)):
            raise InvalidArgumentError(
                f'invalid argument "{domain}" for "--dns-search" flag: '
                f"{domain} is not a valid domain"
            )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def register(commands: argparse._SubParsersAction) -> None:
    network = commands.add_parser("network", help="manage networks")
    verbs = network.add_subparsers(dest="network_command", metavar="COMMAND", required=True)

    create = verbs.add_parser("create", help="create a bridge network")
    create.add_argument("--subnet", help="CIDR, e.g. 10.90.0.0/24 (default: a free one)")
    create.add_argument("--gateway", help="the bridge's address (default: the first)")
    create.add_argument("--internal", action="store_true", help="no route out of the host")
    create.add_argument("-d", "--driver", default="bridge", choices=["bridge"])
    create.add_argument("name")
    create.set_defaults(handler=_create, error_exit=1)

    ls = verbs.add_parser("ls", aliases=["list"], help="list networks")
    ls.add_argument("-q", "--quiet", action="store_true", help="only ids")
    ls.add_argument("--format", help="Go-template-like format, e.g. '{{.Name}}'")
    ls.set_defaults(handler=_ls, error_exit=1)

    inspect = verbs.add_parser("inspect", help="details of networks, as JSON")
    inspect.add_argument("networks", nargs="+", metavar="NETWORK")
    inspect.set_defaults(handler=_inspect, error_exit=1)

    rm = verbs.add_parser("rm", aliases=["remove"], help="remove networks")
    rm.add_argument("networks", nargs="+", metavar="NETWORK")
    rm.set_defaults(handler=_rm, error_exit=1)

    prune = verbs.add_parser("prune", help="remove every unused network")
    prune.add_argument("-f", "--force", action="store_true", help="do not ask (berth never asks)")
    prune.set_defaults(handler=_prune, error_exit=1)

    connect = verbs.add_parser("connect", help="attach a container to a network")
    connect.add_argument("--alias", action="append", default=[], help="a name on this network")
    connect.add_argument("network")
    connect.add_argument("container")
    connect.set_defaults(handler=_connect, error_exit=1)

    disconnect = verbs.add_parser("disconnect", help="detach a container from a network")
    disconnect.add_argument("network")
    disconnect.add_argument("container")
    disconnect.set_defaults(handler=_disconnect, error_exit=1)


async def _create(args: argparse.Namespace) -> int:
    if args.gateway and not args.subnet:  # Docker's check and words
        raise InvalidArgumentError("every ip-range or gateway must have a corresponding subnet")
    engine = open_engine(args)
    network = await engine.networks.create(
        args.name, subnet=args.subnet, gateway=args.gateway, internal=args.internal
    )
    print(network.id)
    return 0


async def _ls(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    networks = await engine.networks.list()
    if args.quiet:
        for network in networks:
            print(network.short_id)
        return 0
    items = [{"ID": n.short_id, "Name": n.name, "Driver": "bridge", "Subnet": str(n.subnet),
              "Internal": str(n.internal).lower()} for n in networks]  # fmt: skip
    output = render(args.format or _LS_DEFAULT, items, _LS_HEADERS)
    if output:
        print(output)
    return 0


async def _inspect(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    found = []

    async def inspect(ref: str) -> None:
        found.append(await engine.networks.inspect(ref))

    status = await report_each(args.networks, inspect, echo=False)
    print(json.dumps(found, indent=4))
    return status


async def _rm(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    return await report_each(args.networks, engine.networks.remove)


async def _prune(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    removed = await engine.networks.prune()
    if removed:
        print("Deleted Networks:")
        for network in removed:
            print(network.name)
    return 0


async def _connect(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    container = await engine.containers.get(args.container)
    await engine.networks.connect(args.network, container, args.alias)
    return 0


async def _disconnect(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    container = await engine.containers.get(args.container)
    await engine.networks.disconnect(args.network, container)
    return 0


async def warn_outbound(engine: Engine, container: Container) -> None:
    """Say once, at run, when the container's traffic cannot leave the host."""
    problem = await engine.networks.outbound_problem(container)
    if problem:
        print(f"berth: warning: {problem}", file=sys.stderr)
