"""The config a container runs with: its image's, with the run options put in place.

``inspect`` shows it as Config and ``commit`` stores it in the new image, as Docker does
for both.
"""

from __future__ import annotations

from typing import Any

from engine.containers.environment import merge_env
from engine.containers.model import Container
from engine.images import Image


def run_config(container: Container, image: Image) -> dict[str, Any]:
    """Entrypoint, Cmd, Env, WorkingDir, User and StopSignal in effect; None where unset.

    Entrypoint and Cmd come from the container's resolved argv (create applied Docker's
    ENTRYPOINT x CMD rules once); Env is the image's merged with -e, without what the
    runtime adds (HOSTNAME, HOME), as Docker shows it.
    """
    options = container.options
    image_config = image.config.get("config", {})
    if options.entrypoint is None:
        entrypoint = list(image_config.get("Entrypoint") or [])
    else:  # --entrypoint replaces the image's; "" clears it
        entrypoint = [options.entrypoint] if options.entrypoint else []
    command = container.args[len(entrypoint) :]
    return {
        "Entrypoint": entrypoint or None,
        "Cmd": command or None,
        "Env": merge_env(image_config.get("Env") or [], options.env),
        "WorkingDir": options.workdir or image_config.get("WorkingDir") or None,
        "User": options.user or image_config.get("User") or None,
        "StopSignal": options.stop_signal or image_config.get("StopSignal") or None,
    }
