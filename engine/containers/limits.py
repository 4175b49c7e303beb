"""Docker's resource flags on a container: parsed and checked as Docker does, turned into OCI.

The values live on :class:`CreateOptions` under Docker's HostConfig meanings (0 or ""
is "not set"); this module parses them from what a user typed, checks them, fills
Docker's defaults, merges ``update``'s changes, and writes config.json's
``linux.resources`` and inspect's HostConfig.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import humanize
from engine.containers.model import CreateOptions
from engine.errors import ConflictError, InvalidArgumentError
from engine.units import INT64_MAX, size_in_bytes

if TYPE_CHECKING:  # the cgroup and OCI modules load when limits are applied, not parsed
    from engine.cgroups import Limits

#: Docker's flag for each CreateOptions field that is a resource limit; its messages
#: name the flag, whichever front end the value was typed into
FLAGS = {
    "nano_cpus": "--cpus", "cpu_period": "--cpu-period", "cpu_quota": "--cpu-quota",
    "cpu_shares": "--cpu-shares", "cpuset_cpus": "--cpuset-cpus",
    "cpuset_mems": "--cpuset-mems", "memory": "--memory",
    "memory_reservation": "--memory-reservation", "memory_swap": "--memory-swap",
    "pids_limit": "--pids-limit", "blkio_weight": "--blkio-weight",
}  # fmt: skip
#: the CreateOptions field of each Limits field named otherwise (cgroup_limits)
_OPTION_OF_LIMIT = {"pids": "pids_limit"}
#: the resource limit fields: what ``update`` may change
LIMIT_FIELDS = tuple(FLAGS)
#: the fields given as byte sizes ("512m")
SIZE_FIELDS = ("memory", "memory_reservation", "memory_swap")
_INTEGER_FIELDS = ("cpu_period", "cpu_quota", "cpu_shares", "pids_limit", "blkio_weight")
#: Docker's period for --cpus
DEFAULT_CPU_PERIOD = 100_000
NANO = 1_000_000_000
MIN_MEMORY = 6 * 1024 * 1024  # Docker's linuxMinMemory
_MIN_PERIOD, _MAX_PERIOD, _MIN_QUOTA = 1000, 1_000_000, 1000
_INTEGER = re.compile(r"-?[0-9]+")
_LIST_NUMBER = re.compile(r"[0-9]+")
#: --cpus "1e999999999" would take Fraction minutes to expand; no CPU count needs it
_EXPONENT = re.compile(r"e([-+]?[0-9_]+)\s*$", re.IGNORECASE)
_MAX_EXPONENT = 30
#: Docker accepts cpuset numbers up to 8192, Linux's usual most CPUs, or the host's own most
_MAX_CPUSET_NUMBER = 8192

# Where the host says which CPUs and memory nodes exist, and how much memory it has.
_ONLINE_CPUS = Path("/sys/devices/system/cpu/online")
_ONLINE_NODES = Path("/sys/devices/system/node/online")
_MEMINFO = Path("/proc/meminfo")


def parse(field: str, text: str) -> int | str:
    """The value of limit ``field`` typed as ``text``, read as Docker's client reads its flag:
    ``--cpus 1.5``, ``--memory 512m``, ``--memory-swap -1``, ``--cpuset-cpus 0-1`` (kept as text).

    Raises InvalidArgumentError worded as Docker's: invalid argument "12x" for "--memory" flag.
    """
    try:
        if field == "nano_cpus":
            return _nano_cpus(text)
        if field in _INTEGER_FIELDS:
            return _integer(text)
        if field == "memory_swap" and text.strip() == "-1":
            return -1
        if field in SIZE_FIELDS:
            return size_in_bytes(text)
    except ValueError as error:
        raise InvalidArgumentError(
            f'invalid argument "{text}" for "{FLAGS[field]}" flag: {error}'
        ) from None
    return text


def _integer(text: str) -> int:
    if not _INTEGER.fullmatch(text.strip()):
        raise ValueError("it must be a whole number")
    if not -INT64_MAX - 1 <= int(text) <= INT64_MAX:
        raise ValueError("value out of range")
    return int(text)


def _nano_cpus(text: str) -> int:
    exponent = _EXPONENT.search(text)
    if exponent and int(exponent.group(1)) > _MAX_EXPONENT:
        raise ValueError("value out of range")
    if exponent and int(exponent.group(1)) < -_MAX_EXPONENT:
        raise ValueError("value is too precise")
    try:
        cpus = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"failed to parse {text} as a rational number") from None
    nano = cpus * NANO
    if nano.denominator != 1:
        raise ValueError("value is too precise")
    return int(nano)


def checked(options: CreateOptions) -> CreateOptions:
    """``options`` with Docker's defaults filled in; InvalidArgumentError as Docker words it."""
    from engine.cgroups.limits import MAX_BLKIO_WEIGHT, MIN_BLKIO_WEIGHT

    _check_cpus(options)
    _check_memory(options)
    if options.blkio_weight and not (MIN_BLKIO_WEIGHT <= options.blkio_weight <= MAX_BLKIO_WEIGHT):
        raise InvalidArgumentError("Range of blkio weight is from 10 to 1000")
    _check_cpuset(options.cpuset_cpus, _ONLINE_CPUS, "CPUs", "cpus")
    _check_cpuset(options.cpuset_mems, _ONLINE_NODES, "memory nodes", "mems")
    changes: dict[str, int] = {}
    if options.memory > 0 and not options.memory_swap:
        changes["memory_swap"] = 2 * options.memory  # Docker: as much swap as memory
    if options.pids_limit < 0:
        changes["pids_limit"] = -1  # any negative value means unlimited
    return replace(options, **changes)


def updated(options: CreateOptions, changes: Mapping[str, Any]) -> CreateOptions:
    """``options`` with ``update``'s changes (LIMIT_FIELDS only), checked like a create.

    As in Docker, --cpus and --cpu-period/--cpu-quota exclude each other across
    updates too: the merged options fail the same check a create would.
    """
    unknown = set(changes) - set(LIMIT_FIELDS)
    if unknown:
        raise InvalidArgumentError(f"update cannot change {', '.join(sorted(unknown))}")
    memory = changes.get("memory", 0)
    swap_kept = options.memory_swap > 0 and not changes.get("memory_swap")
    if memory and swap_kept and memory > options.memory_swap:
        raise ConflictError(
            "Memory limit should be smaller than already set memoryswap limit, "
            "update the memoryswap at the same time"
        )
    return checked(replace(options, **changes))


def _check_cpus(options: CreateOptions) -> None:
    if options.nano_cpus:
        if options.cpu_period:
            raise InvalidArgumentError(
                "Conflicting options: Nano CPUs and CPU Period cannot both be set"
            )
        if options.cpu_quota:
            raise InvalidArgumentError(
                "Conflicting options: Nano CPUs and CPU Quota cannot both be set"
            )
        count = len(os.sched_getaffinity(0))
        if not NANO // 100 <= options.nano_cpus <= count * NANO:
            raise InvalidArgumentError(
                f"Range of CPUs is from 0.01 to {count}.00, as there are only {count} CPUs "
                "available"
            )
    if options.cpu_period and not _MIN_PERIOD <= options.cpu_period <= _MAX_PERIOD:
        raise InvalidArgumentError(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
        )
    if 0 < options.cpu_quota < _MIN_QUOTA:
        raise InvalidArgumentError("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if options.cpu_shares < 0:
        raise InvalidArgumentError("invalid CPU shares: they cannot be negative")


def _check_memory(options: CreateOptions) -> None:
    if 0 < options.memory < MIN_MEMORY:
        raise InvalidArgumentError("Minimum memory limit allowed is 6MB")
    if 0 < options.memory_reservation < MIN_MEMORY:
        raise InvalidArgumentError("Minimum memory reservation allowed is 6MB")
    _check_host_memory(options.memory, "limit")
    _check_host_memory(options.memory_reservation, "reservation")
    if options.memory_swap > 0 and not options.memory:
        raise InvalidArgumentError(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        )
    if options.memory_swap > 0 and options.memory_swap < options.memory:
        raise InvalidArgumentError(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        )
    if options.memory and options.memory_reservation > options.memory:
        raise InvalidArgumentError(
            "Minimum memory limit can not be less than memory reservation limit, see usage"
        )


def _check_host_memory(size: int, what: str) -> None:
    """A memory limit above the host's RAM would never bite: refuse it, naming the RAM."""
    total = _host_memory()
    if total and size > total:
        raise InvalidArgumentError(
            f"Memory {what} {humanize.binary_size(size)} is more than the host's memory "
            f"({humanize.binary_size(total)})"
        )


def _host_memory() -> int | None:
    """The host's physical memory in bytes (MemTotal), None where /proc does not say."""
    try:
        lines = _MEMINFO.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition(":")
        if key == "MemTotal" and value.split() and value.split()[0].isdigit():
            return int(value.split()[0]) * 1024  # the kernel counts in KiB
    return None


def _check_cpuset(requested: str, online: Path, what: str, flag: str) -> None:
    if not requested:
        return
    try:
        available_text = online.read_text().strip()
    except FileNotFoundError:  # a host without NUMA has node 0 alone
        available_text = "0"
    available = parse_list(available_text, f"cannot read {online}")
    most = max(_MAX_CPUSET_NUMBER, *available)
    wanted = parse_list(requested, f"Invalid value {requested} for cpuset {flag}", most)
    if not wanted <= available:
        raise InvalidArgumentError(
            f"Requested {what} are not available - requested {requested}, "
            f"available: {available_text}"
        )


def parse_list(text: str, error: str, most: int | None = None) -> set[int]:
    """The numbers of a kernel list ("0-2,5"); InvalidArgumentError(``error``) if malformed
    or, as Docker's ParseUintListMaximum, if a number is above ``most``.
    """
    numbers: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        if not _LIST_NUMBER.fullmatch(low) or (high and not _LIST_NUMBER.fullmatch(high)):
            raise InvalidArgumentError(error)
        if high and int(high) < int(low):
            raise InvalidArgumentError(error)
        if most is not None and int(high or low) > most:
            raise InvalidArgumentError(f"{error}: value out of range, maximum is {most}")
        numbers.update(range(int(low), int(high or low) + 1))
    return numbers


def cgroup_limits(options: CreateOptions) -> Limits:
    """The cgroup settings for ``options``: --cpus becomes a quota per 100 ms period."""
    from engine.cgroups import Limits

    period = options.cpu_period or (DEFAULT_CPU_PERIOD if options.nano_cpus else 0)
    quota = options.cpu_quota or options.nano_cpus * period // NANO
    return Limits(
        cpu_shares=options.cpu_shares or None,
        cpu_quota=quota or None,
        cpu_period=period or None,
        cpuset_cpus=options.cpuset_cpus or None,
        cpuset_mems=options.cpuset_mems or None,
        memory=options.memory or None,
        memory_reservation=options.memory_reservation or None,
        memory_swap=options.memory_swap or None,
        pids=options.pids_limit or None,
        blkio_weight=options.blkio_weight or None,
    )


def live_resources(old: CreateOptions, new: CreateOptions) -> dict[str, Any]:
    """The ``linux.resources`` that take a running container from ``old``'s limits to ``new``'s.

    A limit that was set and no longer is must be lifted (-1), not left in place.
    """
    from engine.cgroups import Limits
    from engine.runtime import resources

    before, after = cgroup_limits(old), cgroup_limits(new)
    lifted = {
        item.name: -1
        for item in fields(Limits)
        if getattr(after, item.name) is None
        and getattr(before, item.name) is not None
        and item.name in ("cpu_quota", "memory", "memory_swap", "pids")
    }
    return resources.to_oci(replace(after, **lifted))


def oci_resources(options: CreateOptions) -> dict[str, Any]:
    """config.json's ``linux.resources`` for ``options``."""
    from engine.runtime import resources

    return resources.to_oci(cgroup_limits(options))


def host_config(options: CreateOptions) -> dict[str, Any]:
    """The limits as Docker's inspect names them in HostConfig."""
    return {
        "NanoCpus": options.nano_cpus,
        "CpuPeriod": options.cpu_period,
        "CpuQuota": options.cpu_quota,
        "CpuShares": options.cpu_shares,
        "CpusetCpus": options.cpuset_cpus,
        "CpusetMems": options.cpuset_mems,
        "Memory": options.memory,
        "MemoryReservation": options.memory_reservation,
        "MemorySwap": options.memory_swap,
        "PidsLimit": options.pids_limit or None,
        "BlkioWeight": options.blkio_weight,
    }


def in_effect(options: CreateOptions) -> str:
    """The limits in effect, in flag terms ("cpus=0.5 memory=64MiB pids=20"); "" if none."""
    parts = []
    for field, flag in FLAGS.items():
        value = getattr(options, field)
        if value in (0, ""):
            continue
        if field == "nano_cpus":
            value = f"{value / NANO:g}"
        elif field in SIZE_FIELDS and value > 0:
            value = humanize.binary_size(value)
        parts.append(f"{flag.removeprefix('--')}={value}")
    return " ".join(parts)


def warnings(notes: Iterable[str], options: CreateOptions) -> list[str]:
    """The runtime's notes of what this host could not apply, worded for a user, each once.

    A note on one limit names the flag it came from, then why:
    ``--pids-limit is not applied: the pids cgroup controller is not mounted on this
    host``. Any other note (device rules, say) is kept as the runtime put it.
    """
    from engine.runtime import resources

    said: list[str] = []
    for note in notes:
        found = resources.setting(note)
        text = note if found is None else f"{_flag(found[0], options)} is not applied: {found[1]}"
        if text not in said:  # v1 sets --cpus in two files: one line, not two
            said.append(text)
    return said


def _flag(limit: str, options: CreateOptions) -> str:
    """The flag a Limits field was set by (--cpus fills both the quota and the period)."""
    if limit in ("cpu_quota", "cpu_period") and options.nano_cpus:
        return FLAGS["nano_cpus"]
    return FLAGS[_OPTION_OF_LIMIT.get(limit, limit)]
