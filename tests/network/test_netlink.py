"""The stdlib rtnetlink path, checked against what the kernel shows (``ip``), as root.

Each test makes its own bridge (named bt<random>, outside the engine's br-* names) in
10.251.240.0/24, the tests' own range, and a namespace pinned under its tmp_path; both
go even when the test fails.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from engine.errors import BerthError
from engine.network import netlink, netns
from engine.network import rtnetlink as rt

pytestmark = pytest.mark.root("bridges, veths and network namespaces")

GATEWAY = IPv4Address("10.251.240.1")
ADDRESS = IPv4Address("10.251.240.5")
PREFIX = 24


def _ip(*args: str, namespace: Path | None = None) -> str:
    inside = ["nsenter", f"--net={namespace}"] if namespace else []
    return subprocess.run([*inside, "ip", *args], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


@pytest.fixture
def bridge() -> Iterator[str]:
    name = f"bt{secrets.token_hex(4)}"
    netlink.ensure_bridge(name, GATEWAY, PREFIX, 1400)
    yield name
    netlink.delete_link(name)


@pytest.fixture
def namespace(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "netns"
    netns.create(path)
    yield path
    netns.remove(path)


def _veth(bridge: str, namespace: Path, gateway: IPv4Address | None = GATEWAY) -> netlink.Veth:
    host = f"vt{secrets.token_hex(4)}"
    return netlink.Veth(bridge, host, namespace, "eth0", ADDRESS, PREFIX, gateway, 1400)


def test_a_bridge_is_made_up_with_its_gateway_and_mtu(bridge: str) -> None:
    assert f"inet {GATEWAY}/{PREFIX}" in _ip("-o", "-4", "addr", "show", "dev", bridge)
    link = _ip("-o", "link", "show", bridge)
    assert "mtu 1400" in link and ",UP" in link
    netlink.ensure_bridge(bridge, GATEWAY, PREFIX, 1400)  # again: each step is kept
    assert netlink.link_exists(bridge)
    assert IPv4Network(f"{GATEWAY}/{PREFIX}", strict=False) in netlink.host_routes()


def test_a_veth_is_wired_as_the_kernel_shows_it(bridge: str, namespace: Path) -> None:
    veth = _veth(bridge, namespace)
    netlink.add_veth(veth)
    try:
        host = _ip("-o", "-d", "link", "show", veth.host_ifname)
        assert f"master {bridge}" in host and "mtu 1400" in host and "state UP" in host
        inside = _ip("-o", "link", "show", "eth0", namespace=namespace)
        assert "mtu 1400" in inside and ",UP" in inside
        assert ",UP" in _ip("-o", "link", "show", "lo", namespace=namespace)
        address = _ip("-o", "-4", "addr", "show", "eth0", namespace=namespace)
        assert f"inet {ADDRESS}/{PREFIX}" in address
        routes = _ip("route", namespace=namespace)
        assert f"default via {GATEWAY} dev eth0" in routes
    finally:
        netlink.delete_link(veth.host_ifname)
    assert not netlink.link_exists(veth.host_ifname)
    # The pair goes together: the peer inside with it.
    assert "eth0" not in _ip("-o", "link", namespace=namespace)


def test_an_internal_veth_has_no_default_route(bridge: str, namespace: Path) -> None:
    veth = _veth(bridge, namespace, gateway=None)
    netlink.add_veth(veth)
    try:
        assert "default" not in _ip("route", namespace=namespace)
    finally:
        netlink.delete_link(veth.host_ifname)


def test_a_refused_creation_leaves_nothing_on_the_host(bridge: str, namespace: Path) -> None:
    first = _veth(bridge, namespace)
    netlink.add_veth(first)
    try:
        second = _veth(bridge, namespace)  # its peer's name, eth0, is taken inside
        with pytest.raises(BerthError, match=r"^netlink: File exists"):
            netlink.add_veth(second)
        assert not netlink.link_exists(second.host_ifname)
    finally:
        netlink.delete_link(first.host_ifname)


def test_a_failure_inside_the_namespace_deletes_the_pair(bridge: str, namespace: Path) -> None:
    veth = _veth(bridge, namespace, gateway=IPv4Address("10.251.241.1"))  # off the subnet
    with pytest.raises(BerthError, match=r"^netlink in the container: Network is unreachable"):
        netlink.add_veth(veth)
    assert not netlink.link_exists(veth.host_ifname)
    assert "eth0" not in _ip("-o", "link", namespace=namespace)


def test_a_missing_bridge_is_one_clear_error(namespace: Path) -> None:
    veth = _veth(f"bt{secrets.token_hex(4)}", namespace)
    with pytest.raises(BerthError, match=r"^netlink: No such device$"):
        netlink.add_veth(veth)


def test_lookups_and_deletes_of_missing_links() -> None:
    assert netlink.link_exists("lo")
    assert not netlink.link_exists(f"bt{secrets.token_hex(4)}")
    netlink.delete_link(f"bt{secrets.token_hex(4)}")  # nothing to do, no error


def test_the_host_mtu_is_the_default_routes_interfaces() -> None:
    default = _ip("-o", "-4", "route", "show", "default").split()
    if "dev" not in default:
        pytest.skip("needs a default route through one interface")
    device = default[default.index("dev") + 1]
    link = _ip("-o", "link", "show", device).split()
    assert netlink.host_mtu() == int(link[link.index("mtu") + 1])


def test_attributes_pack_padded_and_parse_back() -> None:
    data = rt.attr(rt.IFLA_IFNAME, rt.text("eth0")) + rt.attr(rt.IFLA_MTU, rt.u32(1400))
    assert len(data) % 4 == 0
    parsed = rt.attrs(data)
    assert parsed[rt.IFLA_IFNAME] == b"eth0\0" and rt.parse_u32(parsed[rt.IFLA_MTU]) == 1400


def test_a_bridge_start_never_imports_pyroute2(engine) -> None:
    """The whole start of a container on the default bridge, in a fresh interpreter."""
    script = f"""
import asyncio, sys
from engine.api import Engine
from engine.containers.model import CreateOptions
from engine.paths import EnginePaths

async def main():
    engine = Engine(EnginePaths.resolve({str(engine.paths.root)!r}, {str(engine.paths.runroot)!r}))
    box = await engine.containers.create(CreateOptions(image="busybox", command=["true"]))
    await engine.containers.start(box.id)
    await engine.containers.remove(box.id, force=True)
    print(sorted(name for name in sys.modules if name.startswith("pyroute2")))

asyncio.run(main())
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
