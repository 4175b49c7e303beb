"""Pure logic: address and subnet choice, -p parsing."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from engine.errors import ConflictError, InvalidArgumentError
from engine.network import ipam, ports

SUBNET = IPv4Network("10.251.0.0/29")  # hosts .1 to .6
GATEWAY = IPv4Address("10.251.0.1")


def test_addresses_go_round_past_the_gateway_and_used_ones() -> None:
    used = {IPv4Address("10.251.0.3")}
    assert ipam.next_address(SUBNET, GATEWAY, used, 0) == IPv4Address("10.251.0.2")
    assert ipam.next_address(SUBNET, GATEWAY, used, 2) == IPv4Address("10.251.0.4")
    assert ipam.next_address(SUBNET, GATEWAY, used, 6) == IPv4Address("10.251.0.2")


def test_a_full_subnet_says_so() -> None:
    used = {SUBNET.network_address + n for n in range(2, 7)}
    with pytest.raises(ConflictError, match="no free address"):
        ipam.next_address(SUBNET, GATEWAY, used, 0)


def test_fixed_address_must_be_free_and_inside() -> None:
    assert ipam.fixed_address(SUBNET, GATEWAY, set(), "10.251.0.5") == IPv4Address("10.251.0.5")
    with pytest.raises(InvalidArgumentError):
        ipam.fixed_address(SUBNET, GATEWAY, set(), "10.251.1.5")
    with pytest.raises(ConflictError):
        ipam.fixed_address(SUBNET, GATEWAY, set(), "10.251.0.1")


def test_free_subnet_skips_overlaps() -> None:
    taken = [IPv4Network("10.88.0.0/16"), IPv4Network("10.89.0.0/24")]
    assert ipam.free_subnet(taken, default=True) == IPv4Network("10.89.1.0/24")
    assert ipam.free_subnet([], default=True) == ipam.DEFAULT_SUBNET


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("80", ports.PortSpec("", None, 80, "tcp")),
        ("8080:80", ports.PortSpec("", 8080, 80, "tcp")),
        ("127.0.0.1:8080:80/udp", ports.PortSpec("127.0.0.1", 8080, 80, "udp")),
        ("127.0.0.1::80", ports.PortSpec("127.0.0.1", None, 80, "tcp")),
        ("0.0.0.0:8080:80", ports.PortSpec("", 8080, 80, "tcp")),
    ],
)
def test_publish_specs(spec: str, expected: ports.PortSpec) -> None:
    assert ports.parse(spec) == expected


@pytest.mark.parametrize("spec", ["80/sctp", "x:80", "70000", "host:1:80"])
def test_bad_publish_specs(spec: str) -> None:
    with pytest.raises(InvalidArgumentError):
        ports.parse(spec)
