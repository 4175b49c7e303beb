"""``--filter`` of the prune commands, as Docker's daemon reads it: ``until=`` (a time or
a duration ago: only what was created before it), ``label=KEY[=VALUE]`` (only what has
every one of them), ``label!=KEY[=VALUE]`` (not what has all of them)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from engine.containers.logs import parse_time_filter
from engine.errors import InvalidArgumentError
from engine.timestamps import parse as parse_timestamp
from engine.volumes.filters import has_label

_KEYS = "until=TIMESTAMP|DURATION, label=KEY[=VALUE], label!=KEY[=VALUE]"


@dataclass(frozen=True)
class PruneFilter:
    given: tuple[str, ...] = ()  # as typed, for the prompt's "filtered with" list
    until: float | None = None  # seconds since the epoch
    labels: tuple[str, ...] = ()
    not_labels: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls, filters: Sequence[str], *, volumes: bool = False, now: float | None = None
    ) -> PruneFilter:
        """The filters as typed; InvalidArgumentError names one that is not Docker's, or an
        ``until`` where ``volumes`` are pruned too (a volume has no age Docker filters on)."""
        now = time.time() if now is None else now
        until: float | None = None
        labels: dict[str, list[str]] = {"label": [], "label!": []}
        for given in filters:
            key, equals, value = given.partition("=")
            if key == "until" and value:
                if until is not None:
                    raise InvalidArgumentError("more than one until filter given: give one")
                until = parse_time_filter(value, now)
            elif key in labels and equals and value:
                labels[key].append(value)
            else:
                raise InvalidArgumentError(f'invalid filter "{given}" (prune takes {_KEYS})')
        parsed = cls(tuple(filters), until, tuple(labels["label"]), tuple(labels["label!"]))
        if volumes:
            parsed.check_volumes()
        return parsed

    def check_volumes(self) -> None:
        """Refuse ``until`` for a prune of volumes too, as Docker does."""
        if self.until is not None:
            raise InvalidArgumentError(
                'the "until" filter is not supported with --volumes: leave out either'
            )

    @property
    def has_labels(self) -> bool:
        return bool(self.labels or self.not_labels)

    def matches(self, created: str, labels: Mapping[str, str]) -> bool:
        """Whether an object created at ``created`` (RFC 3339) with ``labels`` may go."""
        if self.until is not None and parse_timestamp(created) >= self.until:
            return False
        if not all(has_label(labels, term) for term in self.labels):
            return False
        return not (self.not_labels and all(has_label(labels, term) for term in self.not_labels))
