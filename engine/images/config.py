"""OCI image configs: building them, naming them, and Docker's ``--change`` instructions."""

from __future__ import annotations

import hashlib
import json
import platform
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from engine.errors import InvalidArgumentError
from engine.signals import parse_signal

_ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}
_PORT = re.compile(r"(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp))?", re.IGNORECASE)


def architecture() -> str:
    """The host's architecture in OCI's words (amd64, arm64, ...)."""
    machine = platform.machine()
    return _ARCHITECTURES.get(machine, machine)


def image_config(
    container_config: dict[str, Any], diff_ids: Sequence[str], history: Sequence[dict[str, Any]],
    created: str,
) -> dict[str, Any]:  # fmt: skip
    """An OCI image config for this host; ``container_config`` is its ``config`` object."""
    return {
        "architecture": architecture(),
        "os": "linux",
        "created": created,
        "config": container_config,
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": list(history),
    }


def serialize(config: dict[str, Any]) -> bytes:
    """The bytes that are stored and hashed; the image id names exactly these."""
    return json.dumps(config, separators=(",", ":"), sort_keys=True).encode()


def image_id(raw: bytes) -> str:
    """``sha256:<hex>`` of the config's stored bytes, as Docker names images."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def replaced_fields(config: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` (the image's ``config`` object) with ``fields`` in place of its own;
    a field given as None is removed."""
    kept = {key: value for key, value in config.items() if key not in fields}
    return {**kept, **{key: value for key, value in fields.items() if value is not None}}


def apply_changes(
    config: dict[str, Any], changes: Sequence[str], *, command: str = "import"
) -> dict[str, Any]:
    """``config`` (the image's ``config`` object) with Dockerfile instructions applied.

    ``command`` (import, commit) is how an error names the command the user ran.
    """
    updated = dict(config)
    for change in changes:
        words = change.split(maxsplit=1)
        instruction = words[0] if words else ""
        argument = words[1].strip() if len(words) > 1 else ""
        keyword = instruction.upper()
        if keyword not in _APPLY:
            raise InvalidArgumentError(
                f'unsupported --change instruction: "{instruction}" '
                f"({command} supports {', '.join(sorted(_APPLY))})"
            )
        if not argument:
            raise InvalidArgumentError(f"--change {keyword} needs an argument")
        _APPLY[keyword](updated, argument)
    return updated


def _command_form(argument: str) -> list[str]:
    """Exec form (a JSON array of strings) or shell form, run by /bin/sh -c."""
    if argument.startswith("["):
        try:
            parsed = json.loads(argument)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
            return parsed
    return ["/bin/sh", "-c", argument]


def _set_cmd(config: dict[str, Any], argument: str) -> None:
    config["Cmd"] = _command_form(argument)


def _set_entrypoint(config: dict[str, Any], argument: str) -> None:
    config["Entrypoint"] = _command_form(argument)


def _key_values(argument: str, keyword: str) -> list[tuple[str, str]]:
    try:
        tokens = shlex.split(argument)
    except ValueError as error:
        raise InvalidArgumentError(f"--change {keyword} {argument}: {error}") from None
    if keyword == "ENV" and tokens and "=" not in tokens[0]:
        # The legacy form, ENV KEY some value: everything after the key is the value.
        words = argument.split(maxsplit=1)
        if len(words) < 2:
            raise InvalidArgumentError(f'--change ENV {argument}: give KEY=VALUE or "KEY VALUE"')
        return [(words[0], _unquoted(words[1]))]
    pairs = []
    for token in tokens:
        key, equals, value = token.partition("=")
        if not equals or not key:
            raise InvalidArgumentError(f'--change {keyword}: "{token}" is not KEY=VALUE')
        pairs.append((key, value))
    return pairs


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _set_env(config: dict[str, Any], argument: str) -> None:
    env = {key: value for key, _, value in (e.partition("=") for e in config.get("Env") or [])}
    env.update(_key_values(argument, "ENV"))
    config["Env"] = [f"{key}={value}" for key, value in env.items()]


def _set_label(config: dict[str, Any], argument: str) -> None:
    config["Labels"] = {**(config.get("Labels") or {}), **dict(_key_values(argument, "LABEL"))}


def _set_user(config: dict[str, Any], argument: str) -> None:
    config["User"] = argument


def _set_workdir(config: dict[str, Any], argument: str) -> None:
    if not argument.startswith("/"):
        argument = (config.get("WorkingDir") or "/").rstrip("/") + "/" + argument
    config["WorkingDir"] = argument


def _set_volume(config: dict[str, Any], argument: str) -> None:
    """VOLUME /data /logs, or the JSON form; each path becomes an anonymous volume at run."""
    paths = _command_form(argument) if argument.startswith("[") else argument.split()
    if paths[:2] == ["/bin/sh", "-c"]:  # not a JSON array after all
        raise InvalidArgumentError(f"--change VOLUME {argument}: give paths or a JSON array")
    volumes = dict(config.get("Volumes") or {})
    for path in paths:
        if not path.startswith("/"):
            raise InvalidArgumentError(f'--change VOLUME: "{path}" must be an absolute path')
        volumes[path] = {}
    config["Volumes"] = volumes


def _set_stopsignal(config: dict[str, Any], argument: str) -> None:
    parse_signal(argument)  # only to refuse a name no container could be stopped with
    config["StopSignal"] = argument


def _set_expose(config: dict[str, Any], argument: str) -> None:
    ports = dict(config.get("ExposedPorts") or {})
    for token in argument.split():
        match = _PORT.fullmatch(token)
        first, last = (int(match[1]), int(match[2] or match[1])) if match else (0, 0)
        if not 0 < first <= last < 65536:
            raise InvalidArgumentError(
                f'--change EXPOSE: invalid port "{token}" (e.g. 80, 53/udp, 8000-8010/tcp)'
            )
        protocol = (match[3] or "tcp").lower()
        for port in range(first, last + 1):
            ports[f"{port}/{protocol}"] = {}
    config["ExposedPorts"] = ports


_APPLY = {
    "CMD": _set_cmd, "ENTRYPOINT": _set_entrypoint, "ENV": _set_env, "EXPOSE": _set_expose,
    "LABEL": _set_label, "STOPSIGNAL": _set_stopsignal, "USER": _set_user,
    "VOLUME": _set_volume, "WORKDIR": _set_workdir,
}  # fmt: skip
