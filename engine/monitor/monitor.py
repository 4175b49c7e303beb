"""The container monitor's life: start the container, record its end, restart it.

It records everything in status files of the run dir (engine/monitor/status.py) and
opens no database; when the container has stopped for good it execs the engine's exit
command, a fresh process that folds the record in, releases the network and honours
--rm.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

from engine import cgroups, runtimes
from engine.errors import BerthError, ContainerStartError, NotFoundError
from engine.monitor import status
from engine.monitor.config import MonitorConfig
from engine.monitor.logfile import JsonLogWriter
from engine.monitor.restart import RestartPolicy, next_delay
from engine.monitor.session import ProcessSession
from engine.process_identity import identity_running, start_time
from engine.timestamps import now

# A foreground run whose client never connects (it was killed) is not started.
_ATTACH_TIMEOUT = 60.0


class Monitor:
    def __init__(self, config: MonitorConfig) -> None:
        self.config = config
        self._run_dir = Path(config.run_dir)
        if config.ready_fd >= 0:  # the container must not hold it open: we signal EOF with it
            os.set_inheritable(config.ready_fd, False)
        self._log = JsonLogWriter(Path(config.log), config.log_max_size, config.log_max_files)
        self._runtime = runtimes.open_at(config.runtime, Path(config.runtime_root))
        self._session = ProcessSession(
            config.socket, self._log.write, on_exit=self._exited,
            reap_orphans=not self._runtime.children_are_ours,
        )  # fmt: skip
        self._policy = RestartPolicy.parse(config.restart)

    def run(self) -> int:
        pid = os.getpid()  # after the fork that detached us
        self._status = status.RunStatus("created", pid, start_time(pid))
        signal.signal(signal.SIGTERM, self._terminated)
        if not self._runtime.children_are_ours:  # the init is reparented to us
            runtimes.become_subreaper()
        if self.config.wait_for_attach and not self._session.wait_for_client(
            _ATTACH_TIMEOUT, abandoned=self._client_gone
        ):
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
            self._record(state="restarting", restart_count=restarts)
            self._session.serve_for(delay, until=self._stop_requested)
            if self._stop_requested():  # stopped while it waited to restart
                self._record(state="exited")
                break
        self._end()
        return 0

    def _run_once(self) -> int:
        cfg = self.config

        # What the host could not apply: our stderr is a log (or, while create runs, the
        # container's own stderr), so the notes go to the engine in the ready message.
        notes: list[str] = []

        def create(console: Path | None) -> int:
            return self._runtime.create(
                cfg.container_id, Path(cfg.bundle), console_socket=console,
                kill_with_parent=True, warn=notes.append,
            )  # fmt: skip

        self._session.spawn(create, tty=cfg.tty, open_stdin=cfg.open_stdin, size=cfg.terminal_size)
        self._runtime.start(cfg.container_id)
        self._record(
            state="running", started_at=now(), finished_at=None, exit_code=None, error=None,
            oom_killed=False, start_cpu_ns=_cpu_ns(cfg.container_id),
        )  # fmt: skip
        self._say_ready({"ok": True, "warnings": notes})
        code = self._session.pump()
        self._release_runtime()
        self._session.announce_exit(code)
        return code

    def _exited(self, code: int) -> None:
        """Record the exit the moment it is reaped, before the output is drained."""
        # The OOM counter dies with the cgroup, which the runtime's delete removes.
        oom_killed = self._runtime.oom_killed(self.config.container_id)
        self._record(state="exited", exit_code=code, finished_at=now(), oom_killed=oom_killed)

    def _record(self, **fields: object) -> None:
        self._status = self._status.changed(**fields)
        status.write(self._run_dir, self._status)

    def _say_ready(self, message: dict) -> None:
        """Tell the engine, once, whether the container started (it may be gone: fine).

        ``{"ok": true, "warnings": [note, ...]}`` (the runtime's notes of what it could
        not apply, for the user) or ``{"ok": false, "error": text, "code": n}``.
        """
        fd = self.config.ready_fd
        if fd < 0:
            return
        try:
            os.write(fd, json.dumps(message).encode())
        except BrokenPipeError:  # the command that started us was killed; we carry on
            pass
        finally:
            os.close(fd)
            object.__setattr__(self.config, "ready_fd", -1)

    def _client_gone(self) -> bool:
        """Whether the command waiting for our ready message has gone (it was killed)."""
        fd = self.config.ready_fd
        return fd >= 0 and status.reader_gone(fd)

    def _failed_to_start(self, error: BerthError, first: bool) -> None:
        code = error.exit_code if isinstance(error, ContainerStartError) else 125
        self._release_runtime()
        # Like Docker, a container whose process never ran stays "created".
        self._record(
            state="created" if first else "exited", exit_code=code, error=str(error),
            finished_at=now(),
        )  # fmt: skip
        self._say_ready({"ok": False, "error": str(error), "code": code})
        self._session.announce_exit(code)
        self._end()

    def _terminated(self, _signum: int, _frame: object) -> None:
        """SIGTERM (the host shutting down): stop the container as ``stop`` would, and
        record its end, rather than die and take it down unrecorded."""
        status.request_stop(self._run_dir)
        self._session.stop(self.config.stop_signal, self.config.stop_timeout)

    def _stop_requested(self) -> bool:
        return status.stop_requested(self._run_dir)

    def _release_runtime(self) -> None:
        with contextlib.suppress(NotFoundError):
            self._runtime.delete(self.config.container_id, force=True)

    def _end(self) -> None:
        """Close the log and the socket, then become the engine's exit command (unless
        ``rm`` or the client that waits for this end does that work).

        The rootfs stays mounted: the exit command (or ``rm``, which asked for the
        removal) unmounts it as it releases the container, as any engine command does
        for a container whose monitor is gone.
        """
        self._log.close()
        self._session.close()
        # Out at once (no interpreter teardown, ~20 ms): the monitor lock frees as we go.
        if status.removal_requested(self._run_dir):  # rm finishes it, and at once
            os._exit(0)
        waiter = self.config.waited_by
        if waiter and identity_running(waiter):  # run's client: it folds the end at once
            os._exit(0)
        command = self.config.exit_command
        # exec, not fork: nothing of ours (no lock, no socket) lives on in it, and the
        # monitor lock (close-on-exec) is free the moment the record is final.
        os.execv(command[0], command)


def _cpu_ns(container_id: str) -> int | None:
    """The CPU time of the container's cgroup so far; None if it cannot be read."""
    try:
        return cgroups.get(cgroups.container_path(container_id)).usage().cpu_ns
    except (OSError, BerthError):
        return None
