"""Overlay mounts with many layers: past the one-page limit of classic mount options."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.storage import overlay
from tests.conftest import require_root

LAYERS = 120  # ~120 full paths of 60+ bytes: far beyond 4 KiB of options


@pytest.fixture
def layers(tmp_path: Path):
    require_root("overlay mounts")
    links = tmp_path / "l"
    links.mkdir()
    lowers, shorts = [], []
    for index in range(LAYERS):
        diff = tmp_path / "layers" / f"{index:064x}" / "diff"
        diff.mkdir(parents=True)
        (diff / f"from-{index}").write_text(str(index))
        (diff / "shadowed").write_text(str(index))
        short = f"L{index:025d}"
        os.symlink(f"../layers/{index:064x}/diff", links / short)
        lowers.append(diff)
        shorts.append(short)
    upper, work, merged = (tmp_path / name for name in ("upper", "work", "merged"))
    for directory in (upper, work, merged):
        directory.mkdir()
    yield lowers, shorts, links, upper, work, merged
    overlay.unmount(merged)


def _check(merged: Path) -> None:
    assert len([p for p in merged.iterdir() if p.name.startswith("from-")]) == LAYERS
    assert (merged / "shadowed").read_text() == str(LAYERS - 1)  # the top layer wins


def test_many_layers_mount(layers):
    lowers, shorts, links, upper, work, merged = layers
    assert sum(len(str(path)) + 1 for path in lowers) > 4096
    overlay.mount_overlay(lowers, shorts, links, upper, work, merged)
    _check(merged)


def test_short_link_fallback(layers):
    # What kernels before 6.8 (no "lowerdir+") get: relative short links.
    _, shorts, links, upper, work, merged = layers
    overlay._mount_with_short_links(shorts, links, upper, work, merged)
    _check(merged)
