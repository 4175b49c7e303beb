"""The credential store against Docker's config.json format and credential-helper protocol."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import BerthError, InvalidArgumentError, NotFoundError
from engine.registry import credentials
from engine.registry.credentials import HUB_KEY, Credentials, credential_key, erase, lookup, store

# A credential helper as docker-credential-helpers' programs behave, keeping its secrets in
# a JSON file beside itself and logging every call, so tests see what berth asked of it.
HELPER = """#!{python}
import json, pathlib, sys
here = pathlib.Path(__file__).parent
secrets = here / "secrets.json"
kept = json.loads(secrets.read_text()) if secrets.exists() else {{}}
action, data = sys.argv[1], sys.stdin.read()
with open(here / "calls.log", "a") as log:
    log.write(json.dumps([action, data]) + "\\n")
if action == "store":
    given = json.loads(data)
    kept[given["ServerURL"]] = given
elif data not in kept:
    print("credentials not found in native keychain")
    sys.exit(1)
elif action == "get":
    print(json.dumps(kept[data]))
elif action == "erase":
    del kept[data]
secrets.write_text(json.dumps(kept))
"""

# What `docker login` leaves behind: tab-indented, Hub's URL key, a legacy https:// key,
# an identity token, and settings of the docker CLI that berth must keep.
DOCKER_WRITTEN = """{
\t"auths": {
\t\t"https://index.docker.io/v1/": {
\t\t\t"auth": "aHVidXNlcjpodWJwYXNz"
\t\t},
\t\t"https://legacy.example.com": {
\t\t\t"auth": "b2xkOnNlY3JldDpjb2xvbg=="
\t\t},
\t\t"http://older.example.com/v1/": {
\t\t\t"username": "plain",
\t\t\t"password": "text"
\t\t},
\t\t"quay.example.com:8443": {
\t\t\t"auth": "cm9ib3Q6",
\t\t\t"identitytoken": "refresh-me"
\t\t}
\t},
\t"psFormat": "table {{.ID}}",
\t"proxies": {
\t\t"default": {
\t\t\t"httpProxy": "http://proxy:3128"
\t\t}
\t}
}"""


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "docker"
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    return directory


@pytest.fixture
def helper_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A dir on PATH holding ``docker-credential-test``, whose secrets live beside it."""
    directory = tmp_path / "bin"
    directory.mkdir()
    _install(directory / "docker-credential-test", HELPER.format(python=sys.executable))
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")
    return directory


def _install(path: Path, script: str) -> None:
    path.write_text(script)
    path.chmod(0o755)


def _write_config(config_dir: Path, config: dict | str) -> Path:
    config_dir.mkdir(exist_ok=True)
    path = config_dir / "config.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    return path


def _read_config(config_dir: Path) -> dict:
    return json.loads((config_dir / "config.json").read_text())


def _helper_secrets(helper_dir: Path) -> dict:
    return json.loads((helper_dir / "secrets.json").read_text())


def test_config_path_follows_docker_config_else_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "elsewhere"))
    assert credentials.config_path() == tmp_path / "elsewhere" / "config.json"
    monkeypatch.delenv("DOCKER_CONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert credentials.config_path() == tmp_path / ".docker" / "config.json"


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("docker.io", HUB_KEY),
        ("index.docker.io", HUB_KEY),
        ("registry-1.docker.io", HUB_KEY),
        (HUB_KEY, HUB_KEY),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("ghcr.io", "ghcr.io"),
        ("https://quay.io", "quay.io"),
    ],
)
def test_credential_key_is_dockers(host: str, key: str) -> None:
    assert credential_key(host) == key


def test_missing_file_means_no_credentials(config_dir: Path) -> None:
    assert lookup("127.0.0.1:5000") is None
    assert erase("127.0.0.1:5000") is False
    assert not config_dir.exists()


def test_round_trip_in_the_file_as_docker_writes_it(config_dir: Path) -> None:
    where = store("127.0.0.1:5000", Credentials("user", "pass"))

    path = config_dir / "config.json"
    assert where == path
    assert lookup("127.0.0.1:5000") == Credentials("user", "pass")
    assert _read_config(config_dir) == {"auths": {"127.0.0.1:5000": {"auth": "dXNlcjpwYXNz"}}}
    assert path.read_text().startswith('{\n\t"auths"')
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700
    assert [p.name for p in config_dir.iterdir()] == ["config.json"]


def test_round_trip_of_an_identity_token(config_dir: Path) -> None:
    store("docker.io", Credentials("me", "", identity_token="refresh"))

    assert lookup("index.docker.io") == Credentials("me", "", "refresh")
    assert _read_config(config_dir)["auths"][HUB_KEY] == {
        "auth": "bWU6",
        "identitytoken": "refresh",
    }


def test_reads_a_file_docker_wrote(config_dir: Path) -> None:
    _write_config(config_dir, DOCKER_WRITTEN)

    assert lookup("docker.io") == Credentials("hubuser", "hubpass")
    assert lookup("legacy.example.com") == Credentials("old", "secret:colon")
    assert lookup("older.example.com") == Credentials("plain", "text")
    assert lookup("quay.example.com:8443") == Credentials("robot", "", "refresh-me")
    assert lookup("other.example.com") is None


def test_rewrites_keep_what_berth_does_not_use(config_dir: Path) -> None:
    _write_config(config_dir, DOCKER_WRITTEN)
    before = _read_config(config_dir)

    store("127.0.0.1:5000", Credentials("user", "pass"))
    assert erase("127.0.0.1:5000") is True

    assert _read_config(config_dir) == before


def test_erase_removes_legacy_keys_and_reports_absence(config_dir: Path) -> None:
    _write_config(config_dir, DOCKER_WRITTEN)

    assert erase("legacy.example.com") is True
    assert erase("older.example.com") is True
    assert erase("legacy.example.com") is False
    assert lookup("legacy.example.com") is None
    assert set(_read_config(config_dir)["auths"]) == {HUB_KEY, "quay.example.com:8443"}


def test_creds_store_helper_takes_the_secret(config_dir: Path, helper_dir: Path) -> None:
    _write_config(config_dir, {"credsStore": "test", "psFormat": "x"})

    where = store("127.0.0.1:5000", Credentials("user", "pass"))

    assert where == helper_dir / "docker-credential-test"
    assert _helper_secrets(helper_dir) == {
        "127.0.0.1:5000": {"ServerURL": "127.0.0.1:5000", "Username": "user", "Secret": "pass"}
    }
    # Docker's marker: the server is known, its secret is elsewhere.
    assert _read_config(config_dir) == {
        "credsStore": "test",
        "psFormat": "x",
        "auths": {"127.0.0.1:5000": {}},
    }
    assert lookup("127.0.0.1:5000") == Credentials("user", "pass")
    assert lookup("ghcr.io") is None
    assert erase("127.0.0.1:5000") is True
    assert _helper_secrets(helper_dir) == {}
    assert _read_config(config_dir)["auths"] == {}
    assert erase("127.0.0.1:5000") is False


def test_helper_identity_token_uses_the_token_username(config_dir: Path, helper_dir: Path) -> None:
    _write_config(config_dir, {"credsStore": "test"})

    store("docker.io", Credentials("me", "", identity_token="refresh"))

    assert _helper_secrets(helper_dir)[HUB_KEY]["Username"] == "<token>"
    assert lookup("docker.io") == Credentials("", "", identity_token="refresh")


def test_cred_helpers_apply_per_host(config_dir: Path, helper_dir: Path) -> None:
    _write_config(config_dir, {"credHelpers": {"ghcr.io": "test"}})

    assert store("ghcr.io", Credentials("u1", "p1")) == helper_dir / "docker-credential-test"
    assert store("quay.io", Credentials("u2", "p2")) == config_dir / "config.json"

    assert set(_helper_secrets(helper_dir)) == {"ghcr.io"}
    assert _read_config(config_dir)["auths"] == {"ghcr.io": {}, "quay.io": {"auth": "dTI6cDI="}}
    assert lookup("ghcr.io") == Credentials("u1", "p1")
    assert lookup("quay.io") == Credentials("u2", "p2")


def test_a_missing_helper_is_named(config_dir: Path) -> None:
    _write_config(config_dir, {"credsStore": "nope"})

    with pytest.raises(NotFoundError) as caught:
        lookup("127.0.0.1:5000")

    message = str(caught.value)
    assert '"docker-credential-nope"' in message
    assert '"credsStore"' in message
    assert str(config_dir / "config.json") in message


def test_a_failing_helper_reports_its_words(
    config_dir: Path, helper_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install(helper_dir / "docker-credential-broken", "#!/bin/sh\necho 'gpg: no key' >&2\nexit 1\n")
    _write_config(config_dir, {"credHelpers": {"127.0.0.1:5000": "broken"}})

    with pytest.raises(BerthError) as caught:
        store("127.0.0.1:5000", Credentials("user", "pass"))

    assert str(caught.value) == (
        'credential helper "docker-credential-broken" failed for 127.0.0.1:5000: gpg: no key '
        f'(check the helper, or remove "credHelpers" entry "127.0.0.1:5000" from '
        f"{config_dir / 'config.json'})"
    )


@pytest.mark.parametrize("text", ["{not json", '["a list"]', '{"auths": []}'])
def test_a_malformed_config_is_named(config_dir: Path, text: str) -> None:
    path = _write_config(config_dir, text)

    with pytest.raises(InvalidArgumentError, match=str(path)):
        lookup("127.0.0.1:5000")
    with pytest.raises(InvalidArgumentError, match="fix the file"):
        store("127.0.0.1:5000", Credentials("user", "pass"))
    assert path.read_text() == text


def test_an_unreadable_auth_is_named(config_dir: Path) -> None:
    _write_config(config_dir, {"auths": {"127.0.0.1:5000": {"auth": "!!"}}})

    with pytest.raises(InvalidArgumentError, match=r'"127\.0\.0\.1:5000" is unreadable'):
        lookup("127.0.0.1:5000")


DOCKER = shutil.which("docker")


@pytest.mark.skipif(DOCKER is None, reason="needs the docker CLI")
def test_docker_logout_reads_and_erases_what_berth_wrote(config_dir: Path) -> None:
    _write_config(config_dir, DOCKER_WRITTEN)
    store("127.0.0.1:5000", Credentials("user", "pass"))

    _docker(config_dir, "logout", "127.0.0.1:5000")

    # Docker parsed berth's file, removed only that login, and kept the rest for berth.
    assert lookup("127.0.0.1:5000") is None
    assert lookup("legacy.example.com") == Credentials("old", "secret:colon")
    assert lookup("docker.io") == Credentials("hubuser", "hubpass")
    assert _read_config(config_dir)["psFormat"] == "table {{.ID}}"


@pytest.mark.skipif(DOCKER is None, reason="needs the docker CLI")
def test_docker_logout_erases_through_the_helper_berth_stored_in(
    config_dir: Path, helper_dir: Path
) -> None:
    _write_config(config_dir, {"credsStore": "test"})
    store("127.0.0.1:5000", Credentials("user", "pass"))

    _docker(config_dir, "logout", "127.0.0.1:5000")

    # Docker asked the helper for the very key berth stored under.
    assert _helper_secrets(helper_dir) == {}
    assert _read_config(config_dir)["auths"] == {}


def _docker(config_dir: Path, *args: str) -> None:
    subprocess.run(
        [DOCKER, "--config", str(config_dir), *args],
        check=True,
        capture_output=True,
        timeout=60,
        env={**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"},
    )
