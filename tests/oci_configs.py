"""The engine's OCI config builder, called the way bundle.prepare calls it, without a
container: for tests of the model and the schema that need no root."""

from __future__ import annotations

from engine import ocispec as oci
from engine.containers.limits import oci_resources
from engine.containers.model import CreateOptions
from engine.containers.security import secure
from engine.containers.spec import ProcessSpec, etc_mounts, runtime_config
from engine.containers.user import ProcessUser


def built_config(options: CreateOptions, uid: int = 0) -> oci.Spec:
    """The config.json berth would write for ``options``, run as ``uid``."""
    user = ProcessUser(uid, uid, (10,), "/root")
    process = ProcessSpec(["sh"], ["PATH=/bin"], "/work", user, "box", options.tty)
    config = runtime_config(
        process, rootfs="merged", cgroups_path="berth/x",
        extra_mounts=etc_mounts({"/etc/hostname": "/bundle/hostname"}),
        network={"type": "network", "path": "/run/netns/x"}, resources=oci_resources(options),
    )  # fmt: skip
    secure(config, options, uid)
    return config
