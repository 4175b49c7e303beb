"""Registries on loopback for the registry client's tests: plain, TLS, htpasswd and token auth.

Each fixture yields a started ``RegistryServer`` (tests/registry_server.py) and stops it
afterwards, failure or not. They need docker-registry and skopeo (to put images in), not root.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.api import Engine
from engine.paths import EnginePaths
from tests.registry_server import REGISTRY_BINARY, Auth, RegistryServer

# Binary -> the Debian package that ships it.
REQUIRED = {REGISTRY_BINARY: "docker-registry", "skopeo": "skopeo"}


def require_registry_tools() -> None:
    """Skip unless docker-registry and skopeo are installed, naming the missing package."""
    for binary, package in REQUIRED.items():
        if shutil.which(binary) is None:
            pytest.skip(f"needs {binary} (Debian package {package})")


def _serve(workdir: Path, *, tls: bool = False, auth: Auth = None) -> Iterator[RegistryServer]:
    require_registry_tools()
    with RegistryServer(workdir, tls=tls, auth=auth) as server:
        yield server


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryServer]:
    """Plain HTTP, no auth."""
    yield from _serve(tmp_path / "registry")


@pytest.fixture(scope="module")
def module_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """Plain HTTP, no auth, shared by a module's tests (use distinct repository names)."""
    yield from _serve(tmp_path_factory.mktemp("registry"))


@pytest.fixture
def tls_registry(tmp_path: Path) -> Iterator[RegistryServer]:
    """HTTPS with a certificate from a CA of its own (``ca_cert``, ``certs_dir()``)."""
    yield from _serve(tmp_path / "registry", tls=True)


@pytest.fixture
def htpasswd_registry(tmp_path: Path) -> Iterator[RegistryServer]:
    """Plain HTTP behind Basic auth; ``users`` are {"alice": "wonderland"}."""
    yield from _serve(tmp_path / "registry", auth="htpasswd")


@pytest.fixture
def token_registry(tmp_path: Path) -> Iterator[RegistryServer]:
    """Plain HTTP behind Docker token auth (``token_server``); anonymous pull refused."""
    yield from _serve(tmp_path / "registry", auth="token")


@pytest.fixture
def store(engine_paths: EnginePaths) -> Engine:
    """An engine with no image at all (needs root, as every real engine)."""
    return Engine(engine_paths)


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Credentials go to a config.json of the test's own, never the user's."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    return tmp_path / "docker" / "config.json"
