"""Image references as Docker spells them: ``busybox``, ``repo:tag``, ``host:5000/ns/repo:tag``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import InvalidArgumentError

DEFAULT_TAG = "latest"
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*", re.ASCII)
_DOMAIN = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9-]+)*(?::\d+)?")
_TAG = re.compile(r"\w[\w.-]{0,127}", re.ASCII)
_MAX_NAME = 255
_IMAGE_ID = re.compile(r"[0-9a-f]{64}")
# Docker Hub's spellings of an official image, shown and stored as the short name.
_HUB_PREFIXES = ("docker.io/library/", "index.docker.io/library/", "library/")
_HUB_DOMAINS = ("docker.io/", "index.docker.io/")


@dataclass(frozen=True)
class Reference:
    repository: str
    tag: str = DEFAULT_TAG

    def __str__(self) -> str:
        return f"{self.repository}:{self.tag}"


def parse_reference(text: str) -> Reference:
    """Split, validate and normalize ``text``; the tag defaults to ``latest``.

    ``docker.io/library/busybox`` and ``library/busybox`` normalize to ``busybox``, as
    Docker shows them.
    """
    if "@" in text:
        raise InvalidArgumentError(
            f'digest references are not supported yet: "{text}" (use REPOSITORY[:TAG])'
        )
    slash = text.rfind("/")
    colon = text.rfind(":")
    # A colon before the last slash belongs to a registry's port, not to the tag.
    repository, tag = (text[:colon], text[colon + 1 :]) if colon > slash else (text, DEFAULT_TAG)
    if not _valid_repository(repository) or not _TAG.fullmatch(tag):
        raise InvalidArgumentError(
            f'invalid reference format: "{text}" (repository names are lowercase letters, '
            "digits and . _ - separators; tags are up to 128 letters, digits, . _ -)"
        )
    if _IMAGE_ID.fullmatch(repository):
        # Such a name would be read as an image id everywhere else.
        raise InvalidArgumentError(
            f'invalid repository name "{repository}": 64 hexadecimal digits spell an image id'
        )
    return Reference(_familiar(repository), tag)


def _valid_repository(repository: str) -> bool:
    if len(repository) > _MAX_NAME:
        return False
    first, _, rest = repository.partition("/")
    # As in Docker, the first component names a registry only if it looks like a host.
    if rest and ("." in first or ":" in first or first == "localhost"):
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
