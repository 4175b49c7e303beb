#!/usr/bin/env python3
"""Published-port cost: a host download through `-p` (kernel DNAT) against the same
download straight from the container's address, side by side in one run.

The container runs busybox httpd serving a file of zeros; the host fetches it over
127.0.0.1:<published port> and over <container address>:80, alternating rounds so
machine noise hits both alike. It reports throughput (MB/s) and connection latency
(connect + small request + reply, median), and the published/direct ratios.
All traffic stays on loopback and on the benchmark's own bridge (10.251.250.0/24).

    .venv/bin/python bench/port_throughput.py [--megabytes 256] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine.api import Engine
from engine.paths import EnginePaths

BERTH = str(Path(sys.executable).with_name("berth"))
SUBNET = "10.251.250.0/24"
HOST_PORT = 18090


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=256, help="download size (256)")
    parser.add_argument("--rounds", type=int, default=5, help="downloads per path (5)")
    parser.add_argument("--connections", type=int, default=300, help="latency samples (300)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="berth-bench-") as scratch:
        paths = EnginePaths(Path(scratch) / "root", Path(scratch) / "run")
        engine = Engine(paths)
        asyncio.run(engine.images.create_starter())
        try:
            return _bench(paths, args)
        finally:
            _berth(paths, "rm", "-f", "bench-web", check=False)
            engine.networks.remove_all()
            engine.close()


def _bench(paths: EnginePaths, args: argparse.Namespace) -> int:
    _berth(paths, "network", "create", "--subnet", SUBNET, "berth_bench")
    serve = (f"mkdir -p /www && dd if=/dev/zero of=/www/big bs=1M count={args.megabytes} "
             "2>/dev/null && echo ok > /www/small && exec httpd -f -p 80 -h /www")  # fmt: skip
    _berth(paths, "run", "-d", "--name", "bench-web", "--network", "berth_bench",
           "-p", f"{HOST_PORT}:80", "busybox", "sh", "-c", serve)  # fmt: skip
    inspect = json.loads(_berth(paths, "network", "inspect", "berth_bench"))[0]
    address = next(iter(inspect["Containers"].values()))["IPv4Address"].split("/")[0]
    paths_under_test = {"published 127.0.0.1": ("127.0.0.1", HOST_PORT), "direct": (address, 80)}
    for target in paths_under_test.values():
        _wait_until_served(target)
    speeds: dict[str, list[float]] = {name: [] for name in paths_under_test}
    for _ in range(args.rounds):
        for name, target in paths_under_test.items():
            speeds[name].append(_download(target, "/big"))
    latency = {name: _latency(target, args.connections)
               for name, target in paths_under_test.items()}  # fmt: skip
    _report(speeds, latency, args)
    return 0


def _berth(paths: EnginePaths, *args: str, check: bool = True) -> str:
    result = subprocess.run([BERTH, "--root", str(paths.root), "--runroot", str(paths.runroot),
                             *args], capture_output=True, text=True, check=False)  # fmt: skip
    if check and result.returncode != 0:
        raise SystemExit(f"berth {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def _request(target: tuple[str, int], path: str) -> socket.socket:
    sock = socket.create_connection(target, timeout=10)
    sock.sendall(f"GET {path} HTTP/1.0\r\nHost: bench\r\n\r\n".encode())
    return sock


def _wait_until_served(target: tuple[str, int]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with _request(target, "/small") as sock:
                if b"200" in sock.recv(64):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"nothing served at {target}")


def _download(target: tuple[str, int], path: str) -> float:
    """MB/s of one download, headers included."""
    began = time.perf_counter()
    received = 0
    buffer = bytearray(1 << 20)
    with _request(target, path) as sock:
        while count := sock.recv_into(buffer):
            received += count
    return received / (1 << 20) / (time.perf_counter() - began)


def _latency(target: tuple[str, int], samples: int) -> float:
    """Median ms of connect + a small request + its whole reply."""
    times = []
    for _ in range(samples):
        began = time.perf_counter()
        with _request(target, "/small") as sock:
            while sock.recv(4096):
                pass
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def _report(speeds: dict[str, list[float]], latency: dict[str, float],
            args: argparse.Namespace) -> None:  # fmt: skip
    print(f"{args.megabytes} MB downloads x {args.rounds}, {args.connections} small requests")
    print(f"{'path':<22}{'MB/s (median)':>15}{'latency ms':>12}")
    for name in speeds:
        print(f"{name:<22}{statistics.median(speeds[name]):>15.0f}{latency[name]:>12.3f}")
    direct, published = speeds["direct"], speeds["published 127.0.0.1"]
    ratio = statistics.median(published) / statistics.median(direct)
    slower = latency["published 127.0.0.1"] / latency["direct"]
    print(f"published/direct: throughput x{ratio:.2f}, latency x{slower:.2f}")


if __name__ == "__main__":
    sys.exit(main())
