"""The ``berth`` command line: Docker's commands and flags on the local engine."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from cli import containers, images, inspect, logs, network, port, stats, update
from engine.errors import BerthError, ContainerStartError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="berth",
        description="A daemonless container engine. With no command, opens the terminal UI.",
    )
    parser.add_argument("--root", help="engine root (default /var/lib/berth, or $BERTH_ROOT)")
    parser.add_argument("--runroot", help="run directory (default /run/berth, or $BERTH_RUNROOT)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    containers.register(commands)
    images.register(commands)
    inspect.register(commands)
    logs.register(commands)
    network.register(commands)
    port.register(commands)
    stats.register(commands)
    update.register(commands)
    tui = commands.add_parser("tui", help="open the terminal UI")
    tui.set_defaults(handler=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        from tui.app import run_tui  # Textual loads only for the TUI

        return run_tui(args.root, args.runroot)
    try:
        return asyncio.run(args.handler(args)) or 0
    except BerthError as error:
        print(f"berth: {error}", file=sys.stderr)
        # Docker: 126/127 when the command can't run, 125 for other failures of run and
        # create, 1 for every other command.
        return error.exit_code if isinstance(error, ContainerStartError) else args.error_exit
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
