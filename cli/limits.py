"""Docker's resource flags, shared by run, create and update: --cpus, --memory and friends.

Values parse as Docker's client parses them (``--cpus 1.5``, ``-m 512m``,
``--memory-swap -1``); the engine checks them against the host.
"""

from __future__ import annotations

import argparse
from fractions import Fraction

from engine import humanize
from engine.containers.limits import NANO
from engine.containers.model import CreateOptions
from engine.errors import InvalidArgumentError
from engine.units import parse_size

# flag -> (CreateOptions field, help)
_FLAGS = {
    "--cpus": ("nano_cpus", "number of CPUs, e.g. 1.5"),
    "--cpu-period": ("cpu_period", "CFS period in µs"),
    "--cpu-quota": ("cpu_quota", "CFS quota in µs per period"),
    "--cpu-shares": ("cpu_shares", "relative CPU weight (1024 = default)"),
    "--cpuset-cpus": ("cpuset_cpus", "CPUs to run on, e.g. 0-1,3"),
    "--cpuset-mems": ("cpuset_mems", "memory nodes to use, e.g. 0"),
    "--memory": ("memory", "memory limit, e.g. 512m"),
    "--memory-reservation": ("memory_reservation", "memory soft limit"),
    "--memory-swap": ("memory_swap", "memory + swap limit; -1: unlimited swap"),
    "--pids-limit": ("pids_limit", "most processes at once; -1: unlimited"),
    "--blkio-weight": ("blkio_weight", "block I/O weight, 10 to 1000"),
}
_SHORT = {"--cpu-shares": "-c", "--memory": "-m"}
_INTEGERS = ("--cpu-period", "--cpu-quota", "--cpu-shares", "--pids-limit", "--blkio-weight")
_SIZES = ("--memory", "--memory-reservation", "--memory-swap")


def add_flags(parser: argparse.ArgumentParser) -> None:
    """Add the resource flags; each defaults to None (not given)."""
    for flag, (field, text) in _FLAGS.items():
        names = [_SHORT[flag], flag] if flag in _SHORT else [flag]
        parser.add_argument(*names, dest=field, metavar="VALUE", help=text)


def given(args: argparse.Namespace) -> dict[str, int | str]:
    """The CreateOptions values of the resource flags given on the command line."""
    values: dict[str, int | str] = {}
    for flag, (field, _) in _FLAGS.items():
        text = getattr(args, field)
        if text is not None:
            values[field] = _parse(flag, text)
    return values


def _parse(flag: str, text: str) -> int | str:
    try:
        if flag == "--cpus":
            return _nano_cpus(text)
        if flag in _INTEGERS:
            if not text.strip().removeprefix("-").isdigit():
                raise ValueError("it must be a whole number")
            return int(text)
        if flag == "--memory-swap" and text.strip() == "-1":
            return -1
        if flag in _SIZES:
            return parse_size(text, f"{flag} value")
    except (ValueError, InvalidArgumentError) as error:
        raise InvalidArgumentError(
            f'invalid argument "{text}" for "{flag}" flag: {error}'
        ) from None
    return text


def _nano_cpus(text: str) -> int:
    try:
        cpus = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"failed to parse {text} as a rational number") from None
    nano = cpus * NANO
    if nano.denominator != 1:
        raise ValueError("value is too precise")
    return int(nano)


def summary(options: CreateOptions) -> str:
    """The limits in effect, in flag terms ("cpus=0.5 memory=64MiB pids=20"); "" if none."""
    parts = []
    for flag, (field, _) in _FLAGS.items():
        value = getattr(options, field)
        if value in (0, ""):
            continue
        if field == "nano_cpus":
            value = f"{value / NANO:g}"
        elif flag in _SIZES and value > 0:
            value = humanize.binary_size(value)
        parts.append(f"{flag.removeprefix('--')}={value}")
    return " ".join(parts)
