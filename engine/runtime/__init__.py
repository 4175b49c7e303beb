"""berth's OCI runtime: an OCI bundle (config.json + rootfs) -> a process in namespaces.

The library the container monitor imports; ``berth-runtime`` (cli.py) is runc's
command line on top of it.
"""

from engine.runtime.container import create, delete, kill, run, start, state

__all__ = ["create", "delete", "kill", "run", "start", "state"]
