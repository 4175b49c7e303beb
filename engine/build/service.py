"""The build service: ``berth build`` for every front end.

Public (``engine.build``, a :class:`BuildService`):

- ``definition(context, dockerfile, ...) -> BuildOptions``: the Dockerfile and the
  context's .dockerignore read, the options checked, as a front end hands them over
- ``build(options) -> Running[Image]``: iterate it for BuildEvents, then ``await
  result()``; leaving early cancels the build, which leaves nothing behind
- ``prune(all_entries) -> (removed ids, bytes reclaimed)``: ``builder prune``
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from engine.build import fetch
from engine.build.builder import Build, BuildError, BuildOptions
from engine.build.cache import BuildCache
from engine.build.dockerignore import Matcher, read_patterns
from engine.build.events import Running
from engine.build.steps import StepRunner
from engine.containers.service import ContainerService
from engine.errors import InvalidArgumentError, NotFoundError
from engine.files import unpacking
from engine.images import Image, ImageService
from engine.images.reference import parse_tag
from engine.paths import EnginePaths
from engine.state import Database

__all__ = ["BuildError", "BuildOptions", "BuildService"]


class BuildService:
    def __init__(self, paths: EnginePaths, db: Database, images: ImageService,
                 containers: ContainerService) -> None:  # fmt: skip
        self._images = images
        self._steps = StepRunner(paths, images, containers)
        self._cache = BuildCache(db)

    @staticmethod
    def definition(
        context: str | None, dockerfile: str | None = None, *, stdin_dockerfile: str | None = None,
        tags: Sequence[str] = (), **settings: object,
    ) -> BuildOptions:  # fmt: skip
        """What to build: ``context`` a directory (None: none, the Dockerfile came on
        stdin as ``stdin_dockerfile``), ``dockerfile`` its path (default
        CONTEXT/Dockerfile; relative to the working directory, as docker build -f)."""
        directory = _context(context) if context is not None else None
        if stdin_dockerfile is not None:
            text, name, ignore_file = stdin_dockerfile, "Dockerfile", None
        else:
            path = Path(dockerfile) if dockerfile else (directory or Path()) / "Dockerfile"
            text, name = _read_dockerfile(path), path.name
            ignore_file = path.with_name(path.name + ".dockerignore")
        ignore = _ignore(directory, ignore_file)
        checked_tags = tuple(str(parse_tag(tag)) for tag in tags)
        options = BuildOptions(dockerfile=text, context=directory, ignore=ignore,
                               dockerfile_name=name, tags=checked_tags)  # fmt: skip
        return replace(options, **settings)  # type: ignore[arg-type]

    @contextlib.contextmanager
    def unpacked_context(self, source: BinaryIO | str) -> Iterator[str]:
        """A context sent as a tar (``build - < ctx.tar``) or at an http(s) URL of one,
        unpacked into scratch space for the build, and gone after it."""
        with self._steps.scratch_dir("context") as directory:
            if isinstance(source, str):
                name = fetch.download(source, directory)
                with open(directory / name, "rb") as archive:
                    _unpack_context(archive, directory / "context")
            else:
                _unpack_context(source, directory / "context")
            yield str(directory / "context")

    def build(self, options: BuildOptions) -> Running[Image]:
        async def work(emit):
            build = Build(self._steps, self._cache, self._find_image, self._images.tag,
                          options, emit)  # fmt: skip
            return await build.run()

        return Running(work)

    async def _find_image(self, name: str, pull: bool) -> Image:
        """The image ``name``; pulled when berth lacks it, or always with ``pull``."""
        if not pull:
            try:
                return await self._images.resolve(name)
            except NotFoundError:
                pass
        return await self._images.pull(name).result()


def _unpack_context(stream: BinaryIO, directory: Path) -> None:
    directory.mkdir()
    # tarfile's "r|*" reads plain, gzip, bzip2 and xz tars alike
    unpacking.extract(stream, str(directory), owner=None, follow_links=False,
                      shown="the build context")  # fmt: skip


def _context(context: str) -> Path:
    if context.startswith(("git@", "git://")) or context.endswith(".git"):
        raise InvalidArgumentError(
            f'berth build cannot clone the context "{context}": give a directory or a tar'
        )
    path = Path(context).absolute()
    if not path.is_dir():
        raise NotFoundError(f'unable to prepare context: path "{context}" not found')
    return path


def _read_dockerfile(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        raise NotFoundError(
            f"failed to read dockerfile: open {path}: no such file or directory"
        ) from None
    except (IsADirectoryError, UnicodeDecodeError) as error:
        raise InvalidArgumentError(f"failed to read dockerfile {path}: {error}") from None


def _ignore(context: Path | None, beside_dockerfile: Path | None) -> Matcher | None:
    """The .dockerignore in force: <Dockerfile>.dockerignore beside it first, as BuildKit."""
    if context is None:
        return None
    for candidate in (beside_dockerfile, context / ".dockerignore"):
        if candidate is not None and candidate.is_file():
            return Matcher(read_patterns(candidate.read_text()))
    return None


def build_args(values: Sequence[str], environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """--build-arg K=V, or K alone for the caller's environment's value (skipped if unset)."""
    args = {}
    for value in values:
        key, has_value, setting = value.partition("=")
        if has_value:
            args[key] = setting
        elif key in environ:
            args[key] = environ[key]
    return args


def secrets(values: Sequence[str]) -> dict[str, Path]:
    """--secret id=ID,src=PATH (or source=, or env=NAME), checked: the file must exist."""
    found = {}
    for value in values:
        fields = dict(field.partition("=")[::2] for field in value.split(","))
        secret_id = fields.get("id")
        source = fields.get("src") or fields.get("source")
        if not secret_id or not source:
            raise InvalidArgumentError(f'invalid --secret "{value}": give id=ID,src=PATH')
        path = Path(source).absolute()
        if not path.is_file():
            raise NotFoundError(f'secret "{secret_id}": no such file: {source}')
        found[secret_id] = path
    return found
