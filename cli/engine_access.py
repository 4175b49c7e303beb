"""What every command does: open the engine from the global flags, report per object."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable

from engine.api import Engine
from engine.errors import BerthError, InvalidArgumentError


def open_engine(args: argparse.Namespace) -> Engine:
    try:
        return Engine.open(args.root, args.runroot)
    except (FileExistsError, NotADirectoryError) as error:  # mkdir met a file on the way
        raise InvalidArgumentError(
            f'cannot use "{error.filename}" for the engine: it is not a directory '
            "(see --root, --runroot)"
        ) from None


async def report_each(
    refs: list[str], action: Callable[[str], Awaitable[object]], *, echo: bool = True
) -> int:
    """Apply ``action`` to each ref like Docker: go on after a failure, exit 1 if any failed.

    An unexpected error is raised for the top-level handler to report, but only once
    every other ref was tried: one bad container must not leave the rest (rm -f of a
    hundred once stopped at the eighth).
    """
    status, unexpected = 0, None
    for ref in refs:
        try:
            await action(ref)
        except BerthError as error:
            print(f"berth: {error}", file=sys.stderr)
            status = 1
        except Exception as error:
            unexpected = unexpected or error
        else:
            if echo:
                print(ref)
    if unexpected is not None:
        raise unexpected
    return status
