"""Byte sizes as Docker parses them: ``512m``, ``1.5g``, ``100k``, ``4096`` (binary units)."""

from __future__ import annotations

import re

from engine.errors import InvalidArgumentError

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?", re.IGNORECASE)
_FACTORS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_size(text: str, what: str = "size") -> int:
    """Bytes in ``text``; units are powers of 1024, as in Docker's --memory and max-size."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise InvalidArgumentError(f'invalid {what}: "{text}" (use a number with b, k, m or g)')
    number, unit = match.groups()
    return int(float(number) * _FACTORS[unit.lower()])
