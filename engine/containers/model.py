"""What the engine knows of a container, as stored in the database."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class CreateOptions:
    """The user's choices at ``create``/``run``; stored so ``start`` can rebuild the bundle."""

    image: str
    command: list[str] = field(default_factory=list)
    name: str | None = None
    env: list[str] = field(default_factory=list)  # KEY=VALUE, already resolved
    workdir: str | None = None
    user: str | None = None
    hostname: str | None = None
    entrypoint: str | None = None
    auto_remove: bool = False
    tty: bool = False
    interactive: bool = False  # keep stdin open for attach clients
    restart: str = "no"
    log_max_size: int = 0  # bytes; 0 keeps one unbounded file
    log_max_files: int = 1
    stop_signal: str | None = None
    stop_timeout: int | None = None


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    image_id: str
    image_ref: str
    created: str
    options: CreateOptions
    args: list[str]  # the process the container runs (entrypoint + cmd)
    state: str  # created | running | exited
    monitor_pid: int | None
    monitor_start: int | None
    exit_code: int | None
    restart_count: int
    stop_requested: bool
    started_at: str | None
    finished_at: str | None
    error: str | None

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def running(self) -> bool:
        """Whether a monitor supervises it: running, paused or between restarts."""
        return self.state in ("running", "paused", "restarting")

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Container:
        stored = json.loads(row["options"])
        args = stored.pop("args")
        return cls(
            id=row["id"],
            name=row["name"],
            image_id=row["image_id"],
            image_ref=row["image_ref"],
            created=row["created"],
            options=CreateOptions(**stored),
            args=args,
            state=row["state"],
            monitor_pid=row["monitor_pid"],
            monitor_start=row["monitor_start"],
            exit_code=row["exit_code"],
            restart_count=row["restart_count"],
            stop_requested=bool(row["stop_requested"]),
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            error=row["error"],
        )


def stored_options(options: CreateOptions, args: list[str]) -> str:
    """The JSON kept in the ``options`` column: the options plus the computed argv."""
    return json.dumps({**asdict(options), "args": args})
