"""Turn a stored container into an OCI bundle: a mounted rootfs and its config.json."""

from __future__ import annotations

import json
import os
from pathlib import Path

from engine import cgroups
from engine import ocispec as oci
from engine.containers.environment import container_env
from engine.containers.layout import ROOTFS, container_dirs
from engine.containers.limits import oci_resources
from engine.containers.model import Container
from engine.containers.security import secure
from engine.containers.spec import ProcessSpec, etc_mounts, runtime_config
from engine.containers.user import resolve_user
from engine.errors import ContainerStartError
from engine.images import Image
from engine.linux.files import write_atomically
from engine.network.model import ContainerNetwork
from engine.runtime.rootpath import resolve as resolve_in_root
from engine.storage import overlay


def mount_points(bundle: Path) -> list[str]:
    """Where the runtime mounts over the container's root file system, relative to it
    (as its last start's config.json has them)."""
    try:
        config = json.loads((bundle / "config.json").read_text())
    except FileNotFoundError:  # never started: nothing was mounted on it
        return []
    return [os.path.normpath(mount["destination"]).lstrip("/") for mount in config["mounts"]]


def prepare(
    bundle: Path, container: Container, image: Image, lowers: list[Path], short_links: list[str],
    links_dir: Path, network: ContainerNetwork, mounts: list[oci.Mount],
) -> None:  # fmt: skip
    """Mount the rootfs (if not yet) and write config.json; unmount again on failure.

    ``mounts``: the container's binds, volumes and tmpfs mounts, parents first.
    """
    upper, work, merged = container_dirs(bundle)
    if not merged.is_mount():
        overlay.mount_overlay(lowers, short_links, links_dir, upper, work, merged)
    try:
        _write_config(bundle, container, image, merged, network, mounts)
    except BaseException:
        overlay.unmount(merged)
        raise


def _write_config(bundle: Path, container: Container, image: Image, rootfs: Path,
                  network: ContainerNetwork, mounts: list[oci.Mount]) -> None:  # fmt: skip
    image_config = image.config.get("config", {})
    options = container.options
    user = resolve_user(rootfs, options.user or image_config.get("User") or None)
    cwd = options.workdir or image_config.get("WorkingDir") or "/"
    # Docker creates a missing working directory rather than failing the start.
    try:
        resolve_in_root(rootfs, cwd).mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ContainerStartError(
            f'the working directory "{cwd}" is not a directory in the image (see -w)'
        ) from None
    hostname = options.hostname or container.short_id
    env = container_env(image_config.get("Env") or [], options.env, hostname, user.home)
    if options.tty and not any(entry.startswith("TERM=") for entry in env):
        env.append("TERM=xterm")
    process = ProcessSpec(list(container.args), env, cwd, user, hostname, options.tty)
    config = runtime_config(
        process,
        rootfs=ROOTFS,
        cgroups_path=cgroups.container_path(container.id),
        extra_mounts=_etc_mounts(bundle, hostname, network, mounts) + mounts,
        network=network.namespace,
        resources=oci_resources(options),
    )
    secure(config, options, user.uid)
    write_atomically(bundle / "config.json", config.to_json())


def _etc_mounts(
    bundle: Path, hostname: str, network: ContainerNetwork, mounts: list[oci.Mount]
) -> list[oci.Mount]:
    """The engine's /etc files, but for those the user mounted something of their own over."""
    taken = {mount.destination for mount in mounts}
    files = _write_etc_files(bundle, hostname, network)
    return etc_mounts({path: source for path, source in files.items() if path not in taken})


def _write_etc_files(bundle: Path, hostname: str, network: ContainerNetwork) -> dict[str, str]:
    """The container's own hostname, hosts and resolv.conf, bind-mounted over the image's.

    The network wrote ``hosts`` already: it keeps that file current as peers come and go.
    """
    files = {"/etc/hostname": f"{hostname}\n", "/etc/resolv.conf": network.resolv_conf}
    mounts = {"/etc/hosts": str(network.hosts)}
    for destination, text in files.items():
        source = bundle / Path(destination).name
        write_atomically(source, text)
        mounts[destination] = str(source)
    return mounts
