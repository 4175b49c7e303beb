"""The reference engines, set up by the benchmarks themselves wherever they are installed.

Every engine gets the same busybox rootfs (the one layer `berth starter` makes) and its
own scratch storage under one directory, and everything is removed at the end, also on
failure, Ctrl-C or SIGTERM:

- berth: a scratch --root/--runroot, timed through the installed entry point (`berth`
  beside this interpreter, never `python3 -m`); its containers and networks (bridges,
  nft tables) are removed before the directory is.
- podman: scratch --root/--runroot, a CONTAINERS_CONF with runtime runc (crun refuses
  this host's hybrid cgroup layout) and nofile/nproc ulimits <= 20000 (what this host
  allows), its default network on a /16 no host route uses; the busybox rootfs imported.
- docker: a dockerd of its own, with --data-root, --exec-root, its pid file and its
  socket in the scratch directory, no iptables/ip-forward/masquerade changes to the host
  (the default bridge still wires containers); DOCKER_HOST points at its socket. Where
  the bridge cannot come up, it runs with --bridge=none and the bridge cells say why.
  Stopped at the end with everything it made (docker0 when it made it).
- crun, runc (and berth-runtime): an OCI bundle of the rootfs, runc's default spec
  running `true` (a fresh network namespace with lo only, like --network none).

Nothing here installs anything: `apt-get install crun runc podman docker.io` first.
"""

from __future__ import annotations

import compileall
import contextlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from scratch_engine import berth_engine, unmount_under

BIN = Path(sys.executable).parent
BERTH = str(BIN / "berth")
CHECKOUT = Path(__file__).resolve().parent.parent
UNIFIED_CONTROLLERS = Path("/sys/fs/cgroup/unified/cgroup.controllers")
IMAGE = "bench-busybox"  # what podman and docker call the imported rootfs
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_IN_NAMESPACE = "BERTH_BENCH_IN_NAMESPACE"
_TIMEOUT = 120  # s: one engine command; a hang fails the cell, not the benchmark


class EngineError(Exception):
    """An engine command failed: its cell says so, the benchmark goes on."""


# -- the process: a private mount namespace, signals, byte-compiled berth ----------------


def rerun_in_private_namespace() -> int | None:
    """Re-run this script in a private mount namespace with an empty file bound over the
    cgroup v2 controllers file of a hybrid layout (crun refuses the layout otherwise; the
    same for every engine); its exit status. None when already there or not needed."""
    if not UNIFIED_CONTROLLERS.exists() or os.environ.get(_IN_NAMESPACE):
        return None
    empty = Path(f"/tmp/berth-bench-empty-{os.getpid()}")
    empty.touch()
    try:
        script = (
            f"mount --bind {empty} {UNIFIED_CONTROLLERS} && "
            f'exec {sys.executable} "$@"'
        )  # fmt: skip
        command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]
        child = subprocess.Popen([*command, *sys.argv], env={**os.environ, _IN_NAMESPACE: "1"})
        # The child cleans up on SIGTERM and Ctrl-C (the terminal sends it SIGINT itself):
        # wait for it rather than leave it behind.
        signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                continue
    finally:
        empty.unlink(missing_ok=True)


def interrupt_once() -> None:
    """Ctrl-C or SIGTERM unwinds (KeyboardInterrupt), so every `finally` clean-up runs;
    from then on both are ignored, by the clean-up's commands too, so a second Ctrl-C
    does not cut the clean-up short."""

    def interrupt(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def interrupted() -> int:
    print("interrupted: every engine, container, network and scratch file of this run removed",
          file=sys.stderr)  # fmt: skip
    return 130


def compile_berth() -> None:
    """Byte-compile berth as `pip install .` does: an editable checkout run with
    PYTHONDONTWRITEBYTECODE would otherwise compile every module on every start."""
    for package in ("engine", "cli"):
        compileall.compile_dir(CHECKOUT / package, quiet=2, workers=2)


# -- one docker-compatible command line ----------------------------------------------------


@dataclass
class Cli:
    """An engine's docker-compatible CLI: ``argv`` + a subcommand, run with ``env``."""

    name: str
    argv: list[str]
    image: str
    env: dict[str, str] | None = None
    version: str = ""
    rm_force: tuple[str, ...] = ("rm", "-f")  # remove a running container now
    skipped: dict[str, str] = field(default_factory=dict)  # row -> why this engine can't

    def command(self, *args: str) -> list[str]:
        return [*self.argv, *args]

    def timed(self, *args: str) -> tuple[float, str]:
        """Seconds that ``CLI ARGS`` took, start to exit, and its stdout; fails loudly."""
        command = self.command(*args)
        start = time.perf_counter()
        try:
            result = subprocess.run(command, env=self.env, stdin=subprocess.DEVNULL,
                                    capture_output=True, text=True, timeout=_TIMEOUT)  # fmt: skip
        except subprocess.TimeoutExpired:
            raise EngineError(f"{' '.join(args[:2])}: no answer in {_TIMEOUT} s") from None
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            why = result.stderr.strip().splitlines()[-1:] or [f"exit status {result.returncode}"]
            raise EngineError(f"{' '.join(args[:2])}: {why[0][:160]}")
        return elapsed, result.stdout.strip()

    def run(self, *args: str) -> str:
        return self.timed(*args)[1]

    def quiet(self, *args: str) -> None:
        """Best effort, for clean-up: a failure is printed, not raised."""
        try:
            self.run(*args)
        except EngineError as error:
            print(f"clean-up: {self.name} {error}", file=sys.stderr)

    def remove_all(self) -> None:
        ids = []
        with contextlib.suppress(EngineError):
            ids = self.run("ps", "-aq").split()
        if ids:
            self.quiet(*self.rm_force, *ids)

    def monitor_pid(self, container: str) -> int:
        """The process that watches ``container``: the parent of its init (conmon,
        containerd-shim and berth's monitor all are; a monitor found by its command line
        where the init's parent is not one)."""
        pid = int(self.run("inspect", "-f", "{{.State.Pid}}", container))
        parent = parent_pid(pid)
        if parent > 1:
            return parent
        for candidate, cmdline in processes():
            if "engine.monitor" in cmdline and container in cmdline:
                return candidate
        raise EngineError(f"no monitor found for {container[:12]}")


def parent_pid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rpartition(")")[2].split()[1])


def processes() -> Iterator[tuple[int, str]]:
    """(pid, command line with spaces) of every process."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:  # gone meanwhile
                continue
            yield int(entry.name), cmdline.replace(b"\0", b" ").decode(errors="replace")


def pss_mib(pid: int) -> float:
    """Proportional set size: private pages plus a share of each shared one, in MiB."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    raise EngineError(f"no Pss in /proc/{pid}/smaps_rollup")


def version(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return (out.strip().splitlines() or ["?"])[0]


# -- clean-up helpers ----------------------------------------------------------------------


def kill_processes_under(directory: Path) -> None:
    """SIGKILL what this benchmark started that still runs with ``directory`` in its
    command line (a containerd or shim its dockerd left)."""
    me = os.getpid()
    for pid, cmdline in processes():
        if pid != me and str(directory) in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line}


def _host_routes() -> list[ipaddress.IPv4Network]:
    out = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True).stdout
    routes = []
    for line in out.splitlines():
        with contextlib.suppress(ValueError):
            routes.append(ipaddress.IPv4Network(line.split()[0]))
    return routes


# -- berth -----------------------------------------------------------------------------------


@contextlib.contextmanager
def berth(directory: Path) -> Iterator[Cli]:
    """berth on a scratch root under ``directory``, with busybox:latest from `berth starter`;
    its containers, networks (bridges, nft tables) and mounts removed at the end."""
    with berth_engine(directory) as scratch:
        yield Cli("berth", scratch.berth, "busybox", version=f"berth ({CHECKOUT})")


def busybox_rootfs(directory: Path) -> Path:
    """The rootfs of the busybox image `berth starter` made under the berth root in
    ``directory``: its one layer's diff."""
    [layer] = (directory / "root" / "layers").iterdir()
    return layer / "diff"


def rootfs_tar(rootfs: Path, directory: Path) -> Path:
    tar = directory / "busybox-rootfs.tar"
    if not tar.exists():
        subprocess.run(["tar", "-cf", str(tar), "-C", str(rootfs), "."], check=True)
    return tar


# -- podman ----------------------------------------------------------------------------------


@contextlib.contextmanager
def podman(directory: Path, tar: Path) -> Iterator[Cli | str]:
    """podman on scratch storage with the rootfs imported; a reason when it cannot run."""
    if not shutil.which("podman"):
        yield "not installed (apt-get install podman)"
        return
    directory.mkdir()
    subnet = _free_subnet(ipaddress.IPv4Network("10.99.0.0/16"))
    conf = directory / "containers.conf"
    conf.write_text(
        '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=20000:20000"]\n'
        f'[engine]\nruntime = "runc"\n[network]\ndefault_subnet = "{subnet}"\n'
    )
    env = {**os.environ, "CONTAINERS_CONF": str(conf)}
    storage = ["--root", str(directory / "root"), "--runroot", str(directory / "run")]
    cli = Cli("podman", ["podman", *storage], IMAGE, env, version(["podman", "--version"]),
              rm_force=("rm", "-f", "-t", "0"))  # fmt: skip
    links = _links()
    try:
        try:
            cli.run("import", "--change", f"ENV {PATH_ENV}", str(tar), IMAGE)
        except EngineError as error:
            yield f"podman import failed: {error}"
            return
        yield cli
    finally:
        cli.remove_all()
        for link in _links() - links:  # its bridge, where netavark left it
            if link.startswith(("podman", "cni-podman")):
                subprocess.run(["ip", "link", "del", link], capture_output=True, check=False)
        unmount_under(directory)


def _free_subnet(first: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
    """``first`` or a following /16 that no host route overlaps (berth's 10.88/10.89 and
    whatever else runs here stay clear)."""
    routes = _host_routes()
    candidate = first
    for _ in range(100):
        if not any(candidate.overlaps(route) for route in routes if route.prefixlen > 0):
            return candidate
        candidate = ipaddress.IPv4Network((int(candidate.network_address) + 2**16, 16))
    return first


# -- docker ----------------------------------------------------------------------------------


@contextlib.contextmanager
def docker(directory: Path, tar: Path) -> Iterator[Cli | str]:
    """A dockerd of its own on scratch storage, the rootfs imported, DOCKER_HOST at its
    socket; a reason when it cannot run. Stopped, with all it made, at the end."""
    if not shutil.which("docker"):
        yield "no docker CLI installed (apt-get install docker.io)"
        return
    if not shutil.which("dockerd"):
        yield "dockerd not installed (apt-get install docker.io)"
        return
    directory.mkdir()
    socket = directory / "docker.sock"
    env = {**os.environ, "DOCKER_HOST": f"unix://{socket}",
           "DOCKER_CONFIG": str(directory / "client")}  # fmt: skip
    cli = Cli("docker", ["docker"], IMAGE, env)
    links = _links()
    daemon: subprocess.Popen | None = None
    try:
        bridge_skip = ""
        if "docker0" in links:
            bridge_skip = "docker0 exists already (another daemon's): ran with --bridge=none"
        else:
            daemon, failure = _start_dockerd(directory, cli, bridge=True)
            if daemon is None:
                bridge_skip = f"dockerd's default bridge does not come up here: {failure}"
        if daemon is None:
            daemon, failure = _start_dockerd(directory, cli, bridge=False)
            if daemon is None:
                yield f"dockerd does not start here: {failure}"
                return
        if bridge_skip:
            cli.skipped["bridge"] = bridge_skip
        try:
            cli.run("import", "--change", f"ENV {PATH_ENV}", str(tar), IMAGE)
        except EngineError as error:
            yield f"docker import failed: {error}"
            return
        versions = cli.run("version", "-f", "{{.Client.Version}} {{.Server.Version}}").split()
        cli.version = (f"docker {versions[0]} on a dockerd {versions[-1]} of its own "
                       "(scratch data/exec root and socket, no iptables)")  # fmt: skip
        yield cli
    finally:
        if daemon is not None:
            cli.remove_all()
            _stop(daemon)
        kill_processes_under(directory)  # a containerd or shim it left
        if "docker0" not in links and "docker0" in _links():
            subprocess.run(["ip", "link", "del", "docker0"], capture_output=True, check=False)
        unmount_under(directory)


def _start_dockerd(directory: Path, cli: Cli, bridge: bool) -> tuple[subprocess.Popen | None, str]:
    """A started dockerd that answers; else None and the last line it logged."""
    (directory / "daemon.json").write_text("{}")  # not /etc/docker/daemon.json
    log_path = directory / "dockerd.log"
    command = [
        "dockerd",
        "--config-file", str(directory / "daemon.json"),
        "--data-root", str(directory / "data"),
        "--exec-root", str(directory / "exec"),
        "--pidfile", str(directory / "dockerd.pid"),
        "-H", cli.env["DOCKER_HOST"],
        "--iptables=false", "--ip-forward=false", "--ip-masq=false",
        *([] if bridge else ["--bridge=none"]),
    ]  # fmt: skip
    with log_path.open("ab") as log:  # its own session: Ctrl-C reaches the bench, not it
        daemon = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                  start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and daemon.poll() is None:
        probe = subprocess.run(cli.command("version", "-f", "{{.Server.Version}}"), env=cli.env,
                               capture_output=True, check=False)  # fmt: skip
        if probe.returncode == 0:
            return daemon, ""
        time.sleep(0.2)
    _stop(daemon)
    kill_processes_under(directory)
    lines = log_path.read_text(errors="replace").strip().splitlines()
    return None, (lines[-1][:200] if lines else "no answer in 60 s")


def _stop(daemon: subprocess.Popen) -> None:
    daemon.terminate()
    try:
        daemon.wait(30)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()


# -- the raw OCI runtimes ---------------------------------------------------------------------


def oci_bundle(bundle: Path, rootfs: Path) -> Path:
    """A runc-default bundle running `true` on the (read-only) busybox rootfs."""
    bundle.mkdir()
    subprocess.run(["runc" if shutil.which("runc") else "crun", "spec"], cwd=bundle, check=True)
    config = json.loads((bundle / "config.json").read_text())
    config["process"].update(terminal=False, args=["true"])
    config["root"] = {"path": str(rootfs), "readonly": True}
    config["process"].pop("rlimits", None)  # runc's default asks more files than this host allows
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle


def oci_runtimes(directory: Path, bundle: Path) -> tuple[dict[str, Cli], dict[str, str]]:
    """crun, runc and berth-runtime, each as a Cli whose `run --bundle B ID` runs `true`
    (a run deletes its container at the end); the missing ones with a reason."""
    runtimes: dict[str, Cli] = {}
    skipped: dict[str, str] = {}
    for runtime, path in (("crun", shutil.which("crun")), ("runc", shutil.which("runc")),
                          ("berth-runtime", str(BIN / "berth-runtime"))):  # fmt: skip
        if not path or not Path(path).exists():
            skipped[f"{runtime} raw"] = f"not installed (apt-get install {runtime})"
            continue
        argv = [path, "--root", str(directory / f"{runtime}-state")]
        own = runtime == "berth-runtime"
        about = "berth's own OCI runtime" if own else version([path, "--version"])
        runtimes[f"{runtime} raw"] = Cli(f"{runtime} raw", argv, str(bundle), version=about)
    return runtimes, skipped
