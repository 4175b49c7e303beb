"""``berth system boot``: bring back, after the host restarts, what Docker's daemon would."""

from __future__ import annotations

import argparse
import sys

from cli.engine_access import open_engine


def register(commands: argparse._SubParsersAction) -> None:
    system = commands.add_parser("system", help="manage the engine as a whole")
    verbs = system.add_subparsers(dest="verb", metavar="COMMAND", required=True)
    boot = verbs.add_parser(
        "boot",
        help="start containers with --restart always, and unless-stopped ones nobody stopped "
        "(run at boot: see the README's berth-boot.service)",
    )
    boot.set_defaults(handler=_boot, error_exit=1)


async def _boot(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    status = 0
    for container, error in await engine.containers.boot():
        if error is None:
            print(container.name)
        else:
            print(f"berth: cannot start {container.name}: {error}", file=sys.stderr)
            status = 1
    return status
