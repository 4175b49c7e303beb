"""``python -m engine.monitor CONFIG_JSON``: supervise one container until it is done."""

from __future__ import annotations

import sys

from engine.monitor.config import MonitorConfig
from engine.monitor.monitor import Monitor


def main() -> int:
    return Monitor(MonitorConfig.from_json(sys.argv[1])).run()


if __name__ == "__main__":
    sys.exit(main())
