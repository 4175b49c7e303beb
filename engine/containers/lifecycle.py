"""Starting a container's monitor and hearing back whether the container started."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine import runtimes
from engine.containers.model import Container
from engine.errors import BerthError, ContainerStartError
from engine.monitor import launcher
from engine.monitor.config import ExecConfig, MonitorConfig
from engine.paths import EnginePaths
from engine.process_identity import identity


@dataclass(frozen=True)
class MonitorHandle:
    socket: str  # the attach socket
    ready_fd: int  # readable: one JSON message, then end of file


def attach_socket(paths: EnginePaths, container_id: str) -> str:
    return str(paths.container_run_dir(container_id) / "attach.sock")


def exit_command(paths: EnginePaths, container_id: str) -> list[str]:
    """What a monitor execs when its container has stopped for good (exit_command.py)."""
    return launcher.lean_command("engine.containers.exit_command", str(paths.root),
                                 str(paths.runroot), container_id)  # fmt: skip


def spawn_monitor(
    paths: EnginePaths, container: Container, stop: tuple[int, float], *, wait_for_attach: bool,
    terminal_size: tuple[int, int] | None = None,
) -> MonitorHandle:  # fmt: skip
    """Start the container's monitor, detached from us; it starts the container.

    ``stop``: the signal and timeout ``berth stop`` would use, for a monitor that is
    itself told to stop (SIGTERM, the host shutting down).
    """
    bundle = paths.container_dir(container.id)
    socket = attach_socket(paths, container.id)
    options = container.options

    def config(ready_write: int) -> str:
        return MonitorConfig(
            container_id=container.id, bundle=str(bundle),
            runtime=container.runtime,
            runtime_root=str(runtimes.state_root(container.runtime, paths.runroot)),
            socket=socket, log=str(bundle / "ctr.log"),
            run_dir=str(paths.container_run_dir(container.id)),
            exit_command=exit_command(paths, container.id), tty=options.tty,
            open_stdin=options.interactive,
            restart=options.restart, stop_signal=stop[0], stop_timeout=stop[1],
            auto_remove=options.auto_remove,
            log_max_size=options.log_max_size, log_max_files=options.log_max_files,
            wait_for_attach=wait_for_attach, terminal_size=terminal_size, ready_fd=ready_write,
            waited_by=identity(os.getpid()) if wait_for_attach else None,
        ).to_json()  # fmt: skip

    return _spawn("container", config, socket, bundle / "monitor.log")


def spawn_exec_monitor(
    paths: EnginePaths, container_id: str, process: dict, *, wait_for_attach: bool,
    terminal_size: tuple[int, int] | None = None, runtime: str = runtimes.BUILTIN,
) -> MonitorHandle:  # fmt: skip
    """Start an exec monitor, which starts ``process`` in the running container
    (created by OCI runtime ``runtime``)."""
    socket = str(paths.container_run_dir(container_id) / f"exec-{secrets.token_hex(8)}"
                 / "attach.sock")  # fmt: skip

    def config(ready_write: int) -> str:
        return ExecConfig(
            container_id=container_id, runtime=runtime,
            runtime_root=str(runtimes.state_root(runtime, paths.runroot)), socket=socket,
            process=process, wait_for_attach=wait_for_attach, terminal_size=terminal_size,
            ready_fd=ready_write,
        ).to_json()  # fmt: skip

    return _spawn("exec", config, socket, paths.container_dir(container_id) / "monitor.log")


def _spawn(kind: str, config: Callable[[int], str], socket: str, errors_log: Path) -> MonitorHandle:
    Path(socket).parent.mkdir(parents=True, exist_ok=True)
    return MonitorHandle(socket, launcher.launch(kind, config, str(errors_log)))


def read_ready(handle: MonitorHandle, bundle: Path) -> list[str]:
    """Block until the monitor says the container started; raise if it did not.

    Returns the runtime's notes of what it could not apply (engine/runtime/resources.py).
    """
    chunks = []
    try:
        while chunk := os.read(handle.ready_fd, 4096):
            chunks.append(chunk)
    finally:
        os.close(handle.ready_fd)
    if not chunks:
        raise BerthError(
            f"the container's monitor died before starting it; see {bundle / 'monitor.log'}"
        )
    message = json.loads(b"".join(chunks))
    if not message["ok"]:
        raise ContainerStartError(message["error"], message["code"])
    return [str(note) for note in message.get("warnings", [])]
