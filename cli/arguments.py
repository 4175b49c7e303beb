"""Argument types several command groups share."""

from __future__ import annotations

import argparse


def boolean(text: str) -> bool:
    """Docker's BOOL flag values (``--sig-proxy=false``)."""
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f'"{text}" is not true or false')
