"""The networks service: networks, and wiring containers into them."""

from __future__ import annotations

import asyncio
import fcntl
import json
import secrets
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any, Protocol

from engine.errors import ConflictError, InvalidArgumentError, NotFoundError
from engine.network import boot_cache, etc, firewall, ipam, netns, ports, wiring
from engine.network.model import (
    CONTAINER_PREFIX,
    DEFAULT_NETWORK,
    HOST_NETWORK,
    NO_NETWORK,
    ContainerNetwork,
    Endpoint,
    Network,
    PortMapping,
)
from engine.network.release import namespace_path, release, sweep
from engine.network.store import NetworkStore
from engine.paths import EnginePaths
from engine.state import Database
from engine.timestamps import now

_MODES = (NO_NETWORK, HOST_NETWORK)
# Host-wide, not per engine root: every root's bridges share the host's address space.
_HOST_SUBNETS_LOCK = Path("/run/berth-subnets.lock")


@contextmanager
def _host_subnets_locked() -> Iterator[None]:
    with open(_HOST_SUBNETS_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


class _NetworkOptions(Protocol):
    """The networking choices of a container's create options (CreateOptions has them)."""

    @property
    def network(self) -> str: ...
    @property
    def connected(self) -> list[str]: ...
    @property
    def ip(self) -> str | None: ...
    @property
    def network_aliases(self) -> list[str]: ...
    @property
    def add_hosts(self) -> list[str]: ...
    @property
    def dns(self) -> list[str]: ...
    @property
    def dns_search(self) -> list[str]: ...
    @property
    def publish(self) -> list[str]: ...
    @property
    def publish_all(self) -> bool: ...
    @property
    def hostname(self) -> str | None: ...


class Container(Protocol):
    """What the network service reads of a container (engine.containers.model.Container).

    A protocol, not the class: the networks sit below the containers and never import them.
    """

    @property
    def id(self) -> str: ...
    @property
    def short_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def running(self) -> bool: ...
    @property
    def options(self) -> _NetworkOptions: ...


class NetworkService:
    def __init__(self, paths: EnginePaths, db: Database) -> None:
        self._paths = paths
        self._db = db
        self._store = NetworkStore(db)

    # -- networks ------------------------------------------------------------------------

    async def create(self, name: str, *, subnet: str | None = None, gateway: str | None = None,
                     internal: bool = False) -> Network:  # fmt: skip
        """A new bridge network; a free subnet unless ``subnet``."""
        if name in (*_MODES, DEFAULT_NETWORK) or name.startswith(CONTAINER_PREFIX):
            raise InvalidArgumentError(f'"{name}" is a reserved network name')
        return await asyncio.to_thread(self._create, name, subnet, gateway, internal)

    def _create(self, name: str, subnet: str | None, gateway: str | None,
                internal: bool) -> Network:  # fmt: skip
        from engine.network import netlink

        if subnet:
            network_subnet, network_gateway = ipam.parse_subnet(subnet, gateway)
            return self._add(name, network_subnet, network_gateway, internal)
        # Engines under other roots pick from the same pool: the host's routes say what
        # they took, so choosing and raising the bridge is one step host-wide.
        with _host_subnets_locked():
            taken = [n.subnet for n in self._store.all()] + netlink.host_routes()
            network_subnet = ipam.free_subnet(taken, default=name == DEFAULT_NETWORK)
            return self._add(name, network_subnet, network_subnet.network_address + 1, internal)

    def _add(self, name: str, subnet: IPv4Network, gateway: IPv4Address,
             internal: bool) -> Network:  # fmt: skip
        network_id = secrets.token_hex(32)
        network = Network(network_id, name, subnet, gateway, f"br-{network_id[:12]}",
                          internal, now())  # fmt: skip
        self._store.insert(network)  # the row first: a crash leaves a row, never a stray bridge
        self._ensure_bridge(network)
        return network

    async def list(self) -> list[Network]:
        return await asyncio.to_thread(self._store.all)

    async def get(self, ref: str) -> Network:
        return await asyncio.to_thread(self._store.resolve, ref)

    async def inspect(self, ref: str) -> dict[str, Any]:
        """Docker-shaped ``network inspect`` JSON, plus what outbound traffic can do."""
        network = await self.get(ref)
        return await asyncio.to_thread(self._inspect, network)

    def _inspect(self, network: Network) -> dict[str, Any]:
        members = self._store.members(network.id)
        prefix = network.subnet.prefixlen
        return {
            "Name": network.name, "Id": network.id, "Created": network.created,
            "Scope": "local", "Driver": "bridge", "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Config": [
                {"Subnet": str(network.subnet), "Gateway": str(network.gateway)}]},
            "Internal": network.internal,
            "Containers": {m.container_id: {"Name": m.name, "Aliases": m.aliases,
                                            "IPv4Address": f"{m.address}/{prefix}"}
                           for m in members},
            "Options": {"com.docker.network.bridge.name": network.bridge},
            "Outbound": self._outbound(network),
        }  # fmt: skip

    def _outbound(self, network: Network) -> str:
        if network.internal:
            return "none: the network is internal"
        problem = firewall.available(self._paths) or firewall.enable_forwarding()
        return f"not masqueraded: {problem}" if problem else "masqueraded"

    async def outbound_problem(self, container: Container) -> str | None:
        """Why the container's traffic cannot leave the host, if it cannot (for ``run``)."""
        names = self._network_names(container)
        if not names:
            return None
        network = await asyncio.to_thread(self._store.find, names[0])
        if network is None or network.internal:
            return None
        outbound = await asyncio.to_thread(self._outbound, network)
        return None if outbound == "masqueraded" else f"outbound traffic is {outbound}"

    async def remove(self, ref: str) -> Network:
        network = await self.get(ref)
        await asyncio.to_thread(self._remove, network)
        return network

    def _remove(self, network: Network) -> None:
        from engine.network import netlink

        members = self._store.members(network.id)
        if members:
            names = ", ".join(member.name for member in members)
            raise ConflictError(f"network {network.name} has active endpoints ({names})")
        netlink.delete_link(network.bridge)  # the bridge first: a crash leaves a row to retry
        self._store.delete(network.id)
        self._sync_firewall()

    async def prune(self, only: Collection[str] | None = None) -> list[Network]:
        """Remove every network but the default with no container attached; of the ids in
        ``only`` alone if given (what a prune's --filter let through)."""
        removed = []
        for network in await self.list():
            if network.name == DEFAULT_NETWORK or (only is not None and network.id not in only):
                continue
            try:
                await asyncio.to_thread(self._remove, network)
            except ConflictError:
                continue
            removed.append(network)
        return removed

    def remove_all(self) -> None:
        """Remove every network, the default included, and the engine's rules (a reset).

        Containers must be gone first; the engine's bridges and table go with its root.
        """
        for network in self._store.all():
            self._remove(network)

    # -- containers: wiring at start, releasing at the end ---------------------------------

    def attach(self, container: Container, image_config: dict,
               peer: Callable[[str], tuple[str, Path]]) -> ContainerNetwork:  # fmt: skip
        """Wire the container's network before its runtime starts it (in a worker thread).

        ``peer(ref)`` gives the network namespace path and bundle directory of a running
        container, for ``--network container:<ref>``. On failure nothing stays behind.
        """
        mode = container.options.network
        hosts = self._paths.container_dir(container.id) / "hosts"
        if mode in _MODES:
            etc.write(hosts, self._hosts(container))
            namespace = None if mode == HOST_NETWORK else {"type": "network"}
            return ContainerNetwork(namespace, hosts, self._resolv(container))
        if mode.startswith(CONTAINER_PREFIX):  # Docker shares the other container's files too
            path, bundle = peer(mode.removeprefix(CONTAINER_PREFIX))
            etc.write(hosts, (bundle / "hosts").read_text())
            return ContainerNetwork({"type": "network", "path": path}, hosts,
                                    (bundle / "resolv.conf").read_text())  # fmt: skip
        sweep(self._paths, self._db)
        release(self._paths, self._db, container.id)  # what a lost monitor may have left
        try:
            return self._attach_bridged(container, image_config)
        except BaseException:
            release(self._paths, self._db, container.id)
            raise

    def _attach_bridged(self, container: Container, image_config: dict) -> ContainerNetwork:
        options = container.options
        path = namespace_path(self._paths, container.id)
        netns.create(path)
        mtu = self._host_mtu()
        networks = [self._network(name) for name in self._network_names(container)]
        for position, network in enumerate(networks):
            first = position == 0
            self._wire(container, network, position, mtu, options.ip if first else None,
                       options.network_aliases if first else [])  # fmt: skip
        specs = [ports.parse(spec) for spec in options.publish]
        if options.publish_all:
            specs += ports.exposed(image_config)
        hosts = self._paths.container_dir(container.id) / "hosts"
        with firewall.locked(self._paths):
            if specs:
                self._publish(container.id, specs)
            # Under the lock: a peer joining meanwhile rewrites this file after us, not before.
            etc.write(hosts, self._hosts(container))
            etc.refresh_peers(self._paths, self._store, {network.id for network in networks})
        return ContainerNetwork({"type": "network", "path": str(path)}, hosts,
                                self._resolv(container))  # fmt: skip

    def _network_names(self, container: Container) -> list[str]:
        mode = container.options.network
        if mode in _MODES or mode.startswith(CONTAINER_PREFIX):
            return []
        return list(dict.fromkeys([mode, *container.options.connected]))

    def _network(self, name: str) -> Network:
        """The named network; the default one is made on first use."""
        network = self._store.find(name)
        if network is not None:
            return network
        if name != DEFAULT_NETWORK:
            raise NotFoundError(f'no such network: "{name}" (create it with berth network create)')
        try:
            return self._create(DEFAULT_NETWORK, None, None, False)
        except ConflictError:  # a concurrent run made it first
            return self._store.resolve(DEFAULT_NETWORK)

    def _wire(self, container: Container, network: Network, position: int, mtu: int,
              ip: str | None, aliases: list[str]) -> Endpoint:  # fmt: skip
        from engine.network import netlink

        self._ensure_bridge(network)
        wanted = Endpoint(container.id, network.id, network.gateway, f"eth{position}",
                          f"vb{container.id[:10]}{position}",
                          str(namespace_path(self._paths, container.id)), aliases)  # fmt: skip

        def wire(endpoint: Endpoint) -> None:
            netlink.add_veth(netlink.Veth(
                network.bridge, endpoint.host_ifname, namespace_path(self._paths, container.id),
                endpoint.ifname, endpoint.address, network.subnet.prefixlen,
                None if network.internal else network.gateway, mtu,
            ))  # fmt: skip

        with wiring.held(self._paths, wanted.host_ifname):
            # Named after the container: a pair of that name is what a start killed midway
            # left. Its namespace, unpinned by the release before, frees it only once the
            # kernel's background clean-up runs; until then it would block the start.
            netlink.delete_link(wanted.host_ifname)
            return self._store.lease(wanted, network, ip, wire)

    def _ensure_bridge(self, network: Network) -> None:
        """The network's bridge, made again if it is gone (a reboot), with its rules."""
        from engine.network import netlink

        if netlink.link_exists(network.bridge):
            return
        netlink.ensure_bridge(network.bridge, network.gateway, network.subnet.prefixlen,
                              self._host_mtu())  # fmt: skip
        if firewall.available(self._paths) is None:
            firewall.allow_loopback_dnat(network.bridge)
            if not network.internal:
                firewall.enable_forwarding()
        self._sync_firewall()

    def _host_mtu(self) -> int:
        from engine.network import netlink

        return boot_cache.cached(self._paths.runroot, "host-mtu", netlink.host_mtu)

    def _publish(self, container_id: str, specs: list[ports.PortSpec]) -> None:
        problem = firewall.available(self._paths)
        if problem:
            raise ConflictError(f"cannot publish ports: they need nftables, and {problem}")
        mappings = ports.resolve(specs, self._store.published_host_ports())
        self._store.publish(container_id, mappings)
        firewall.sync(self._paths, self._store)

    def _sync_firewall(self) -> None:
        if firewall.available(self._paths) is None:
            with firewall.locked(self._paths):
                firewall.sync(self._paths, self._store)

    def _hosts(self, container: Container) -> str:
        options = container.options
        return etc.hosts(container.id, options.hostname or container.short_id,
                         options.add_hosts, self._store)  # fmt: skip

    def _resolv(self, container: Container) -> str:
        return etc.resolv_conf(container.options.dns, container.options.dns_search)

    def release(self, container_id: str) -> None:
        """Give back everything the container's networking holds (in a worker thread)."""
        release(self._paths, self._db, container_id)

    # -- connect, disconnect, ports ---------------------------------------------------------

    async def connect(self, ref: str, container: Container, aliases: list[str]) -> None:
        """Attach the container to another network: now if it runs, else from its next start."""
        network = await self.get(ref)
        await asyncio.to_thread(self._connect, network, container, aliases)

    def _connect(self, network: Network, container: Container, aliases: list[str]) -> None:
        names = self._network_names(container)
        if not names:
            raise InvalidArgumentError(
                f"container {container.name} uses --network {container.options.network}: "
                "it cannot join networks"
            )
        self._settle_wiring(container.id)
        endpoints = self._store.endpoints_of(container.id)
        if network.name in names:
            # Recorded, yet not wired in a running container: a connect killed midway.
            unwired = container.running and all(e.network_id != network.id for e in endpoints)
            if not unwired:
                raise ConflictError(f"container {container.name} is already on {network.name}")
        else:
            self._save_connected(container.id, [*container.options.connected, network.name])
        if not container.running or not endpoints:
            return
        position = max(int(e.ifname.removeprefix("eth")) for e in endpoints) + 1
        self._wire(container, network, position, self._host_mtu(), None, aliases)
        with firewall.locked(self._paths):
            etc.refresh_membership(self._paths, self._store, container.id, network.id)

    async def disconnect(self, ref: str, container: Container) -> None:
        network = await self.get(ref)
        await asyncio.to_thread(self._disconnect, network, container)

    def _disconnect(self, network: Network, container: Container) -> None:
        if network.name not in container.options.connected:
            raise InvalidArgumentError(
                f"container {container.name} is not connected to {network.name} "
                "by network connect (its first network stays while it exists)"
            )
        connected = [name for name in container.options.connected if name != network.name]
        self._save_connected(container.id, connected)
        endpoint = next((e for e in self._store.endpoints_of(container.id)
                         if e.network_id == network.id), None)  # fmt: skip
        if endpoint is None:
            return
        from engine.network import netlink

        netlink.delete_link(endpoint.host_ifname)
        self._store.drop_endpoint(container.id, network.id)
        with firewall.locked(self._paths):
            etc.refresh_membership(self._paths, self._store, container.id, network.id)

    def _save_connected(self, container_id: str, connected: list[str]) -> None:
        """Record the container's extra networks in its stored options (their JSON)."""
        with self._db.write() as tx:
            tx.execute("UPDATE containers SET options = json_set(options, '$.connected', "
                       "json(?)) WHERE id = ?", (json.dumps(connected), container_id))  # fmt: skip

    async def ports(self, container_id: str) -> list[PortMapping]:
        return await asyncio.to_thread(self._store.ports_of, container_id)

    async def all_ports(self) -> dict[str, list[PortMapping]]:
        """Published ports of every container, by container id (for ``ps``)."""
        return await asyncio.to_thread(self._store.ports_by_container)

    async def endpoints(self, container_id: str) -> list[tuple[Network, Endpoint]]:
        return await asyncio.to_thread(self._endpoints, container_id)

    def _endpoints(self, container_id: str) -> list[tuple[Network, Endpoint]]:
        self._settle_wiring(container_id)
        endpoints = self._store.endpoints_of(container_id)
        return [(self._store.by_id(endpoint.network_id), endpoint) for endpoint in endpoints]

    def _settle_wiring(self, container_id: str) -> None:
        """Undo what a ``network connect`` killed midway left: an interface without a lease."""

        def leased(host_ifname: str) -> bool:
            return any(e.host_ifname == host_ifname for e in self._store.endpoints_of(container_id))

        wiring.settle(self._paths, container_id, leased)
