"""Bridges, veth pairs, addresses and routes: what berth asks of the kernel's netlink.

Over rtnetlink (the standard library), not pyroute2, whose import alone cost a bridge
container's start more than all its netlink work. Each call opens one socket.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from engine.errors import BerthError
from engine.network import netns
from engine.network import rtnetlink as rt

_DEFAULT_MTU = 1500
_CREATE = rt.NLM_F_CREATE | rt.NLM_F_EXCL
_UP = rt.ifinfo(flags=rt.IFF_UP, change=rt.IFF_UP)


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
def _refusals(where: str) -> Iterator[None]:
    """The kernel's refusals as one-line BerthErrors."""
    try:
        yield
    except rt.NetlinkError as error:
        raise BerthError(f"{where}: {error}") from None


@contextmanager
def _socket() -> Iterator[rt.Socket]:
    """A socket of the calling thread's namespace."""
    with _refusals("netlink"), rt.Socket() as sock:
        yield sock


def host_mtu() -> int:
    """The MTU of the host's default route's interface: containers should not exceed it."""
    with _socket() as sock:
        default = next((route for route in _main_routes(sock) if not rt.route_fields(route)[0]),
                       None)  # fmt: skip
        if default is None or rt.RTA_OIF not in default.attrs:
            return _DEFAULT_MTU
        link = sock.get(rt.RTM_GETLINK, rt.ifinfo(rt.parse_u32(default.attrs[rt.RTA_OIF])))
        return rt.parse_u32(link.attrs[rt.IFLA_MTU])


def host_routes() -> list[IPv4Network]:
    """Every IPv4 destination the host routes to, but the default route."""
    with _socket() as sock:
        return [
            IPv4Network((IPv4Address(route.attrs[rt.RTA_DST]), rt.route_fields(route)[0]),
                        strict=False)
            for route in _main_routes(sock) if rt.RTA_DST in route.attrs
        ]  # fmt: skip


def _main_routes(sock: rt.Socket) -> list[rt.Message]:
    def table(route: rt.Message) -> int:  # past 255, only the attribute holds it
        if rt.RTA_TABLE in route.attrs:
            return rt.parse_u32(route.attrs[rt.RTA_TABLE])
        return rt.route_fields(route)[1]

    routes = sock.dump(rt.RTM_GETROUTE, rt.rtmsg_query())
    return [route for route in routes if table(route) == rt.RT_TABLE_MAIN]


def ensure_bridge(name: str, gateway: IPv4Address, prefixlen: int, mtu: int) -> None:
    """Create the bridge with its gateway address and bring it up (each step if missing)."""
    with _socket() as sock:
        _ignoring(errno.EEXIST, sock.request, rt.RTM_NEWLINK, _CREATE, rt.ifinfo()
                  + _name(name) + rt.attr(rt.IFLA_MTU, rt.u32(mtu)) + _kind("bridge"))  # fmt: skip
        index = _index(sock, name)
        _ignoring(errno.EEXIST, sock.request, rt.RTM_NEWADDR, _CREATE,
                  _address(index, gateway, prefixlen))  # fmt: skip
        sock.request(rt.RTM_NEWLINK, 0, rt.ifinfo(index, rt.IFF_UP, rt.IFF_UP))


def delete_link(name: str) -> None:
    """Delete a host interface (a bridge, a veth with its peer), if it exists."""
    with _socket() as sock:
        _ignoring(errno.ENODEV, sock.request, rt.RTM_DELLINK, 0, rt.ifinfo() + _name(name))


def link_exists(name: str) -> bool:
    with _socket() as sock:
        try:
            _index(sock, name)
        except rt.NetlinkError as error:
            if error.code != errno.ENODEV:
                raise
            return False
        return True


def add_veth(veth: Veth) -> None:
    """Create the pair, its peer in the namespace as ``ifname``, then address and route it.

    One request makes both ends, the host's on its bridge and up, the peer already in
    the namespace: a process killed meanwhile leaves the pair whole or nothing.
    """
    with _socket() as sock:
        bridge = _index(sock, veth.bridge)
        namespace = os.open(veth.netns, os.O_RDONLY | os.O_CLOEXEC)
        try:
            # Made down: the kernel would open it before pairing it (ENOTCONN). Up inside.
            peer = (rt.ifinfo() + _name(veth.ifname) + rt.attr(rt.IFLA_MTU, rt.u32(veth.mtu))
                    + rt.attr(rt.IFLA_NET_NS_FD, rt.u32(namespace)))  # fmt: skip
            sock.request(rt.RTM_NEWLINK, _CREATE, _UP + _name(veth.host_ifname)
                         + rt.attr(rt.IFLA_MTU, rt.u32(veth.mtu))
                         + rt.attr(rt.IFLA_MASTER, rt.u32(bridge))
                         + _kind("veth", rt.attr(rt.VETH_INFO_PEER, peer)))  # fmt: skip
        finally:
            os.close(namespace)
        try:
            _configure_inside(veth)
        except BaseException:
            _ignoring(errno.ENODEV, sock.request, rt.RTM_DELLINK, 0,
                      rt.ifinfo() + _name(veth.host_ifname))  # fmt: skip
            raise


def _configure_inside(veth: Veth) -> None:
    with netns.entered(veth.netns):
        inner = rt.Socket()  # its socket stays in the container's namespace
    with inner, _refusals("netlink in the container"):
        index = _index(inner, veth.ifname)
        inner.request(rt.RTM_NEWADDR, _CREATE, _address(index, veth.address, veth.prefixlen))
        inner.request(rt.RTM_NEWLINK, 0, rt.ifinfo(index, rt.IFF_UP, rt.IFF_UP))
        inner.request(rt.RTM_NEWLINK, 0, _UP + _name("lo"))
        if veth.gateway is not None:  # a second network's gateway finds the first's route
            _ignoring(errno.EEXIST, inner.request, rt.RTM_NEWROUTE, _CREATE, rt.rtmsg(0)
                      + rt.attr(rt.RTA_GATEWAY, veth.gateway.packed)
                      + rt.attr(rt.RTA_OIF, rt.u32(index)))  # fmt: skip


def _index(sock: rt.Socket, name: str) -> int:
    return rt.link_index(sock.get(rt.RTM_GETLINK, rt.ifinfo() + _name(name)))


def _name(name: str) -> bytes:
    return rt.attr(rt.IFLA_IFNAME, rt.text(name))


def _kind(kind: str, data: bytes = b"") -> bytes:
    info = rt.attr(rt.IFLA_INFO_KIND, rt.text(kind))
    if data:
        info += rt.attr(rt.IFLA_INFO_DATA, data)
    return rt.attr(rt.IFLA_LINKINFO, info)


def _address(index: int, address: IPv4Address, prefixlen: int) -> bytes:
    return (rt.ifaddr(index, prefixlen) + rt.attr(rt.IFA_LOCAL, address.packed)
            + rt.attr(rt.IFA_ADDRESS, address.packed))  # fmt: skip


def _ignoring(code: int, call: Callable[..., object], *args: object) -> None:
    try:
        call(*args)
    except rt.NetlinkError as error:
        if error.code != code:
            raise
