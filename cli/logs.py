"""``berth logs``: a container's output, stdout and stderr kept apart."""

from __future__ import annotations

import argparse
import sys

from cli.engine_access import open_engine
from engine.api import parse_tail, parse_time_filter


def register(commands: argparse._SubParsersAction) -> None:
    logs = commands.add_parser("logs", help="show a container's output")
    logs.add_argument("-f", "--follow", action="store_true", help="follow new output")
    logs.add_argument("-n", "--tail", default="all", help='lines from the end ("all")')
    logs.add_argument("--since", help="RFC 3339, unix time, or relative like 10m")
    logs.add_argument("--until", help="RFC 3339, unix time, or relative like 10m")
    logs.add_argument("-t", "--timestamps", action="store_true", help="show timestamps")
    logs.add_argument("--details", action="store_true", help="show extra log attributes")
    logs.add_argument("container")
    logs.set_defaults(handler=_logs, error_exit=1)


async def _logs(args: argparse.Namespace) -> int:
    tail = parse_tail(args.tail)
    since = parse_time_filter(args.since) if args.since else None
    until = parse_time_filter(args.until) if args.until else None
    engine = open_engine(args)
    entries = engine.containers.logs(
        args.container, follow=args.follow, since=since, until=until, tail=tail
    )
    async for entry in entries:
        stream = sys.stderr if entry.stream == "stderr" else sys.stdout
        prefix = entry.time + " " if args.timestamps else ""
        stream.write(prefix + entry.text)
        if args.follow:
            stream.flush()
    return 0
