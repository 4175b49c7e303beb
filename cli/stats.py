"""``berth stats``: live resource usage of containers, Docker's columns and formulas."""

from __future__ import annotations

import argparse
import contextlib
import sys

from cli.engine_access import open_engine
from cli.output import render
from engine.api import ContainerStats, humanize

_HEADERS = {
    "Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
    "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
}  # fmt: skip
_DEFAULT = (
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}"
    "\t{{.BlockIO}}\t{{.PIDs}}"
)
# Redraw in place as docker stats does: home the cursor, then clear what is left below.
_HOME, _CLEAR_LINE, _CLEAR_BELOW = "\033[H", "\033[K", "\033[J"


def register(commands: argparse._SubParsersAction) -> None:
    stats = commands.add_parser("stats", help="live resource usage of containers")
    stats.add_argument("-a", "--all", action="store_true", help="show stopped containers too")
    stats.add_argument("--no-stream", action="store_true", help="print one sample and exit")
    stats.add_argument("--no-trunc", action="store_true", help="do not truncate output")
    stats.add_argument("--format", help="Go-template-like format, e.g. '{{.Name}} {{.CPUPerc}}'")
    stats.add_argument("containers", nargs="*", metavar="CONTAINER")
    stats.set_defaults(handler=_stats, error_exit=1)


async def _stats(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    template = args.format or _DEFAULT
    if args.no_stream:  # one reading, CPU % over each run so far (podman's, not a second's wait)
        tick = await engine.stats.snapshot(args.containers, all=args.all)
        text = render(template, [_fields(s, args) for s in tick], _HEADERS)
        if text:
            print(text)
        return 0
    ticks = engine.stats.stream(args.containers, all=args.all)
    redraw = sys.stdout.isatty()
    async with contextlib.aclosing(ticks):
        async for tick in ticks:
            text = render(template, [_fields(s, args) for s in tick], _HEADERS)
            if redraw:
                lines = text.splitlines() or [""]
                sys.stdout.write(_HOME + "".join(f"{line}{_CLEAR_LINE}\n" for line in lines))
                sys.stdout.write(_CLEAR_BELOW)
            elif text:
                sys.stdout.write(text + "\n")
            sys.stdout.flush()
    return 0


def _fields(stats: ContainerStats, args: argparse.Namespace) -> dict[str, str]:
    container_id = stats.id if args.no_trunc else stats.id[:12]
    return {
        "Container": container_id,
        "ID": container_id,
        "Name": stats.name,
        "CPUPerc": f"{stats.cpu_percent or 0.0:.2f}%",
        "MemUsage": f"{humanize.binary_size(stats.memory_usage)} / "
        f"{humanize.binary_size(stats.memory_limit)}",
        "MemPerc": f"{stats.memory_percent:.2f}%",
        "NetIO": _pair(stats.net_rx, stats.net_tx),
        "BlockIO": _pair(stats.block_read, stats.block_write),
        "PIDs": str(stats.pids),
    }


def _pair(first: int, second: int) -> str:
    return f"{humanize.size(first, 3)} / {humanize.size(second, 3)}"
