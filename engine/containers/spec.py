"""The OCI runtime config (config.json) of a container.

This is the contract between the engine and the runtime: everything the runtime
needs is here, and it knows nothing of images, names or networks. It is built as
:mod:`engine.ocispec`'s model, the one berth's runtime reads it into.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass
from typing import Any

from engine import ocispec as oci
from engine.containers.user import ProcessUser
from engine.ocispec import OCI_VERSION

# Docker's defaults: paths a container must not read or must not change.
MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)  # fmt: skip
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

_NAMESPACES = ("pid", "network", "ipc", "uts", "mount", "cgroup")

# Podman asks for 1048576 open files; hosts without CAP_SYS_RESOURCE cannot grant
# more than their own hard limit, so the default is clamped to what the host has.
_DEFAULT_NOFILE = 1048576


@dataclass(frozen=True)
class ProcessSpec:
    args: list[str]
    env: list[str]
    cwd: str
    user: ProcessUser
    hostname: str
    terminal: bool = False


def _mount(destination: str, fstype: str, source: str, options: list[str]) -> oci.Mount:
    return oci.Mount(destination, fstype, source, options)


def default_mounts() -> list[oci.Mount]:
    """The file systems every container gets, in mount order."""
    return [
        _mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
        _mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        _mount(
            "/dev/pts",
            "devpts",
            "devpts",
            ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        ),
        _mount(
            "/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]
        ),
        _mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
        _mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
        _mount(
            "/sys/fs/cgroup", "cgroup", "cgroup", ["nosuid", "noexec", "nodev", "relatime", "ro"]
        ),
    ]


def etc_mounts(files: dict[str, str]) -> list[oci.Mount]:
    """Bind mounts of the per-container /etc files (hostname, hosts, resolv.conf)."""
    return [_mount(dest, "bind", source, ["rbind", "rprivate"]) for dest, source in files.items()]


def default_rlimits() -> list[oci.Rlimit]:
    """RLIMIT_NOFILE as podman sets it, never above the host's own hard limit."""
    _, host_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = (
        _DEFAULT_NOFILE if host_hard == resource.RLIM_INFINITY else min(_DEFAULT_NOFILE, host_hard)
    )
    return [oci.Rlimit(type="RLIMIT_NOFILE", hard=limit, soft=limit)]


def runtime_config(
    process: ProcessSpec, *, rootfs: str, cgroups_path: str, extra_mounts: list[oci.Mount],
    network: dict[str, Any] | None, resources: dict[str, Any] | None = None,
) -> oci.Spec:  # fmt: skip
    """A complete OCI config for one container; ``resources``: linux.resources, if any.

    ``network`` is the network namespace's entry (a ``path`` joins one the engine wired);
    None shares the host's network.
    """
    namespaces = [oci.Namespace(kind) for kind in _NAMESPACES if kind != "network"]
    if network:
        namespaces.append(oci.Namespace.from_dict(network, "linux.namespaces[]"))
    return oci.Spec(
        oci_version=OCI_VERSION,
        process=oci.Process(
            terminal=process.terminal,
            user=oci.User(
                uid=process.user.uid,
                gid=process.user.gid,
                additional_gids=list(process.user.additional_gids),
            ),
            args=list(process.args),
            env=list(process.env),
            cwd=process.cwd,
            rlimits=default_rlimits(),
            no_new_privileges=False,
        ),
        root=oci.Root(path=rootfs, readonly=False),
        hostname=process.hostname,
        mounts=default_mounts() + extra_mounts,
        linux=oci.Linux(
            namespaces=namespaces,
            cgroups_path=cgroups_path,
            masked_paths=list(MASKED_PATHS),
            readonly_paths=list(READONLY_PATHS),
            resources=oci.Resources.from_dict(resources or {}, "linux.resources"),
        ),
    )
