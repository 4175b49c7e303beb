"""Image references as Docker spells them: ``busybox``, ``repo:tag``,
``host:5000/ns/repo:tag``, ``repo@sha256:<hex>``.

A reference names a repository (shown in Docker's familiar form: ``busybox``, not
``docker.io/library/busybox``), and a tag, a digest, or both. The registry it lives on
is its first component when that looks like a host, Docker Hub otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from engine.errors import InvalidArgumentError

DEFAULT_TAG = "latest"
HUB_DOMAIN = "docker.io"
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*", re.ASCII)
_DOMAIN = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9-]+)*(?::\d+)?")
_TAG = re.compile(r"\w[\w.-]{0,127}", re.ASCII)
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_MAX_NAME = 255
_IMAGE_ID = re.compile(r"[0-9a-f]{64}")
# Docker Hub's spellings of an official image, shown and stored as the short name.
_HUB_PREFIXES = ("docker.io/library/", "index.docker.io/library/", "library/")
_HUB_DOMAINS = ("docker.io/", "index.docker.io/")


@dataclass(frozen=True)
class Reference:
    repository: str  # the familiar name: busybox, someone/app, localhost:5000/app
    tag: str | None = DEFAULT_TAG
    digest: str | None = None  # sha256:<hex> of a manifest

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.repository}{tag}{digest}"

    @property
    def domain(self) -> str:
        """The registry's host[:port]; ``docker.io`` for Docker Hub."""
        first, _, rest = self.repository.partition("/")
        return first if rest and _is_domain(first) else HUB_DOMAIN

    @property
    def path(self) -> str:
        """The repository's name on its registry: ``library/busybox`` for ``busybox``."""
        first, _, rest = self.repository.partition("/")
        if rest and _is_domain(first):
            return rest
        return self.repository if rest else f"library/{self.repository}"

    @property
    def pinned(self) -> str:
        """What names the manifest on the registry: the digest if given, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def with_digest(self, digest: str) -> Reference:
        """The repository at ``digest`` (Docker's RepoDigests spelling), no tag."""
        return Reference(self.repository, None, digest)


def parse_reference(text: str) -> Reference:
    """Split, validate and normalize ``text``; without a digest the tag defaults to ``latest``.

    ``docker.io/library/busybox`` and ``library/busybox`` normalize to ``busybox``, as
    Docker shows them.
    """
    name, at, digest = text.partition("@")
    if at and not DIGEST.fullmatch(digest):
        raise InvalidArgumentError(
            f'invalid reference format: "{text}" (a digest is sha256: and 64 lowercase '
            "hexadecimal digits)"
        )
    slash = name.rfind("/")
    colon = name.rfind(":")
    # A colon before the last slash belongs to a registry's port, not to the tag.
    if colon > slash:
        repository, tag = name[:colon], name[colon + 1 :]
    else:
        repository, tag = name, (None if at else DEFAULT_TAG)
    if not _valid_repository(repository) or (tag is not None and not _TAG.fullmatch(tag)):
        raise InvalidArgumentError(
            f'invalid reference format: "{text}" (repository names are lowercase letters, '
            "digits and . _ - separators; tags are up to 128 letters, digits, . _ -)"
        )
    if _IMAGE_ID.fullmatch(repository):
        # Such a name would be read as an image id everywhere else.
        raise InvalidArgumentError(
            f'invalid repository name "{repository}": 64 hexadecimal digits spell an image id'
        )
    return Reference(_familiar(repository), tag, digest or None)


def parse_tag(text: str) -> Reference:
    """A reference that names a tag to give an image: REPOSITORY[:TAG], no digest."""
    reference = parse_reference(text)
    if reference.digest:
        raise InvalidArgumentError(
            f'"{text}" names a digest: a digest cannot be given to an image, use REPOSITORY[:TAG]'
        )
    return reference


def _is_domain(component: str) -> bool:
    # As in Docker, the first component names a registry only if it looks like a host.
    return "." in component or ":" in component or component == "localhost"


def _valid_repository(repository: str) -> bool:
    if len(repository) > _MAX_NAME:
        return False
    first, _, rest = repository.partition("/")
    if rest and _is_domain(first):
        if not _DOMAIN.fullmatch(first):
            return False
        components = rest.split("/")
    else:
        components = repository.split("/")
    return all(_COMPONENT.fullmatch(component) for component in components)


def _familiar(repository: str) -> str:
    for prefix in _HUB_PREFIXES:
        if repository.startswith(prefix) and "/" not in repository.removeprefix(prefix):
            return repository.removeprefix(prefix)
    for domain in _HUB_DOMAINS:
        if repository.startswith(domain):
            return repository.removeprefix(domain)
    return repository


def matches_reference(names: Sequence[str], patterns: Sequence[str]) -> bool:
    """Docker's ``reference=`` filter: whether a pattern (a glob, ``*`` not crossing
    ``/``) matches one of ``names`` ("repository:tag"), whole or by repository alone."""
    for pattern in patterns:
        glob = _glob(pattern)
        for name in names:
            repository = name.rsplit(":", 1)[0] if name.rfind(":") > name.rfind("/") else name
            if glob.fullmatch(name) or glob.fullmatch(repository):
                return True
    return False


def _glob(pattern: str) -> re.Pattern[str]:
    """Go's path.Match as a regular expression: ``*`` and ``?`` stay within a component."""
    parts = []
    for char in pattern:
        parts.append("[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char))
    return re.compile("".join(parts))
