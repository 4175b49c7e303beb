"""Device access rules (linux.resources.devices), set on the container's cgroup.

On cgroup v1 the devices controller takes them as they are: in order, "a" to
devices.deny first clears everything the parent allowed. cgroup v2 has no devices
file: it asks an eBPF program attached to the cgroup (engine/runtime/devicefilter.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine import cgroups
from engine.cgroups.base import write_value
from engine.errors import InvalidArgumentError
from engine.runtime import devicefilter

_TYPES = ("a", "c", "b")


@dataclass(frozen=True)
class DeviceRule:
    allow: bool
    type: str = "a"
    major: int | None = None  # None: any
    minor: int | None = None
    access: str = "rwm"

    def line(self) -> str:
        """The rule as devices.allow and devices.deny read it: "c 1:3 rwm"."""

        def number(value: int | None) -> str:
            return "*" if value is None else str(value)

        return f"{self.type} {number(self.major)}:{number(self.minor)} {self.access}"


# null, zero, full, random, urandom, tty, console, ptmx and the pts slaves.
DEFAULT_ALLOWED = tuple(
    DeviceRule(True, "c", major, minor)
    for major, minor in ((1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2),
                         (136, None))
)  # fmt: skip


def parse(entries: list[Any]) -> tuple[DeviceRule, ...]:
    """The rules of linux.resources.devices; InvalidArgumentError names a bad one."""
    return tuple(_rule(entry) for entry in entries)


def _rule(entry: Any) -> DeviceRule:
    if not isinstance(entry, dict) or not isinstance(entry.get("allow"), bool):
        raise InvalidArgumentError(f"config.json: bad linux.resources.devices entry {entry!r}")
    rule = DeviceRule(entry["allow"], entry.get("type") or "a", entry.get("major"),
                      entry.get("minor"), entry.get("access") or "rwm")  # fmt: skip
    numbers_ok = all(n is None or (isinstance(n, int) and n >= 0) for n in (rule.major, rule.minor))
    if rule.type not in _TYPES or not numbers_ok or not set(rule.access) <= set("rwm"):
        raise InvalidArgumentError(f"config.json: bad linux.resources.devices entry {entry!r}")
    return rule


def apply(cgroup: cgroups.Cgroup, rules: tuple[DeviceRule, ...]) -> list[str]:
    """Enforce the rules on the cgroup, before the init joins it.

    The v1 devices controller takes them as they are; without one (cgroup v2), an eBPF
    filter is attached to the cgroup2 directory instead, and a kernel that refuses it
    fails the container (OSError): it never runs without its device rules. The default
    devices the runtime itself creates (and /dev/pts) stay usable whatever the config
    denies, as runc appends them: a bundle from `runc spec` denies all. Returns what
    could not be applied, one line each, for the user.
    """
    if not rules:
        return []
    rules = (*rules, *DEFAULT_ALLOWED)
    v1 = next((h for h in cgroup.hierarchies if "devices" in h.controllers), None)
    if v1 is not None:
        directory = cgroup.directory(v1)
        for rule in rules:
            write_value(directory / ("devices.allow" if rule.allow else "devices.deny"),
                        rule.line())  # fmt: skip
        return []
    v2 = next((h for h in cgroup.hierarchies if h.fstype == "cgroup2"), None)
    if v2 is None:
        return ["device rules are not enforced: the host has no cgroup devices controller"]
    devicefilter.install(cgroup.directory(v2), rules)
    return []
