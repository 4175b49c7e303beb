"""The starter image: busybox:latest from the host's static busybox, offline."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from engine.errors import NotFoundError, UnsupportedError
from engine.images.starter import starter_layer

BUSYBOX = Path("/bin/busybox")
pytestmark = pytest.mark.skipif(not BUSYBOX.exists(), reason="needs busybox-static")


async def test_starter_contents(images):
    image = await images.create_starter()
    assert image.tags == ("busybox:latest",)
    assert image.config["config"] == {
        "Cmd": ["sh"],
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    }
    [diff] = images.layer_paths(image)
    assert (diff / "bin" / "busybox").read_bytes() == BUSYBOX.read_bytes()
    applets = subprocess.run([BUSYBOX, "--list-full"], capture_output=True, text=True).stdout
    for applet in set(applets.split()) - {"bin/busybox"}:
        assert os.readlink(diff / applet) == "/bin/busybox", applet
    assert os.readlink(diff / "bin" / "sh") == "/bin/busybox"
    passwd = (diff / "etc" / "passwd").read_text().splitlines()
    assert passwd[0] == "root:x:0:0:root:/root:/bin/sh"
    assert "nobody:x:65534:65534:nobody:/home:/bin/false" in passwd
    group = (diff / "etc" / "group").read_text()
    assert "root:x:0:" in group and "tty:x:5:" in group and "users:x:100:" in group
    assert stat.S_IMODE((diff / "tmp").stat().st_mode) == 0o1777
    assert stat.S_IMODE((diff / "root").stat().st_mode) == 0o700
    for directory in ("sbin", "usr/sbin", "home", "var/log", "var/spool", "proc", "sys", "dev",
                      "run"):  # fmt: skip
        assert (diff / directory).is_dir(), directory


async def test_starter_is_reproducible_and_idempotent(images, paths):
    assert starter_layer(BUSYBOX) == starter_layer(BUSYBOX)
    first = await images.create_starter()
    again = await images.create_starter()
    other = await images.create_starter("bb:1")
    assert first.id == again.id == other.id
    assert other.tags == ("bb:1", "busybox:latest")
    assert len(list(paths.layers.iterdir())) == 1
    assert len(await images.list()) == 1


async def test_starter_needs_a_static_busybox(images, tmp_path):
    with pytest.raises(NotFoundError, match="apt-get install busybox-static"):
        await images.create_starter(busybox=tmp_path / "missing")
    with pytest.raises(UnsupportedError, match=r"dynamically linked.*busybox-static"):
        await images.create_starter(busybox=Path("/bin/ls"))
