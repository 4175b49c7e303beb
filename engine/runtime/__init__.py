"""berth's OCI runtime: an OCI bundle (config.json + rootfs) -> a process in namespaces.

The library the container monitor imports (``runtime.create``, ``start``, ``state``,
``kill``, ``delete``, ``run``, from :mod:`engine.runtime.container`, and
``exec_process`` from :mod:`engine.runtime.exec`); ``berth-runtime`` (cli.py) is runc's
command line on top of it. The operations load on first use, so that
``berth-runtime --help`` starts without them.
"""

from __future__ import annotations

import importlib

__all__ = ["create", "delete", "exec_process", "kill", "run", "start", "state"]


def __getattr__(name: str) -> object:
    if name == "exec_process":
        return importlib.import_module("engine.runtime.exec").exec_process
    if name in __all__:
        return getattr(importlib.import_module("engine.runtime.container"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
