"""What a container may do: capabilities, seccomp, devices, read-only paths, rlimits.

Docker's defaults, and its flags' meanings (--cap-add/--cap-drop, --privileged,
--security-opt, --read-only, --tmpfs, --ulimit, --device), turned into the OCI config
the runtime enforces. :func:`secure` is applied to the config :mod:`engine.containers.spec`
builds (:mod:`engine.ocispec`'s model); nothing here touches the kernel, except reading
the host's /dev for devices.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import stat
from dataclasses import dataclass
from importlib import resources as package_files
from typing import Any

from engine import ocispec as oci
from engine.containers.model import CreateOptions
from engine.containers.user import MAX_ID
from engine.errors import InvalidArgumentError, UnsupportedError
from engine.runtime.capabilities import NAMES as ALL_CAPABILITIES
from engine.units import size_in_bytes

#: Docker's default capabilities (CapEff 00000000a80425fb)
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)  # fmt: skip
DEFAULT_SECCOMP_PROFILE = "seccomp_default.json"

# Device nodes every container may use (runc's defaults): the OCI default nodes, the
# console and ptys; "m" on everything, so mknod works and the rules decide its use.
_ALLOWED_DEVICES = (
    ("c", None, None, "m"), ("b", None, None, "m"),
    ("c", 1, 3, "rwm"), ("c", 1, 5, "rwm"), ("c", 1, 7, "rwm"), ("c", 1, 8, "rwm"),
    ("c", 1, 9, "rwm"), ("c", 5, 0, "rwm"), ("c", 5, 1, "rwm"), ("c", 5, 2, "rwm"),
    ("c", 136, None, "rwm"),
)  # fmt: skip
# Docker's HostDevices skips these under /dev: the container has its own (/dev/ptmx
# is its devpts's, through a link).
_NOT_HOST_DEVICES = (
    "/dev/pts",
    "/dev/shm",
    "/dev/mqueue",
    "/dev/fd",
    "/dev/console",
    "/dev/ptmx",
)
_TMPFS_DEFAULTS = ["nosuid", "nodev", "noexec"]
# The mount flags Docker takes in --tmpfs OPTIONS (moby's MergeTmpfsOptions); its
# key=value options are the keys of _TMPFS_VALUES.
_TMPFS_FLAGS = frozenset((
    "ro", "rw", "exec", "noexec", "suid", "nosuid", "dev", "nodev", "sync", "async",
    "dirsync", "mand", "nomand", "atime", "noatime", "diratime", "nodiratime", "relatime",
    "norelatime", "strictatime", "nostrictatime", "private", "rprivate", "shared",
    "rshared", "slave", "rslave", "unbindable", "runbindable",
))  # fmt: skip
# Docker's --ulimit names; "as" is RLIMIT_AS.
_ULIMITS = ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
            "nproc", "rss", "rtprio", "rttime", "sigpending", "stack", "as")  # fmt: skip
# platform.machine() -> the arch names Docker's profiles use in includes/excludes
_DOCKER_ARCHES = {"x86_64": "amd64", "aarch64": "arm64", "s390x": "s390x", "riscv64": "riscv64"}
_SECCOMP_ARCHES = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64",
                   "s390x": "SCMP_ARCH_S390X", "riscv64": "SCMP_ARCH_RISCV64"}  # fmt: skip


@dataclass(frozen=True)
class SecurityOptions:
    """--security-opt, read: no_new_privileges, and the seccomp profile (None: unconfined)."""

    no_new_privileges: bool = False
    seccomp: dict[str, Any] | None = None


def secure(config: oci.Spec, options: CreateOptions, uid: int) -> None:
    """Add the container's confinement to ``config``, an OCI config for ``options``."""
    process, linux = config.process, config.linux
    assert process is not None and linux is not None and config.root is not None
    caps = capabilities(options, privileged=options.privileged)
    process.capabilities = oci.Capabilities(**capability_sets(caps, options.cap_add, uid))
    security = parse_security_options(options.security_opt)
    process.no_new_privileges = security.no_new_privileges
    process.rlimits = merge_ulimits(process.rlimits or [], options.ulimits)
    config.root.readonly = options.read_only
    config.mounts = (config.mounts or []) + [tmpfs_mount(entry) for entry in options.tmpfs]
    devices = [device_node(entry) for entry in options.devices]
    rules = [_rule(False, "a", None, None, "rwm")]
    if options.privileged:
        _unconfine(config)
        devices = host_devices() + devices
        rules = [_rule(True, "a", None, None, "rwm")]
    else:
        rules += [_rule(True, *allowed) for allowed in _ALLOWED_DEVICES]
        if security.seccomp is not None:
            linux.seccomp = oci_seccomp(security.seccomp, caps)
    rules += [_rule(True, node.type, node.major, node.minor, access)
              for node, access in devices if access]  # fmt: skip
    linux.devices = [node for node, _ in devices]
    if linux.resources is None:
        linux.resources = oci.Resources()
    linux.resources.devices = rules


def check(options: CreateOptions) -> None:
    """Refuse bad confinement options at create, before anything is made."""
    caps = capabilities(options, privileged=options.privileged)
    security = parse_security_options(options.security_opt)
    if security.seccomp is not None and not options.privileged:
        try:
            oci_seccomp(security.seccomp, caps)  # what start would write, read by the model
        except (InvalidArgumentError, UnsupportedError) as error:
            message = str(error).replace("config.json: linux.seccomp.", "", 1)
            raise InvalidArgumentError(f"the seccomp profile cannot be used: {message}") from None
    merge_ulimits([], options.ulimits)
    for entry in options.tmpfs:
        tmpfs_mount(entry)
    for entry in options.devices:
        device_node(entry)


def capabilities(options: CreateOptions, *, privileged: bool) -> list[str]:
    """The container's capabilities: Docker's defaults, --cap-drop, then --cap-add."""
    adds = [normalized(name) for name in options.cap_add]
    drops = [normalized(name) for name in options.cap_drop]
    if privileged or "ALL" in adds:
        return [name for name in ALL_CAPABILITIES if privileged or name not in drops]
    if "ALL" in drops:
        return list(dict.fromkeys(adds))
    kept = [name for name in DEFAULT_CAPABILITIES if name not in drops]
    return list(dict.fromkeys(kept + adds))


def capability_sets(caps: list[str], added: list[str], uid: int) -> dict[str, list[str]]:
    """process.capabilities: root gets ``caps`` in every set but ambient; another user
    gets them as its bounding set, and only the ones it was explicitly given (--cap-add)
    as ambient capabilities that survive its execve (podman's rule)."""
    if uid == 0:
        return {"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps,
                "ambient": []}  # fmt: skip
    names = [normalized(name) for name in added]
    given = caps if "ALL" in names else [name for name in caps if name in names]
    return {"bounding": caps, "effective": given, "permitted": given, "inheritable": given,
            "ambient": given}  # fmt: skip


def normalized(name: str) -> str:
    """A capability as the OCI config names it ("net_admin" -> "CAP_NET_ADMIN"), or "ALL"."""
    upper = name.strip().upper()
    if upper == "ALL":
        return upper
    full = upper if upper.startswith("CAP_") else f"CAP_{upper}"
    if full not in ALL_CAPABILITIES:
        raise InvalidArgumentError(f'unknown capability: "{name}"')
    return full


def parse_security_options(entries: list[str]) -> SecurityOptions:
    """--security-opt values; a seccomp=PROFILE entry holds the profile's JSON itself."""
    no_new_privileges, profile = False, default_seccomp_profile()
    for entry in entries:
        key, value = _key_value(entry)
        if key == "no-new-privileges":
            no_new_privileges = _flag(value, entry)
        elif key == "seccomp":
            profile = None if value == "unconfined" else _profile(value)
        else:
            raise UnsupportedError(f'--security-opt "{entry}" is not supported '
                                   "(berth takes no-new-privileges and seccomp=...)")  # fmt: skip
    return SecurityOptions(no_new_privileges, profile)


def _key_value(entry: str) -> tuple[str, str]:
    """Docker takes both KEY=VALUE and KEY:VALUE; the first of the two separates."""
    cuts = [index for index in (entry.find("="), entry.find(":")) if index >= 0]
    if not cuts:
        return entry, ""
    return entry[: min(cuts)], entry[min(cuts) + 1 :]


def _flag(value: str, entry: str) -> bool:
    if value.lower() in ("true", "1", "yes", ""):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise InvalidArgumentError(f'--security-opt "{entry}": expected true or false')


def _profile(text: str) -> dict[str, Any]:
    try:
        profile = json.loads(text)
    except ValueError as error:
        raise InvalidArgumentError(f"the seccomp profile is not valid JSON: {error}") from None
    if not isinstance(profile, dict):
        raise InvalidArgumentError("the seccomp profile must be a JSON object")
    return profile


def default_seccomp_profile() -> dict[str, Any]:
    """Docker's default profile (shipped with berth, in Docker's format)."""
    text = package_files.files("engine.containers").joinpath(DEFAULT_SECCOMP_PROFILE).read_text()
    return json.loads(text)


def oci_seccomp(profile: dict[str, Any], caps: list[str]) -> oci.Seccomp:
    """A Docker-format profile as linux.seccomp, for this host and these capabilities.

    As Docker does: architectures from archMap for the host's, and only the rules whose
    includes (capabilities, architectures, minimum kernel) and excludes fit.
    """
    machine = platform.machine()
    architectures = profile.get("architectures") or []
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == _SECCOMP_ARCHES.get(machine):
            architectures = [entry["architecture"], *(entry.get("subArchitectures") or [])]
    rules = []
    for rule in profile.get("syscalls") or []:
        if _applies(rule, set(caps), _DOCKER_ARCHES.get(machine, machine)):
            names = rule.get("names") or ([rule["name"]] if rule.get("name") else [])
            kept = {key: rule[key] for key in ("action", "errnoRet", "args") if key in rule}
            rules.append({"names": names, **kept})
    config = {"defaultAction": profile.get("defaultAction"), "architectures": architectures,
              "syscalls": rules}  # fmt: skip
    if "defaultErrnoRet" in profile:
        config["defaultErrnoRet"] = profile["defaultErrnoRet"]
    return oci.Seccomp.from_dict(config, "linux.seccomp")


def _applies(rule: dict[str, Any], caps: set[str], arch: str) -> bool:
    includes, excludes = rule.get("includes") or {}, rule.get("excludes") or {}
    if not set(includes.get("caps") or []) <= caps:
        return False
    if includes.get("arches") and arch not in includes["arches"]:
        return False
    if includes.get("minKernel") and _kernel() < _version(includes["minKernel"]):
        return False
    if set(excludes.get("caps") or []) & caps:
        return False
    return arch not in (excludes.get("arches") or [])


def _kernel() -> tuple[int, ...]:
    return _version(platform.release())


def _version(text: str) -> tuple[int, ...]:
    numbers = []
    for part in text.split("-")[0].split(".")[:2]:
        digits = "".join(ch for ch in part if ch.isdigit())
        numbers.append(int(digits or 0))
    return tuple(numbers)


def _unconfine(config: oci.Spec) -> None:
    """--privileged: no masked or read-only paths, and /sys (and its cgroups) writable."""
    assert config.linux is not None
    config.linux.masked_paths, config.linux.readonly_paths = [], []
    for mount in config.mounts or []:
        if mount.destination in ("/sys", "/sys/fs/cgroup"):
            mount.options = [option for option in mount.options or [] if option != "ro"]


def merge_ulimits(rlimits: list[oci.Rlimit], ulimits: list[str]) -> list[oci.Rlimit]:
    """The default rlimits with --ulimit NAME=SOFT[:HARD] entries replacing their kind."""
    merged = {entry.type: entry for entry in rlimits}
    for entry in ulimits:
        name, _, limits = entry.partition("=")
        soft, _, hard = limits.partition(":")
        kind = f"RLIMIT_{name.upper()}"
        try:
            values = int(soft), int(hard or soft)
        except ValueError:
            values = (-1, -1)
        if name not in _ULIMITS or not hasattr(resource, kind) or min(values) < 0:
            raise InvalidArgumentError(f'invalid --ulimit "{entry}" (NAME=SOFT[:HARD])')
        if values[0] > values[1]:
            raise InvalidArgumentError(f'--ulimit "{entry}": soft limit exceeds the hard one')
        merged[kind] = oci.Rlimit(type=kind, hard=values[1], soft=values[0])
    return list(merged.values())


def tmpfs_mount(entry: str) -> oci.Mount:
    """--tmpfs PATH[:OPTIONS]: a tmpfs, nosuid, nodev and noexec unless OPTIONS say otherwise."""
    destination, _, options = entry.partition(":")
    if not destination.startswith("/"):
        raise InvalidArgumentError(f'--tmpfs "{entry}": the path must be absolute')
    # "defaults" means nothing more, as in Docker; the kernel's tmpfs would refuse it
    extra = [_tmpfs_option(entry, option) for option in options.split(",")
             if option not in ("", "defaults")]  # fmt: skip
    return oci.Mount(destination, "tmpfs", "tmpfs", _TMPFS_DEFAULTS + extra)


def _tmpfs_option(entry: str, option: str) -> str:
    """One --tmpfs option as the kernel's tmpfs takes it, or InvalidArgumentError."""
    if option in _TMPFS_FLAGS:
        return option
    key, _, value = option.partition("=")
    if key not in _TMPFS_VALUES:
        raise InvalidArgumentError(
            f'--tmpfs "{entry}": unknown option "{option}" (use size, mode, uid, gid, '
            "nr_inodes, nr_blocks, mpol or a mount flag such as ro or exec)"
        )
    try:
        return f"{key}={_TMPFS_VALUES[key](value)}"
    except ValueError as error:
        raise InvalidArgumentError(f'--tmpfs "{entry}": invalid {key} "{value}": {error}') from None


def _tmpfs_size(text: str) -> str:
    """Bytes, or a share of RAM: the kernel knows neither "1.5g" nor "10mb"."""
    return text if re.fullmatch(r"[0-9]+%", text) else _tmpfs_count(text)


def _tmpfs_count(text: str) -> str:
    return str(size_in_bytes(text))


def _tmpfs_mode(text: str) -> str:
    if not re.fullmatch(r"[0-7]{1,4}", text):
        raise ValueError("use octal permissions, such as 1777 or 755")
    return text


def _tmpfs_id(text: str) -> str:
    if not (text.isascii() and text.isdigit() and int(text) <= MAX_ID):
        raise ValueError(f"use a number from 0 to {MAX_ID}")
    return text


def _tmpfs_policy(text: str) -> str:
    if not text:
        raise ValueError("use a memory policy, such as interleave or bind:0")
    return text  # the kernel checks the policy itself


_TMPFS_VALUES = {
    "size": _tmpfs_size,
    "nr_inodes": _tmpfs_count,
    "nr_blocks": _tmpfs_count,
    "mode": _tmpfs_mode,
    "uid": _tmpfs_id,
    "gid": _tmpfs_id,
    "mpol": _tmpfs_policy,
}


def device_node(entry: str) -> tuple[oci.Device, str]:
    """--device HOST[:CONTAINER][:PERMISSIONS]: the linux.devices node and its access."""
    host, inside, access = _device_parts(entry)
    try:
        info = os.stat(host)
    except OSError as error:
        raise InvalidArgumentError(f'--device "{entry}": {error.strerror}') from None
    if not (stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)):
        raise InvalidArgumentError(f'--device "{entry}": {host} is not a device node')
    return _node(inside, info), access


def _device_parts(entry: str) -> tuple[str, str, str]:
    """HOST, CONTAINER and access of a --device entry, checked as Docker's client does."""
    parts = entry.split(":")
    if len(parts) > 3 or not parts[0]:
        raise _bad_device(entry, f"bad format for path: {entry}")
    host, inside, access = parts[0], parts[0], "rwm"
    if len(parts) == 2 and _is_device_access(parts[1]):
        access = parts[1]
    elif len(parts) == 2:
        inside = parts[1]
    elif len(parts) == 3:
        inside, access = parts[1], parts[2]
        if not _is_device_access(access):
            raise _bad_device(entry, f"bad mode specified: {access} (use r, w and m)")
    if not inside.startswith("/"):
        raise _bad_device(entry, f"{inside} is not an absolute path")
    return host, inside, access


def _is_device_access(text: str) -> bool:
    """r, w and m, each at most once: Docker's device modes."""
    return bool(text) and len(set(text)) == len(text) and set(text) <= set("rwm")


def _bad_device(entry: str, reason: str) -> InvalidArgumentError:
    return InvalidArgumentError(f'invalid argument "{entry}" for "--device" flag: {reason}')


def host_devices() -> list[tuple[oci.Device, str]]:
    """Every device node of the host's /dev, for --privileged."""
    found = []
    for directory, subdirectories, files in os.walk("/dev"):
        subdirectories[:] = [name for name in subdirectories
                             if f"{directory}/{name}" not in _NOT_HOST_DEVICES]  # fmt: skip
        for name in files:
            path = f"{directory}/{name}"
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if path not in _NOT_HOST_DEVICES and (stat.S_ISCHR(info.st_mode)
                                                   or stat.S_ISBLK(info.st_mode)):  # fmt: skip
                found.append((_node(path, info), ""))
    return found


def _node(path: str, info: os.stat_result) -> oci.Device:
    return oci.Device(
        path=path,
        type="c" if stat.S_ISCHR(info.st_mode) else "b",
        major=os.major(info.st_rdev),
        minor=os.minor(info.st_rdev),
        file_mode=stat.S_IMODE(info.st_mode),
        uid=info.st_uid,
        gid=info.st_gid,
    )


def _rule(allow: bool, kind: str, major: int | None, minor: int | None,
          access: str) -> oci.DeviceRule:  # fmt: skip
    return oci.DeviceRule(allow=allow, type=kind, major=major, minor=minor, access=access)
