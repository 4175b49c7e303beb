"""A container's /etc/hosts and /etc/resolv.conf, and keeping peers' hosts files current.

Name resolution works through /etc/hosts (podman's approach before netavark's aardvark):
when a container joins or leaves a user network, every member's hosts file is rewritten.
berth has no daemon to host a DNS responder, and a hosts file needs nothing in the
container: static binaries and busybox's resolver read it as well as glibc does.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from engine.errors import InvalidArgumentError
from engine.linux.files import write_atomically
from engine.network.store import Member, NetworkStore
from engine.paths import EnginePaths

_BASE_HOSTS = """127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
"""


def hosts(container_id: str, hostname: str, add_hosts: list[str], store: NetworkStore) -> str:
    """The container's hosts file: itself on each network, its peers, then --add-host."""
    own, peers = [], []
    for endpoint in store.endpoints_of(container_id):
        network = store.by_id(endpoint.network_id)
        own.append(f"{endpoint.address}\t{hostname}")
        if network.resolves_names:
            peers += [_line(member) for member in store.members(network.id)
                      if member.container_id != container_id]  # fmt: skip
    if not own:
        own.append(f"127.0.1.1\t{hostname}")
    extra = [f"{address}\t{name}" for name, address in map(_host_entry, add_hosts)]
    return _BASE_HOSTS + "".join(f"{line}\n" for line in [*own, *peers, *extra])


def _line(member: Member) -> str:
    names = dict.fromkeys([member.name, *member.aliases, member.hostname])
    return f"{member.address}\t{' '.join(names)}"


def _host_entry(entry: str) -> tuple[str, str]:
    name, sep, address = entry.partition(":")
    if not sep or not name or not address:
        raise InvalidArgumentError(f'--add-host "{entry}": expected HOST:IP')
    return name, address


def resolv_conf(dns: list[str], dns_search: list[str]) -> str:
    """--dns/--dns-search if given, else the host's, without loopback name servers
    (a resolver on the host's 127.0.0.1 is not reachable from the container)."""
    try:
        lines = Path("/etc/resolv.conf").read_text().splitlines()
    except OSError:
        lines = []
    if dns:
        lines = [line for line in lines if not line.startswith("nameserver")]
        lines += [f"nameserver {server}" for server in dns]
    if dns_search:
        lines = [line for line in lines if not line.startswith(("search", "domain"))]
        lines.append(f"search {' '.join(dns_search)}")
    kept = [line for line in lines
            if not (line.startswith("nameserver") and _loopback(line))]  # fmt: skip
    return "\n".join(kept) + "\n"


def _loopback(line: str) -> bool:
    server = line.split()[1] if len(line.split()) > 1 else ""
    return server.startswith("127.") or server == "::1"


def refresh_membership(paths: EnginePaths, store: NetworkStore, container_id: str,
                       network_id: str) -> None:  # fmt: skip
    """Rewrite what a running container joining or leaving a network changes: its own
    hosts file, and its peers' there if the network resolves names.

    Its other networks' members list it by its address there, which stays. The caller
    holds the network lock, so the last rewrite reflects the last change.
    """
    _refresh(paths, store, container_id)
    refresh_peers(paths, store, {network_id}, but=container_id)


def refresh_peers(paths: EnginePaths, store: NetworkStore, network_ids: set[str],
                  but: str | None = None) -> None:  # fmt: skip
    """Rewrite the hosts files that a container joining or leaving these networks changes.

    Only networks that resolve names list peers. On the default one no other file
    changes, and rewriting them all cost O(n) per start under the network lock: O(n²)
    for n concurrent runs. ``but``: a container whose file is done already.
    """
    resolving = {network.id for network in store.all() if network.resolves_names}
    done = {but}
    for network_id in network_ids & resolving:
        for member in store.members(network_id):
            if member.container_id not in done:
                done.add(member.container_id)
                _refresh(paths, store, member.container_id)


def _refresh(paths: EnginePaths, store: NetworkStore, container_id: str) -> None:
    """Rewrite a running container's hosts file in place.

    In place, not by rename: the running container has the file's inode bind-mounted.
    """
    options = store.container_options(container_id)
    text = hosts(container_id, options.get("hostname") or container_id[:12],
                 options.get("add_hosts") or [], store)  # fmt: skip
    _rewrite(paths.container_dir(container_id) / "hosts", text)


def write(path: Path, text: str) -> None:
    """A new hosts file, for a container not running yet."""
    write_atomically(path, text)


def _rewrite(path: Path, text: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        fd = os.open(path, os.O_WRONLY)
        try:
            data = text.encode()
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)
