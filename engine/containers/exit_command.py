"""``main(ROOT, RUNROOT, ID)``, in a lean interpreter: a monitor's last act.

A monitor execs this when its container has stopped for good (podman's conmon runs
``podman container cleanup`` the same way): a fresh process, with its own database
connection, folds the monitor's record into the database, releases the network and
removes a --rm container. Any engine process that finds the monitor gone does the
same (ContainerService.finish), so a monitor killed before it got here loses nothing.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from engine.api import Engine
from engine.errors import BerthError
from engine.paths import EnginePaths


def main(root: str, runroot: str, container_id: str) -> int:
    engine = Engine(EnginePaths(Path(root), Path(runroot)))
    try:
        asyncio.run(engine.containers.finish(container_id))
    except BerthError as error:  # goes to the container's monitor.log
        print(f"berth: cleaning up container {container_id[:12]}: {error}", file=sys.stderr)
        return 1
    finally:
        engine.close()
    return 0
