"""Any OCI runtime binary that speaks runc's command line (runc, crun, youki).

Each operation is one run of the binary, ``<binary> --root STATE --log LOG
--log-format json <command> ...``; its error, from the log (where runc's init reports
too) or its stderr, becomes a BerthError that names it: ``runc create failed: ...``.

Unlike berth's runtime, ``create`` and ``exec --detach`` exit once the process runs,
so the process is not the caller's child but is reparented: the caller must be a
child subreaper (PR_SET_CHILD_SUBREAPER) to wait for it, as the monitor is.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine import cgroups
from engine.errors import BerthError, ConflictError, ContainerStartError, NotFoundError
from engine.linux.files import write_atomically
from engine.runtimes.base import OciRuntime, Warn

# What runc, crun and youki say in their errors, mapped to the engine's errors.
_NOT_FOUND = re.compile(r"does not exist|not found: container|no such container", re.I)
_PAUSED = re.compile(r"\bpaused\b", re.I)
_NOT_RUNNING = re.compile(r"not running|is stopped|stopped container|container not running",
                          re.I)  # fmt: skip
_NO_COMMAND = re.compile(
    r"executable file not found|exec: \"[^\"]*\": stat [^:]*: no such file", re.I
)
_CANNOT_RUN = re.compile(r"permission denied|exec format error|is a directory", re.I)


class BinaryRuntime(OciRuntime):
    children_are_ours = False

    def __init__(self, path: Path, state_root: Path, name: str | None = None) -> None:
        super().__init__(state_root)
        self.path = path
        self.name = name or path.name

    # -- the container's life -------------------------------------------------------

    def create(
        self, container_id: str, bundle: Path, *, console_socket: Path | None = None,
        pid_file: Path | None = None, kill_with_parent: bool = False, warn: Warn | None = None,
    ) -> int:  # fmt: skip
        # The runtime cannot tie the init to us (kill_with_parent): it is not our child.
        bundle = bundle.absolute()
        _absolute_cgroups_path(bundle)
        with _scratch(self.state_root) as scratch:
            pid_path = pid_file or scratch / "pid"
            args = ["create", "--bundle", str(bundle), "--pid-file", str(pid_path)]
            if console_socket is not None:
                args += ["--console-socket", str(console_socket)]
            # Without a terminal the init's stdio is the runtime's own: ours (fds 0-2).
            self._run("create", [*args, container_id], scratch, stdio=console_socket is None,
                      failure=_start_failure, warn=warn)  # fmt: skip
            return _read_pid(pid_path)

    def start(self, container_id: str) -> None:
        self._call("start", container_id)

    def state(self, container_id: str) -> dict[str, Any]:
        return json.loads(self._call("state", container_id))

    def kill(self, container_id: str, signum: int, *, all: bool = False) -> None:
        self._call("kill", *(["--all"] if all else []), container_id, str(int(signum)))

    def delete(self, container_id: str, *, force: bool = False) -> None:
        self._call("delete", *(["--force"] if force else []), container_id)

    def exec(
        self, container_id: str, process: dict[str, Any], *, console_socket: Path | None = None,
        pid_file: Path | None = None, kill_with_parent: bool = False,
    ) -> int:  # fmt: skip
        with _scratch(self.state_root) as scratch:
            process_file = scratch / "process.json"
            process_file.write_text(json.dumps(process))
            pid_path = pid_file or scratch / "pid"
            args = ["exec", "--process", str(process_file), "--pid-file", str(pid_path),
                    "--detach"]  # fmt: skip
            if console_socket is not None:
                args += ["--console-socket", str(console_socket)]
            self._run("exec", [*args, container_id], scratch, stdio=console_socket is None,
                      failure=_exec_failure)  # fmt: skip
            return _read_pid(pid_path)

    def update(self, container_id: str, resources: dict[str, Any]) -> list[str]:
        self._call("update", "--resources", "-", container_id, input=json.dumps(resources))
        return []  # a runtime binary sets all of it or fails

    def pause(self, container_id: str) -> None:
        self._call("pause", container_id)

    def resume(self, container_id: str) -> None:
        self._call("resume", container_id)

    def features(self) -> dict[str, Any]:
        return json.loads(self._call("features"))

    def oom_killed(self, container_id: str) -> bool:
        """Read from the container's cgroup, which its config.json names."""
        try:
            bundle = Path(self.state(container_id)["bundle"])
            config = json.loads((bundle / "config.json").read_text())
            path = config["linux"]["cgroupsPath"]
        except (BerthError, OSError, ValueError, KeyError, TypeError):
            return False
        with contextlib.suppress(OSError):
            return cgroups.get(path.lstrip("/")).oom_kills() > 0
        return False

    # -- running the binary ------------------------------------------------------------

    def _call(self, command: str, *args: str, input: str | None = None) -> str:
        """Run one command with its output captured; its stdout."""
        with _scratch(self.state_root) as scratch:
            return self._run(command, [command, *args], scratch, input=input)

    def _run(
        self, command: str, args: list[str], scratch: Path, *, stdio: bool = False,
        input: str | None = None, failure: type[BerthError] | None = None,
        warn: Warn | None = None,
    ) -> str:  # fmt: skip
        """``stdio``: the binary gets our fds 0-2 (the container's stdio), else captured."""
        log = scratch / "log.json"
        argv = [str(self.path), "--root", str(self.state_root), "--log", str(log),
                "--log-format", "json", *args]  # fmt: skip
        self.state_root.mkdir(parents=True, exist_ok=True)
        try:
            if stdio:
                result = subprocess.run(argv, check=False)
                stdout, stderr = "", ""
            else:
                result = subprocess.run(
                    argv, input=input, capture_output=True, text=True, check=False,
                    stdin=None if input is not None else subprocess.DEVNULL,
                )  # fmt: skip
                stdout, stderr = result.stdout, result.stderr
        except OSError as error:
            raise BerthError(f"{self.name} {command} failed: cannot run {self.path}: "
                             f"{os.strerror(error.errno or 0)}") from None  # fmt: skip
        errors, warnings = _read_log(log)
        for note in warnings:
            if warn is not None:
                warn(note)
        if result.returncode == 0:
            return stdout
        message = (errors[-1] if errors else _last_line(stderr)) or (
            f"exit status {result.returncode}"
        )
        raise _error(self.name, command, message, failure)


def _error(name: str, command: str, message: str, failure: type[BerthError] | None) -> BerthError:
    message = message.strip()
    prefix = f"{name} {command} failed: "
    text = message if message.startswith(prefix) else prefix + message
    if failure is not None:
        return failure(text, message)
    if _NOT_FOUND.search(message):
        return NotFoundError(text)
    if _PAUSED.search(message) or _NOT_RUNNING.search(message):
        return ConflictError(text)
    return BerthError(text)


def _start_failure(text: str, message: str) -> BerthError:
    """create: Docker's 127 for a command not found, 126 for one that cannot run."""
    if _NO_COMMAND.search(message):
        return ContainerStartError(text, 127)
    if _CANNOT_RUN.search(message):
        return ContainerStartError(text, 126)
    return ContainerStartError(text)


def _exec_failure(text: str, message: str) -> BerthError:
    if _PAUSED.search(message):
        return ConflictError(text)
    if _NOT_RUNNING.search(message):
        return ConflictError(text)
    if _NO_COMMAND.search(message):
        return ContainerStartError(text, 127)
    return ContainerStartError(text, 126)


def _read_log(log: Path) -> tuple[list[str], list[str]]:
    """The error and warning messages of a ``--log-format json`` log."""
    errors, warnings = [], []
    try:
        lines = log.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return [], []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        level, message = entry.get("level"), str(entry.get("msg", ""))
        if level in ("error", "fatal", "panic"):
            errors.append(message)
        elif level in ("warning", "warn"):
            warnings.append(message)
    return errors, warnings


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _read_pid(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError) as error:
        raise ContainerStartError(f"the runtime wrote no pid file ({path}): {error}") from None


@contextlib.contextmanager
def _scratch(state_root: Path) -> Iterator[Path]:
    """A private directory beside the state root for one call's files (log, pid file)."""
    base = state_root.parent
    base.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix=f".{state_root.name}-", dir=base))
    try:
        yield directory
    finally:
        for entry in directory.iterdir():
            entry.unlink(missing_ok=True)
        directory.rmdir()


def _absolute_cgroups_path(bundle: Path) -> None:
    """runc reads a relative cgroupsPath from its own cgroup; berth's is from the root.

    The bundle's config.json is rewritten (atomically) with the path made absolute, so
    the container's cgroup is where the engine looks: /sys/fs/cgroup/.../berth/<id>.
    """
    config_path = bundle / "config.json"
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError):
        return  # the runtime says what is wrong with it
    linux = config.get("linux") if isinstance(config, dict) else None
    path = linux.get("cgroupsPath") if isinstance(linux, dict) else None
    if not isinstance(path, str) or not path or path.startswith("/"):
        return
    linux["cgroupsPath"] = "/" + path
    write_atomically(config_path, json.dumps(config, indent=2))
