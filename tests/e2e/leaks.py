"""What of berth's remains on the host once its containers should be gone.

``find`` reports, for one engine root and run dir and the container ids a test saw:
mounts, cgroups, pinned network namespaces, veths and bridges, nftables rules,
database rows, per-container directories, scratch files, orphan layers and
processes. The database is read by a short-lived ``python -c`` subprocess, never
by the test process (an open connection there is what hid lost exit records).
``clean`` undoes what it can, so one leak does not spill into the next check.

Names follow engine/network (read, not imported): a container's host veth is
``vb<id[:10]><n>`` (its peer adds ``p``), a network's bridge is ``br-<id[:12]>``,
and an engine root's nftables table is ``ip berth_<sha256(root)[:8]>``.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
_BERTH_CGROUP = re.compile(r"/berth[^/]*/([0-9a-f]{64})\b")

# Run in a subprocess: the database's rows, and whether SQLite finds it sound.
_QUERY = """
import json, sqlite3, sys
path = sys.stdin.read()
conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
def rows(sql):
    try:
        return [list(row) for row in conn.execute(sql)]
    except sqlite3.OperationalError:  # a table an older schema lacks
        return []
print(json.dumps({
    "integrity": [row[0] for row in conn.execute("PRAGMA integrity_check")],
    "containers": rows("SELECT id, name, state FROM containers"),
    "endpoints": rows("SELECT container_id, address, host_ifname FROM endpoints"),
    "ports": rows("SELECT container_id, host_port, protocol FROM ports"),
    "networks": rows("SELECT id, name, bridge, subnet FROM networks"),
    "layers": rows("SELECT id FROM layers"),
    "used_layers": rows("SELECT DISTINCT layer_id FROM image_layers"),
}))
conn.close()
"""


@dataclass(frozen=True, order=True)
class Leak:
    kind: str  # mount cgroup netns link bridge nft row dir tmp layer process
    target: str  # what to clean: a path, an interface, a pid...
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind}: {self.target}" + (f" ({self.detail})" if self.detail else "")


def database(root: Path) -> dict[str, list]:
    """The rows ``find`` looks at, read by a subprocess; {} when there is no database."""
    path = root / "berth.db"
    if not path.exists():
        return {}
    result = subprocess.run([sys.executable, "-c", _QUERY], input=str(path), capture_output=True,
                            text=True, timeout=60, check=False)  # fmt: skip
    if result.returncode != 0:
        raise AssertionError(f"cannot read {path}: {result.stderr.strip()}")
    return json.loads(result.stdout)


def integrity(root: Path) -> list[str]:
    """PRAGMA integrity_check of the engine's database (["ok"] when sound)."""
    return database(root).get("integrity", ["no database"])


def find(root: Path, runroot: Path, ids: Iterable[str], *, bridges: Iterable[str] = (),
         subnets: Iterable[str] = ()) -> list[Leak]:  # fmt: skip
    """Everything of berth's under ``root``/``runroot`` and of ``ids`` that remains.

    ``bridges`` are bridge names of networks a test made (a leak once their row is
    gone); ``subnets`` are theirs too, for a bridge made under a name nobody saw.
    Processes are looked at first, so the database subprocess is never among them.
    """
    ids = set(ids)
    rows = database(root)
    return sorted({
        *_processes(root, runroot, ids),
        *_mounts(root, runroot),
        *_cgroups(ids),
        *_links(ids, bridges, subnets, rows),
        *_nft(root, rows),
        *_rows(rows),
        *_directories(root, runroot),
        *_layers(root, rows),
    })  # fmt: skip


def _processes(root: Path, runroot: Path, ids: set[str]) -> list[Leak]:
    mine = _ancestors(os.getpid())
    needles = (str(root).encode(), str(runroot).encode())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            cgroups = (entry / "cgroup").read_text()
        except OSError:  # gone meanwhile
            continue
        in_cgroup = {m for m in _BERTH_CGROUP.findall(cgroups) if m in ids}
        # A monitor is given its config on stdin: it names the roots in no argument, but
        # holds its monitor.lock (or an exec's socket) open under the run dir.
        named = (in_cgroup or any(needle in cmdline for needle in needles)
                 or _holds_file_under(entry, needles))  # fmt: skip
        # A zombie is dead already, only awaiting its reaper (pid 1 here): not a leak.
        if named and "\nState:\tZ" not in _status(entry):
            command = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()[:160]
            where = f"in cgroup of {next(iter(in_cgroup))[:12]}; " if in_cgroup else ""
            found.append(Leak("process", entry.name, f"{where}{command}"))
    return found


def _holds_file_under(entry: Path, roots: tuple[bytes, ...]) -> bool:
    try:
        fds = list((entry / "fd").iterdir())
    except OSError:  # gone meanwhile
        return False
    for fd in fds:
        with contextlib.suppress(OSError):  # closed as we looked
            target = os.fsencode(os.readlink(fd))
            if any(target.startswith(root + b"/") for root in roots):
                return True
    return False


def _status(entry: Path) -> str:
    try:
        return (entry / "status").read_text()
    except OSError:
        return "\nState:\tZ"  # gone meanwhile: as dead as a zombie


def _ancestors(pid: int) -> set[int]:
    """This process and its parents: their command lines may name the root legitimately."""
    chain = set()
    while pid > 1 and pid not in chain:
        chain.add(pid)
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            break
        pid = int(re.search(r"^PPid:\s*(\d+)", status, re.M).group(1))
    return chain


def _mounts(root: Path, runroot: Path) -> list[Leak]:
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = _unescape(line.split()[4])
        # The root may be a file system of its own (a test's small tmpfs); berth never
        # mounts on it, only below it.
        if point != str(root) and any(
            point == str(base) or point.startswith(f"{base}/") for base in (root, runroot)
        ):
            found.append(Leak("mount", point, line.split(" - ")[-1].split()[0]))
    return found


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _cgroups(ids: set[str]) -> list[Leak]:
    """A directory named after one of ``ids`` at any depth of any hierarchy."""
    found = []
    for directory, children, _ in os.walk(CGROUP_ROOT):
        for child in children:
            if child in ids:
                found.append(Leak("cgroup", os.path.join(directory, child)))
    return found


def _links(ids: set[str], bridges: Iterable[str], subnets: Iterable[str],
           rows: dict[str, list]) -> list[Leak]:  # fmt: skip
    names = set(os.listdir("/sys/class/net"))
    prefixes = tuple(f"vb{cid[:10]}" for cid in ids)
    found = [Leak("link", name, "a container's veth") for name in names
             if prefixes and name.startswith(prefixes)]  # fmt: skip
    owned = {row[2] for row in rows.get("networks", [])}
    found += [Leak("bridge", name, "no network row") for name in set(bridges) & names
              if name not in owned]  # fmt: skip
    nets = [ipaddress.ip_network(subnet) for subnet in subnets]
    for name, address in _addresses() if nets else []:
        if name not in owned and any(address in net for net in nets):
            found.append(Leak("bridge", name, f"holds {address}, no network row"))
    return found


def _addresses() -> list[tuple[str, ipaddress.IPv4Address]]:
    result = subprocess.run(["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True,
                            timeout=30, check=False)  # fmt: skip
    return [(link["ifname"], ipaddress.ip_address(info["local"]))
            for link in json.loads(result.stdout or "[]")
            for info in link.get("addr_info", [])]  # fmt: skip


def table_name(root: Path) -> str:
    return "berth_" + hashlib.sha256(str(root.absolute()).encode()).hexdigest()[:8]


def _nft(root: Path, rows: dict[str, list]) -> list[Leak]:
    """The root's table when it has no network, and rules naming what is gone."""
    if shutil.which("nft") is None:
        return []
    name = table_name(root)
    result = subprocess.run(["nft", "list", "table", "ip", name], capture_output=True, text=True,
                            timeout=30, check=False)  # fmt: skip
    if result.returncode != 0:
        return []
    if not rows.get("networks"):
        return [Leak("nft", name, "table of an engine with no network")]
    bridges = {row[2] for row in rows["networks"]}
    addresses = {row[1] for row in rows.get("endpoints", [])}
    found = []
    for line in result.stdout.splitlines():
        rule = line.strip()
        gone = [b for b in re.findall(r'"(br-[0-9a-f]{12})"', rule) if b not in bridges]
        gone += [a for a in re.findall(r"dnat to ([\d.]+)", rule) if a not in addresses]
        if gone:
            found.append(Leak("nft", name, f"rule for {', '.join(gone)}: {rule}"))
    return found


def _rows(rows: dict[str, list]) -> list[Leak]:
    found = [Leak("row", f"containers {cid}", f"{name} {state}")
             for cid, name, state in rows.get("containers", [])]  # fmt: skip
    found += [Leak("row", f"endpoints {cid}", f"{address} {ifname}")
              for cid, address, ifname in rows.get("endpoints", [])]  # fmt: skip
    found += [Leak("row", f"ports {cid}", f"{port}/{proto}")
              for cid, port, proto in rows.get("ports", [])]  # fmt: skip
    if rows.get("integrity", ["ok"]) != ["ok"]:
        found.append(Leak("row", "integrity_check", "; ".join(rows["integrity"])[:300]))
    return found


#: what the run dir keeps on purpose for the boot: compiled seccomp filters
_CACHES = {".seccomp"}


def _directories(root: Path, runroot: Path) -> list[Leak]:
    found = []
    for kind, directory in (("dir", root / "containers"), ("dir", runroot / "containers"),
                            ("dir", runroot / "runtime"), ("netns", runroot / "netns"),
                            ("tmp", root / "tmp")):  # fmt: skip
        with contextlib.suppress(FileNotFoundError):
            found += [Leak(kind, str(entry)) for entry in directory.iterdir()
                      if entry.name not in _CACHES]  # fmt: skip
    return found


def _layers(root: Path, rows: dict[str, list]) -> list[Leak]:
    """Layer files without a row, and rows no image uses (rmi removes those)."""
    if not rows:
        return []
    known = {row[0].removeprefix("sha256:") for row in rows.get("layers", [])}
    used = {row[0] for row in rows.get("used_layers", [])}
    found = [Leak("row", f"layers {layer}", "no image uses it")
             for [layer] in rows.get("layers", []) if layer not in used]  # fmt: skip
    with contextlib.suppress(FileNotFoundError):
        found += [Leak("layer", str(entry), "no layers row")
                  for entry in (root / "layers").iterdir() if entry.name not in known]  # fmt: skip
    return found


def clean(leaks: Iterable[Leak]) -> None:
    """Undo what can be undone, in an order that works: processes, mounts, the rest.

    Rows stay (only berth writes its database); the temporary root goes with tmp_path.
    """
    # Deepest paths first: a mount inside a mount, a cgroup inside a cgroup.
    leaks = sorted(leaks, key=lambda leak: (_ORDER.index(leak.kind), -len(leak.target)))
    for leak in leaks:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            _CLEANERS.get(leak.kind, lambda _: None)(leak.target)


def _kill(pid: str) -> None:
    os.kill(int(pid), signal.SIGKILL)


def _umount(point: str) -> None:
    subprocess.run(["umount", "-l", point], capture_output=True, timeout=30, check=False)


def _rmdir_cgroup(path: str) -> None:
    for directory, _, _ in sorted(os.walk(path), key=lambda entry: -len(entry[0])):
        with contextlib.suppress(OSError):
            os.rmdir(directory)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        os.unlink(path)


def _delete_link(name: str) -> None:
    subprocess.run(["ip", "link", "del", name], capture_output=True, timeout=30, check=False)


def _delete_table(name: str) -> None:
    subprocess.run(["nft", "delete", "table", "ip", name], capture_output=True, timeout=30,
                   check=False)  # fmt: skip


_ORDER = ["process", "mount", "cgroup", "netns", "link", "bridge", "nft", "dir", "tmp", "layer",
          "row"]  # fmt: skip
_CLEANERS = {
    "process": _kill, "mount": _umount, "cgroup": _rmdir_cgroup, "netns": _remove,
    "link": _delete_link, "bridge": _delete_link, "nft": _delete_table, "dir": _remove,
    "tmp": _remove,
}  # fmt: skip
