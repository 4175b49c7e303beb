"""Image references as Docker spells them: ``busybox``, ``repo:tag``, ``host:5000/ns/repo:tag``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import InvalidArgumentError

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9-]+)*(?::\d+)?"
_REPOSITORY = re.compile(rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
DEFAULT_TAG = "latest"


@dataclass(frozen=True)
class Reference:
    repository: str
    tag: str = DEFAULT_TAG

    def __str__(self) -> str:
        return f"{self.repository}:{self.tag}"


def parse_reference(text: str) -> Reference:
    """Split and validate ``text``; the tag defaults to ``latest``."""
    if "@" in text:
        raise InvalidArgumentError(
            f'digest references are not supported yet: "{text}" (use REPOSITORY[:TAG])'
        )
    slash = text.rfind("/")
    colon = text.rfind(":")
    repository, tag = (text[:colon], text[colon + 1 :]) if colon > slash else (text, DEFAULT_TAG)
    if not _REPOSITORY.fullmatch(repository) or not _TAG.fullmatch(tag) or len(repository) > 255:
        raise InvalidArgumentError(
            f'invalid reference format: "{text}" (repository names are lowercase: '
            "letters, digits, and . _ - separators; tags up to 128 of letters, digits, . _ -)"
        )
    return Reference(repository, tag)
