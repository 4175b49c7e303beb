"""The tests' own count of what an engine holds on disk, independent of the engine's code."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from engine.paths import EnginePaths


def regular_bytes(directory: Path) -> int:
    """Bytes of the regular files under ``directory``, each inode once."""
    total, seen = 0, set()
    for parent, _, files in os.walk(directory):
        for name in files:
            info = os.lstat(os.path.join(parent, name))
            if stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_size
    return total


def engine_bytes(paths: EnginePaths) -> int:
    """What a prune may free: image layers, containers' writable layers, volumes' files."""
    layers = sorted(paths.layers.glob("*/diff"))
    uppers = sorted(paths.containers.glob("*/upper"))
    return sum(map(regular_bytes, [*layers, *uppers, paths.volumes]))
