"""The build context's .dockerignore, read and applied as ``docker build`` (BuildKit) does.

Patterns are read as moby/patternmatcher's ignorefile.ReadAll reads them and matched as its
PatternMatcher matches them; which paths a walk yields, and which excluded directories it
still enters, follow fsutil's filtered walk, which BuildKit sends the context with. A path
is judged pattern by pattern from its parent directory's results (patternmatcher's
MatchesUsingParentResults), so a verdict is the same whether a walk or ``excluded`` asks.
"""

from __future__ import annotations

import os
import posixpath
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from engine.errors import InvalidArgumentError

#: Go's unicode.IsSpace, which TrimSpace trims: Python's isspace() less 0x1c-0x1f
_SPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace() and not "\x1c" <= c <= "\x1f")

#: what makes an exception pattern more than a path prefix (fsutil's patternChars)
_GLOB_CHARS = frozenset("*[]?^\\")


class _Pattern(NamedTuple):
    exclusion: bool  # a "!" pattern: what it matches is included again
    text: str  # cleaned, without the "!"
    matches: Callable[[str], bool]


def read_patterns(text: str) -> list[str]:
    """The patterns of a .dockerignore: one a line, ``#`` lines skipped, ``!`` kept in front
    of the pattern it marks; each cleaned, its leading ``/`` dropped (the context is the
    root). ``!`` alone stays, for ``Matcher`` to refuse, as Docker does."""
    patterns = []
    for line in text.removeprefix("\ufeff").split("\n"):
        if line.startswith("#"):  # only in the first column: " # x" is a pattern
            continue
        pattern = line.strip(_SPACE)
        if not pattern:
            continue
        exclusion = pattern.startswith("!")
        if exclusion:
            pattern = pattern[1:].strip(_SPACE)
        if pattern:
            pattern = _clean(pattern)
            if len(pattern) > 1:
                pattern = pattern.removeprefix("/")
        patterns.append("!" + pattern if exclusion else pattern)
    return patterns


class Matcher:
    """Patterns in order: the last one matching a path, or any directory above it, decides;
    an exclusion (``!``) pattern includes what it matches again."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self._patterns = [_parse(pattern) for pattern in patterns if pattern.strip(_SPACE)]
        self._stems = [_stem(p.text) for p in self._patterns if p.exclusion]
        self._any_stem_glob = any(_GLOB_CHARS.intersection(stem) for stem in self._stems)

    def excluded(self, relative_path: str) -> bool:
        """Whether .dockerignore keeps ``relative_path`` (``/``-separated) out of the context."""
        path = _clean("/" + relative_path)[1:]
        if not path:
            return False  # Docker never excludes the context itself
        parts = path.split("/")
        excluded, results = False, None
        for depth in range(1, len(parts) + 1):
            excluded, results = self.judge("/".join(parts[:depth]), results)
        return excluded

    def may_include_below(self, directory: str) -> bool:
        """Whether an exclusion pattern could include something under the excluded
        ``directory`` again, so that a walk must enter it; fsutil's rule: when every
        exclusion pattern is a plain path (a trailing ``/*`` or ``/**`` aside), only a
        directory on the way to one of them."""
        if not self._stems:
            return False
        if self._any_stem_glob:
            return True
        prefix = directory.rstrip("/") + "/"
        return any((stem + "/").startswith(prefix) for stem in self._stems)

    def judge(self, path: str, parent: tuple[bool, ...] | None) -> tuple[bool, tuple[bool, ...]]:
        """Whether ``path`` is excluded, and which patterns matched it, given which matched
        its parent directory (None at the top). A pattern that matched the parent matches
        the path; the others are tried only where they could change the verdict."""
        excluded = False
        results = []
        for index, pattern in enumerate(self._patterns):
            hit = parent is not None and parent[index]
            if not hit and pattern.exclusion == excluded:
                hit = pattern.matches(path)
            results.append(hit)
            if hit:
                excluded = not pattern.exclusion
        return excluded, tuple(results)


def walk(context: Path, matcher: Matcher) -> Iterator[str]:
    """Every path in ``context`` (relative, ``/``-separated; files, directories, links)
    .dockerignore leaves in, each directory before its contents, names in byte order.

    Links are not followed. An excluded directory is entered only if ``may_include_below``
    says so, and is yielded after all when something under it is included again.
    """
    yield from _walk(context, "", matcher, None, [])


def _walk(
    directory: Path,
    prefix: str,
    matcher: Matcher,
    parent: tuple[bool, ...] | None,
    waiting: list[str],
) -> Iterator[str]:
    """``waiting``: the excluded directories above, not yet yielded."""
    with os.scandir(directory) as listing:
        entries = sorted(listing, key=lambda entry: os.fsencode(entry.name))
    for entry in entries:
        path = prefix + entry.name
        is_dir = entry.is_dir(follow_symlinks=False)
        excluded, results = matcher.judge(path, parent)
        if excluded and not (is_dir and matcher.may_include_below(path)):
            continue
        if excluded:
            waiting.append(path)
        else:
            yield from waiting
            waiting.clear()
            yield path
        if is_dir:
            yield from _walk(Path(entry.path), path + "/", matcher, results, waiting)
            if waiting and waiting[-1] == path:
                waiting.pop()


def _parse(raw: str) -> _Pattern:
    """One pattern as patternmatcher.New takes it; a bad one is refused at once (Docker
    finds some only when it first matches a path, but fails the build all the same)."""
    text = _clean(raw.strip(_SPACE))
    exclusion = text.startswith("!")
    if exclusion:
        if text == "!":
            raise InvalidArgumentError('illegal exclusion pattern in .dockerignore: "!"')
        text = text[1:]
    bad = InvalidArgumentError(
        f'invalid .dockerignore pattern "{raw.strip(_SPACE)}": syntax error in pattern'
    )
    if not _valid_glob(text):
        raise bad
    try:
        return _Pattern(exclusion, text, _compile(text))
    except re.error:
        raise bad from None


def _compile(pattern: str) -> Callable[[str], bool]:
    """patternmatcher's matching: a plain pattern is compared, one ending in ``**`` (and
    otherwise plain) is a prefix, one starting with ``**`` (and otherwise plain) a suffix,
    the rest a regex: ``*`` and ``?`` within a path component, ``**`` across components."""
    kind, regex = _translate(pattern)
    if kind == "exact":
        return lambda path: path == pattern
    if kind == "prefix":
        head = pattern[:-2]
        return lambda path: path.startswith(head)
    if kind == "suffix":
        # "**/name" matches "name" at the top too; "**name" any path ending in "name"
        tail = pattern[2:]
        return lambda path: path.endswith(tail) or (tail[:1] == "/" and path == tail[1:])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "[[]": a bracket in a class, as Go's
        compiled = re.compile(regex)
    return lambda path: compiled.fullmatch(path) is not None


def _translate(pattern: str) -> tuple[str, str]:
    """The pattern's kind (exact, prefix, suffix, regexp) and regex, as patternmatcher
    compiles it: brackets pass into the regex as they are, and ``\\`` escapes one character
    (always literally here; Go's regex would read ``\\d`` as a digit)."""
    kind = "exact"
    parts: list[str] = []
    pos = 0
    while pos < len(pattern):
        char = pattern[pos]
        start, pos = pos, pos + 1
        if pattern.startswith("**", start):
            pos += 2 if pattern.startswith("/", pos + 1) else 1
            if pos < len(pattern):
                parts.append("(?:.*/)?")  # any number of directories, none included
                kind = "regexp"
            elif kind == "exact":
                kind = "prefix"
            else:
                parts.append(".*")
                kind = "regexp"
            if start == 0:
                kind = "suffix"  # until something after it needs the regex
        elif char in "*?":
            parts.append("[^/]*" if char == "*" else "[^/]")
            kind = "regexp"
        elif char in ".+()|{}$":
            parts.append("\\" + char)
        elif char == "\\":
            parts.append(re.escape(pattern[pos]))  # a trailing "\" never passes _valid_glob
            pos += 1
            kind = "regexp"
        else:
            parts.append(char)
            kind = "regexp" if char in "[]" else kind
    return kind, "".join(parts)


def _valid_glob(pattern: str) -> bool:
    """Whether Go's filepath.Match accepts ``pattern`` (Docker checks every pattern so):
    no trailing ``\\``, and every ``[`` closed by a ``]`` after at least one character or
    range, none of them starting with ``-`` or ``]``."""
    pos = 0
    while pos < len(pattern):
        if pattern[pos] == "\\":
            pos += 2
            if pos > len(pattern):
                return False
        elif pattern[pos] == "[":
            pos = _class_end(pattern, pos + 1)
            if pos < 0:
                return False
        else:
            pos += 1
    return True


def _class_end(pattern: str, pos: int) -> int:
    """Where the character class opened before ``pos`` ends; -1 if it is malformed."""
    if pattern.startswith("^", pos):
        pos += 1
    ranges = 0
    while not (ranges and pattern.startswith("]", pos)):
        pos = _class_char_end(pattern, pos)
        if pos >= 0 and pattern[pos] == "-":
            pos = _class_char_end(pattern, pos + 1)
        if pos < 0:
            return -1
        ranges += 1
    return pos + 1


def _class_char_end(pattern: str, pos: int) -> int:
    """After one character of a class (an escaped one too): -1 if there is none, or
    nothing after it (filepath.Match's getEsc)."""
    if pos >= len(pattern) or pattern[pos] in "-]":
        return -1
    if pattern[pos] == "\\":
        pos += 1
    pos += 1
    return pos if pos < len(pattern) else -1


def _stem(pattern: str) -> str:
    """An exclusion pattern without a trailing ``/**`` or ``/*``: the path it is about."""
    return pattern.removesuffix("/**").removesuffix("/*")


def _clean(path: str) -> str:
    """Go's path.Clean: POSIX normpath, but never two leading slashes."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned
