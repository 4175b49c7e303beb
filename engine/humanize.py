"""Durations and sizes in Docker's words, for every front end.

A container's status wording lives with the containers (engine.containers.status).
"""

from __future__ import annotations


def duration(seconds: float) -> str:
    """Docker's HumanDuration: "Less than a second", "5 minutes", "About an hour"."""
    if seconds < 1:
        return "Less than a second"
    if seconds < 2:
        return "1 second"
    if seconds < 60:
        return f"{int(seconds)} seconds"
    minutes = seconds / 60
    if minutes < 2:
        return "About a minute"
    if minutes < 60:
        return f"{int(minutes)} minutes"
    hours = minutes / 60
    if round(hours) == 1:
        return "About an hour"
    if hours < 48:
        return f"{round(hours)} hours"
    if hours < 24 * 14:
        return f"{int(hours / 24)} days"
    if hours < 24 * 7 * 8:
        return f"{int(hours / 24 / 7)} weeks"
    if hours < 24 * 365 * 2:
        return f"{int(hours / 24 / 30)} months"
    return f"{int(hours / 24 / 365)} years"


def size(count: float, precision: int = 4) -> str:
    """Docker's HumanSize: decimal units, four significant digits ("1.24MB", "4.1kB").

    ``precision`` 3 is HumanSizeWithPrecision(n, 3), which ``stats`` uses for I/O.
    """
    return _scaled(count, 1000, ("B", "kB", "MB", "GB", "TB", "PB"), precision)


def binary_size(count: float) -> str:
    """Docker's BytesSize: binary units, four significant digits ("64MiB", "1.5GiB")."""
    return _scaled(count, 1024, ("B", "KiB", "MiB", "GiB", "TiB", "PiB"), 4)


def _scaled(count: float, base: int, units: tuple[str, ...], precision: int) -> str:
    index = 0
    while count >= base and index < len(units) - 1:
        count /= base
        index += 1
    return f"{count:.{precision}g}{units[index]}"
