"""A container's files: ``cp``, ``diff`` and ``export``, as Docker's."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli.engine_access import open_engine
from engine.api import humanize
from engine.errors import InvalidArgumentError

_DIFF_MARKS = {"added": "A", "modified": "C", "deleted": "D"}


def register(commands: argparse._SubParsersAction) -> None:
    cp = commands.add_parser(
        "cp", help="copy files/folders between a container and the local filesystem",
        description="berth cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n"
                    "berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH\n"
                    "'-' as the source reads a tar archive from stdin and extracts it into a "
                    "directory of the container; as the destination, streams a tar of the "
                    "container's source to stdout.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    cp.add_argument("source", metavar="SRC")
    cp.add_argument("destination", metavar="DEST")
    cp.add_argument("-a", "--archive", action="store_true",
                    help="archive mode (copy all uid/gid information)")  # fmt: skip
    cp.add_argument("-L", "--follow-link", action="store_true",
                    help="always follow symbol link in SRC_PATH")  # fmt: skip
    cp.add_argument("-q", "--quiet", action="store_true",
                    help="suppress progress output during copy")  # fmt: skip
    cp.set_defaults(handler=_cp, error_exit=1)

    diff = commands.add_parser(
        "diff", help="inspect changes to files or directories on a container's filesystem"
    )
    diff.add_argument("container", metavar="CONTAINER")
    diff.set_defaults(handler=_diff, error_exit=1)

    export = commands.add_parser("export", help="export a container's filesystem as a tar archive")
    export.add_argument("container", metavar="CONTAINER")
    export.add_argument("-o", "--output", help="write to a file, instead of STDOUT")
    export.set_defaults(handler=_export, error_exit=1)


def _split(argument: str) -> tuple[str | None, str]:
    """(container, path) of ``CONTAINER:PATH``; (None, path) for a local path, as Docker
    splits it: an absolute path or one starting with "." is local, colon or not."""
    if argument.startswith("/"):
        return None, argument
    container, colon, path = argument.partition(":")
    if not colon or container.startswith("."):
        return None, argument
    return container, path


async def _cp(args: argparse.Namespace) -> int:
    source_container, source = _split(args.source)
    target_container, target = _split(args.destination)
    if source_container is not None and target_container is not None:
        raise InvalidArgumentError("copying between containers is not supported")
    if source_container is None and target_container is None:
        raise InvalidArgumentError(
            "must specify at least one container source (CONTAINER:PATH as SRC or DEST)"
        )
    engine = open_engine(args)
    options = {"archive": args.archive, "follow_link": args.follow_link}
    if source_container is not None:
        to_stdout = target == "-"
        if to_stdout:
            sys.stdout.flush()
        copied = await engine.files.copy_from(
            source_container, source, sys.stdout.buffer if to_stdout else target, **options
        )
        shown = target
    else:
        assert target_container is not None
        from_stdin = source == "-"
        copied = await engine.files.copy_to(
            target_container, sys.stdin.buffer if from_stdin else source, target, **options
        )
        shown, to_stdout = args.destination, False
    if not (args.quiet or to_stdout):
        print(f"Successfully copied {humanize.size(copied)} to {shown}", file=sys.stderr)
    return 0


async def _diff(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    for change in await engine.files.diff(args.container):
        print(f"{_DIFF_MARKS[change.change]} {change.path}")
    return 0


async def _export(args: argparse.Namespace) -> int:
    if args.output is None and sys.stdout.isatty():
        raise InvalidArgumentError(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect"
        )
    engine = open_engine(args)
    sys.stdout.flush()
    await engine.files.export(
        args.container, Path(args.output) if args.output else sys.stdout.buffer
    )
    return 0
