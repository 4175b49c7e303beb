"""How engine objects read in the TUI's tables: Docker's columns and wording."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

# Docker's wording is shared with the CLI so the two front ends never disagree; it lives
# in cli/ for now and belongs in a module both front ends may import (see the report).
from engine import humanize
from engine.containers.model import Container
from engine.images import ImageSummary
from engine.timestamps import parse

Cell = str | Text

CONTAINER_COLUMNS = ("NAME", "CONTAINER ID", "IMAGE", "COMMAND", "STATUS", "CREATED")
IMAGE_COLUMNS = ("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "CONTAINERS")

_COMMAND_WIDTH = 30


@dataclass(frozen=True)
class Row:
    """One table row; ``key`` is what the row stands for, stable across refreshes."""

    key: str
    cells: tuple[Cell, ...]


def container_row(container: Container, now: float) -> Row:
    """A container as ``docker ps`` shows it, keyed by its full id."""
    command = " ".join(container.args)
    if len(command) > _COMMAND_WIDTH:
        command = command[: _COMMAND_WIDTH - 1] + "…"
    cells = (
        container.name,
        container.short_id,
        container.image_ref,
        command,
        Text(humanize.container_status(container, now), style=_status_style(container)),
        _ago(container.created, now),
    )
    return Row(container.id, cells)


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
    tail = (
        short_id,
        _ago(summary.created, now),
        humanize.size(summary.size),
        str(summary.containers),
    )
    if not summary.repo_tags:
        return [Row(summary.id, ("<none>", "<none>", *tail))]
    return [Row(tag, (*_split_tag(tag), *tail)) for tag in summary.repo_tags]


def _split_tag(tag: str) -> tuple[str, str]:
    # The last colon: a registry's port ("localhost:5000/app:1") belongs to the repository.
    repository, _, name = tag.rpartition(":")
    return repository, name


def _ago(stamp: str, now: float) -> str:
    return humanize.duration(now - parse(stamp)) + " ago"
