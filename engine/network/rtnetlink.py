"""Route netlink (rtnetlink) with the standard library: one socket, packed messages.

Just what berth's networking asks of the kernel: links, addresses and routes. It
replaces pyroute2 on the start path, whose import alone cost more than a whole
container start spends talking to the kernel. Layouts are those of linux/netlink.h,
linux/rtnetlink.h and linux/if_link.h.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass

# Message types
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR = 20
RTM_NEWROUTE, RTM_GETROUTE = 24, 26
_NLMSG_ERROR, _NLMSG_DONE = 2, 3

# Request flags
_NLM_F_REQUEST, _NLM_F_ACK = 0x1, 0x4
_NLM_F_MULTI = 0x2  # on a reply: more parts follow, up to NLMSG_DONE
NLM_F_EXCL, NLM_F_CREATE = 0x200, 0x400
_NLM_F_DUMP = 0x300
_NLM_F_ACK_TLVS = 0x200  # on an error: attributes (the kernel's message) follow

# Attributes of links, their nested link info and a veth's peer
IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_FD = 3, 4, 10, 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
# Of addresses and routes
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = 1, 4, 5, 15

IFF_UP = 0x1
RT_TABLE_MAIN = 254
RTPROT_BOOT = 3  # what ``ip route add`` marks its routes with
RTN_UNICAST = 1

_SOL_NETLINK, _NETLINK_CAP_ACK, _NETLINK_EXT_ACK = 270, 10, 11
_NLMSGERR_ATTR_MSG = 1
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port
_ATTR = struct.Struct("=HH")  # nlattr: length, type
_NLA_TYPE_MASK = 0x3FFF  # without the nested and byte-order flags
_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")  # ifaddrmsg: family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg: family, dst_len, src_len, tos, table,
#                                      protocol, scope, type, flags
_BUFFER = 1 << 16


class NetlinkError(Exception):
    """The kernel refused a request: ``code`` is the errno, ``detail`` its own words."""

    def __init__(self, code: int, detail: str = "") -> None:
        self.code = code
        words = os.strerror(code)
        super().__init__(f"{words} ({detail})" if detail else words)


@dataclass(frozen=True)
class Message:
    """One reply: its type, its fixed header (unparsed) and its attributes by type."""

    type: int
    header: bytes
    attrs: dict[int, bytes]


def attr(kind: int, payload: bytes) -> bytes:
    """One attribute, padded to 4 bytes; ``payload`` may be nested attributes."""
    length = _ATTR.size + len(payload)
    return _ATTR.pack(length, kind) + payload + bytes(-length % 4)


def u32(value: int) -> bytes:
    return struct.pack("=I", value)


def text(value: str) -> bytes:
    return value.encode() + b"\0"


def ifinfo(index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    return _IFINFO.pack(socket.AF_UNSPEC, 0, index, flags, change)


def ifaddr(index: int, prefixlen: int) -> bytes:
    return _IFADDR.pack(socket.AF_INET, prefixlen, 0, 0, index)


def rtmsg(dst_len: int) -> bytes:
    """A unicast route of the main table, as ``ip route add`` makes it."""
    return _RTMSG.pack(socket.AF_INET, dst_len, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, 0, RTN_UNICAST, 0)


def rtmsg_query() -> bytes:
    """A dump request for the IPv4 routes of every table (the caller picks)."""
    return _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)


def link_index(message: Message) -> int:
    return _IFINFO.unpack_from(message.header)[2]


def route_fields(message: Message) -> tuple[int, int]:
    """A route's destination prefix length and table."""
    fields = _RTMSG.unpack_from(message.header)
    return fields[1], fields[4]


def parse_u32(payload: bytes) -> int:
    return struct.unpack_from("=I", payload)[0]


_HEADER_SIZES = {RTM_NEWLINK: _IFINFO.size, RTM_NEWADDR: _IFADDR.size, RTM_NEWROUTE: _RTMSG.size}


class Socket:
    """A NETLINK_ROUTE socket of the network namespace the calling thread is in.

    The namespace is fixed when the socket is made: one opened inside a container's
    namespace (see netns.entered) keeps working there after the thread leaves.
    """

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                     socket.NETLINK_ROUTE)  # fmt: skip
        self._socket.bind((0, 0))
        # Acks without our request echoed back, but with the kernel's reason for an error.
        self._socket.setsockopt(_SOL_NETLINK, _NETLINK_CAP_ACK, 1)
        self._socket.setsockopt(_SOL_NETLINK, _NETLINK_EXT_ACK, 1)
        self._sequence = 0
        self._buffer = bytearray(_BUFFER)

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._socket.close()

    def request(self, kind: int, flags: int, body: bytes) -> None:
        """Send a change and wait for its ack; NetlinkError if the kernel refused it."""
        sequence = self._send(kind, flags | _NLM_F_ACK, body)
        for _ in self._replies(sequence):
            pass

    def get(self, kind: int, body: bytes) -> Message:
        """The one object a get request names (a link by index or name)."""
        sequence = self._send(kind, 0, body)
        return next(self._replies(sequence))

    def dump(self, kind: int, body: bytes) -> list[Message]:
        """Every object of a kind (the main table's routes...)."""
        return list(self._replies(self._send(kind, _NLM_F_DUMP, body)))

    def _send(self, kind: int, flags: int, body: bytes) -> int:
        self._sequence += 1
        header = _HEADER.pack(_HEADER.size + len(body), kind, _NLM_F_REQUEST | flags,
                              self._sequence, 0)  # fmt: skip
        self._socket.send(header + body)
        return self._sequence

    def _replies(self, sequence: int) -> Iterator[Message]:
        """The replies to ``sequence`` up to its ack, end of dump, or its one answer."""
        while True:
            size = self._socket.recv_into(self._buffer, _BUFFER, socket.MSG_TRUNC)
            if size > _BUFFER:
                raise NetlinkError(errno.EMSGSIZE, f"a reply of {size} bytes")
            data = bytes(self._buffer[:size])
            offset = 0
            while offset < size:
                length, kind, flags, seq, _ = _HEADER.unpack_from(data, offset)
                if length < _HEADER.size:  # never from a sane kernel; it would loop forever
                    raise NetlinkError(errno.EBADMSG, f"a reply part of {length} bytes")
                payload = data[offset + _HEADER.size : offset + length]
                offset += (length + 3) & ~3
                if seq != sequence:
                    continue  # a late reply to an earlier request
                if kind == _NLMSG_DONE:
                    return
                if kind == _NLMSG_ERROR:
                    _raise_error(payload, flags)
                    return  # an ack: error code 0
                yield _message(kind, payload)
                if not flags & _NLM_F_MULTI:  # the one answer to a get; no ack follows
                    return


def _message(kind: int, payload: bytes) -> Message:
    fixed = _HEADER_SIZES.get(kind, 0)
    return Message(kind, payload[:fixed], attrs(payload[fixed:]))


def _raise_error(payload: bytes, flags: int) -> None:
    code = -struct.unpack_from("=i", payload)[0]
    if code == 0:
        return
    detail = ""
    if flags & _NLM_F_ACK_TLVS:  # after the error code and our (capped) request header
        message = attrs(payload[4 + _HEADER.size :]).get(_NLMSGERR_ATTR_MSG, b"")
        detail = message.rstrip(b"\0").decode(errors="replace")
    raise NetlinkError(code, detail)


def attrs(data: bytes) -> dict[int, bytes]:
    """Attributes by type (the first of each type)."""
    found: dict[int, bytes] = {}
    offset = 0
    while offset + _ATTR.size <= len(data):
        length, kind = _ATTR.unpack_from(data, offset)
        if length < _ATTR.size:
            break
        found.setdefault(kind & _NLA_TYPE_MASK, data[offset + _ATTR.size : offset + length])
        offset += (length + 3) & ~3
    return found
