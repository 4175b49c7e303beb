"""The engine's nftables table: isolation, outbound masquerade and published ports.

The whole table is rendered from the database and replaced in one atomic ``nft -f``,
under a lock, whenever networks or published ports change: the kernel's rules can
never drift from the database for long, and a stale rule is fixed by the next change.
Each engine root has its own table, so engines under different roots never clash.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from engine.errors import BerthError
from engine.network import boot_cache
from engine.network.model import Network, PortMapping
from engine.network.store import NetworkStore
from engine.paths import EnginePaths

_NFT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Published:
    """A published port, with the address of the container that serves it."""

    mapping: PortMapping
    address: str


def table_name(paths: EnginePaths) -> str:
    return "berth_" + hashlib.sha256(str(paths.root).encode()).hexdigest()[:8]


def available(paths: EnginePaths) -> str | None:
    """None when nft can set rules here; else why not, for the user.

    A yes holds until reboot: it is probed once per boot, not on every start. A no is
    probed again, so that nft works as soon as the user installs it.
    """
    return boot_cache.cached(paths.runroot, "nft", _probe, keep=lambda problem: problem is None)


def _probe() -> str | None:
    if shutil.which("nft") is None:
        return "nft (nftables) is not installed"
    result = _nft(["list", "tables"])
    return None if result.returncode == 0 else f"nft cannot set rules: {result.stderr.strip()}"


def _nft(args: list[str], script: str | None = None) -> subprocess.CompletedProcess[str]:
    """nft, given a while: a host too busy to answer is an error that says so, not a hang."""
    try:
        return subprocess.run(["nft", *args], input=script, capture_output=True, text=True,
                              timeout=_NFT_TIMEOUT, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        raise BerthError(
            f"nft did not answer within {_NFT_TIMEOUT:.0f} s: the host is too busy to set "
            "network rules now; try again"
        ) from None


@contextmanager
def locked(paths: EnginePaths) -> Iterator[None]:
    """Serialise "read the database, then change the kernel" among every berth process."""
    paths.runroot.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(paths.runroot / "network.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def apply(paths: EnginePaths, networks: list[Network], published: list[Published]) -> None:
    """Replace the engine's table with rules for these networks and ports (or drop it)."""
    name = table_name(paths)
    script = f"table ip {name} {{}}\ndelete table ip {name}\n"
    if networks:
        script += render(name, str(paths.root), networks, published)
    result = _nft(["-f", "-"], script)
    if result.returncode != 0:
        raise BerthError(f"cannot set the network's nftables rules: {result.stderr.strip()}")


def render(name: str, root: str, networks: list[Network], published: list[Published]) -> str:
    forward, loopback, postrouting = [], [], []
    for network in networks:
        forward += _isolation(network)
        loopback += _loopback(network)
        # Published ports reached at 127.0.0.1 leave through the bridge with a loopback
        # source the container could not answer: give them the gateway's.
        postrouting.append(f'ip saddr 127.0.0.0/8 oifname "{network.bridge}" masquerade')
        if not network.internal:
            postrouting.append(
                f'ip saddr {network.subnet} oifname != "{network.bridge}" masquerade'
            )
    dnat = [_dnat(entry) for entry in published]
    return "\n".join([
        f"table ip {name} {{",
        f'\tcomment "berth engine at {root}"',  # which root a leftover table belongs to
        _chain("forward", "type filter hook forward priority filter; policy accept;", forward),
        # After conntrack (-200), so every packet is classified (new, invalid, untracked:
        # dropped), and after prerouting's NAT (dstnat, -100), so a published port's reply
        # arrives with its destination de-masqueraded back to 127.0.0.1 and is let by.
        _chain("loopback", "type filter hook prerouting priority filter; policy accept;",
               loopback),
        _chain("prerouting", "type nat hook prerouting priority dstnat; policy accept;", dnat),
        _chain("output", "type nat hook output priority -100; policy accept;", dnat),
        _chain("postrouting", "type nat hook postrouting priority srcnat; policy accept;",
               postrouting),
        "}",
    ]) + "\n"  # fmt: skip


def _isolation(network: Network) -> list[str]:
    """Traffic may stay on the bridge, go out (unless internal) and come back; no more."""
    bridge = f'"{network.bridge}"'
    rules = [f"iifname {bridge} oifname {bridge} accept"]
    if network.internal:
        return [*rules, f"iifname {bridge} drop", f"oifname {bridge} drop"]
    return [
        *rules,
        # Other networks' bridges (berth names them all br-*) are off limits both ways.
        f'iifname {bridge} oifname "br-*" drop',
        f"oifname {bridge} ct state established,related accept",
        f"oifname {bridge} ct status dnat accept",
        f"oifname {bridge} drop",
    ]


def _loopback(network: Network) -> list[str]:
    """The host's loopback stays the host's, though the bridge has route_localnet.

    route_localnet (for published ports reached at 127.0.0.1) also stops the kernel
    dropping 127.0.0.0/8 on the bridge as martian: a container with CAP_NET_RAW could
    address a frame to its gateway's MAC with destination 127.0.0.1 and reach services
    the host binds to loopback only (Kubernetes' CVE-2020-8558). Drop what the kernel
    would have, unless it is the reply of a published port's connection (the container
    answers the gateway, and prerouting's de-masquerade makes that 127.0.0.1 before this
    chain runs) or itself DNATed: new, invalid and untracked packets are dropped. (A
    forged 127.0.0.0/8 source the kernel still drops: it is a local address.)
    """
    bridge = f'iifname "{network.bridge}"'
    return [
        f"{bridge} ip daddr 127.0.0.0/8 ct state established,related accept",
        f"{bridge} ip daddr 127.0.0.0/8 ct status dnat accept",
        f"{bridge} ip daddr 127.0.0.0/8 drop",
    ]


def _dnat(entry: Published) -> str:
    mapping = entry.mapping
    to = f"{mapping.protocol} dport {mapping.host_port} dnat to {entry.address}:"
    where = f"ip daddr {mapping.host_ip}" if mapping.host_ip else "fib daddr type local"
    return f"{where} {to}{mapping.container_port}"


def _chain(name: str, hook: str, rules: list[str]) -> str:
    body = "".join(f"\t\t{rule}\n" for rule in rules)
    return f"\tchain {name} {{\n\t\t{hook}\n{body}\t}}"


def enable_forwarding() -> str | None:
    """Let the host route containers' traffic out (as Docker does); None, or why not."""
    return _sysctl(Path("/proc/sys/net/ipv4/ip_forward"), "1")


def allow_loopback_dnat(bridge: str) -> str | None:
    """Let packets from 127.0.0.1, DNATed to a container, be routed out of ``bridge``."""
    return _sysctl(Path(f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet"), "1")


def _sysctl(path: Path, value: str) -> str | None:
    try:
        if path.read_text().strip() != value:
            path.write_text(value)
    except OSError as error:
        return f"cannot set {path}: {error.strerror}"
    return None


def sync(paths: EnginePaths, store: NetworkStore) -> None:
    """Bring the kernel's rules in line with the database; the caller holds ``locked``."""
    endpoints = {}
    for endpoint in store.all_endpoints():
        if endpoint.ifname == "eth0":  # published ports lead to the first network's address
            endpoints[endpoint.container_id] = endpoint
    networks = {network.id: network for network in store.all()}
    published = [
        Published(mapping, str(endpoints[cid].address))
        for cid, mappings in store.ports_by_container().items() if cid in endpoints
        for mapping in mappings
    ]  # fmt: skip
    apply(paths, list(networks.values()), published)
