"""The process a container runs: Docker's ENTRYPOINT x CMD rules."""

from __future__ import annotations

from collections.abc import Sequence

from engine.errors import InvalidArgumentError


def container_args(
    image_entrypoint: Sequence[str] | None,
    image_cmd: Sequence[str] | None,
    entrypoint: str | None = None,
    command: Sequence[str] | None = None,
) -> list[str]:
    """The argv of a container, as Docker builds it.

    ``entrypoint`` is ``--entrypoint`` (None when not given; "" clears the image's);
    giving it also drops the image's CMD. ``command`` is what follows the image on
    the command line (None or empty when nothing does). The image's entrypoint and
    cmd are already in exec form: shell forms were turned into ``/bin/sh -c`` when
    the image was made, which is why an ENTRYPOINT in shell form ignores CMD.
    """
    if entrypoint is not None:
        base = [entrypoint] if entrypoint else []
        args = base + list(command or [])
    else:
        base = list(image_entrypoint or [])
        args = base + list(command or image_cmd or [])
    if not args:
        raise InvalidArgumentError(
            "no command specified: the image has no CMD or ENTRYPOINT; give one after the image"
        )
    return args
