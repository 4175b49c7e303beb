"""Images from registries as a user gets them: pull, run with a pull, login, push, save and
load, each step a fresh ``berth`` against a real registry on loopback."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.berth_cli import Berth, describe
from tests.oci_images import (
    busybox_rootfs_layer,
    file_layer,
    sized_layers,
    skopeo_inspect,
    skopeo_push,
    write_oci_index,
    write_oci_layout,
)
from tests.registry.conftest import require_registry_tools
from tests.registry_server import RegistryServer
from tests.terminal import Terminal

USER = "alice:wonderland"


def _push_app(
    server: RegistryServer, workdir: Path, repository: str, creds: str | None = None
) -> str:
    """A two-layer image with /hello.txt at ``HOST/repository:latest``; its digest."""
    layout = workdir / f"layout-{repository}"
    write_oci_layout(layout, [busybox_rootfs_layer(), file_layer({"hello.txt": b"hi\n"})])
    return skopeo_push(layout, "latest", server, repository, creds=creds)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A plain registry holding ``app`` and ``other``."""
    require_registry_tools()
    workdir = tmp_path_factory.mktemp("registry")
    with RegistryServer(workdir / "server") as server:
        for repository in ("app", "other", "tty"):
            _push_app(server, workdir, repository)
        yield server


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """Behind Basic auth, holding ``private``."""
    require_registry_tools()
    workdir = tmp_path_factory.mktemp("auth-registry")
    with RegistryServer(workdir / "server", auth="htpasswd") as server:
        _push_app(server, workdir, "private", creds=USER)
        yield server


def test_pull_then_list_and_run(berth: Berth, registry: RegistryServer) -> None:
    name = f"{registry.host}/app"
    result = berth.ok("pull", name)
    lines = result.stdout.splitlines()
    assert lines[:2] == ["Using default tag: latest", "latest: Pulling from app"]
    assert "\x1b[" not in result.stdout  # plain lines on a pipe
    assert sum(line.endswith(": Pull complete") for line in lines) == 2
    assert sum(line.endswith(": Downloading") for line in lines) <= 2
    digest = next(line for line in lines if line.startswith("Digest: ")).split()[1]
    assert lines[-2:] == [f"Status: Downloaded newer image for {name}:latest", f"{name}:latest"]

    listed = berth.ok("images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}")
    assert f"{name} latest {digest}" in listed.stdout.splitlines()
    assert berth.ok("run", "--rm", name, "cat", "/hello.txt").stdout == "hi\n"
    assert berth.ok("rmi", f"{name}@{digest}").returncode == 0


def test_zstd_and_multi_platform_images_run(berth: Berth, tmp_path: Path) -> None:
    """What skopeo put there as zstd, and as a two-platform index, pulls and runs."""
    require_registry_tools()
    if platform.machine() != "x86_64":
        pytest.skip("the index's runnable image is linux/amd64, this host is not")
    with RegistryServer(tmp_path / "server") as server:
        zstd = tmp_path / "zstd"
        write_oci_layout(zstd, [busybox_rootfs_layer(), file_layer({"kind": b"zstd\n"})])
        skopeo_push(zstd, "latest", server, "zstd", compress_format="zstd")
        multi = tmp_path / "multi"
        write_oci_index(multi, [
            ("linux", "amd64", None, [busybox_rootfs_layer(), file_layer({"kind": b"amd64\n"})]),
            ("linux", "arm64", "v8", [file_layer({"kind": b"arm64\n"})]),
        ])  # fmt: skip
        skopeo_push(multi, "latest", server, "multi", all_platforms=True)
        for name, kind in (("zstd", "zstd\n"), ("multi", "amd64\n")):
            result = berth.ok("run", "--rm", f"{server.host}/{name}", "cat", "/kind", timeout=120)
            assert result.stdout == kind
        inspected = berth.ok("pull", "--platform", "linux/arm64", f"{server.host}/multi")
        assert "Downloaded newer image" in inspected.stdout


def test_run_pulls_a_missing_image(berth: Berth, registry: RegistryServer) -> None:
    name = f"{registry.host}/other"
    result = berth("run", "--pull", "never", "--rm", name, "true")
    assert result.returncode == 125, describe(result)
    assert result.stderr.startswith("berth: ") and name in result.stderr
    assert len(result.stderr.splitlines()) == 1

    result = berth.ok("run", "--rm", name, "cat", "/hello.txt")
    assert result.stdout == "hi\n"  # the pull went to stderr
    errors = result.stderr.splitlines()
    assert errors[0] == f"Unable to find image '{name}:latest' locally"
    assert errors[-1] == f"Status: Downloaded newer image for {name}:latest"
    result = berth.ok("run", "--rm", name, "cat", "/hello.txt")
    assert result.stderr == ""  # there now: no pull


def test_pull_of_an_unknown_image_fails_leaving_nothing(
    berth: Berth, registry: RegistryServer
) -> None:
    name = f"{registry.host}/nope"
    result = berth("pull", name)
    assert result.returncode == 1, describe(result)
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("berth: ")
    assert f"{name}:latest" in result.stderr
    assert berth.ok("images", "-q", "-f", "reference=*/nope").stdout == ""
    assert os.listdir(berth.root / "tmp") == []


def test_login_then_pull_then_logout(
    berth: Berth, auth_registry: RegistryServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    host, name = auth_registry.host, f"{auth_registry.host}/private"
    result = berth("pull", "-q", name)
    assert result.returncode == 1 and result.stderr.startswith("berth: "), describe(result)

    result = berth("login", "-u", "alice", "--password-stdin", host, input="queen\n")
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, describe(result)
    assert not (tmp_path / "docker" / "config.json").exists()

    result = berth("login", "-u", "alice", "--password-stdin", host, input="wonderland\n")
    assert (result.returncode, result.stdout) == (0, "Login Succeeded\n"), describe(result)
    assert berth.ok("pull", "-q", name).stdout == f"{name}:latest\n"
    assert berth.ok("logout", host).stdout == f"Removing login credentials for {host}\n"
    berth.ok("rmi", name)
    assert berth("pull", "-q", name).returncode == 1


def test_pull_on_a_terminal_redraws_its_block(berth: Berth, registry: RegistryServer) -> None:
    name = f"{registry.host}/tty"
    terminal = Terminal(berth.argv("pull", name), columns=120)
    try:
        assert terminal.wait(60) == 0
        # wait() drained what the terminal printed; expect() reads it from the start
        shown = terminal.expect(r"[\s\S]*" + re.escape(f"{name}:latest\r\n")).group().decode()
    finally:
        terminal.close()
    assert "\x1b[2K" in shown and re.search(r"\x1b\[\d+A", shown)  # lines redrawn in place
    assert re.search(r"[0-9a-f]{12}: Pull complete", shown)
    assert f"Status: Downloaded newer image for {name}:latest" in shown


def test_push_then_pull_back(berth: Berth, registry: RegistryServer) -> None:
    name = f"{registry.host}/pushed:v1"
    berth.ok("tag", "busybox", name)
    result = berth.ok("push", name)
    lines = result.stdout.splitlines()
    assert lines[0] == f"The push refers to repository [{registry.host}/pushed]"
    assert re.fullmatch(r"v1: digest: sha256:[0-9a-f]{64} size: \d+", lines[-1])
    digest = lines[-1].split()[2]
    assert skopeo_inspect(registry, "pushed:v1")["Digest"] == digest
    assert berth.ok("push", "-q", name).stdout == f"{name}\n"

    berth.ok("rmi", name)
    assert berth.ok("pull", "-q", name).stdout == f"{name}\n"
    assert berth.ok("run", "--rm", name, "echo", "back").stdout == "back\n"


def test_save_then_load(berth: Berth, tmp_path: Path) -> None:
    archive = tmp_path / "busybox.tar"
    berth.ok("save", "-o", str(archive), "busybox")
    berth.ok("rmi", "busybox")
    assert berth.ok("load", "-i", str(archive)).stdout == "Loaded image: busybox:latest\n"
    assert berth.ok("run", "--rm", "busybox", "echo", "loaded").stdout == "loaded\n"


def test_save_refuses_a_terminal(berth: Berth) -> None:
    terminal = Terminal(berth.argv("save", "busybox"))
    try:
        assert terminal.wait(30) == 1
        terminal.expect("berth: refusing to write the archive to a terminal")
    finally:
        terminal.close()


def test_a_killed_pull_leaves_nothing_and_the_next_completes(berth: Berth, tmp_path: Path) -> None:
    """SIGKILL mid-download: no row, no layer; the next command collects the scratch
    space the dead pull left, and a pull from scratch completes."""
    require_registry_tools()
    with RegistryServer(tmp_path / "server") as server:
        layout = tmp_path / "big"
        write_oci_layout(layout, sized_layers(3, 30_000_000, seed=5), compression=None)
        skopeo_push(layout, "latest", server, "big")
        name = f"{server.host}/big"
        before = berth.ok("images", "-q").stdout.split()
        layers = sorted((berth.root / "layers").iterdir())
        pull = berth.popen("pull", name, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert pull.stdout is not None
        for line in pull.stdout:  # plain lines: kill at the first download
            if b": Downloading" in line:
                break
        pull.kill()
        pull.wait()
        assert berth.ok("images", "-q").stdout.split() == before
        assert not list((berth.root / "tmp").iterdir())  # collected by that command
        assert sorted((berth.root / "layers").iterdir()) == layers
        berth.ok("pull", "-q", name, timeout=120)
        assert len(berth.ok("images", "-q").stdout.split()) == len(before) + 1
