"""Giving back what a container's networking holds: its namespace, leases and ports.

Used by the engine (rm, failed starts, lost monitors) and by the monitor's exit
command when the container stops for good; so no netlink here. Unpinning the namespace
is enough for the links: with the last reference gone, the kernel deletes the veth pair.
"""

from __future__ import annotations

from pathlib import Path

from engine.network import etc, firewall, netns, wiring
from engine.network.store import NetworkStore
from engine.paths import EnginePaths
from engine.state import Database


def namespace_path(paths: EnginePaths, container_id: str) -> Path:
    return paths.runroot / "netns" / container_id


def release(paths: EnginePaths, db: Database, container_id: str) -> None:
    """Unpin the namespace, drop leases and ports, and tell peers and the firewall."""
    store = NetworkStore(db)
    networks = {endpoint.network_id for endpoint in store.endpoints_of(container_id)}
    netns.remove(namespace_path(paths, container_id))
    # The namespace took every interface with it, recorded or not.
    wiring.settle(paths, container_id, leased=lambda _: True)
    had_ports = store.drop_container(container_id)
    if not networks and not had_ports:
        return
    with firewall.locked(paths):
        etc.refresh_peers(paths, store, networks)
        if had_ports:
            firewall.sync(paths, store)


def sweep(paths: EnginePaths, db: Database) -> None:
    """Unpin namespaces of containers that no longer exist (their monitor died with --rm)."""
    directory = paths.runroot / "netns"
    if not directory.is_dir():
        return
    known = NetworkStore(db).container_ids()
    for path in directory.iterdir():
        if path.name not in known:
            netns.remove(path)
