"""How engine objects read in the TUI's tables: Docker's columns and wording."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text

# Docker's wording is shared with the CLI (engine.humanize), so the two front ends never
# disagree.
from engine.api import (
    Container,
    ContainerStats,
    ImageSummary,
    PortMapping,
    container_status,
    humanize,
)
from engine.api import parse_timestamp as parse

if TYPE_CHECKING:
    from engine.api import Volume, VolumeUsage

Cell = str | Text
SortValue = str | float | tuple[float, float]

# No CREATED: STATUS says how long it has been up or down, and 120 columns are full;
# the engine's order (newest first) is the table's order until the user sorts.
CONTAINER_COLUMNS = ("NAME", "CONTAINER ID", "IMAGE", "COMMAND", "STATUS", "CPU %", "MEM", "PORTS")
IMAGE_COLUMNS = ("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "CONTAINERS")
VOLUME_COLUMNS = ("NAME", "DRIVER", "MOUNTPOINT", "SIZE", "CONTAINERS", "CREATED")

_COMMAND_WIDTH = 16  # `docker ps` cuts at 20; the TUI has CPU, MEM and PORTS to fit in 120
# A volume's row in 120 columns: its containers' names until "+N" stands for the rest,
# an anonymous volume's 64-hex name cut as ids are, and the mountpoint's tail (the engine
# root is in the title bar; inspect shows the whole path).
_USERS_WIDTH = 20
_ANONYMOUS_WIDTH = 12
_MOUNTPOINT_WIDTH = 36


@dataclass(frozen=True)
class Row:
    """One table row; ``key`` is what the row stands for, stable across refreshes.

    ``order`` holds a value per column to sort by (sizes in bytes, times in seconds);
    where it is empty, a column sorts by its text.
    """

    key: str
    cells: tuple[Cell, ...]
    order: tuple[SortValue, ...] = ()

    def sort_value(self, column: int) -> SortValue:
        if self.order:
            return self.order[column]
        return str(self.cells[column]).casefold()

    def text(self) -> str:
        """Every cell's plain text, which a filter matches against."""
        return " ".join(str(cell) for cell in self.cells)


class ContainerRows:
    """Container rows as ``docker ps`` shows them, with their usage from the stats stream.

    A row is formatted anew only when something it shows changed: the view asks for
    every row on every tick, and most rows (idle containers, "Up 2 hours") read the same
    from one tick to the next. An unchanged row comes back as the same object, which
    tells the table there is nothing to redraw in it.
    """

    def __init__(self) -> None:
        self._made: dict[str, tuple[tuple[object, ...], Row]] = {}

    def rows(
        self, containers: Iterable[Container], now: float,
        stats: Mapping[str, ContainerStats], ports: Mapping[str, Sequence[PortMapping]],
    ) -> list[Row]:  # fmt: skip
        made = {}
        for container in containers:
            sample = stats.get(container.id)
            usage = (sample.cpu_percent, sample.memory_usage) if sample and sample.running else None
            # The status is the one cell that changes with time alone ("Up 5 minutes").
            status = container_status(container, now)
            shown = (container.name, container.image_ref, container.args, container.state,
                     container.exit_code, container.started_at, container.finished_at, status,
                     usage, ports.get(container.id, ()))  # fmt: skip
            known = self._made.get(container.id)
            if known is None or known[0] != shown:
                known = shown, _container_row(container, status, usage, shown[-1])
            made[container.id] = known
        self._made = made  # a removed container's row goes
        return [row for _, row in made.values()]


def _container_row(
    container: Container, status: str, usage: tuple[float | None, int] | None,
    ports: Sequence[PortMapping],
) -> Row:  # fmt: skip
    command = " ".join(container.args)
    if len(command) > _COMMAND_WIDTH:
        command = command[: _COMMAND_WIDTH - 1] + "…"
    cpu, memory = usage or (None, None)
    cells = (
        container.name,
        container.short_id,
        container.image_ref,
        command,
        Text(status, style=_status_style(container)),
        "—" if cpu is None else f"{cpu:.1f}%",
        "—" if memory is None else humanize.binary_size(memory),
        ", ".join(str(mapping) for mapping in ports),
    )
    order = (
        container.name,
        container.short_id,
        container.image_ref,
        command,
        # Running first, then by how recently the state changed, as ps reads top down.
        (0 if container.running else 1, -_state_since(container)),
        -1.0 if cpu is None else cpu,
        -1 if memory is None else memory,
        cells[7],
    )
    return Row(container.id, cells, order)


def _state_since(container: Container) -> float:
    stamp = container.started_at if container.running else container.finished_at
    return parse(stamp) if stamp else 0.0


def _status_style(container: Container) -> str:
    if container.running:
        return "green"
    return "red" if container.exit_code not in (None, 0) else ""


def image_rows(summary: ImageSummary, now: float) -> list[Row]:
    """An image as ``docker images`` shows it: one row per tag, keyed by the tag.

    An untagged image has one ``<none>`` row keyed by its id, so a row's key is always a
    reference the engine resolves.
    """
    short_id = summary.id.removeprefix("sha256:")[:12]
    created = parse(summary.created)
    tail = (short_id, _ago(created, now), humanize.size(summary.size), str(summary.containers))
    order_tail = (short_id, created, summary.size, summary.containers)
    if not summary.repo_tags:
        return [Row(summary.id, ("<none>", "<none>", *tail), ("<none>", "<none>", *order_tail))]
    return [
        Row(tag, (*_split_tag(tag), *tail), (*_split_tag(tag), *order_tail))
        for tag in summary.repo_tags
    ]


def _split_tag(tag: str) -> tuple[str, str]:
    # The last colon: a registry's port ("localhost:5000/app:1") belongs to the repository.
    repository, _, name = tag.rpartition(":")
    return repository, name


def _ago(stamp: float, now: float) -> str:
    return humanize.duration(now - stamp) + " ago"


def volume_row(volume: Volume, usage: VolumeUsage | None, names: dict[str, str], now: float) -> Row:
    """A volume as ``docker volume ls`` shows it, with ``system df -v``'s size and users.

    ``names`` maps container ids to names; an anonymous volume's hex name is cut short
    (the row's key keeps it whole).
    """
    shown, mountpoint = volume.name, str(volume.mountpoint)
    if volume.anonymous:  # <root>/volumes/<name>/_data: the name cut there too
        shown = volume.name[:_ANONYMOUS_WIDTH] + "…"
        mountpoint = mountpoint.replace(f"/{volume.name}/", f"/{shown}/")
    if len(mountpoint) > _MOUNTPOINT_WIDTH:
        mountpoint = "…" + mountpoint[1 - _MOUNTPOINT_WIDTH :]
    size = usage.size if usage else -1
    users = [names.get(ref, ref[:12]) for ref in usage.containers] if usage else []
    created = parse(volume.created)
    cells = (
        shown,
        volume.driver,
        mountpoint,
        "N/A" if size < 0 else humanize.size(size),  # not measurable, as system df -v says
        _users_cell(users),
        _ago(created, now),
    )
    order = (shown, volume.driver, mountpoint, size, len(users), created)
    return Row(volume.name, cells, order)


def _users_cell(names: list[str]) -> str:
    """As many names as fit the column, then how many more: "web, db +3"."""
    shown: list[str] = []
    for name in names:
        more = len(names) - len(shown) - 1  # left out if the list stopped after this one
        wanted = len(", ".join([*shown, name])) + (len(f" +{more}") if more else 0)
        if shown and wanted > _USERS_WIDTH:
            break
        shown.append(name)
    rest = len(names) - len(shown)
    return ", ".join(shown) + (f" +{rest}" if rest else "")
