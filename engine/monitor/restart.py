"""Restart policies, with Docker's names and back-off."""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import InvalidArgumentError

_FIRST_DELAY = 0.1  # seconds; doubles after each restart
_MAX_DELAY = 60.0
_RESET_AFTER = 10.0  # a run this long resets the back-off, as in Docker
# Docker keeps the count in an int64; not engine.units.INT64_MAX, whose module pulls
# decimal into every monitor
_MOST_RETRIES = (1 << 63) - 1


@dataclass(frozen=True)
class RestartPolicy:
    name: str = "no"  # no | on-failure | always | unless-stopped
    maximum_retries: int = 0  # on-failure only; 0 means no limit

    @classmethod
    def parse(cls, spec: str) -> RestartPolicy:
        name, _, count = spec.partition(":")
        if name in ("no", "always", "unless-stopped") and not count:
            return cls(name)
        if name == "on-failure" and (not count or (count.isascii() and count.isdigit())):
            retries = int(count or 0)
            if retries > _MOST_RETRIES:
                raise InvalidArgumentError(
                    f'invalid restart policy "{spec}": value out of range '
                    f"(the most retries is {_MOST_RETRIES})"
                )
            return cls(name, retries)
        raise InvalidArgumentError(
            f'invalid restart policy "{spec}": use no, on-failure[:N], always or unless-stopped'
        )

    def __str__(self) -> str:
        if self.name == "on-failure" and self.maximum_retries:
            return f"{self.name}:{self.maximum_retries}"
        return self.name

    def should_restart(self, exit_code: int, restarts: int, stopped_by_user: bool) -> bool:
        """Whether a container that just exited runs again."""
        if stopped_by_user or self.name == "no":
            return False
        if self.name == "on-failure":
            return exit_code != 0 and (not self.maximum_retries or restarts < self.maximum_retries)
        return True


def next_delay(previous: float, ran_for: float) -> float:
    """Seconds to wait before the next restart, given the last delay and how long it ran."""
    if ran_for >= _RESET_AFTER or previous <= 0:
        return _FIRST_DELAY
    return min(previous * 2, _MAX_DELAY)
