"""Docker's resource flags, shared by run, create and update: --cpus, --memory and friends.

The engine parses the values as Docker's client does (``--cpus 1.5``, ``-m 512m``,
``--memory-swap -1``) and checks them against the host; this module only declares the
flags.
"""

from __future__ import annotations

import argparse

from engine.api import LIMIT_FLAGS as FLAGS
from engine.api import parse_limit as parse

# CreateOptions field -> help; the flag names are the engine's (FLAGS)
_HELP = {
    "nano_cpus": "number of CPUs, e.g. 1.5",
    "cpu_period": "CFS period in µs",
    "cpu_quota": "CFS quota in µs per period",
    "cpu_shares": "relative CPU weight (1024 = default)",
    "cpuset_cpus": "CPUs to run on, e.g. 0-1,3",
    "cpuset_mems": "memory nodes to use, e.g. 0",
    "memory": "memory limit, e.g. 512m",
    "memory_reservation": "memory soft limit",
    "memory_swap": "memory + swap limit; -1: unlimited swap",
    "pids_limit": "most processes at once; -1: unlimited",
    "blkio_weight": "block I/O weight, 10 to 1000",
}
_SHORT = {"cpu_shares": "-c", "memory": "-m"}


def add_flags(parser: argparse.ArgumentParser) -> None:
    """Add the resource flags; each defaults to None (not given)."""
    for field, text in _HELP.items():
        names = [_SHORT[field], FLAGS[field]] if field in _SHORT else [FLAGS[field]]
        parser.add_argument(*names, dest=field, metavar="VALUE", help=text)


def given(args: argparse.Namespace) -> dict[str, int | str]:
    """The CreateOptions values of the resource flags given on the command line."""
    values: dict[str, int | str] = {}
    for field in _HELP:
        text = getattr(args, field)
        if text is not None:
            values[field] = parse(field, text)
    return values
