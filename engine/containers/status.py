"""A container's state in Docker's words: the STATUS column of ``ps`` and the TUI's list."""

from __future__ import annotations

from engine.containers.model import Container
from engine.humanize import duration
from engine.timestamps import parse


def container_status(container: Container, now: float) -> str:
    """Docker's STATUS column: "Up 5 minutes", "Exited (137) 2 minutes ago", "Created"."""
    if container.state == "restarting" and container.finished_at:
        ago = duration(now - parse(container.finished_at))
        return f"Restarting ({container.exit_code}) {ago} ago"
    if container.running and container.started_at:
        up = "Up " + duration(now - parse(container.started_at))
        return up + " (Paused)" if container.state == "paused" else up
    if container.state == "exited" and container.finished_at:
        ago = duration(now - parse(container.finished_at))
        return f"Exited ({container.exit_code}) {ago} ago"
    return "Created"
