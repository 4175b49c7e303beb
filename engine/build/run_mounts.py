"""RUN --mount: what a RUN step sees besides its stage's files, as BuildKit offers it.

- ``type=bind`` (the default): the context, a stage or an image, or a path of one,
  read-only; nothing written there reaches the layer.
- ``type=cache``: a directory kept across builds under the engine root, by ``id``
  (default: the target), for package caches and compilers.
- ``type=tmpfs``: an empty tmpfs.
- ``type=secret``: a file given with ``--secret id=ID,src=PATH``, at
  ``/run/secrets/ID`` (or ``target``), from a private copy; it is mounted, never
  copied into the container's files, so no layer holds it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import InvalidArgumentError, NotFoundError
from engine.runtime.rootpath import resolve
from engine.storage import scratch

_TARGET_KEYS = ("target", "dst", "destination")
_SOURCE_KEYS = ("source", "src")


@dataclass(frozen=True)
class RunMount:
    type: str
    options: dict[str, str]

    def get(self, keys: Sequence[str], default: str | None = None) -> str | None:
        return next((self.options[key] for key in keys if key in self.options), default)

    @property
    def target(self) -> str:
        target = self.get(_TARGET_KEYS)
        if self.type == "secret" and not target:
            return f"/run/secrets/{self.options.get('id') or ''}"
        if not target:
            raise InvalidArgumentError(f"mount type={self.type} needs a target")
        return target


def parse(value: str) -> RunMount:
    """One --mount value (``type=cache,target=/root/.cache``), checked."""
    options: dict[str, str] = {}
    for field in value.split(","):
        key, has_value, setting = field.partition("=")
        options[key.strip().lower()] = setting if has_value else "true"
    kind = options.pop("type", "bind")
    if kind not in ("bind", "cache", "tmpfs", "secret"):
        raise InvalidArgumentError(
            f'unsupported mount type "{kind}": berth build knows bind, cache, tmpfs and secret'
        )
    return RunMount(kind, options)


TreeOf = Callable[[str | None], Awaitable[contextlib.AbstractContextManager[Path]]]


class Prepared:
    """The mounts of one RUN, made ready: (--mount values, --tmpfs values) for its
    container; private copies and read-only trees live until the step ends."""

    def __init__(self, mounts: Sequence[str], cache_root: Path, tmp: Path,
                 secrets: Mapping[str, Path], tree_of: TreeOf,
                 scripts: Mapping[str, str]) -> None:  # fmt: skip
        self._mounts = [parse(value) for value in mounts]
        self._scripts = scripts  # container path: text, run by path (RUN <<EOF with #!)
        self._cache_root = cache_root
        self._tmp = tmp
        self._secrets = secrets
        self._tree_of = tree_of

    @contextlib.asynccontextmanager
    async def ready(self) -> AsyncIterator[tuple[list[str], list[str]]]:
        binds: list[str] = []
        tmpfs: list[str] = []
        with contextlib.ExitStack() as stack:
            for mount in self._mounts:
                if mount.type == "tmpfs":
                    size = mount.options.get("size")
                    tmpfs.append(mount.target + (f":size={size}" if size else ""))
                elif mount.type == "cache":
                    binds.append(_bind(self._cache_dir(mount), mount.target, readonly=False))
                elif mount.type == "secret":
                    binds += self._secret(mount, stack)
                else:
                    if mount.options.get("rw", mount.options.get("readwrite")) == "true":
                        raise InvalidArgumentError(
                            "RUN --mount=type=bind,rw is not supported: berth binds read-only"
                        )
                    root = stack.enter_context(await self._tree_of(mount.options.get("from")))
                    source = resolve(root, mount.get(_SOURCE_KEYS, "/") or "/")
                    if not source.exists():
                        raise NotFoundError(f'mount source "{mount.get(_SOURCE_KEYS)}": not found')
                    binds.append(_bind(source, mount.target, readonly=True))
            binds += self._script_binds(stack)
            yield binds, tmpfs

    def _script_binds(self, stack: contextlib.ExitStack) -> list[str]:
        binds = []
        for target, text in self._scripts.items():
            directory = scratch.new_dir(self._tmp, "script")
            stack.callback(scratch.remove, directory)
            script = directory / "script"
            script.write_text(text)
            script.chmod(0o755)
            binds.append(_bind(script, target, readonly=True))
        return binds

    def _cache_dir(self, mount: RunMount) -> Path:
        key = mount.options.get("id") or mount.target
        directory = self._cache_root / hashlib.sha256(key.encode()).hexdigest()[:32]
        if not directory.is_dir():
            directory.mkdir(parents=True, mode=int(mount.options.get("mode", "755"), 8))
            os.chown(directory, *_ids(mount.options))
        return directory

    def _secret(self, mount: RunMount, stack: contextlib.ExitStack) -> list[str]:
        secret_id = mount.options.get("id") or os.path.basename(mount.target)
        source = self._secrets.get(secret_id)
        if source is None:
            if mount.options.get("required", "false") == "true":
                raise NotFoundError(
                    f'secret "{secret_id}" not found: give it with --secret id={secret_id},src=PATH'
                )
            return []
        directory = scratch.new_dir(self._tmp, "secret")
        stack.callback(scratch.remove, directory)
        private = directory / "secret"
        shutil.copyfile(source, private)
        os.chown(private, *_ids(mount.options))
        os.chmod(private, int(mount.options.get("mode", "400"), 8))
        return [_bind(private, mount.target, readonly=True)]


def _ids(options: Mapping[str, Any]) -> tuple[int, int]:
    try:
        return int(options.get("uid", 0)), int(options.get("gid", 0))
    except ValueError:
        raise InvalidArgumentError("mount uid and gid must be numbers") from None


def _bind(source: Path, target: str, *, readonly: bool) -> str:
    value = f"type=bind,source={source},target={target}"
    return value + (",readonly" if readonly else "")
