"""Network, endpoint (address lease) and published-port rows."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address

from engine.errors import AmbiguousError, ConflictError, NotFoundError
from engine.network import ipam
from engine.network.model import Endpoint, Network, PortMapping
from engine.state import Database


@dataclass(frozen=True)
class Member:
    """A container attached to a network, as its peers' /etc/hosts name it."""

    container_id: str
    name: str
    hostname: str
    address: IPv4Address
    aliases: list[str]


class NetworkStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- networks -----------------------------------------------------------------------

    def insert(self, network: Network) -> None:
        try:
            with self._db.write() as tx:
                tx.execute(
                    "INSERT INTO networks (id, name, subnet, gateway, bridge, internal, created)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (network.id, network.name, str(network.subnet), str(network.gateway),
                     network.bridge, int(network.internal), network.created),
                )  # fmt: skip
        except sqlite3.IntegrityError:
            if self._db.query("SELECT 1 FROM networks WHERE name = ?", (network.name,)):
                raise ConflictError(f'network "{network.name}" already exists') from None
            raise ConflictError(f"subnet {network.subnet} is already used by a network") from None

    def all(self) -> list[Network]:
        rows = self._db.query("SELECT * FROM networks ORDER BY created")
        return [Network.from_row(row) for row in rows]

    def find(self, name: str) -> Network | None:
        rows = self._db.query("SELECT * FROM networks WHERE name = ?", (name,))
        return Network.from_row(rows[0]) if rows else None

    def by_id(self, network_id: str) -> Network:
        return Network.from_row(
            self._db.query("SELECT * FROM networks WHERE id = ?", (network_id,))[0]
        )

    def resolve(self, ref: str) -> Network:
        """The network ``ref`` names: exact name, exact id, then a unique id prefix."""
        rows = self._db.query("SELECT * FROM networks WHERE name = ? OR id = ?", (ref, ref))
        if not rows and ref and all(c in "0123456789abcdef" for c in ref):
            rows = self._db.query(
                "SELECT * FROM networks WHERE id >= ? AND id < ?", (ref, ref + "g")
            )
            if len(rows) > 1:
                raise AmbiguousError(f'network id prefix "{ref}" matches {len(rows)} networks')
        if not rows:
            raise NotFoundError(f'no such network: "{ref}" (see berth network ls)')
        return Network.from_row(rows[0])

    def delete(self, network_id: str) -> None:
        with self._db.write() as tx:
            tx.execute("DELETE FROM networks WHERE id = ?", (network_id,))

    # -- endpoints: the address leases ---------------------------------------------------

    def lease(
        self, endpoint: Endpoint, network: Network, wanted_ip: str | None,
        wire: Callable[[Endpoint], None],
    ) -> Endpoint:  # fmt: skip
        """Record ``endpoint`` with a free address of ``network`` (``wanted_ip`` if given),
        and ``wire`` it (make its interface) before the record commits.

        One write transaction reads the used addresses and inserts: the database's write
        lock makes concurrent leases, from any process, get distinct addresses. Wiring
        inside it means a process killed meanwhile leaves no lease without its interface.
        """
        with self._db.write() as tx:
            used = {IPv4Address(row[0]) for row in tx.execute(
                "SELECT address FROM endpoints WHERE network_id = ?", (network.id,))}  # fmt: skip
            if wanted_ip:
                address = ipam.fixed_address(network.subnet, network.gateway, used, wanted_ip)
            else:
                cursor = tx.execute(
                    "SELECT cursor FROM networks WHERE id = ?", (network.id,)
                ).fetchone()[0]
                address = ipam.next_address(network.subnet, network.gateway, used, cursor)
            tx.execute(
                "INSERT INTO endpoints (container_id, network_id, address, ifname, host_ifname,"
                " netns, aliases) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (endpoint.container_id, network.id, str(address), endpoint.ifname,
                 endpoint.host_ifname, endpoint.netns, json.dumps(endpoint.aliases)),
            )  # fmt: skip
            host_number = int(address) - int(network.subnet.network_address)
            tx.execute("UPDATE networks SET cursor = ? WHERE id = ?", (host_number, network.id))
            leased = Endpoint(endpoint.container_id, network.id, address, endpoint.ifname,
                              endpoint.host_ifname, endpoint.netns, endpoint.aliases)  # fmt: skip
            wire(leased)
        return leased

    def endpoints_of(self, container_id: str) -> list[Endpoint]:
        rows = self._db.query(
            "SELECT * FROM endpoints WHERE container_id = ? ORDER BY ifname", (container_id,)
        )
        return [Endpoint.from_row(row) for row in rows]

    def all_endpoints(self) -> list[Endpoint]:
        return [Endpoint.from_row(row) for row in self._db.query("SELECT * FROM endpoints")]

    def members(self, network_id: str) -> list[Member]:
        """Every container attached to the network, with the names peers know it by."""
        rows = self._db.query(
            "SELECT c.id, c.name, c.options, e.address, e.aliases FROM endpoints e"
            " JOIN containers c ON c.id = e.container_id WHERE e.network_id = ?"
            " ORDER BY e.address",
            (network_id,),
        )
        return [
            Member(row["id"], row["name"], json.loads(row["options"]).get("hostname") or
                   row["id"][:12], IPv4Address(row["address"]), json.loads(row["aliases"]))
            for row in rows
        ]  # fmt: skip

    def drop_endpoint(self, container_id: str, network_id: str) -> None:
        with self._db.write() as tx:
            tx.execute(
                "DELETE FROM endpoints WHERE container_id = ? AND network_id = ?",
                (container_id, network_id),
            )

    def drop_container(self, container_id: str) -> bool:
        """Forget the container's leases and ports; whether it had published ports."""
        with self._db.write() as tx:
            tx.execute("DELETE FROM endpoints WHERE container_id = ?", (container_id,))
            return tx.execute(
                "DELETE FROM ports WHERE container_id = ?", (container_id,)
            ).rowcount > 0  # fmt: skip

    def container_options(self, container_id: str) -> dict:
        """A container's stored create options (JSON), {} once it is gone."""
        rows = self._db.query("SELECT options FROM containers WHERE id = ?", (container_id,))
        return json.loads(rows[0][0]) if rows else {}

    def container_ids(self) -> set[str]:
        return {row[0] for row in self._db.query("SELECT id FROM containers")}

    # -- published ports ------------------------------------------------------------------

    def publish(self, container_id: str, mappings: list[PortMapping]) -> None:
        try:
            with self._db.write() as tx:
                tx.executemany(
                    "INSERT INTO ports (container_id, host_ip, host_port, container_port,"
                    " protocol) VALUES (?, ?, ?, ?, ?)",
                    [(container_id, m.host_ip, m.host_port, m.container_port, m.protocol)
                     for m in mappings],
                )  # fmt: skip
        except sqlite3.IntegrityError:
            raise ConflictError(
                "a host port to publish is already published by another container"
            ) from None

    def ports_of(self, container_id: str) -> list[PortMapping]:
        rows = self._db.query(
            "SELECT * FROM ports WHERE container_id = ? ORDER BY container_port, protocol",
            (container_id,),
        )
        return [_mapping(row) for row in rows]

    def ports_by_container(self) -> dict[str, list[PortMapping]]:
        found: dict[str, list[PortMapping]] = {}
        for row in self._db.query("SELECT * FROM ports ORDER BY container_port"):
            found.setdefault(row["container_id"], []).append(_mapping(row))
        return found

    def published_host_ports(self) -> set[tuple[int, str]]:
        return {(row[0], row[1]) for row in self._db.query(
            "SELECT host_port, protocol FROM ports")}  # fmt: skip


def _mapping(row: sqlite3.Row) -> PortMapping:
    return PortMapping(row["host_ip"], row["host_port"], row["container_port"], row["protocol"])
