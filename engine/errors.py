"""The engine's one exception hierarchy.

Every message is written for the user: front ends print ``str(error)`` as one line
(CLI) or a notification (TUI), never a traceback.
"""


class BerthError(Exception):
    """Base of every error the engine reports to a user."""

    #: exit status a CLI command uses when this error ends it (Docker uses 125 for
    #: errors of the engine itself, before the container's own code runs).
    exit_code = 125


class NotFoundError(BerthError):
    """A named image, container or file does not exist."""


class ConflictError(BerthError):
    """The request clashes with existing state (a name in use, an image in use)."""


class AmbiguousError(BerthError):
    """An id prefix matches more than one object."""


class InvalidArgumentError(BerthError):
    """A flag or value the user gave cannot be used."""


class PermissionError_(BerthError):
    """berth needs privileges it does not have (it runs as root)."""


class UnsupportedError(BerthError):
    """The host lacks a kernel feature berth needs (overlayfs, a cgroup controller)."""


class ContainerStartError(BerthError):
    """The runtime could not start the container's process.

    ``exit_code`` follows Docker: 127 when the command is not found, 126 when it
    cannot be executed, 125 for any other failure before the process ran.
    """

    def __init__(self, message: str, exit_code: int = 125) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class NoSpaceError(BerthError):
    """The engine root's file system is full: "no space left on the engine root (PATH)"."""


class RegistryError(BerthError):
    """A registry could not be reached, refused a request, or answered nonsense."""


class IntegrityError(BerthError):
    """Content whose digest is not the one it was named by: it is never stored."""
