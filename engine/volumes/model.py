"""What the engine knows of volumes and of the mounts a container asked for."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: the label Docker (23+) puts on the volumes it makes for one container; prune without -a
#: removes only those
ANONYMOUS_LABEL = "com.docker.volume.anonymous"
#: Docker's rule for a local volume's name
VOLUME_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")


@dataclass(frozen=True)
class Volume:
    name: str
    driver: str  # "local", the only driver
    mountpoint: Path  # <root>/volumes/<name>/_data
    created: str  # RFC 3339
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)  # -o type=,device=,o=
    anonymous: bool = False
    populated: bool = False  # mounted by a container once: never copied up into again


@dataclass(frozen=True)
class VolumeUsage:
    """What a volume holds on disk and who mounts it."""

    size: int  # bytes of its files (-1: not measurable, e.g. a bind to elsewhere)
    containers: tuple[str, ...]  # ids of the containers that mount it, running or not


@dataclass(frozen=True)
class MountPoint:
    """One mount of a container, resolved at create: kept in container_mounts.spec.

    ``source`` is the host path of a bind, the volume's name of a volume ("" never: an
    anonymous volume got its name at create), "" for a tmpfs.
    """

    type: str  # "bind" | "volume" | "tmpfs"
    destination: str  # absolute, normalized, inside the container
    source: str = ""
    readonly: bool = False
    mode: str = ""  # -v's options as typed ("ro,Z"): inspect's Mode; "" from --mount
    propagation: str = ""  # a bind's: rprivate unless asked
    recursive: bool = True  # a bind's: rbind (Docker's default), or bind-recursive=disabled
    readonly_below: bool = True  # a read-only rbind's submounts read-only too (not: =writable)
    copy_up: bool = True  # a volume's: fill it from the image while it is new and empty
    tmpfs_options: tuple[str, ...] = ()  # a tmpfs's size=, mode=
    from_flag: str = ""  # "-v", "--mount", "--volumes-from" or "VOLUME" (the image's)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> MountPoint:
        data = json.loads(text)
        data["tmpfs_options"] = tuple(data.get("tmpfs_options", ()))
        return cls(**data)
