"""Bridges, veth pairs, addresses and routes through netlink (pyroute2).

The one module that imports pyroute2; it is loaded only when links are wired.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from engine.errors import BerthError
from engine.network import netns

_DEFAULT_MTU = 1500


@dataclass(frozen=True)
class Veth:
    """One attachment to wire: ``host_ifname`` on ``bridge``, ``ifname`` in the namespace."""

    bridge: str
    host_ifname: str
    netns: Path
    ifname: str
    address: IPv4Address
    prefixlen: int
    gateway: IPv4Address | None  # the default route; None on internal networks
    mtu: int


@contextmanager
def _host() -> Iterator[IPRoute]:
    ipr = IPRoute()
    try:
        yield ipr
    except NetlinkError as error:
        raise BerthError(f"netlink: {os.strerror(error.code)}") from None
    finally:
        ipr.close()


def host_mtu() -> int:
    """The MTU of the host's default route's interface: containers should not exceed it."""
    with _host() as ipr:
        routes = ipr.get_default_routes(family=2)
        if not routes or routes[0].get("oif") is None:
            return _DEFAULT_MTU
        links = ipr.get_links(routes[0].get("oif"))
        return links[0].get("mtu") if links else _DEFAULT_MTU


def host_routes() -> list[IPv4Network]:
    """Every IPv4 destination the host routes to, but the default route."""
    with _host() as ipr:
        return [
            IPv4Network(f"{route.get('dst')}/{route['dst_len']}", strict=False)
            for route in ipr.get_routes(family=2, table=254) if route.get("dst")
        ]  # fmt: skip


def ensure_bridge(name: str, gateway: IPv4Address, prefixlen: int, mtu: int) -> None:
    """Create the bridge with its gateway address and bring it up (each step if missing)."""
    with _host() as ipr:
        _ignoring(errno.EEXIST, ipr.link, "add", ifname=name, kind="bridge", mtu=mtu)
        index = ipr.link_lookup(ifname=name)[0]
        _ignoring(errno.EEXIST, ipr.addr, "add", index=index, address=str(gateway),
                  prefixlen=prefixlen)  # fmt: skip
        ipr.link("set", index=index, state="up")


def delete_link(name: str) -> None:
    """Delete a host interface (a bridge, a veth with its peer), if it exists."""
    with _host() as ipr:
        for index in ipr.link_lookup(ifname=name):
            _ignoring(errno.ENODEV, ipr.link, "del", index=index)


def link_exists(name: str) -> bool:
    with _host() as ipr:
        return bool(ipr.link_lookup(ifname=name))


def add_veth(veth: Veth) -> None:
    """Create the pair, move one end into the namespace as ``ifname``, address and route it."""
    peer = f"{veth.host_ifname}p"
    with _host() as ipr:
        ipr.link("add", ifname=veth.host_ifname, kind="veth", peer={"ifname": peer}, mtu=veth.mtu)
        try:
            bridge = ipr.link_lookup(ifname=veth.bridge)[0]
            ipr.link("set", index=ipr.link_lookup(ifname=veth.host_ifname)[0], master=bridge,
                     state="up")  # fmt: skip
            with open(veth.netns) as namespace:
                ipr.link("set", index=ipr.link_lookup(ifname=peer)[0],
                         net_ns_fd=namespace.fileno())  # fmt: skip
            _configure_inside(veth, peer)
        except BaseException:
            _ignoring(errno.ENODEV, ipr.link, "del", ifname=veth.host_ifname)
            raise


def _configure_inside(veth: Veth, peer: str) -> None:
    with netns.entered(veth.netns):
        inner = IPRoute()  # its socket stays in the container's namespace
    try:
        index = inner.link_lookup(ifname=peer)[0]
        inner.link("set", index=index, ifname=veth.ifname, mtu=veth.mtu)
        inner.addr("add", index=index, address=str(veth.address), prefixlen=veth.prefixlen)
        inner.link("set", index=index, state="up")
        lo = inner.link_lookup(ifname="lo")[0]
        inner.link("set", index=lo, state="up")
        if veth.gateway is not None:
            _ignoring(errno.EEXIST, inner.route, "add", dst="0.0.0.0/0",
                      gateway=str(veth.gateway), oif=index)  # fmt: skip
    except NetlinkError as error:
        raise BerthError(f"netlink in the container: {os.strerror(error.code)}") from None
    finally:
        inner.close()  # an open socket would keep the namespace alive


def _ignoring(code: int, call: Callable[..., object], *args: object, **kwargs: object) -> None:
    try:
        call(*args, **kwargs)
    except NetlinkError as error:
        if error.code != code:
            raise
