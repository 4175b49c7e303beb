"""What a COPY or ADD takes: its sources, found in a tree, and their digest for the cache.

A tree is the build context (with .dockerignore applied) or another stage's or image's
root file system. Source paths are resolved as BuildKit resolves them: relative to the
tree's root whatever they say (``/a`` and ``a`` are the same), symlinks among their
parents followed without leaving the tree, wildcards matched one path component at a
time (``*`` never crosses a ``/``), a directory standing for its contents.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.build.dockerignore import Matcher
from engine.errors import InvalidArgumentError, NotFoundError
from engine.runtime.rootpath import resolve

_WILDCARD = re.compile(r"[*?\[]")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Selected:
    """One source a COPY names, after wildcards: where it is, and what it is called."""

    relative: str  # in the tree, "/"-separated, no leading "/" ("" is the root)
    host: str  # its path on the host, links among its parents resolved
    info: os.stat_result  # of the source itself (a link to follow: its target's)


class Tree:
    """A directory the sources come from; ``matcher`` hides what .dockerignore excludes."""

    def __init__(self, root: Path, matcher: Matcher | None = None, shown: str = "") -> None:
        self.root = root
        self._matcher = matcher
        self.shown = shown  # "" for the context, else the stage or image, for messages

    def select(self, sources: Sequence[str]) -> list[Selected]:
        """Every source of ``sources``, wildcards expanded, in order; NotFoundError names
        the first that is missing (or excluded), as BuildKit says it."""
        found: list[Selected] = []
        for source in sources:
            relative = _clean(source)
            matches = self._glob(relative) if _WILDCARD.search(relative) else [relative]
            selected = [item for item in map(self._lookup, matches) if item is not None]
            if not selected and not _WILDCARD.search(relative):
                raise NotFoundError(f'"{posixpath.join("/", relative)}": not found{self._in()}')
            found += selected
        if not found:
            raise NotFoundError("no source files were specified")
        return found

    def entries(self, selected: Selected) -> Iterator[tuple[str, str, os.stat_result]]:
        """(path below the source, host path, lstat) of everything a directory source
        holds, parents before children, in name order; nothing for a file."""
        if not stat.S_ISDIR(selected.info.st_mode):
            return
        yield from self._below(selected.host, selected.relative, "")

    def digest(self, selected: Sequence[Selected]) -> str:
        """The sources' content and metadata (not their times), for the cache key."""
        hasher = hashlib.sha256()
        for item in selected:
            _hash_entry(hasher, item.relative, item.host, item.info)
            for inner, host, info in self.entries(item):
                _hash_entry(hasher, f"{item.relative}/{inner}", host, info)
        return "sha256:" + hasher.hexdigest()

    def _in(self) -> str:
        return f" in {self.shown}" if self.shown else ""

    def _lookup(self, relative: str) -> Selected | None:
        if self._excluded(relative):
            return None
        host = resolve(self.root, relative)
        try:
            info = os.stat(host)  # the source itself is followed, as BuildKit does
        except FileNotFoundError:
            try:
                info = os.lstat(host)  # a dangling link is copied as the link
            except FileNotFoundError:
                return None
        return Selected(relative, str(host), info)

    def _excluded(self, relative: str) -> bool:
        return bool(relative) and self._matcher is not None and self._matcher.excluded(relative)

    def _glob(self, pattern: str) -> list[str]:
        """The tree's paths that ``pattern`` matches, component by component, sorted."""
        matches = [""]
        for part in pattern.split("/"):
            step = []
            for base in matches:
                if not _WILDCARD.search(part):
                    step.append(posixpath.join(base, part))
                    continue
                directory = resolve(self.root, base)
                try:
                    names = sorted(os.listdir(directory))
                except (NotADirectoryError, FileNotFoundError):
                    continue
                step += [posixpath.join(base, name) for name in names if _match(part, name)]
            matches = step
        return matches

    def _below(
        self, host: str, relative: str, inner: str
    ) -> Iterator[tuple[str, str, os.stat_result]]:
        try:
            names = sorted(os.listdir(host))
        except PermissionError as error:
            raise InvalidArgumentError(
                f"cannot read {relative or '.'}{self._in()}: {error}"
            ) from None
        for name in names:
            path_inner = f"{inner}/{name}" if inner else name
            path_relative = f"{relative}/{name}" if relative else name
            excluded = self._excluded(path_relative)
            child = f"{host}/{name}"
            info = os.lstat(child)
            is_dir = stat.S_ISDIR(info.st_mode)
            if excluded and not (is_dir and self._matcher.may_include_below(path_relative)):
                continue
            if not excluded:
                yield path_inner, child, info
            if is_dir:
                yield from self._below(child, path_relative, path_inner)


def _clean(source: str) -> str:
    """A source as BuildKit reads it: relative to the tree's root, ".." stopping there."""
    return posixpath.normpath("/" + source).lstrip("/")


def outside(source: str) -> bool:
    """Whether a source climbs out of the context (BuildKit would quietly clamp it)."""
    parts: list[str] = []
    for part in source.split("/"):
        if part == "..":
            if not parts:
                return True
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return False


def _match(pattern: str, name: str) -> bool:
    """One path component against a Go filepath.Match pattern (``[^x]`` negates)."""
    return fnmatch.fnmatchcase(name, pattern.replace("[^", "[!"))


def _hash_entry(hasher: hashlib._Hash, relative: str, host: str, info: os.stat_result) -> None:
    mode = info.st_mode
    header = f"{relative}\0{mode:o}\0{info.st_uid}:{info.st_gid}\0"
    if stat.S_ISLNK(mode):
        header += os.readlink(host)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        header += f"{info.st_rdev}"
    elif stat.S_ISREG(mode):
        header += f"{info.st_size}"
    hasher.update(header.encode("utf-8", "surrogateescape") + b"\n")
    if stat.S_ISREG(mode):
        with open(host, "rb") as file:
            while chunk := file.read(_CHUNK):
                hasher.update(chunk)
