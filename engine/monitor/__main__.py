"""``python -m engine.monitor container|exec CONFIG_JSON``: supervise until it is done.

The process forks and the parent exits, so the monitor is re-parented away from
whoever started it (no front end must reap it) and lives on after them.
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
    kind, config = sys.argv[1], sys.argv[2]
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


if __name__ == "__main__":
    sys.exit(main())
