"""The monitor's life: start the container, pump its I/O, record its end, restart it."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import time
from pathlib import Path

from engine import runtime
from engine.containers.store import ContainerStore
from engine.errors import BerthError, ContainerStartError, NotFoundError
from engine.monitor.attach_server import AttachServer
from engine.monitor.config import MonitorConfig
from engine.monitor.container_io import ContainerIO, console_listener
from engine.monitor.logfile import JsonLogWriter
from engine.monitor.protocol import WINSIZE, Frame, encode_exit
from engine.monitor.restart import RestartPolicy, next_delay
from engine.process_identity import start_time
from engine.runtime.container import exit_status
from engine.state import Database
from engine.storage import overlay
from engine.timestamps import now

# After the container's init exits, how long to wait for the rest of its output.
_DRAIN_SECONDS = 2.0
# A foreground run whose client never connects (it was killed) is not started.
_ATTACH_TIMEOUT = 60.0


class Monitor:
    def __init__(self, config: MonitorConfig) -> None:
        self.config = config
        if config.ready_fd >= 0:  # the container must not hold it open: we signal EOF with it
            os.set_inheritable(config.ready_fd, False)
        self._selector = selectors.DefaultSelector()
        self._store = ContainerStore(Database(Path(config.database)))
        self._log = JsonLogWriter(Path(config.log), config.log_max_size, config.log_max_files)
        self._server = AttachServer(config.socket, self._selector, self._on_client_frame)
        self._policy = RestartPolicy.parse(config.restart)
        self._io: ContainerIO | None = None
        self._pid: int | None = None
        self._status: int | None = None
        self._pending_stdin = bytearray()
        self._watch_children()

    def _watch_children(self) -> None:
        """Turn SIGCHLD into a readable byte, so one select() waits for everything."""
        wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self._selector.register(wake_read, selectors.EVENT_READ, lambda _: self._reap(wake_read))

    # -- the whole life -------------------------------------------------------------

    def run(self) -> int:
        if self.config.wait_for_attach and not self._server.wait_for_client(_ATTACH_TIMEOUT):
            self._failed_to_start(BerthError("no client attached to start the container"), True)
            return 1
        restarts, delay = 0, 0.0
        while True:
            began = time.monotonic()
            try:
                code = self._run_once()
            except BerthError as error:
                self._failed_to_start(error, first=restarts == 0)
                return 1
            ran_for = time.monotonic() - began
            if not self._policy.should_restart(code, restarts, self._stop_requested()):
                break
            restarts += 1
            delay = next_delay(delay, ran_for)
            self._store.update(self.config.container_id, state="restarting", restart_count=restarts)
            self._serve_for(delay)
        self._end()
        return 0

    def _run_once(self) -> int:
        self._io = self._start_container()
        self._say_ready({"ok": True})
        self._store.update(
            self.config.container_id, state="running", started_at=now(), finished_at=None,
            exit_code=None, error=None, monitor_pid=os.getpid(),
            monitor_start=start_time(os.getpid()),
        )  # fmt: skip
        code = self._pump()
        self._io.close()
        self._release_runtime()
        self._store.update(
            self.config.container_id, state="exited", exit_code=code, finished_at=now()
        )
        self._server.broadcast(encode_exit(code))
        return code

    def _start_container(self) -> ContainerIO:
        cfg = self.config
        self._status = None
        if cfg.tty:
            console_path = Path(cfg.socket).with_name("console.sock")
            with console_listener(console_path) as listener:
                self._pid = runtime.create(
                    cfg.container_id, Path(cfg.bundle), state_root=Path(cfg.runtime_root),
                    console_socket=console_path,
                )  # fmt: skip
                io = ContainerIO.from_console_socket(listener)
            console_path.unlink(missing_ok=True)
        else:
            io = ContainerIO.pipes(cfg.open_stdin)
            self._pid = io.create_with_pipes(
                lambda: runtime.create(
                    cfg.container_id, Path(cfg.bundle), state_root=Path(cfg.runtime_root)
                )
            )
        for fd, kind in io.outputs.items():
            self._selector.register(
                fd, selectors.EVENT_READ, lambda _, fd=fd, k=kind: self._read(fd, k)
            )
        runtime.start(cfg.container_id, state_root=Path(cfg.runtime_root))
        return io

    # -- I/O ----------------------------------------------------------------------

    def _pump(self) -> int:
        """Move bytes until the init has exited and its output is drained; its exit code."""
        exited_at = None
        while self._io.outputs or self._status is None:
            if self._status is not None:
                exited_at = exited_at or time.monotonic()
                if time.monotonic() - exited_at > _DRAIN_SECONDS:
                    break
            self._dispatch(timeout=0.2 if self._status is not None else None)
        for fd in list(self._io.outputs):
            self._selector.unregister(fd)
        return exit_status(self._status) if self._status is not None else 255

    def _dispatch(self, timeout: float | None) -> None:
        for key, mask in self._selector.select(timeout):
            key.data(mask)

    def _serve_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._dispatch(left)

    def _read(self, fd: int, kind: Frame) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: the terminal's last user is gone
            data = b""
        if not data:
            self._selector.unregister(fd)
            self._io.outputs.pop(fd, None)
            if fd != self._io.stdin:
                os.close(fd)
            return
        self._log.write("stderr" if kind == Frame.STDERR else "stdout", data)
        self._server.send_output(kind, data)

    def _reap(self, wake_fd: int) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(wake_fd, 512)
        if self._pid is None or self._status is not None:
            return
        pid, status = os.waitpid(self._pid, os.WNOHANG)
        if pid:
            self._status = status

    def _on_client_frame(self, kind: Frame, payload: bytes) -> None:
        io = self._io
        if io is None:
            return
        if kind == Frame.STDIN and io.stdin is not None:
            self._write_stdin(payload)
        elif kind == Frame.RESIZE:
            io.resize(*WINSIZE.unpack(payload))
        elif kind == Frame.CLOSE_STDIN:
            io.close_stdin()
        elif kind == Frame.SIGNAL and self._pid is not None and self._status is None:
            os.kill(self._pid, int(payload))

    def _write_stdin(self, data: bytes) -> None:
        self._pending_stdin += data
        try:
            written = os.write(self._io.stdin, self._pending_stdin)
        except BlockingIOError:
            written = 0
        except OSError:  # the container closed its stdin
            self._pending_stdin.clear()
            return
        del self._pending_stdin[:written]

    # -- endings ------------------------------------------------------------------

    def _say_ready(self, message: dict) -> None:
        """Tell the engine, once, whether the container started."""
        fd = self.config.ready_fd
        if fd < 0:
            return
        try:
            os.write(fd, json.dumps(message).encode())
        finally:
            os.close(fd)
            object.__setattr__(self.config, "ready_fd", -1)

    def _failed_to_start(self, error: BerthError, first: bool) -> None:
        code = error.exit_code if isinstance(error, ContainerStartError) else 125
        self._say_ready({"ok": False, "error": str(error), "code": code})
        self._release_runtime()
        # Like Docker, a container whose process never ran stays "created".
        self._store.update(
            self.config.container_id, state="created" if first else "exited", exit_code=code,
            error=str(error), finished_at=now(),
        )  # fmt: skip
        self._server.broadcast(encode_exit(code))
        self._end()

    def _stop_requested(self) -> bool:
        container = self._store.get(self.config.container_id)
        return container is None or bool(container.stop_requested)

    def _release_runtime(self) -> None:
        with contextlib.suppress(NotFoundError):
            runtime.delete(
                self.config.container_id, state_root=Path(self.config.runtime_root), force=True
            )

    def _end(self) -> None:
        """Unmount, close the log and the socket, and honour --rm."""
        self._log.close()
        self._server.close()
        overlay.unmount(Path(self.config.rootfs))
        if self.config.auto_remove:
            self._store.delete(self.config.container_id)
            shutil.rmtree(self.config.bundle, ignore_errors=True)
        else:
            self._store.update(self.config.container_id, monitor_pid=None, monitor_start=None)
