"""Durations and sizes the way Docker prints them."""

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


def size(count: float) -> str:
    """Docker's HumanSize: decimal units, four significant digits ("1.24MB", "4.1kB")."""
    units = ("B", "kB", "MB", "GB", "TB", "PB")
    index = 0
    while count >= 1000 and index < len(units) - 1:
        count /= 1000
        index += 1
    return f"{count:.4g}{units[index]}"
