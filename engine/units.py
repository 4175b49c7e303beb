"""Byte sizes as Docker parses them: ``512m``, ``1.5g``, ``100k``, ``4096`` (binary units)."""

from __future__ import annotations

import re
from decimal import Decimal

from engine.errors import InvalidArgumentError

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?", re.IGNORECASE)
_FACTORS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
#: Docker keeps every size and count in an int64
INT64_MAX = (1 << 63) - 1


def size_in_bytes(text: str) -> int:
    """Bytes in ``text``; units are powers of 1024, as in Docker's --memory and max-size.

    Raises ValueError saying what is wrong, for the caller to name the flag.
    """
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise ValueError("use a number with b, k, m, g, t or p")
    number, unit = match.groups()
    size = int(Decimal(number) * _FACTORS[unit.lower()])  # exact: float drops digits
    if size > INT64_MAX:
        raise ValueError(f"value out of range (the most is {INT64_MAX} bytes, 8 EiB)")
    return size


def parse_size(text: str, what: str = "size") -> int:
    """:func:`size_in_bytes`, or InvalidArgumentError naming ``what`` was given."""
    try:
        return size_in_bytes(text)
    except ValueError as error:
        raise InvalidArgumentError(f'invalid {what}: "{text}": {error}') from None
