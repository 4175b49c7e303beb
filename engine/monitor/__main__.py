"""``python -m engine.monitor CONFIG_JSON``: supervise one container until it is done.

The process forks and the parent exits, so the monitor is re-parented away
from whoever started it (no front end must reap it) and lives on after them.
"""

from __future__ import annotations

import os
import sys

from engine.monitor.config import MonitorConfig
from engine.monitor.monitor import Monitor


def main() -> int:
    # Fork only once the attach socket exists: when our parent sees us exit, a client
    # may connect at once.
    monitor = Monitor(MonitorConfig.from_json(sys.argv[1]))
    if os.fork():
        os._exit(0)
    return monitor.run()


if __name__ == "__main__":
    sys.exit(main())
