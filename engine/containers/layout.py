"""Where a container's bundle keeps its file systems: a path helper without the bundle
writer's imports, for every command that only needs to find them (rm, diff, df)."""

from __future__ import annotations

from pathlib import Path

ROOTFS = "merged"


def container_dirs(bundle: Path) -> tuple[Path, Path, Path]:
    """upper, work and merged directories of a container's bundle."""
    return bundle / "upper", bundle / "work", bundle / ROOTFS
