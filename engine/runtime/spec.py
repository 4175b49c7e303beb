"""Load and check an OCI bundle's config.json (runtime-spec v1.x).

The JSON is read into :mod:`engine.ocispec`'s model, which holds the fields berth
honours and refuses any other with a message naming it, rather than ignore it; what is
checked here is what only the runtime can judge, and the result is in the runtime's own
types (a Process with capability masks, Limits, device rules).
"""

from __future__ import annotations

import json
import os
import resource
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import cgroups
from engine import ocispec as oci
from engine.cgroups import Limits
from engine.errors import InvalidArgumentError, UnsupportedError
from engine.linux import syscalls
from engine.runtime import capabilities, devicecgroup, resources
from engine.runtime.mountoptions import PROPAGATION

NAMESPACE_FLAGS = {
    "pid": syscalls.CLONE_NEWPID,
    "network": syscalls.CLONE_NEWNET,
    "mount": syscalls.CLONE_NEWNS,
    "ipc": syscalls.CLONE_NEWIPC,
    "uts": syscalls.CLONE_NEWUTS,
    "cgroup": syscalls.CLONE_NEWCGROUP,
}
DEVICE_TYPES = ("c", "b", "u", "p")


@dataclass(frozen=True)
class User:
    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()
    umask: int = 0o022


@dataclass(frozen=True)
class Rlimit:
    name: str  # "RLIMIT_NOFILE"
    soft: int
    hard: int

    @property
    def resource(self) -> int:
        return getattr(resource, self.name)


@dataclass(frozen=True)
class Process:
    args: tuple[str, ...]
    env: tuple[str, ...]
    cwd: str
    user: User
    #: the process gets a new pseudo-terminal as its stdio and controlling terminal
    terminal: bool = False
    #: the terminal's (rows, columns) from the start, if given
    console_size: tuple[int, int] | None = None
    rlimits: tuple[Rlimit, ...] = ()
    no_new_privileges: bool = False
    #: None keeps the runtime's own capabilities (and setuid's effect on them)
    capabilities: capabilities.Capabilities | None = None

    def environ(self) -> dict[str, str]:
        """env as a mapping; a later duplicate wins, entries without '=' are dropped."""
        return dict(entry.split("=", 1) for entry in self.env if "=" in entry)


@dataclass(frozen=True)
class Mount:
    destination: str
    type: str
    source: str
    options: tuple[str, ...] = ()

    @property
    def is_bind(self) -> bool:
        return self.type == "bind" or "bind" in self.options or "rbind" in self.options


@dataclass(frozen=True)
class Namespace:
    type: str
    path: str | None = None

    @property
    def flag(self) -> int:
        return NAMESPACE_FLAGS[self.type]


@dataclass(frozen=True)
class Device:
    path: str
    type: str
    major: int
    minor: int
    file_mode: int = 0o666
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class Spec:
    oci_version: str
    root: Path  # absolute
    root_readonly: bool
    process: Process
    cgroups_path: str
    hostname: str | None = None
    domainname: str | None = None
    mounts: tuple[Mount, ...] = ()
    namespaces: tuple[Namespace, ...] = ()
    devices: tuple[Device, ...] = ()
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()
    sysctl: dict[str, str] = field(default_factory=dict)
    rootfs_propagation: str | None = None
    #: linux.seccomp as written; engine.runtime.seccomp checks and compiles it
    seccomp: dict[str, Any] | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    resources: Limits = field(default_factory=Limits)  # linux.resources
    device_rules: tuple[devicecgroup.DeviceRule, ...] = ()  # linux.resources.devices

    def namespace(self, kind: str) -> Namespace | None:
        return next((ns for ns in self.namespaces if ns.type == kind), None)


def load(bundle: Path, container_id: str) -> Spec:
    """The checked config of ``bundle``; InvalidArgumentError says what is wrong.

    :mod:`engine.ocispec` reads the JSON (refusing a field berth cannot honour, by name);
    the checks only the runtime can make, and its own types, are here.
    """
    path = bundle / "config.json"
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidArgumentError(f"bundle {bundle} has no config.json") from None
    except (OSError, ValueError) as error:
        raise InvalidArgumentError(f"cannot read {path}: {error}") from None
    if not isinstance(config, dict):
        raise InvalidArgumentError(f"{path}: not a JSON object")
    return from_model(oci.Spec.from_dict(config), bundle, container_id)


def from_model(config: oci.Spec, bundle: Path, container_id: str) -> Spec:
    """The runtime's Spec of a config read into the model (paths relative to ``bundle``)."""
    if not config.oci_version.startswith("1."):
        raise InvalidArgumentError(f"config.json: unsupported ociVersion {config.oci_version!r}")
    root = _required(config.root, "root")
    linux = config.linux or oci.Linux()
    limits = linux.resources or oci.Resources()
    masked, readonly = linux.masked_paths or [], linux.readonly_paths or []
    spec = Spec(
        oci_version=config.oci_version,
        root=bundle / root.path,
        root_readonly=bool(root.readonly),
        process=process_of(_required(config.process, "process")),
        cgroups_path=_cgroups_path(linux.cgroups_path, container_id),
        hostname=config.hostname or None,
        domainname=config.domainname or None,
        mounts=tuple(_mount(mount) for mount in config.mounts or []),
        namespaces=_namespaces(linux.namespaces or []),
        devices=tuple(_device(device) for device in linux.devices or []),
        masked_paths=tuple(masked),
        readonly_paths=tuple(readonly),
        sysctl=dict(linux.sysctl or {}),
        rootfs_propagation=_propagation(linux.rootfs_propagation),
        seccomp=linux.seccomp.to_dict() if linux.seccomp else None,
        annotations=dict(config.annotations or {}),
        resources=resources.parse(limits.to_dict()),
        device_rules=devicecgroup.parse([rule.to_dict() for rule in limits.devices or []]),
    )
    _check_namespaces(spec)
    _check_sysctls(spec)
    return spec


def load_process(process: dict[str, Any]) -> Process:
    """A checked OCI process object: config.json's, or one given to exec."""
    return process_of(oci.Process.from_dict(process, "process"))


def process_of(process: oci.Process) -> Process:
    """The runtime's Process of the model's, checked."""
    if not process.args:
        raise InvalidArgumentError("config.json: process.args must list the command to run")
    if not process.cwd.startswith("/"):
        raise InvalidArgumentError(f"config.json: process.cwd {process.cwd!r} must be absolute")
    user = process.user or oci.User()
    size = process.console_size
    sets = process.capabilities
    return Process(
        args=tuple(process.args),
        env=tuple(process.env or ()),
        cwd=process.cwd,
        user=User(
            uid=user.uid,
            gid=user.gid,
            additional_gids=tuple(user.additional_gids or ()),
            umask=0o022 if user.umask is None else user.umask,
        ),
        terminal=bool(process.terminal),
        console_size=None if size is None else (size.height, size.width),
        rlimits=tuple(_rlimit(rlimit) for rlimit in process.rlimits or []),
        no_new_privileges=bool(process.no_new_privileges),
        capabilities=None if sets is None else capabilities.parse(sets.to_dict()),
    )


def _required(value: Any, where: str) -> Any:
    if value is None:
        raise InvalidArgumentError(f"config.json: {where} is required")
    return value


def _rlimit(rlimit: oci.Rlimit) -> Rlimit:
    name, soft, hard = rlimit.type, rlimit.soft, rlimit.hard
    if not name.startswith("RLIMIT_") or not hasattr(resource, name):
        raise InvalidArgumentError(f"config.json: unknown rlimit {name!r}")
    if soft > hard:
        raise InvalidArgumentError(f"config.json: rlimit {name}: soft {soft} exceeds hard {hard}")
    return Rlimit(name, soft, hard)


def _mount(entry: oci.Mount) -> Mount:
    destination = entry.destination
    if not destination.startswith("/"):
        raise InvalidArgumentError(f"config.json: mount destination {destination!r} is relative")
    mount = Mount(destination, entry.type or "", entry.source or "", tuple(entry.options or ()))
    if not mount.type and not mount.is_bind:
        raise InvalidArgumentError(f"config.json: mount {destination} has no type")
    return mount


def _namespaces(entries: list[oci.Namespace]) -> tuple[Namespace, ...]:
    namespaces = []
    for entry in entries:
        kind = entry.type
        if kind not in NAMESPACE_FLAGS:
            raise UnsupportedError(f"config.json: {kind} namespaces are not supported")
        if any(ns.type == kind for ns in namespaces):
            raise InvalidArgumentError(f"config.json: the {kind} namespace is listed twice")
        namespaces.append(Namespace(kind, entry.path or None))
    return tuple(namespaces)


def _check_namespaces(spec: Spec) -> None:
    mount = spec.namespace("mount")
    if mount is None or mount.path:
        # The rootfs is assembled with mounts the host must never see.
        raise InvalidArgumentError("config.json: the container needs a new mount namespace")
    if (spec.hostname or spec.domainname) and spec.namespace("uts") is None:
        raise InvalidArgumentError("config.json: a hostname needs a uts namespace")


# Sysctls a namespace of the container's own scopes (runc's list); any other one would
# change the host's kernel, whatever the container's namespaces.
_IPC_SYSCTLS = frozenset({
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
    "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
})  # fmt: skip
_UTS_SYSCTLS = frozenset({"kernel.hostname", "kernel.domainname"})


def _check_sysctls(spec: Spec) -> None:
    for key in spec.sysctl:
        kind = _sysctl_namespace(key)
        if kind is None:
            raise InvalidArgumentError(
                f"config.json: sysctl {key!r} is not in a separate kernel namespace: it would "
                "change the host's"
            )
        namespace = spec.namespace(kind)
        if namespace is None or (namespace.path and _is_hosts(kind, namespace.path)):
            raise InvalidArgumentError(
                f"config.json: sysctl {key!r} needs a {kind} namespace of the container's own"
            )


def _sysctl_namespace(key: str) -> str | None:
    """The namespace that scopes sysctl ``key``, None if none does (or it is no name)."""
    if "/" in key or not key.strip("."):  # /proc/sys/<key with dots as slashes>, no more
        return None
    if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
        return "ipc"
    if key.startswith("net."):
        return "network"
    return "uts" if key in _UTS_SYSCTLS else None


def _is_hosts(kind: str, path: str) -> bool:
    """Whether the namespace file ``path`` is the one the runtime itself runs in."""
    own = {"ipc": "ipc", "network": "net", "uts": "uts"}[kind]
    try:
        joined, ours = os.stat(path), os.stat(f"/proc/self/ns/{own}")
    except OSError:
        return False  # a path that is no namespace fails when it is joined, saying so
    return (joined.st_dev, joined.st_ino) == (ours.st_dev, ours.st_ino)


def _propagation(value: str | None) -> str | None:
    if value and value not in PROPAGATION:
        raise InvalidArgumentError(f"config.json: unknown rootfsPropagation {value!r}")
    return value or None


def _cgroups_path(path: str | None, container_id: str) -> str:
    if not path:
        return cgroups.container_path(container_id)
    if ":" in path:
        raise UnsupportedError(f"config.json: systemd cgroup paths ({path!r}) are not supported")
    return path


def _device(entry: oci.Device) -> Device:
    if entry.type not in DEVICE_TYPES:
        raise InvalidArgumentError(
            f"config.json: device {entry.path} has unknown type {entry.type!r}"
        )
    return Device(
        path=entry.path,
        type=entry.type,
        major=entry.major or 0,
        minor=entry.minor or 0,
        file_mode=0o666 if entry.file_mode is None else entry.file_mode,
        uid=entry.uid or 0,
        gid=entry.gid or 0,
    )
