"""Loop devices for tests that need a real block device the host can read and write."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import require_root


@contextmanager
def loop_device(backing: Path, size: int) -> Iterator[str]:
    """A loop device (its /dev path) over ``backing``, a new file of ``size`` bytes.

    The test is skipped, naming why, where the host cannot make one; it is detached
    afterwards.
    """
    require_root("a loop device")
    with backing.open("wb") as image:
        image.truncate(size)
    made = subprocess.run(["losetup", "--find", "--show", str(backing)], capture_output=True,
                          text=True, check=False)  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"no loop device: {made.stderr.strip()}")
    loop = made.stdout.strip()
    try:
        yield loop
    finally:
        subprocess.run(["losetup", "--detach", loop], check=False)
