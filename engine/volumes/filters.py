"""``volume ls --filter`` and ``volume prune --filter``, read as Docker's daemon reads them.

Values of one key: any ``name`` (a regular expression searched in the name, so plain
text is a substring) or ``driver`` may match; every ``label`` must; ``label!`` drops a
volume having all of its terms; ``dangling`` is one boolean. Keys are ANDed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from engine.errors import InvalidArgumentError
from engine.volumes.model import Volume

LS_KEYS = ("dangling", "driver", "label", "label!", "name")
PRUNE_KEYS = ("label", "label!")
_FORMS = {
    "dangling": "dangling=true|false", "driver": "driver=local", "label": "label=KEY[=VALUE]",
    "label!": "label!=KEY[=VALUE]", "name": "name=NAME",
}  # fmt: skip
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


@dataclass(frozen=True)
class VolumeFilter:
    terms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, filters: Sequence[str], keys: Sequence[str], command: str) -> VolumeFilter:
        """``filters`` as typed (``KEY=VALUE``); one that ``command`` does not take is refused."""
        terms: dict[str, list[str]] = {}
        for given in filters:
            key, equals, value = given.partition("=")
            if key not in keys or not equals or not value:
                forms = ", ".join(_FORMS[key] for key in keys)
                raise InvalidArgumentError(f'invalid filter "{given}" ({command} takes {forms})')
            if key == "dangling" and value.lower() not in _BOOLEANS:
                raise InvalidArgumentError(f'invalid filter "{given}": dangling is true or false')
            if key == "name" and not _compiles(value):
                raise InvalidArgumentError(
                    f'invalid filter "{given}": "{value}" is not a regular expression'
                )
            terms.setdefault(key, []).append(value)
        if len(set(terms.get("dangling", ()))) > 1:
            raise InvalidArgumentError("more than one dangling filter given: give one")
        return cls({key: tuple(values) for key, values in terms.items()})

    def matches(self, volume: Volume, in_use: bool) -> bool:
        dangling = self.terms.get("dangling")
        if dangling and _BOOLEANS[dangling[0].lower()] == in_use:
            return False
        names = self.terms.get("name")
        if names and not any(re.search(pattern, volume.name) for pattern in names):
            return False
        drivers = self.terms.get("driver")
        if drivers and volume.driver not in drivers:
            return False
        if not all(has_label(volume.labels, term) for term in self.terms.get("label", ())):
            return False
        excluded = self.terms.get("label!")
        return not (excluded and all(has_label(volume.labels, term) for term in excluded))


def has_label(labels: Mapping[str, str], term: str) -> bool:
    """Whether ``labels`` has ``KEY`` (any value) or ``KEY=VALUE``, as ``term`` asks."""
    key, equals, value = term.partition("=")
    return key in labels and (not equals or labels[key] == value)


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True
