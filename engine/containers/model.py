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
    # Resource limits, as Docker's HostConfig means them (0 or "": not set); see limits.py.
    nano_cpus: int = 0  # --cpus x 10^9
    cpu_period: int = 0  # µs
    cpu_quota: int = 0  # µs per period
    cpu_shares: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    memory: int = 0  # bytes
    memory_reservation: int = 0  # bytes
    memory_swap: int = 0  # memory + swap in bytes; -1 unlimited
    pids_limit: int = 0  # -1 unlimited
    blkio_weight: int = 0
    # Confinement, as Docker's flags give it; see security.py.
    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)  # seccomp=<profile JSON itself>
    read_only: bool = False
    tmpfs: list[str] = field(default_factory=list)  # PATH[:OPTIONS]
    ulimits: list[str] = field(default_factory=list)  # NAME=SOFT[:HARD]
    devices: list[str] = field(default_factory=list)  # HOST[:CONTAINER][:PERMISSIONS]
    # Mounts, as typed; create resolves them into container_mounts (engine/containers/mounts.py).
    volumes: list[str] = field(default_factory=list)  # -v [SOURCE:]TARGET[:MODE]
    mounts: list[str] = field(default_factory=list)  # --mount type=…,source=…,target=…
    volumes_from: list[str] = field(default_factory=list)  # CONTAINER[:ro|rw]
    # Networking; see engine/network/.
    network: str = "bridge"  # bridge | none | host | container:<ref> | <network name>
    connected: list[str] = field(default_factory=list)  # more networks (network connect)
    ip: str | None = None  # fixed address on the first network
    network_aliases: list[str] = field(default_factory=list)
    add_hosts: list[str] = field(default_factory=list)  # HOST:IP
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    publish: list[str] = field(default_factory=list)  # [HOSTIP:][HOSTPORT:]CTRPORT[/PROTO]
    publish_all: bool = False
    # The OCI runtime (--runtime): "berth", a binary's name or path; None: the default.
    runtime: str | None = None


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
    oom_killed: bool = False  # the OOM killer killed one of its processes in its last run
    run_by: str | None = None  # "PID:START" of the run command that created it, if any
    runtime: str = "berth"  # the OCI runtime it runs with (engine/runtimes), for its life

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
            oom_killed=bool(row["oom_killed"]),
            run_by=row["run_by"],
            runtime=row["runtime"],
        )


def stored_options(options: CreateOptions, args: list[str]) -> str:
    """The JSON kept in the ``options`` column: the options plus the computed argv."""
    return json.dumps({**asdict(options), "args": args})
