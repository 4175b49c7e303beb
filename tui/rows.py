"""How engine objects read in the TUI's tables: Docker's columns and wording."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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

Cell = str | Text
SortValue = str | float | tuple[float, float]

# No CREATED: STATUS says how long it has been up or down, and 120 columns are full;
# the engine's order (newest first) is the table's order until the user sorts.
CONTAINER_COLUMNS = ("NAME", "CONTAINER ID", "IMAGE", "COMMAND", "STATUS", "CPU %", "MEM", "PORTS")
IMAGE_COLUMNS = ("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "CONTAINERS")

_COMMAND_WIDTH = 16  # `docker ps` cuts at 20; the TUI has CPU, MEM and PORTS to fit in 120


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


def container_row(
    container: Container,
    now: float,
    stats: ContainerStats | None = None,
    ports: Sequence[PortMapping] = (),
) -> Row:
    """A container as ``docker ps`` shows it, with its usage from the stats stream."""
    command = " ".join(container.args)
    if len(command) > _COMMAND_WIDTH:
        command = command[: _COMMAND_WIDTH - 1] + "…"
    cpu = stats.cpu_percent if stats and stats.running else None
    memory = stats.memory_usage if stats and stats.running else None
    cells = (
        container.name,
        container.short_id,
        container.image_ref,
        command,
        Text(container_status(container, now), style=_status_style(container)),
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
