"""Fixtures for the runtime's tests: busybox bundles and containers that always go away.

Every container a test makes goes through :class:`Containers`, whose finalizer kills
and force-deletes it, reaps its init, and fails the test if a cgroup directory or a
mount under the test's directory stayed behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from engine import cgroups, runtime
from engine.errors import NotFoundError
from engine.linux import syscalls
from engine.signals import exit_status
from tests.conftest import ROOT, require_root

BERTH_RUNTIME = str(Path(sys.executable).with_name("berth-runtime"))
BUSYBOX = Path("/bin/busybox")
CGROUP_PARENT = "berth-test"
APPLETS = (
    "sh", "echo", "cat", "ps", "hostname", "id", "ls", "mount", "sleep", "true", "false",
    "test", "readlink", "stat", "touch", "grep", "env", "pwd", "kill", "wc", "umask", "sed",
    "tty", "stty",
)  # fmt: skip
NAMESPACES = ("pid", "mount", "uts", "ipc", "network", "cgroup")
PR_SET_CHILD_SUBREAPER = 36
_EXEC_OPTIONS = {"console_socket", "kill_with_parent", "pid_file"}
_DEVPTS_OPTIONS = ("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5")


def default_config(args: list[str], cgroups_path: str) -> dict[str, Any]:
    """A config.json like the engine writes: the standard mounts and namespaces."""

    def mount(destination: str, kind: str, options: list[str]) -> dict[str, Any]:
        return {"destination": destination, "type": kind, "source": kind, "options": options}

    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "testbox",
        "mounts": [
            mount("/proc", "proc", ["nosuid", "noexec", "nodev"]),
            mount("/dev", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            mount("/dev/pts", "devpts", list(_DEVPTS_OPTIONS)),
            mount("/dev/shm", "tmpfs", ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
            mount("/dev/mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
            mount("/sys", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
            mount("/sys/fs/cgroup", "cgroup", ["nosuid", "noexec", "nodev", "relatime", "ro"]),
        ],
        "linux": {
            "namespaces": [{"type": kind} for kind in NAMESPACES],
            "cgroupsPath": cgroups_path,
            "maskedPaths": ["/proc/keys", "/proc/kcore", "/sys/firmware"],
            "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
        },
    }


@dataclass
class Bundle:
    """An OCI bundle in a temporary directory; change ``config`` freely before use."""

    path: Path
    container_id: str
    config: dict[str, Any]

    @property
    def rootfs(self) -> Path:
        return self.path / "rootfs"

    @property
    def cgroups_path(self) -> str:
        return self.config["linux"]["cgroupsPath"]

    @property
    def process(self) -> dict[str, Any]:
        return self.config["process"]

    def write(self) -> None:
        (self.path / "config.json").write_text(json.dumps(self.config))


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


@dataclass
class Containers:
    """Creates containers for a test and guarantees they are gone afterwards."""

    tmp_path: Path
    state_root: Path
    _bundles: list[Bundle] = field(default_factory=list)
    _pids: list[int] = field(default_factory=list)

    def bundle(self, *args: str) -> Bundle:
        """A new bundle (rootfs and config) running ``args``."""
        container_id = f"t-{uuid.uuid4().hex[:12]}"
        path = self.tmp_path / container_id
        _make_rootfs(path / "rootfs")
        config = default_config(list(args) or ["true"], f"{CGROUP_PARENT}/{container_id}")
        bundle = Bundle(path, container_id, config)
        self._bundles.append(bundle)
        return bundle

    def create(self, bundle: Bundle, **options: Any) -> int:
        """``runtime.create`` with these keyword options; the init is reaped at the end."""
        bundle.write()
        pid = runtime.create(
            bundle.container_id, bundle.path, state_root=self.state_root, **options
        )
        self._pids.append(pid)
        return pid

    def start(self, bundle: Bundle) -> int:
        """A running container: create and start; the init's pid."""
        pid = self.create(bundle)
        runtime.start(bundle.container_id, state_root=self.state_root)
        return pid

    def exec_process(self, bundle: Bundle, *args: str, **changes: Any) -> int:
        """``runtime.exec_process`` of ``args``, the bundle's process with ``changes``.

        The keyword options of exec_process itself (console_socket...) pass through.
        """
        options = {key: changes.pop(key) for key in _EXEC_OPTIONS & changes.keys()}
        process = {**bundle.process, "args": list(args), **changes}
        pid = runtime.exec_process(
            bundle.container_id, process, state_root=self.state_root, **options
        )
        self._pids.append(pid)
        return pid

    def exec(self, bundle: Bundle, *args: str, **changes: Any) -> Result:
        """:meth:`exec_process` with its stdout and stderr captured, waited for."""
        with _captured_stdio() as output:
            code = self.wait(self.exec_process(bundle, *args, **changes))
        return Result(code, output["stdout"], output["stderr"])

    def adopt(self, pid: int) -> None:
        """Reap (and if need be kill) this init at the end of the test."""
        self._pids.append(pid)

    def run(self, bundle: Bundle) -> Result:
        """``runtime.run`` with the container's stdout and stderr captured."""
        bundle.write()
        with _captured_stdio() as output:
            code = runtime.run(bundle.container_id, bundle.path, state_root=self.state_root)
        return Result(code, output["stdout"], output["stderr"])

    def wait(self, pid: int) -> int:
        """The shell-style exit status of an init this test created."""
        _, status = os.waitpid(pid, 0)
        self._pids.remove(pid)
        return exit_status(status)

    def finish(self) -> None:
        for bundle in self._bundles:
            with contextlib.suppress(NotFoundError):
                runtime.delete(bundle.container_id, state_root=self.state_root, force=True)
        for pid in self._pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        # Exec'd processes first: a dying init waits until every other process of its
        # pid namespace is reaped, and those are this process's children too.
        for pid in reversed(self._pids):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        leftovers = []
        for bundle in self._bundles:
            cgroup = cgroups.get(bundle.cgroups_path)
            if cgroup.exists():
                leftovers += [path for path in cgroup.paths() if path.exists()]
                cgroup.remove()
        assert not leftovers, f"cgroups left behind: {leftovers}"
        assert_no_mounts_under(self.tmp_path)


def assert_no_mounts_under(directory: Path) -> None:
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    leaked = [point for point in mounts if point.startswith(str(directory))]
    for point in reversed(leaked):
        os.system(f"umount -l '{point}'")
    assert not leaked, f"mounts left behind: {leaked}"


def _make_rootfs(rootfs: Path) -> None:
    for directory in ("bin", "proc", "dev", "sys", "tmp", "etc"):
        (rootfs / directory).mkdir(parents=True)
    (rootfs / "tmp").chmod(0o1777)
    # A copy, not a hardlink: the rootfs must not share an inode with the host's /bin.
    (rootfs / "bin" / "busybox").write_bytes(BUSYBOX.read_bytes())
    (rootfs / "bin" / "busybox").chmod(0o755)
    for applet in APPLETS:
        (rootfs / "bin" / applet).symlink_to("busybox")


@contextlib.contextmanager
def _captured_stdio() -> Iterator[dict[str, str]]:
    """Point fds 1 and 2 at files meanwhile (the container inherits them); then read them."""
    captured: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as directory:
        paths = {1: Path(directory, "stdout"), 2: Path(directory, "stderr")}
        saved = {fd: os.dup(fd) for fd in paths}
        try:
            for fd, path in paths.items():
                target = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
                os.dup2(target, fd)
                os.close(target)
            yield captured
        finally:
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            captured.update({path.name: path.read_text() for path in paths.values()})


@pytest.fixture
def containers(tmp_path: Path) -> Iterator[Containers]:
    require_root("real containers (namespaces, mounts, cgroups)")
    manager = Containers(tmp_path, tmp_path / "state")
    try:
        yield manager
    finally:
        manager.finish()


@pytest.fixture
def berth_runtime(containers: Containers) -> Callable[..., subprocess.CompletedProcess]:
    """Run the installed ``berth-runtime`` with the test's state root.

    Its output goes to files, not pipes: a created container's init inherits them and
    would keep a pipe open long after ``create`` returned.
    """

    def run(*args: str, log: Path | None = None) -> subprocess.CompletedProcess:
        options = ["--log", str(log), "--log-format", "json"] if log else []
        command = [BERTH_RUNTIME, "--root", str(containers.state_root), *options, *args]
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            done = subprocess.run(command, stdout=out, stderr=err, timeout=30, check=False)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(command, done.returncode, out.read(), err.read())

    return run


@dataclass
class Console:
    """An OCI console socket, as the monitor listens on one, and the pty it receives."""

    path: Path
    listener: socket.socket
    master: int = -1

    def receive(self) -> int:
        """Accept the runtime's connection and keep the pty master it sent."""
        connection, _ = self.listener.accept()
        with connection:
            _, fds, _, _ = socket.recv_fds(connection, 1024, 1)
        assert len(fds) == 1, "the runtime sent no terminal"
        self.master = fds[0]
        return self.master

    def read_until(self, text: bytes) -> bytes:
        """What the pty printed, up to and including ``text`` (or its end)."""
        output = b""
        deadline = time.monotonic() + 5
        while text not in output:
            assert time.monotonic() < deadline, f"no {text!r} in {output!r}"
            if select.select([self.master], [], [], 0.1)[0]:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: every slave descriptor is closed
                    chunk = b""
                if not chunk:
                    break
                output += chunk
        return output


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        path = tmp_path / "console.sock"
        listener.bind(str(path))
        listener.listen(1)
        listener.settimeout(5)
        console = Console(path, listener)
        try:
            yield console
        finally:
            if console.master >= 0:
                os.close(console.master)


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen]]:
    """Start processes (``spawn(*command, **popen_options)``), killed and reaped after."""
    started: list[subprocess.Popen] = []

    def start(*command: str, **options: Any) -> subprocess.Popen:
        process = subprocess.Popen(command, **options)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
        process.wait()


@pytest.fixture
def subreaper() -> Iterator[None]:
    """Meanwhile, orphans of this test's processes become its children, to be reaped.

    Otherwise the host's init inherits them and may take its time to reap them, and an
    init exits only once every other process of its pid namespace is reaped.
    """
    syscalls.prctl(PR_SET_CHILD_SUBREAPER, 1)
    yield
    syscalls.prctl(PR_SET_CHILD_SUBREAPER, 0)


@pytest.fixture(scope="session", autouse=True)
def _remove_test_cgroup_parents() -> Iterator[None]:
    yield
    if not ROOT:
        return
    for path in cgroups.get(CGROUP_PARENT).paths():
        # another xdist worker's containers may still be in it (EBUSY): the last one out wins
        with contextlib.suppress(FileNotFoundError, OSError):
            path.rmdir()
