"""Address management: which address a new attachment gets, which subnet a new network."""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network

from engine.errors import ConflictError, InvalidArgumentError

# Where networks without --subnet come from: the default network's /16 first, then /24s.
DEFAULT_SUBNET = IPv4Network("10.88.0.0/16")
_POOL = IPv4Network("10.89.0.0/16")


def next_address(subnet: IPv4Network, gateway: IPv4Address, used: set[IPv4Address],
                 cursor: int) -> IPv4Address:  # fmt: skip
    """The first free host address after ``cursor`` (a host number), wrapping around.

    Handing addresses out in turn, not lowest-first, keeps a just-released address
    (which peers may still have in their caches) out of use as long as possible.
    """
    hosts = subnet.num_addresses - 2
    for step in range(1, hosts + 1):
        address = subnet.network_address + (cursor + step - 1) % hosts + 1
        if address != gateway and address not in used:
            return address
    raise ConflictError(f"network {subnet} has no free address left")


def fixed_address(subnet: IPv4Network, gateway: IPv4Address, used: set[IPv4Address],
                  wanted: str) -> IPv4Address:  # fmt: skip
    """The address the user asked for (--ip), if it is one of the subnet's and free."""
    try:
        address = IPv4Address(wanted)
    except ValueError:
        raise InvalidArgumentError(f'"{wanted}" is not an IPv4 address') from None
    if address not in subnet or address in (subnet.network_address, subnet.broadcast_address):
        raise InvalidArgumentError(f"address {address} is not a host address of {subnet}")
    if address == gateway or address in used:
        raise ConflictError(f"address {address} is already in use on {subnet}")
    return address


def free_subnet(taken: Iterable[IPv4Network], default: bool) -> IPv4Network:
    """A subnet that overlaps none of ``taken`` (networks and host routes)."""
    taken = list(taken)
    candidates = [DEFAULT_SUBNET] if default else []
    for candidate in [*candidates, *_POOL.subnets(new_prefix=24)]:
        if not any(candidate.overlaps(other) for other in taken):
            return candidate
    raise ConflictError("no free subnet left for a new network: give one with --subnet")


def parse_subnet(text: str, gateway: str | None) -> tuple[IPv4Network, IPv4Address]:
    """--subnet and --gateway, checked; the gateway defaults to the first host address."""
    if ":" in text:  # IPv6: ipaddress would only say "Expected 4 octets"
        raise InvalidArgumentError(
            f'invalid subnet "{text}": IPv6 subnets are not supported yet: '
            "give an IPv4 subnet like 10.89.0.0/24"
        )
    try:
        subnet = IPv4Network(text)
    except ValueError as error:
        raise InvalidArgumentError(f'invalid subnet "{text}": {error}') from None
    if subnet.prefixlen > 30:
        raise InvalidArgumentError(f"subnet {subnet} is too small: give a /30 or larger")
    if gateway is None:
        return subnet, subnet.network_address + 1
    address = fixed_address(subnet, IPv4Address(0), set(), gateway)
    return subnet, address
