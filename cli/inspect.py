"""``berth inspect``: containers, then images, volumes and networks, like Docker's lookup."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable

from cli.engine_access import open_engine
from cli.output import check, render_object
from engine.api import Engine
from engine.errors import BerthError, InvalidArgumentError, NotFoundError

_BAD_TEMPLATE = 64  # docker inspect's status for a template it cannot parse


def register(commands: argparse._SubParsersAction) -> None:
    inspect = commands.add_parser(
        "inspect", help="low-level JSON of containers, images, volumes or networks"
    )
    inspect.add_argument(
        "-f", "--format", default="",
        help="Go template over each object, e.g. '{{.State.ExitCode}}'; 'json' for one line",
    )  # fmt: skip
    inspect.add_argument("--type", choices=("container", "image", "volume", "network"),
                         help="only look for this kind")  # fmt: skip
    inspect.add_argument("objects", nargs="+", metavar="NAME|ID")
    inspect.set_defaults(handler=_inspect, error_exit=1)


async def _inspect(args: argparse.Namespace) -> int:
    return await show_each(args, args.objects, lambda engine, ref: _one(engine, ref, args.type))


async def show_each(
    args: argparse.Namespace, refs: list[str], lookup: Callable[[Engine, str], Awaitable[dict]]
) -> int:
    """Print ``lookup``'s object for each ref as Docker's inspect commands do, through
    ``args.format``; exit status 1 if any ref failed, 64 for a template berth cannot run."""
    template = args.format
    if template not in ("", "json"):
        try:
            check(template)
        except InvalidArgumentError as error:
            print(f"berth: {error}", file=sys.stderr)
            return _BAD_TEMPLATE
    engine = open_engine(args)
    shown, status = [], 0
    for ref in refs:
        # Like Docker, an object that can't be found or rendered is one line on stderr;
        # the others are still shown.
        try:
            details = await lookup(engine, ref)
            shown.append(details if template in ("", "json") else render_object(template, details))
        except BerthError as error:
            print(f"berth: {error}", file=sys.stderr)
            status = 1
    print(_joined(shown, template))
    return status


def _joined(shown: list, template: str) -> str:
    """Docker's output: an indented JSON array, a one-line one, or a line per object."""
    if not template:
        return json.dumps(shown, indent=4)
    if template == "json":
        return json.dumps(shown, separators=(",", ":"), ensure_ascii=False)
    # With nothing shown, Docker still prints one empty line.
    return "\n".join(shown)


async def _one(engine: Engine, ref: str, kind: str | None) -> dict:
    """The first object ``ref`` names, in Docker's order, of ``kind`` if given."""
    lookups = {
        "container": engine.containers.inspect, "image": engine.images.inspect,
        "volume": engine.volumes.inspect, "network": engine.networks.inspect,
    }  # fmt: skip
    for name, inspect in lookups.items():
        if kind in (None, name):
            try:
                return await inspect(ref)
            except NotFoundError:
                if kind is not None:
                    raise
    raise NotFoundError(f'no such object: "{ref}" (see berth ps -a, images, volume ls, network ls)')
