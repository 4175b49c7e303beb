"""The registry commands' front end: the progress display, names, argument errors, login
and logout, and the image listing's digests, filters and prune, against a real registry."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.progress import PlainDisplay, TerminalDisplay, progress_text
from cli.registry import qualified, with_default_tag
from engine.api import Progress
from tests.conftest import BERTH, require_root
from tests.oci_images import busybox_rootfs_layer, file_layer, skopeo_push, write_oci_layout
from tests.registry.conftest import require_registry_tools
from tests.registry_server import RegistryServer

_CSI = re.compile(r"\x1b\[(\d*)([ABK])")


def screen(output: str) -> list[str]:
    """The lines a terminal shows after ``output``: the escapes the display uses, applied."""
    lines, row, column = [""], 0, 0
    for token in re.split(r"(\x1b\[\d*[ABK]|\r|\n)", output):
        if (escape := _CSI.fullmatch(token)) is not None:
            count, code = int(escape[1] or 1), escape[2]
            row = row - count if code == "A" else row + count if code == "B" else row
            if code == "K":
                lines[row] = ""
        elif token == "\r":
            column = 0
        elif token == "\n":
            row, column = row + 1, 0
        else:
            lines[row] = lines[row][:column] + token + lines[row][column + len(token) :]
            column += len(token)
        lines += [""] * (row + 1 - len(lines))
    return lines


_PULL = [
    Progress("", "latest: Pulling from app"),
    Progress("aaaaaaaaaaaa", "Pulling fs layer"),
    Progress("bbbbbbbbbbbb", "Pulling fs layer"),
    Progress("aaaaaaaaaaaa", "Downloading", 500_000, 2_000_000),
    Progress("bbbbbbbbbbbb", "Downloading", 1_000, 2_000),
    Progress("aaaaaaaaaaaa", "Downloading", 1_000_000, 2_000_000),
    Progress("bbbbbbbbbbbb", "Download complete"),
    Progress("bbbbbbbbbbbb", "Pull complete"),
    Progress("", "Digest: sha256:abc"),
]


def test_terminal_block_redraws_each_layer_in_place() -> None:
    out = io.StringIO()
    display = TerminalDisplay(out, columns=120)
    for event in _PULL[:6]:
        display.show(event)
    assert screen(out.getvalue()) == [
        "latest: Pulling from app",
        f"aaaaaaaaaaaa: Downloading [{'=' * 25}>{' ' * 25}]      1MB/2MB",
        "bbbbbbbbbbbb: Downloading [=========================>                         ]"
        "      1kB/2kB",
        "",
    ]
    for event in _PULL[6:]:
        display.show(event)
    assert screen(out.getvalue())[1:] == [
        f"aaaaaaaaaaaa: Downloading [{'=' * 25}>{' ' * 25}]      1MB/2MB",
        "bbbbbbbbbbbb: Pull complete",
        "Digest: sha256:abc",
        "",
    ]


def test_terminal_block_fits_a_narrow_terminal() -> None:
    out = io.StringIO()
    display = TerminalDisplay(out, columns=40)
    display.show(Progress("aaaaaaaaaaaa", "Downloading", 1_234_567, 45_600_000))
    assert screen(out.getvalue())[0] == "aaaaaaaaaaaa: Downloading  1.235MB/45.6"


def test_progress_text_is_dockers() -> None:
    assert progress_text(Progress("a", "Pushing", 0, 0), 120) == ""
    assert progress_text(Progress("a", "Loading", 12_300_000, 0), 120) == "  12.3MB"
    assert progress_text(Progress("a", "Pushing", 45_600_000, 45_600_000), 80) == "  45.6MB/45.6MB"
    assert progress_text(Progress("a", "Pushing", 3, 2), 120) == ""
    assert progress_text(Progress("a", "Pushing", 2, 2), 120).startswith(f"[{'=' * 50}>] ")


def test_plain_lines_say_each_status_once() -> None:
    out = io.StringIO()
    display = PlainDisplay(out)
    for event in _PULL:
        display.show(event)
    assert out.getvalue().splitlines() == [
        "latest: Pulling from app",
        "aaaaaaaaaaaa: Pulling fs layer",
        "bbbbbbbbbbbb: Pulling fs layer",
        "aaaaaaaaaaaa: Downloading",
        "bbbbbbbbbbbb: Downloading",
        "bbbbbbbbbbbb: Download complete",
        "bbbbbbbbbbbb: Pull complete",
        "Digest: sha256:abc",
    ]


@pytest.mark.parametrize(
    ("name", "full", "local"),
    [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("me/app:v1", "docker.io/me/app:v1", "me/app:v1"),
        ("docker.io/busybox", "docker.io/library/busybox:latest", "docker.io/busybox:latest"),
        ("localhost:5000/app", "localhost:5000/app:latest", "localhost:5000/app:latest"),
        ("127.0.0.1:5000/a/b@sha256:ab", "127.0.0.1:5000/a/b@sha256:ab",
         "127.0.0.1:5000/a/b@sha256:ab"),
    ],
)  # fmt: skip
def test_names_as_docker_prints_them(name: str, full: str, local: str) -> None:
    assert qualified(name) == full
    assert with_default_tag(name) == local


def test_all_tags_name_has_no_tag() -> None:
    assert qualified("busybox", tagged=False) == "docker.io/library/busybox"


# -- through the installed command -----------------------------------------------------


@pytest.fixture(scope="module")
def engine_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    require_root("an engine root")
    yield tmp_path_factory.mktemp("engine")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    require_registry_tools()
    with RegistryServer(tmp_path_factory.mktemp("registry")) as server:
        yield server


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """Behind Basic auth: alice's password is wonderland."""
    require_registry_tools()
    with RegistryServer(tmp_path_factory.mktemp("auth-registry"), auth="htpasswd") as server:
        yield server


def berth(engine_dir: Path, *args: str, input: str | None = None, **env: str):
    environment = {**os.environ, "BERTH_ROOT": str(engine_dir / "root"),
                   "BERTH_RUNROOT": str(engine_dir / "run"), **env}  # fmt: skip
    return subprocess.run([BERTH, *args], input=input, capture_output=True, text=True,
                          env=environment, timeout=60, check=False)  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["login", "--password-stdin", "r.example"], "--password-stdin needs --username"),
        (["login", "-u", "a", "-p", "b", "--password-stdin"], "mutually exclusive"),
        (["login", "r.example"], "cannot ask for credentials without a terminal"),
        (["images", "-f", "colour=red"], 'invalid filter "colour=red"'),
        (["images", "-f", "dangling=maybe"], 'invalid filter "dangling=maybe"'),
        (["pull", "Not/Valid!"], "invalid reference format"),
        (["pull", "-a", "busybox:1"], "--all-tags takes a repository"),
        (["pull", "--tls-verify", "maybe", "busybox"], '"maybe" is not true or false'),
    ],
)
def test_argument_errors_are_one_line(engine_dir: Path, args: list[str], message: str) -> None:
    result = berth(engine_dir, *args, input="")
    assert result.returncode != 0
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("berth: ") and message in result.stderr


def test_run_pull_takes_only_dockers_policies(engine_dir: Path) -> None:
    result = berth(engine_dir, "run", "--pull", "sometimes", "busybox")
    assert result.returncode == 125
    assert "invalid choice: 'sometimes'" in result.stderr


def test_login_stores_in_docker_config_and_logout_removes(
    engine_dir: Path,
    auth_registry: RegistryServer,
    tmp_path: Path,
) -> None:
    config = {"DOCKER_CONFIG": str(tmp_path)}
    host = auth_registry.host
    result = berth(engine_dir, "login", "-u", "alice", "--password-stdin", host,
                   input="wonderland\n", **config)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Login Succeeded\n"
    path = tmp_path / "config.json"
    assert result.stderr == f"WARNING! Your password will be stored unencrypted in {path}.\n"
    assert host in json.loads(path.read_text())["auths"]

    result = berth(engine_dir, "logout", host, **config)
    assert result.stdout == f"Removing login credentials for {host}\n"
    assert host not in json.loads(path.read_text()).get("auths", {})
    result = berth(engine_dir, "logout", host, **config)
    assert (result.returncode, result.stdout) == (0, f"Not logged in to {host}\n")


def test_login_with_password_flag_warns(
    engine_dir: Path,
    auth_registry: RegistryServer,
    tmp_path: Path,
) -> None:
    result = berth(engine_dir, "login", "-u", "alice", "-p", "wonderland", auth_registry.host,
                   DOCKER_CONFIG=str(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "WARNING! Using --password via the CLI is insecure. Use --password-stdin." in (
        result.stderr
    )


def test_wrong_password_stores_nothing(
    engine_dir: Path,
    auth_registry: RegistryServer,
    tmp_path: Path,
) -> None:
    config = {"DOCKER_CONFIG": str(tmp_path)}
    result = berth(engine_dir, "login", "-u", "alice", "--password-stdin",
                   auth_registry.host, input="queen\n", **config)  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("berth: ")
    assert not (tmp_path / "config.json").exists() or "auths" not in json.loads(
        (tmp_path / "config.json").read_text()
    ) or not json.loads((tmp_path / "config.json").read_text())["auths"]  # fmt: skip


@pytest.fixture(scope="module")
def pulled(
    engine_dir: Path,
    registry: RegistryServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[str, str]:
    """``HOST/listed:v1`` pulled into the module's engine: (its name, its digest)."""
    layout = tmp_path_factory.mktemp("layout")
    write_oci_layout(layout, [busybox_rootfs_layer(), file_layer({"v1": b"1"})])
    digest = skopeo_push(layout, "latest", registry, "listed:v1")
    name = f"{registry.host}/listed:v1"
    result = berth(engine_dir, "pull", "-q", name)
    assert (result.returncode, result.stdout) == (0, f"{name}\n"), result.stderr
    return name, digest


def test_images_digests_column(engine_dir: Path, pulled: tuple[str, str]) -> None:
    name, digest = pulled
    repository = name.rsplit(":", 1)[0]
    result = berth(engine_dir, "images", "--digests", "-f", f"reference={name}")
    header, row = result.stdout.splitlines()
    assert header.split() == ["REPOSITORY", "TAG", "DIGEST", "IMAGE", "ID", "CREATED", "SIZE"]
    assert row.split()[:3] == [repository, "v1", digest]
    result = berth(engine_dir, "images", "--format", "{{.Repository}}@{{.Digest}}")
    assert f"{repository}@{digest}" in result.stdout.splitlines()


def test_images_filters(engine_dir: Path, pulled: tuple[str, str]) -> None:
    name, _ = pulled
    formatted = ("--format", "{{.Repository}}:{{.Tag}}")
    assert berth(engine_dir, "images", "-f", "reference=*/listed:*", *formatted).stdout == (
        f"{name}\n"
    )
    assert berth(engine_dir, "images", "-f", "reference=nothing*", *formatted).stdout == ""
    assert berth(engine_dir, "images", "-f", "dangling=true", "-q").stdout == ""
    assert name in berth(engine_dir, "images", "-f", "dangling=false", *formatted).stdout


def test_image_prune(engine_dir: Path, pulled: tuple[str, str]) -> None:
    name, _ = pulled
    result = berth(engine_dir, "image", "prune", input="n\n")
    assert result.stdout.startswith("WARNING! This will remove all dangling images.\n")
    assert "Total reclaimed space" not in result.stdout
    result = berth(engine_dir, "image", "prune", "-f")
    assert result.stdout == "Total reclaimed space: 0B\n"

    assert berth(engine_dir, "tag", name, "another:one").returncode == 0
    result = berth(engine_dir, "image", "prune", "-a", "-f")
    lines = result.stdout.splitlines()
    assert lines[0] == "Deleted Images:"
    assert f"untagged: {name}" in lines and "untagged: another:one" in lines
    assert any(line.startswith("deleted: sha256:") for line in lines)
    assert lines[-2] == "" and re.fullmatch(r"Total reclaimed space: [\d.]+[kM]?B", lines[-1])
    assert berth(engine_dir, "images", "-q").stdout == ""
