"""The OCI runtimes the engine can run containers with, by the name ``--runtime`` takes.

``berth`` (the default) is berth's own runtime, called in-process; any other name is a
runtime binary speaking runc's command line: a name found on PATH (``runc``, ``crun``)
or an absolute path. The engine-wide default is ``$BERTH_RUNTIME`` (berth has no
config file). Each runtime keeps its state under the engine's run dir:
``<runroot>/runtime`` for berth's (as before), ``<runroot>/runtimes/<name>`` for others.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from engine.errors import NotFoundError
from engine.runtimes.base import OciRuntime

__all__ = ["BUILTIN", "OciRuntime", "become_subreaper", "default_name", "get", "open_at", "resolve",
           "state_root"]  # fmt: skip

#: the name of berth's own runtime
BUILTIN = "berth"
# sbin directories: runtimes live there, and a user's PATH may lack them
_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def default_name() -> str:
    """The runtime a container gets when ``--runtime`` is not given."""
    return os.environ.get("BERTH_RUNTIME") or BUILTIN


def resolve(name: str) -> Path | None:
    """The binary ``name`` stands for; None for berth's own. NotFoundError if none."""
    if name == BUILTIN:
        return None
    if "/" in name:
        path = Path(name)
        found = path.is_absolute() and path.is_file() and os.access(path, os.X_OK)
        binary = str(path) if found else None
    else:
        search = os.pathsep.join([os.environ.get("PATH", os.defpath), *_SBIN])
        binary = shutil.which(name, path=search) if name else None
    if binary is None:
        raise NotFoundError(f'no such OCI runtime: "{name}" (install it, or see --runtime)')
    return Path(binary)


def state_root(name: str, runroot: Path) -> Path:
    """Where runtime ``name`` keeps its containers' state, under the engine's run dir."""
    if name == BUILTIN:
        return runroot / "runtime"
    return runroot / "runtimes" / (Path(name).name or "runtime")


def get(name: str, runroot: Path) -> OciRuntime:
    """Runtime ``name`` with its state under ``runroot``; NotFoundError if there is none."""
    return open_at(name, state_root(name, runroot))


def open_at(name: str, root: Path) -> OciRuntime:
    """Runtime ``name`` with its state in ``root`` (a monitor is told where)."""
    binary = resolve(name)
    if binary is None:
        from engine.runtimes.builtin import BuiltinRuntime

        return BuiltinRuntime(root)
    from engine.runtimes.binary import BinaryRuntime

    return BinaryRuntime(binary, root, name=Path(name).name)


def become_subreaper() -> None:
    """Orphaned descendants become our children (PR_SET_CHILD_SUBREAPER), so a process a
    runtime binary created and left can still be waited for."""
    from engine.linux import syscalls

    syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
