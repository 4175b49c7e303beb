"""Real containers on real bridges: names, isolation, published ports, modes, clean-up.

Every network here uses 10.251.0.0/16, a range of the tests' own; the engine_paths
fixture removes the engine's bridges and nftables table even when a test fails.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from engine.api import Engine

HTTPD = "mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 80 -h /www"


def _ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _host_links() -> set[str]:
    return {name for _, name in socket.if_nameindex()}


def _db_count(engine: Engine, table: str) -> int:
    with sqlite3.connect(engine.paths.database) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def _until(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def _assert_released(engine: Engine, container_ids: list[str]) -> None:
    """No lease, port, pinned namespace or host veth of these containers remains."""
    assert _db_count(engine, "endpoints") == 0
    assert _db_count(engine, "ports") == 0
    netns_dir = engine.paths.runroot / "netns"
    assert not netns_dir.exists() or not any(netns_dir.iterdir())
    prefixes = tuple(f"vb{cid[:10]}" for cid in container_ids)
    # The kernel deletes a namespace's veths shortly after its last reference goes.
    assert _until(lambda: not [n for n in _host_links() if n.startswith(prefixes)])


def test_containers_reach_each_other_by_name_but_not_across_networks(berth) -> None:
    _ok(berth("network", "create", "--subnet", "10.251.11.0/24", "berth_test_a"))
    _ok(berth("network", "create", "--subnet", "10.251.12.0/24", "berth_test_b"))
    _ok(berth("run", "-d", "--name", "web", "--network", "berth_test_a", "--network-alias",
              "www", "busybox", "sh", "-c", HTTPD.format(text="hello-by-name")))  # fmt: skip
    # busybox's wget -T crashes in Debian's static build: the timeout applet bounds it.
    fetch = "for i in $(seq 10); do timeout 3 wget -qO- http://$0/ && exit; sleep 0.2; done"
    page = berth("run", "--rm", "--network", "berth_test_a", "busybox", "sh", "-c", fetch, "web")
    assert _ok(page) == "hello-by-name"
    assert _ok(berth("run", "--rm", "--network", "berth_test_a", "busybox",
                     "timeout", "3", "wget", "-qO-", "http://www/")) == "hello-by-name"  # fmt: skip
    address = json.loads(_ok(berth("network", "inspect", "berth_test_a")))[0]["Containers"]
    web_ip = next(iter(address.values()))["IPv4Address"].split("/")[0]
    other = berth("run", "--rm", "--network", "berth_test_b", "busybox", "sh", "-c",
                  f"timeout 3 wget -qO- http://web/; echo name=$?; "
                  f"timeout 3 wget -qO- http://{web_ip}/; echo address=$?")  # fmt: skip
    assert "hello-by-name" not in other.stdout
    assert "name=0" not in other.stdout and "address=0" not in other.stdout


def test_a_published_port_serves_the_host_at_127_0_0_1(berth) -> None:
    container = _ok(berth("run", "-d", "-p", "18080:80", "busybox", "sh", "-c",
                          HTTPD.format(text="hello-from-port")))  # fmt: skip
    body = ""
    for _ in range(50):
        try:
            with urllib.request.urlopen("http://127.0.0.1:18080/", timeout=2) as response:
                body = response.read().decode().strip()
            break
        except OSError:
            time.sleep(0.1)
    assert body == "hello-from-port"
    assert _ok(berth("port", container)) == "80/tcp -> 0.0.0.0:18080"
    assert "0.0.0.0:18080->80/tcp" in _ok(berth("ps"))
    settings = json.loads(_ok(berth("inspect", container)))[0]["NetworkSettings"]
    assert settings["Ports"] == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "18080"}]}
    assert settings["IPAddress"] == settings["Networks"]["bridge"]["IPAddress"] != ""
    _ok(berth("rm", "-f", container))
    with pytest.raises(OSError):
        urllib.request.urlopen("http://127.0.0.1:18080/", timeout=1)


def test_network_modes(berth) -> None:
    none = _ok(berth("run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net"))
    assert none.split() == ["lo"]
    host = _ok(berth("run", "--rm", "--network", "host", "busybox", "ls", "/sys/class/net"))
    assert {"lo", "eth0"} <= set(host.split()) and set(host.split()) & _host_links()
    first = _ok(berth("run", "-d", "--name", "first", "busybox", "sleep", "60"))
    own = _ok(berth("exec", first, "ip", "-o", "-4", "addr", "show", "eth0")).split()[3]
    shared = _ok(berth("run", "--rm", "--network", "container:first", "busybox",
                       "ip", "-o", "-4", "addr", "show", "eth0")).split()[3]  # fmt: skip
    assert shared == own


def test_the_container_files_follow_the_flags(berth) -> None:
    _ok(berth("network", "create", "--subnet", "10.251.14.0/24", "berth_test_files"))
    script = "cat /etc/hostname /etc/hosts /etc/resolv.conf; ip -o -4 addr show eth0; ip route"
    out = _ok(berth("run", "--rm", "--network", "berth_test_files", "--ip", "10.251.14.77",
                    "--hostname", "box", "--add-host", "db.example:10.251.99.9",
                    "--dns", "10.251.99.53", "--dns-search", "test.example",
                    "busybox", "sh", "-c", script))  # fmt: skip
    assert out.splitlines()[0] == "box"
    assert "10.251.14.77\tbox" in out and "10.251.99.9\tdb.example" in out
    assert "nameserver 10.251.99.53" in out and "search test.example" in out
    assert "inet 10.251.14.77/24" in out and "default via 10.251.14.1" in out


def test_a_start_on_the_default_network_leaves_the_others_hosts_files_alone(
    berth, engine: Engine
) -> None:
    """The default network lists no peers: 100 runs must not each rewrite 99 files."""
    first = _ok(berth("run", "-d", "busybox", "sleep", "60"))
    hosts = engine.paths.container_dir(first) / "hosts"
    before = hosts.stat().st_mtime_ns
    second = _ok(berth("run", "-d", "busybox", "sleep", "60"))
    assert hosts.stat().st_mtime_ns == before
    assert second[:12] not in hosts.read_text()


def test_a_connect_leaves_the_default_networks_other_hosts_files_alone(
    berth, engine: Engine
) -> None:
    """Only the joining container's file and its new peers' change (the default network
    names no peers)."""
    other = _ok(berth("run", "-d", "busybox", "sleep", "60"))
    hosts = engine.paths.container_dir(other) / "hosts"
    before = hosts.stat().st_mtime_ns
    box = _ok(berth("run", "-d", "busybox", "sleep", "60"))
    _ok(berth("network", "create", "--subnet", "10.251.21.0/24", "berth_test_join"))
    _ok(berth("network", "connect", "berth_test_join", box))
    assert "10.251.21." in _ok(berth("exec", box, "cat", "/etc/hosts"))
    _ok(berth("network", "disconnect", "berth_test_join", box))
    assert "10.251.21." not in _ok(berth("exec", box, "cat", "/etc/hosts"))
    assert hosts.stat().st_mtime_ns == before


def test_connect_and_disconnect_a_running_container(berth) -> None:
    _ok(berth("network", "create", "--subnet", "10.251.15.0/24", "berth_test_c1"))
    _ok(berth("network", "create", "--subnet", "10.251.16.0/24", "berth_test_c2"))
    _ok(berth("run", "-d", "--name", "peer", "--network", "berth_test_c2", "busybox",
              "sleep", "60"))  # fmt: skip
    box = _ok(berth("run", "-d", "--network", "berth_test_c1", "busybox", "sleep", "60"))
    _ok(berth("network", "connect", "berth_test_c2", box))
    assert "peer" in _ok(berth("exec", box, "cat", "/etc/hosts"))
    assert "inet 10.251.16." in _ok(berth("exec", box, "ip", "-o", "-4", "addr"))
    _ok(berth("network", "disconnect", "berth_test_c2", box))
    assert "peer" not in _ok(berth("exec", box, "cat", "/etc/hosts"))
    assert "eth1" not in _ok(berth("exec", box, "ls", "/sys/class/net"))
    assert berth("network", "rm", "berth_test_c2").returncode != 0  # peer is still on it


def test_a_connect_killed_before_its_lease_commits_is_undone(berth, engine: Engine) -> None:
    """What a ``network connect`` SIGKILLed between making the interface and committing
    its lease leaves: a live interface in the container, its wiring marker unlocked."""
    _ok(berth("network", "create", "--subnet", "10.251.18.0/24", "berth_test_k1"))
    _ok(berth("network", "create", "--subnet", "10.251.19.0/24", "berth_test_k2"))
    box = _ok(berth("run", "-d", "--network", "berth_test_k1", "busybox", "sleep", "60"))
    pid = json.loads(_ok(berth("inspect", box)))[0]["State"]["Pid"]
    host_side = f"vb{box[:10]}1"
    subprocess.run(["ip", "link", "add", host_side, "type", "veth", "peer", "name", "orphan"],
                   check=True)  # fmt: skip
    subprocess.run(["ip", "link", "set", "orphan", "netns", str(pid)], check=True)
    subprocess.run(["nsenter", "-t", str(pid), "-n", "ip", "addr", "add", "10.251.19.9/24",
                    "dev", "orphan"], check=True)  # fmt: skip
    (engine.paths.runroot / "wiring").mkdir(exist_ok=True)
    (engine.paths.runroot / "wiring" / host_side).touch()

    networks = json.loads(_ok(berth("inspect", box)))[0]["NetworkSettings"]["Networks"]
    assert list(networks) == ["berth_test_k1"]
    assert "orphan" not in _ok(berth("exec", box, "ls", "/sys/class/net"))
    assert _until(lambda: host_side not in _host_links())
    assert not (engine.paths.runroot / "wiring" / host_side).exists()
    _ok(berth("network", "connect", "berth_test_k2", box))
    assert "inet 10.251.19." in _ok(berth("exec", box, "ip", "-o", "-4", "addr"))


def test_internal_network_has_no_default_route(berth) -> None:
    _ok(berth("network", "create", "--internal", "--subnet", "10.251.17.0/24", "berth_test_int"))
    routes = _ok(berth("run", "--rm", "--network", "berth_test_int", "busybox", "ip", "route"))
    assert "default" not in routes
    inspect = json.loads(_ok(berth("network", "inspect", "berth_test_int")))[0]
    assert inspect["Internal"] is True and inspect["Outbound"].startswith("none")


def test_fifty_concurrent_containers_get_unique_addresses_and_leave_nothing(
    berth, engine: Engine
) -> None:
    _ok(berth("network", "create", "--subnet", "10.251.20.0/24", "berth_test_many"))
    with ThreadPoolExecutor(max_workers=8) as pool:
        runs = list(pool.map(
            lambda _: berth("run", "-d", "--network", "berth_test_many", "busybox", "sleep", "60",
                            timeout=120), range(50)))  # fmt: skip
        ids = [_ok(run) for run in runs]
        members = json.loads(_ok(berth("network", "inspect", "berth_test_many")))[0]["Containers"]
        addresses = [member["IPv4Address"] for member in members.values()]
        assert len(addresses) == 50 and len(set(addresses)) == 50
        list(pool.map(lambda cid: _ok(berth("rm", "-f", cid, timeout=120)), ids))
    _assert_released(engine, ids)
    _ok(berth("network", "rm", "berth_test_many"))


def test_failed_runs_and_lost_monitors_leave_nothing(berth, engine: Engine) -> None:
    failed = berth("run", "--name", "broken", "-p", "18081:80", "busybox", "/no/such/command")
    assert failed.returncode == 127
    _assert_released(engine, [_ok(berth("ps", "-aq", "--no-trunc"))])
    box = _ok(berth("run", "-d", "-p", "18082:80", "busybox", "sleep", "60"))
    with sqlite3.connect(engine.paths.database) as conn:
        monitor = conn.execute("SELECT monitor_pid FROM containers WHERE id = ?", (box,)).fetchone()
    os.kill(monitor[0], signal.SIGKILL)
    assert _until(lambda: "Exited" in _ok(berth("ps", "-a")))
    _assert_released(engine, [box])


def test_a_veth_left_by_a_killed_start_does_not_block_the_next(berth, engine: Engine) -> None:
    """A start killed after making the pair, before moving its peer into the namespace,
    leaves ``vb<id>0`` on the host; the next start replaces it (the kill matrix found it)."""
    box = _ok(berth("create", "busybox", "sleep", "60"))
    stale = f"vb{box[:10]}0"
    subprocess.run(["ip", "link", "add", stale, "type", "veth", "peer", "name", f"{stale}p"],
                   check=True)  # fmt: skip
    try:
        _ok(berth("start", box))
        assert _ok(berth("inspect", "-f", "{{.State.Status}}", box)) == "running"
    finally:
        _ok(berth("rm", "-f", box))
    _assert_released(engine, [box])
