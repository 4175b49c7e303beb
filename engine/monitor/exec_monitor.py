"""The exec monitor: one process exec'd into a running container, until it exits.

Like the container monitor it is the process's parent and serves an attach socket,
so `exec -it` sessions detach and re-attach the same way; it keeps no log and no
state beyond the process's life (Docker's exec output is not logged either).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from engine import runtimes
from engine.errors import BerthError, ContainerStartError
from engine.monitor import status
from engine.monitor.config import ExecConfig
from engine.monitor.session import ProcessSession

_ATTACH_TIMEOUT = 60.0


class ExecMonitor:
    def __init__(self, config: ExecConfig) -> None:
        self.config = config
        if config.ready_fd >= 0:
            os.set_inheritable(config.ready_fd, False)
        self._runtime = runtimes.open_at(config.runtime, Path(config.runtime_root))
        self._session = ProcessSession(
            config.socket, lambda _stream, _data: None,
            reap_orphans=not self._runtime.children_are_ours,
        )  # fmt: skip

    def run(self) -> int:
        cfg = self.config
        if not self._runtime.children_are_ours:  # the process is reparented to us
            runtimes.become_subreaper()
        try:
            if cfg.wait_for_attach and not self._session.wait_for_client(
                _ATTACH_TIMEOUT, abandoned=lambda: status.reader_gone(cfg.ready_fd)
            ):
                raise BerthError("no client attached to start the exec session")

            def spawn(console: Path | None) -> int:
                return self._runtime.exec(
                    cfg.container_id, cfg.process, console_socket=console,
                    kill_with_parent=True,
                )  # fmt: skip

            self._session.spawn(
                spawn, tty=bool(cfg.process.get("terminal")), open_stdin=True,
                size=cfg.terminal_size,
            )  # fmt: skip
        except BerthError as error:
            code = error.exit_code if isinstance(error, ContainerStartError) else 125
            self._say_ready({"ok": False, "error": str(error), "code": code})
            self._end()
            return 1
        self._say_ready({"ok": True})
        self._session.announce_exit(self._session.pump())
        self._end()
        return 0

    def _say_ready(self, message: dict) -> None:
        try:
            os.write(self.config.ready_fd, json.dumps(message).encode())
        except BrokenPipeError:  # the command that started us was killed; we carry on
            pass
        finally:
            os.close(self.config.ready_fd)

    def _end(self) -> None:
        self._session.close()
        shutil.rmtree(Path(self.config.socket).parent, ignore_errors=True)
