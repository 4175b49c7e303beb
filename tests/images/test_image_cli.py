"""The image service through the real ``berth`` command and real containers."""

from __future__ import annotations

import gzip
import json
import subprocess

from tests.conftest import BERTH
from tests.images.tarballs import TREE, tree_tar


def test_import_from_a_pipe(engine_paths, tmp_path):
    """``berth import -`` reads a compressed tarball from a pipe, which cannot seek."""
    path = tmp_path / "a.tar.gz"
    path.write_bytes(gzip.compress(tree_tar(TREE)))
    producer = subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE)
    result = subprocess.run(
        [BERTH, "--root", str(engine_paths.root), "--runroot", str(engine_paths.runroot),
         "import", "-", "piped"],
        stdin=producer.stdout, capture_output=True, text=True, check=False,
    )  # fmt: skip
    producer.wait()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("sha256:")


async def test_rmi_refuses_an_image_in_use(engine, berth):
    assert berth("create", "--name", "user", "busybox", "true").returncode == 0
    result = berth("rmi", "busybox")
    assert result.returncode == 1
    assert "container" in result.stderr and "(user) is using it" in result.stderr
    forced = berth("rmi", "-f", "busybox")
    assert forced.stdout == "Untagged: busybox:latest\n"
    images = berth("images").stdout.splitlines()
    assert images[1].split()[:2] == ["<none>", "<none>"]  # dangling, kept for its container
    assert berth("start", "-a", "user").returncode == 0  # the container still runs


async def test_images_output(berth):
    lines = berth("images").stdout.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert lines[1].split()[:2] == ["busybox", "latest"]
    assert berth("images", "-q").stdout.strip() == lines[1].split()[2]
    assert berth("images", "--format", "{{.Repository}}:{{.Tag}}").stdout == "busybox:latest\n"
    [details] = json.loads(berth("inspect", "busybox").stdout)
    assert details["RepoTags"] == ["busybox:latest"]
    assert details["Config"]["Cmd"] == ["sh"]
    assert details["RootFS"]["Type"] == "layers"
