"""Load and check an OCI bundle's config.json (runtime-spec v1.x).

Only the fields berth honours are read; a field it cannot honour is refused here, with
a message naming it, rather than silently ignored.
"""

from __future__ import annotations

import json
import os
import resource
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
DEFAULT_CGROUP_PARENT = "berth"


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
    """The checked config of ``bundle``; InvalidArgumentError says what is wrong."""
    path = bundle / "config.json"
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidArgumentError(f"bundle {bundle} has no config.json") from None
    except (OSError, ValueError) as error:
        raise InvalidArgumentError(f"cannot read {path}: {error}") from None
    if not isinstance(config, dict):
        raise InvalidArgumentError(f"{path}: not a JSON object")
    return _Parser(bundle).spec(config, container_id)


class _Parser:
    def __init__(self, bundle: Path) -> None:
        self.bundle = bundle

    def spec(self, config: dict[str, Any], container_id: str) -> Spec:
        version = _get(config, "ociVersion", str)
        if not version.startswith("1."):
            raise InvalidArgumentError(f"config.json: unsupported ociVersion {version!r}")
        root = _get(config, "root", dict)
        linux = _get(config, "linux", dict, {})
        spec = Spec(
            oci_version=version,
            root=self.bundle / _get(root, "path", str, where="root.path"),
            root_readonly=_get(root, "readonly", bool, False, where="root.readonly"),
            process=load_process(_get(config, "process", dict)),
            cgroups_path=_cgroups_path(linux, container_id),
            hostname=_get(config, "hostname", str, None) or None,
            domainname=_get(config, "domainname", str, None) or None,
            mounts=tuple(_mount(entry) for entry in _get(config, "mounts", list, [])),
            namespaces=_namespaces(_get(linux, "namespaces", list, [], where="linux.namespaces")),
            devices=tuple(_device(entry) for entry in _get(linux, "devices", list, [])),
            masked_paths=tuple(_get(linux, "maskedPaths", list, [])),
            readonly_paths=tuple(_get(linux, "readonlyPaths", list, [])),
            sysctl=_get(linux, "sysctl", dict, {}),
            rootfs_propagation=_propagation(linux),
            seccomp=_get(linux, "seccomp", dict, None, where="linux.seccomp"),
            annotations=_get(config, "annotations", dict, {}),
            resources=resources.parse(_get(linux, "resources", dict, {})),
            device_rules=devicecgroup.parse(
                _get(_get(linux, "resources", dict, {}), "devices", list, [])
            ),
        )
        _check_namespaces(spec)
        _check_sysctls(spec)
        return spec


def load_process(process: dict[str, Any]) -> Process:
    """A checked OCI process object: config.json's, or one given to exec."""
    args = _get(process, "args", list, where="process.args")
    if not args or not all(isinstance(arg, str) for arg in args):
        raise InvalidArgumentError("config.json: process.args must list the command to run")
    cwd = _get(process, "cwd", str, where="process.cwd")
    if not cwd.startswith("/"):
        raise InvalidArgumentError(f"config.json: process.cwd {cwd!r} must be absolute")
    return Process(
        args=tuple(args),
        env=tuple(_get(process, "env", list, [], where="process.env")),
        cwd=cwd,
        user=_user(_get(process, "user", dict, {}, where="process.user")),
        terminal=_get(process, "terminal", bool, False, where="process.terminal"),
        console_size=_console_size(process),
        rlimits=tuple(_rlimit(entry) for entry in _get(process, "rlimits", list, [])),
        no_new_privileges=_get(process, "noNewPrivileges", bool, False),
        capabilities=_capabilities(process),
    )


def _capabilities(process: dict[str, Any]) -> capabilities.Capabilities | None:
    sets = _get(process, "capabilities", dict, None, where="process.capabilities")
    return None if sets is None else capabilities.parse(sets)


_MISSING: Any = object()


def _get(mapping: dict[str, Any], key: str, kind: type, default: Any = _MISSING,
         *, where: str | None = None) -> Any:  # fmt: skip
    where = where or key
    value = mapping.get(key, _MISSING)
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise InvalidArgumentError(f"config.json: {where} is required")
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidArgumentError(f"config.json: {where} must be a {kind.__name__}")
    return value


def _user(user: dict[str, Any]) -> User:
    gids = _get(user, "additionalGids", list, [], where="process.user.additionalGids")
    return User(
        uid=_get(user, "uid", int, 0, where="process.user.uid"),
        gid=_get(user, "gid", int, 0, where="process.user.gid"),
        additional_gids=tuple(int(gid) for gid in gids),
        umask=_get(user, "umask", int, 0o022, where="process.user.umask"),
    )


def _console_size(process: dict[str, Any]) -> tuple[int, int] | None:
    size = _get(process, "consoleSize", dict, None, where="process.consoleSize")
    if size is None:
        return None
    height = _get(size, "height", int, where="process.consoleSize.height")
    return height, _get(size, "width", int, where="process.consoleSize.width")


def _rlimit(entry: dict[str, Any]) -> Rlimit:
    name = _get(entry, "type", str, where="process.rlimits[].type")
    if not name.startswith("RLIMIT_") or not hasattr(resource, name):
        raise InvalidArgumentError(f"config.json: unknown rlimit {name!r}")
    soft = _get(entry, "soft", int, where=f"rlimit {name} soft")
    hard = _get(entry, "hard", int, where=f"rlimit {name} hard")
    if soft > hard:
        raise InvalidArgumentError(f"config.json: rlimit {name}: soft {soft} exceeds hard {hard}")
    return Rlimit(name, soft, hard)


def _mount(entry: dict[str, Any]) -> Mount:
    destination = _get(entry, "destination", str, where="mounts[].destination")
    if not destination.startswith("/"):
        raise InvalidArgumentError(f"config.json: mount destination {destination!r} is relative")
    options = _get(entry, "options", list, [], where=f"options of mount {destination}")
    mount = Mount(destination, _get(entry, "type", str, ""), _get(entry, "source", str, ""),
                  tuple(options))  # fmt: skip
    if not mount.type and not mount.is_bind:
        raise InvalidArgumentError(f"config.json: mount {destination} has no type")
    return mount


def _namespaces(entries: list[dict[str, Any]]) -> tuple[Namespace, ...]:
    namespaces = []
    for entry in entries:
        kind = _get(entry, "type", str, where="linux.namespaces[].type")
        if kind not in NAMESPACE_FLAGS:
            raise UnsupportedError(f"config.json: {kind} namespaces are not supported")
        if any(ns.type == kind for ns in namespaces):
            raise InvalidArgumentError(f"config.json: the {kind} namespace is listed twice")
        namespaces.append(Namespace(kind, _get(entry, "path", str, None) or None))
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


def _propagation(linux: dict[str, Any]) -> str | None:
    value = _get(linux, "rootfsPropagation", str, None, where="linux.rootfsPropagation")
    if value and value not in PROPAGATION:
        raise InvalidArgumentError(f"config.json: unknown rootfsPropagation {value!r}")
    return value or None


def _cgroups_path(linux: dict[str, Any], container_id: str) -> str:
    path = _get(linux, "cgroupsPath", str, None, where="linux.cgroupsPath")
    if not path:
        return f"{DEFAULT_CGROUP_PARENT}/{container_id}"
    if ":" in path:
        raise UnsupportedError(f"config.json: systemd cgroup paths ({path!r}) are not supported")
    return path


def _device(entry: dict[str, Any]) -> Device:
    path = _get(entry, "path", str, where="linux.devices[].path")
    kind = _get(entry, "type", str, where=f"type of device {path}")
    if kind not in DEVICE_TYPES:
        raise InvalidArgumentError(f"config.json: device {path} has unknown type {kind!r}")
    return Device(
        path=path,
        type=kind,
        major=_get(entry, "major", int, 0),
        minor=_get(entry, "minor", int, 0),
        file_mode=_get(entry, "fileMode", int, 0o666),
        uid=_get(entry, "uid", int, 0),
        gid=_get(entry, "gid", int, 0),
    )
