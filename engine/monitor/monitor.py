"""The container monitor's life: start the container, record its end, restart it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from pathlib import Path

from engine import runtime
from engine.containers.store import ContainerStore
from engine.errors import BerthError, ContainerStartError, NotFoundError
from engine.monitor.config import MonitorConfig
from engine.monitor.logfile import JsonLogWriter
from engine.monitor.restart import RestartPolicy, next_delay
from engine.monitor.session import ProcessSession
from engine.paths import EnginePaths
from engine.process_identity import start_time
from engine.runtime import resources
from engine.state import Database
from engine.storage import overlay
from engine.timestamps import now

# A foreground run whose client never connects (it was killed) is not started.
_ATTACH_TIMEOUT = 60.0


class Monitor:
    def __init__(self, config: MonitorConfig) -> None:
        self.config = config
        if config.ready_fd >= 0:  # the container must not hold it open: we signal EOF with it
            os.set_inheritable(config.ready_fd, False)
        self._db = Database(Path(config.database))
        self._store = ContainerStore(self._db)
        self._log = JsonLogWriter(Path(config.log), config.log_max_size, config.log_max_files)
        self._session = ProcessSession(config.socket, self._log.write)
        self._policy = RestartPolicy.parse(config.restart)

    def run(self) -> int:
        if self.config.wait_for_attach and not self._session.wait_for_client(_ATTACH_TIMEOUT):
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
            self._session.serve_for(delay)
        self._end()
        return 0

    def _run_once(self) -> int:
        cfg = self.config
        state_root = Path(cfg.runtime_root)

        def create(console: Path | None) -> int:
            return runtime.create(
                cfg.container_id, Path(cfg.bundle), state_root=state_root,
                console_socket=console, kill_with_parent=True,
            )  # fmt: skip

        self._session.spawn(create, tty=cfg.tty, open_stdin=cfg.open_stdin, size=cfg.terminal_size)
        runtime.start(cfg.container_id, state_root=state_root)
        self._say_ready({"ok": True})
        self._store.update(
            cfg.container_id, state="running", started_at=now(), finished_at=None,
            exit_code=None, error=None, oom_killed=0, monitor_pid=os.getpid(),
            monitor_start=start_time(os.getpid()),
        )  # fmt: skip
        code = self._session.pump()
        # The counter dies with the cgroup, which the runtime's delete removes.
        oom_killed = resources.oom_killed(cfg.container_id, state_root=state_root)
        self._release_runtime()
        self._store.update(
            cfg.container_id, state="exited", exit_code=code, finished_at=now(),
            oom_killed=int(oom_killed),
        )  # fmt: skip
        self._session.announce_exit(code)
        return code

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
        self._session.announce_exit(code)
        self._end()

    def _stop_requested(self) -> bool:
        container = self._store.get(self.config.container_id)
        return container is None or bool(container.stop_requested)

    def _release_runtime(self) -> None:
        with contextlib.suppress(NotFoundError):
            runtime.delete(
                self.config.container_id, state_root=Path(self.config.runtime_root), force=True
            )

    def _release_network(self) -> None:
        """Give back the namespace, address leases and published ports: it stopped for good."""
        from engine.network.release import release  # loaded at the end only: a small monitor

        cfg = self.config
        # The engine's layout: <root>/berth.db and <runroot>/runtime.
        paths = EnginePaths(Path(cfg.database).parent, Path(cfg.runtime_root).parent)
        release(paths, self._db, cfg.container_id)

    def _end(self) -> None:
        """Unmount, release the network, close the log and the socket, and honour --rm."""
        self._log.close()
        self._session.close()
        overlay.unmount(Path(self.config.rootfs))
        self._release_network()
        if self.config.auto_remove:
            self._store.delete(self.config.container_id)
            shutil.rmtree(self.config.bundle, ignore_errors=True)
        else:
            self._store.update(self.config.container_id, monitor_pid=None, monitor_start=None)
