"""``python -S -I -c BOOT`` (engine/monitor/launcher.py): supervise until it is done.

The config comes on stdin (``KIND\nERRORS_LOG\nCONFIG_JSON``), so the interpreter can
be started before the command knows it. Then the process forks and the parent
exits, so the monitor is re-parented away from whoever started it (no front end
must reap it) and lives on after them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from engine.monitor import status
from engine.monitor.config import ExecConfig, MonitorConfig
from engine.monitor.exec_monitor import ExecMonitor
from engine.monitor.monitor import Monitor


def main() -> int:
    # berth's own runtime, loaded while the command that started us still works
    import engine.runtimes.builtin  # noqa: F401

    given = sys.stdin.read()
    if not given:
        return 0  # started ahead, and not needed after all
    kind, errors_log, config = given.split("\n", 2)
    _redirect(errors_log)
    # Fork only once the attach socket exists and the monitor lock is held: when our
    # parent sees us exit, a client may connect, and the engine sees a live monitor.
    if kind == "exec":
        monitor = ExecMonitor(ExecConfig.from_json(config))
    else:
        monitor_config = MonitorConfig.from_json(config)
        status.hold_monitor_lock(Path(monitor_config.run_dir))
        monitor = Monitor(monitor_config)
    if os.fork():
        os._exit(0)
    return monitor.run()


def _redirect(errors_log: str) -> None:
    """stdin from /dev/null (not the config pipe), stderr into ``errors_log``."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    log = os.open(errors_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(log, 2)
    os.close(log)


if __name__ == "__main__":
    sys.exit(main())
