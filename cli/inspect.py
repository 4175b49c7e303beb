"""``berth inspect``: containers first, then images, like Docker's object lookup."""

from __future__ import annotations

import argparse
import json
import sys

from cli.engine_access import open_engine
from engine.errors import BerthError, NotFoundError


def register(commands: argparse._SubParsersAction) -> None:
    inspect = commands.add_parser("inspect", help="low-level JSON of containers or images")
    inspect.add_argument("--type", choices=("container", "image"), help="only look for this kind")
    inspect.add_argument("objects", nargs="+", metavar="NAME|ID")
    inspect.set_defaults(handler=_inspect, error_exit=1)


async def _inspect(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    found, status = [], 0
    for ref in args.objects:
        try:
            found.append(await _one(engine, ref, args.type))
        except BerthError as error:
            print(f"berth: {error}", file=sys.stderr)
            status = 1
    print(json.dumps(found, indent=4))
    return status


async def _one(engine, ref: str, kind: str | None) -> dict:
    if kind != "image":
        try:
            return await engine.containers.inspect(ref)
        except NotFoundError:
            if kind == "container":
                raise
    try:
        return await engine.images.inspect(ref)
    except NotFoundError:
        if kind == "image":
            raise
        raise NotFoundError(f'no such object: "{ref}" (see berth ps -a and berth images)') from None
