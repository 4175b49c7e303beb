"""The OCI runtime config (config.json), typed: one model for who writes it and who reads it.

The engine builds a :class:`Spec` and writes it with :meth:`Spec.to_json`; berth's
runtime reads it back with :meth:`Spec.from_json` (or one OCI process object, for exec,
with :meth:`Process.from_dict`) and checks what only it can judge (namespaces it knows,
sysctls the container's own namespaces scope, ...).

The model holds the fields berth writes and its runtime honours, and no more. Reading
refuses a field it does not hold, naming it — ``config.json: linux.intelRdt is not
supported`` (UnsupportedError) — rather than run a container without what its config
asked for; a value of the wrong kind is an InvalidArgumentError that names its field.
Two kinds of field are let through: one whose value asks for nothing (null, false, "",
[] or {}: ``"hooks": {}``), and the few each class lists in ``_IGNORED``, with why
ignoring them is harmless.

A leaf: nothing here imports the engine but its errors.
"""

from __future__ import annotations

import json
import re
import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Self

from engine.errors import InvalidArgumentError, UnsupportedError

OCI_VERSION = "1.0.2"
_PREFIX = "config.json: "


class _Object:
    """A JSON object of config.json: its fields in snake case, the JSON keys camelCase."""

    #: JSON keys that may be present and are not read, each with why that is harmless
    _IGNORED: ClassVar[dict[str, str]] = {}

    def to_dict(self) -> dict[str, Any]:
        """The object as config.json holds it; a field that is None is left out.

        None is "not given" throughout (the runtime's default applies), so that a config
        read and written again is the same JSON: [] and false stay, an absent key stays
        absent.
        """
        return {
            _key(item): _dump(value)
            for item in fields(self)  # type: ignore[arg-type]
            if (value := getattr(self, item.name)) is not None
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "") -> Self:
        """The object of a parsed JSON value; ``where`` is its path in config.json.

        UnsupportedError names a field the model does not hold; InvalidArgumentError a
        required one that is missing or one of the wrong kind.
        """
        if not isinstance(data, dict):
            raise InvalidArgumentError(f"{_PREFIX}{where or 'the config'} must be an object")
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        known = set()
        for item in fields(cls):  # type: ignore[arg-type]
            key = _key(item)
            known.add(key)
            path = f"{where}.{key}" if where else key
            value = data.get(key)
            if value is None:
                if item.default is MISSING and item.default_factory is MISSING:
                    raise InvalidArgumentError(f"{_PREFIX}{path} is required")
                continue  # the default
            values[item.name] = _load(hints[item.name], value, path)
        for key, value in data.items():
            if key not in known and key not in cls._IGNORED and not _asks_nothing(value):
                path = f"{where}.{key}" if where else key
                raise UnsupportedError(f"{_PREFIX}{path} is not supported")
        return cls(**values)


def _key(item: Any) -> str:
    """The JSON key of a dataclass field: metadata "json", or the name in camelCase."""
    return item.metadata.get("json") or re.sub(r"_(\w)", lambda m: m[1].upper(), item.name)


def _asks_nothing(value: Any) -> bool:
    return value is None or value is False or value in ("", [], {})


def _dump(value: Any) -> Any:
    if isinstance(value, _Object):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [_dump(item) for item in value]
    if isinstance(value, dict):
        return {key: _dump(item) for key, item in value.items()}
    return value


def _load(hint: Any, value: Any, where: str) -> Any:
    """``value`` checked (and converted) as type ``hint`` says."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _load(inner, value, where)
    if hint is Any:
        return value
    if isinstance(hint, type) and issubclass(hint, _Object):
        return hint.from_dict(value, where)
    if origin is list:
        (item_hint,) = typing.get_args(hint)
        _expect(value, list, where)
        return [_load(item_hint, item, f"{where}[{index}]") for index, item in enumerate(value)]
    if origin is dict:
        _, value_hint = typing.get_args(hint)
        _expect(value, dict, where)
        return {key: _load(value_hint, item, f"{where}.{key}") for key, item in value.items()}
    _expect(value, hint, where)
    return value


# Python type -> what JSON calls it, for messages
_JSON_KINDS = {int: "an integer", str: "a string", bool: "a boolean", list: "an array",
               dict: "an object"}  # fmt: skip


def _expect(value: Any, kind: type, where: str) -> None:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidArgumentError(f"{_PREFIX}{where} must be {_JSON_KINDS[kind]}")


# --- process ---


@dataclass
class User(_Object):
    uid: int = 0
    gid: int = 0
    #: None: the runtime's default (0o022)
    umask: int | None = None
    additional_gids: list[int] | None = None

    _IGNORED: ClassVar[dict[str, str]] = {
        "username": "Windows only: a Linux process is named by uid and gid",
    }


@dataclass
class ConsoleSize(_Object):
    height: int
    width: int


@dataclass
class Capabilities(_Object):
    """process.capabilities: capability names ("CAP_CHOWN") per set."""

    bounding: list[str] | None = None
    effective: list[str] | None = None
    inheritable: list[str] | None = None
    permitted: list[str] | None = None
    ambient: list[str] | None = None


@dataclass
class Rlimit(_Object):
    type: str  # "RLIMIT_NOFILE"
    hard: int
    soft: int


@dataclass
class Process(_Object):
    cwd: str
    args: list[str] | None = None
    env: list[str] | None = None
    terminal: bool | None = None
    console_size: ConsoleSize | None = None
    user: User | None = None
    #: None keeps the runtime's own capabilities
    capabilities: Capabilities | None = None
    rlimits: list[Rlimit] | None = None
    no_new_privileges: bool | None = None

    _IGNORED: ClassVar[dict[str, str]] = {
        "commandLine": "Windows only: a Linux process is started from args",
    }


# --- root and mounts ---


@dataclass
class Root(_Object):
    path: str
    readonly: bool | None = None


@dataclass
class Mount(_Object):
    destination: str
    type: str | None = None
    source: str | None = None
    options: list[str] | None = None


# --- linux ---


@dataclass
class Namespace(_Object):
    type: str  # "pid", "network", "mount", ...
    #: a namespace to join, rather than a new one
    path: str | None = None


@dataclass
class Device(_Object):
    """linux.devices: a device node the runtime creates in the container's /dev."""

    path: str
    type: str  # "c", "b", "u" or "p"
    major: int | None = None
    minor: int | None = None
    file_mode: int | None = None
    uid: int | None = None
    gid: int | None = None


@dataclass
class DeviceRule(_Object):
    """linux.resources.devices: one allow or deny rule of the device cgroup."""

    allow: bool
    type: str | None = None  # "a", "c" or "b"; None: all
    major: int | None = None  # None: any
    minor: int | None = None
    access: str | None = None  # "rwm"


@dataclass
class Cpu(_Object):
    shares: int | None = None
    quota: int | None = None
    period: int | None = None
    cpus: str | None = None
    mems: str | None = None


@dataclass
class Memory(_Object):
    limit: int | None = None
    reservation: int | None = None
    swap: int | None = None


@dataclass
class Pids(_Object):
    limit: int | None = None  # the schema requires it; absent, there is no limit to set


@dataclass
class BlockIO(_Object):
    weight: int | None = None


@dataclass
class Resources(_Object):
    """linux.resources: what Docker's limit flags and --device set."""

    cpu: Cpu | None = None
    memory: Memory | None = None
    pids: Pids | None = None
    block_io: BlockIO | None = field(default=None, metadata={"json": "blockIO"})
    devices: list[DeviceRule] | None = None


@dataclass
class SeccompArg(_Object):
    index: int
    value: int
    op: str
    value_two: int | None = None


@dataclass
class Syscall(_Object):
    names: list[str]
    action: str
    errno_ret: int | None = None
    args: list[SeccompArg] | None = None


@dataclass
class Seccomp(_Object):
    default_action: str
    default_errno_ret: int | None = None
    architectures: list[str] | None = None
    syscalls: list[Syscall] | None = None


@dataclass
class Linux(_Object):
    namespaces: list[Namespace] | None = None
    devices: list[Device] | None = None
    #: None: the runtime's default, berth/<id>
    cgroups_path: str | None = None
    resources: Resources | None = None
    sysctl: dict[str, str] | None = None
    seccomp: Seccomp | None = None
    masked_paths: list[str] | None = None
    readonly_paths: list[str] | None = None
    rootfs_propagation: str | None = None


# --- the config ---


@dataclass
class Spec(_Object):
    """A whole config.json."""

    oci_version: str
    process: Process | None = None
    root: Root | None = None
    hostname: str | None = None
    domainname: str | None = None
    mounts: list[Mount] | None = None
    linux: Linux | None = None
    annotations: dict[str, str] | None = None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Spec:
        """The config of config.json's text; InvalidArgumentError if it is no JSON object."""
        try:
            data = json.loads(text)
        except ValueError as error:
            raise InvalidArgumentError(f"{_PREFIX}not valid JSON: {error}") from None
        return cls.from_dict(data)
