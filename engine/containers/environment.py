"""A container's environment: image ENV, then -e and --env-file, Docker's way."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from engine.errors import InvalidArgumentError, NotFoundError

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def read_env_file(path: str) -> list[str]:
    """Entries of an --env-file: ``KEY=VALUE`` lines, ``#`` comments, bare ``KEY`` from the host."""
    text = _read_text(path)
    entries = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key = line.split("=", 1)[0]
        if not key or any(c.isspace() for c in key):
            raise InvalidArgumentError(
                f'invalid variable name "{key}" in env file "{path}" line {number}'
            )
        entries.append(line)
    return entries


def _read_text(path: str) -> str:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f'no such env file: "{path}"') from None
    except OSError as error:
        raise InvalidArgumentError(f'cannot read env file "{path}": {error.strerror}') from None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")  # Docker skips a leading BOM
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InvalidArgumentError(
            f'cannot read env file "{path}": it is not UTF-8 text '
            f"(byte 0x{data[error.start]:02x} at offset {error.start}, line {line})"
        ) from None


def resolve_user_entries(entries: Iterable[str], host: Mapping[str, str] = os.environ) -> list[str]:
    """Turn ``-e KEY`` (no value) into ``KEY=<host value>``, dropping it when the host lacks it."""
    resolved = []
    for entry in entries:
        if "=" in entry:
            if entry.startswith("="):
                raise InvalidArgumentError(f'invalid environment variable: "{entry}"')
            resolved.append(entry)
        elif entry in host:
            resolved.append(f"{entry}={host[entry]}")
    return resolved


def merge_env(*layers: Iterable[str]) -> list[str]:
    """Merge ``KEY=VALUE`` lists; later layers win, first appearance keeps its position."""
    merged: dict[str, str] = {}
    for layer in layers:
        for entry in layer:
            key, _, value = entry.partition("=")
            merged[key] = value
    return [f"{key}={value}" for key, value in merged.items()]


def container_env(
    image_env: Iterable[str], user_env: Iterable[str], hostname: str, home: str
) -> list[str]:
    """The final environment: PATH and HOSTNAME first, HOME from passwd unless set."""
    env = merge_env([f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}"], image_env, user_env)
    if not any(entry.startswith("HOME=") for entry in env):
        env.append(f"HOME={home}")
    return env
