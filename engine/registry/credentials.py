"""Registry credentials, kept where Docker keeps them so a ``docker login`` serves berth too.

The store is Docker's ``config.json`` (``$DOCKER_CONFIG/config.json``, else
``~/.docker/config.json``): ``auths`` maps a server key to ``{"auth": base64("user:pass")}``
and maybe an ``identitytoken``. A credential helper named by ``credHelpers`` (per host) or
``credsStore`` (every host) takes the secret instead: ``docker-credential-NAME get|store|erase``,
speaking JSON over stdin and stdout, while ``auths`` keeps an empty marker for the server,
as Docker's own writes do. Every key of the file that berth does not use is kept as it was.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import BerthError, InvalidArgumentError, NotFoundError

HUB_KEY = "https://index.docker.io/v1/"
_HUB_HOSTS = {"docker.io", "index.docker.io", "registry-1.docker.io"}
# A helper's answer when it holds nothing for the server (docker-credential-helpers' wording).
_NOT_FOUND = "credentials not found in native keychain"
# The helper-protocol username that marks the secret as an identity (refresh) token.
_TOKEN_USERNAME = "<token>"


@dataclass(frozen=True)
class Credentials:
    """A login for one registry; ``identity_token`` is an OAuth refresh token, when given."""

    username: str
    secret: str
    identity_token: str = ""


@dataclass(frozen=True)
class _Helper:
    program: str  # docker-credential-NAME
    setting: str  # the config entry that chose it, for messages


def config_path() -> Path:
    """Docker's client config file: ``$DOCKER_CONFIG/config.json``, else ``~/.docker/``'s."""
    directory = os.environ.get("DOCKER_CONFIG")
    return Path(directory or Path.home() / ".docker") / "config.json"


def credential_key(host: str) -> str:
    """The key Docker files a registry's login under: Hub's URL, else ``host[:port]``."""
    hostname = _hostname(host)
    return HUB_KEY if hostname in _HUB_HOSTS else hostname


def lookup(host: str) -> Credentials | None:
    """The login stored for ``host``, or None when there is none."""
    key = credential_key(host)
    config = _load()
    helper = _helper_for(config, key)
    if helper is not None:
        return _helper_get(helper, key)
    auths = _auths(config)
    entry = auths.get(key)
    if entry is None:
        # Older Docker versions filed logins under "https://host" or "http://host/v1/".
        legacy = (value for name, value in auths.items() if _hostname(name) == _hostname(key))
        entry = next(legacy, None)
    return None if entry is None else _from_entry(entry, key)


def store(host: str, credentials: Credentials) -> Path:
    """Store a login for ``host``; returns where it went.

    That is ``config_path()`` when it was written there in plain text (the CLI then warns,
    as Docker does), else the path of the credential helper program that took it.
    """
    key = credential_key(host)
    config = _load()
    auths = config.setdefault("auths", {})
    helper = _helper_for(config, key)
    if helper is None:
        auths[key] = _to_entry(credentials)
        _save(config)
        return config_path()
    _helper_store(helper, key, credentials)
    auths[key] = {}
    _save(config)
    return _helper_path(helper, key)


def erase(host: str) -> bool:
    """Remove ``host``'s login, legacy keys included; False when there was none."""
    key = credential_key(host)
    config = _load()
    helper = _helper_for(config, key)
    erased = helper is not None and _helper_erase(helper, key)
    auths = _auths(config)
    stale = [name for name in auths if _hostname(name) == _hostname(key)]
    for name in stale:
        del auths[name]
    if stale:
        _save(config)
    return erased or bool(stale)


def _hostname(server: str) -> str:
    """``host[:port]`` of a key or URL (Docker's ConvertToHostname): no scheme, no path."""
    if "://" in server:
        server = server.split("://", 1)[1]
    return server.split("/", 1)[0]


def _load() -> dict[str, Any]:
    path = config_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    if not text.strip():
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidArgumentError(
            f"{path} is not valid JSON: {error} (fix the file, or remove it and log in again)"
        ) from None
    if not isinstance(config, dict) or not isinstance(config.get("auths", {}), dict):
        raise InvalidArgumentError(
            f'{path} is not a Docker client config: it needs a JSON object whose "auths" '
            "is an object (fix the file, or remove it and log in again)"
        )
    return config


def _auths(config: dict[str, Any]) -> dict[str, Any]:
    return config.get("auths", {})


def _save(config: dict[str, Any]) -> None:
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Rename onto a symlink's target, so a config.json linked from elsewhere stays linked.
    target = path.resolve()
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f"{target.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as file:
            json.dump(config, file, indent="\t")
            file.flush()
            os.fsync(file.fileno())
        _keep_owner(target, temp)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def _keep_owner(target: Path, temp: str) -> None:
    # Under sudo with the user's HOME, a rewrite must not hand their file to root.
    try:
        stat = target.stat()
    except FileNotFoundError:
        return
    if (stat.st_uid, stat.st_gid) != (os.geteuid(), os.getegid()):
        with contextlib.suppress(PermissionError):
            os.chown(temp, stat.st_uid, stat.st_gid)


def _from_entry(entry: Any, key: str) -> Credentials | None:
    if not isinstance(entry, dict):
        raise _bad_entry(key, "its entry is not an object")
    username, secret = entry.get("username") or "", entry.get("password") or ""
    if entry.get("auth"):
        username, secret = _decode_auth(entry["auth"], key)
    token = entry.get("identitytoken") or ""
    if not (username or secret or token):
        return None  # an empty marker: the login was in a helper that is no longer set
    return Credentials(username, secret, token)


def _decode_auth(auth: str, key: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(auth, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, TypeError):
        raise _bad_entry(key, '"auth" is not base64') from None
    username, colon, secret = decoded.partition(":")
    if not colon or not username:
        raise _bad_entry(key, '"auth" is not base64 of "user:password"')
    return username, secret.strip("\x00")


def _bad_entry(key: str, why: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        f'{config_path()}: the login for "{key}" is unreadable: {why} '
        f"(run berth logout {key} and log in again)"
    )


def _to_entry(credentials: Credentials) -> dict[str, str]:
    entry = {}
    if credentials.username or credentials.secret:
        plain = f"{credentials.username}:{credentials.secret}"
        entry["auth"] = base64.b64encode(plain.encode()).decode()
    if credentials.identity_token:
        entry["identitytoken"] = credentials.identity_token
    return entry


def _helper_for(config: dict[str, Any], key: str) -> _Helper | None:
    per_host = config.get("credHelpers") or {}
    if isinstance(per_host, dict) and per_host.get(key):
        return _Helper(f"docker-credential-{per_host[key]}", f'"credHelpers" entry "{key}"')
    if config.get("credsStore"):
        return _Helper(f"docker-credential-{config['credsStore']}", '"credsStore"')
    return None


def _helper_get(helper: _Helper, key: str) -> Credentials | None:
    done = _run_helper(helper, key, "get", key)
    if done.returncode != 0:
        if _NOT_FOUND in done.stdout + done.stderr:
            return None
        raise _helper_failed(helper, key, done)
    try:
        answer = json.loads(done.stdout)
        username, secret = answer.get("Username") or "", answer.get("Secret") or ""
    except (json.JSONDecodeError, AttributeError):
        raise _helper_error(helper, key, f"answered get with no JSON: {done.stdout!r}") from None
    if username == _TOKEN_USERNAME:
        return Credentials("", "", identity_token=secret)
    return Credentials(username, secret) if username or secret else None


def _helper_store(helper: _Helper, key: str, credentials: Credentials) -> None:
    username, secret = credentials.username, credentials.secret
    if credentials.identity_token:
        username, secret = _TOKEN_USERNAME, credentials.identity_token
    payload = {"ServerURL": key, "Username": username, "Secret": secret}
    done = _run_helper(helper, key, "store", json.dumps(payload))
    if done.returncode != 0:
        raise _helper_failed(helper, key, done)


def _helper_erase(helper: _Helper, key: str) -> bool:
    done = _run_helper(helper, key, "erase", key)
    if done.returncode == 0:
        return True
    if _NOT_FOUND in done.stdout + done.stderr:
        return False
    raise _helper_failed(helper, key, done)


def _helper_path(helper: _Helper, key: str) -> Path:
    program = shutil.which(helper.program)
    if program is None:
        raise NotFoundError(
            f'credential helper "{helper.program}" for {key} is not in PATH '
            f"(install it, or remove {helper.setting} from {config_path()})"
        )
    return Path(program)


def _run_helper(
    helper: _Helper, key: str, action: str, stdin: str
) -> subprocess.CompletedProcess[str]:
    program = _helper_path(helper, key)
    try:
        return subprocess.run(
            [program, action], input=stdin, capture_output=True, text=True, check=False
        )
    except OSError as error:
        raise _helper_error(helper, key, f"could not run: {error.strerror}") from None


def _helper_failed(helper: _Helper, key: str, done: subprocess.CompletedProcess[str]) -> BerthError:
    # Docker's helpers report on stdout, others on stderr: show whichever has words.
    said = " ".join((done.stderr.strip() or done.stdout.strip()).split())
    return _helper_error(helper, key, said or f"exit status {done.returncode}")


def _helper_error(helper: _Helper, key: str, what: str) -> BerthError:
    return BerthError(
        f'credential helper "{helper.program}" failed for {key}: {what} '
        f"(check the helper, or remove {helper.setting} from {config_path()})"
    )
