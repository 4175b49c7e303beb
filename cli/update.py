"""``berth update``: change the resource limits of containers, live if they run."""

from __future__ import annotations

import argparse
import sys

from cli import limits
from cli.engine_access import open_engine, report_each
from engine.errors import InvalidArgumentError


def register(commands: argparse._SubParsersAction) -> None:
    update = commands.add_parser("update", help="change the resource limits of containers")
    limits.add_flags(update)
    update.add_argument("containers", nargs="+", metavar="CONTAINER")
    update.set_defaults(handler=_update, error_exit=1)


async def _update(args: argparse.Namespace) -> int:
    changes = limits.given(args)
    if not changes:
        raise InvalidArgumentError("you must provide one or more flags when using this command")
    engine = open_engine(args)

    async def update(ref: str) -> None:
        for note in await engine.containers.update(ref, changes):
            print(f"WARNING: {note}", file=sys.stderr)

    return await report_each(args.containers, update)
