"""cgroup drivers: one interface (:class:`Cgroup`), an implementation per host layout.

``create("berth/<id>")`` makes a container's cgroup on whatever the host has —
/sys/fs/cgroup/berth/<id> on cgroup v2, /sys/fs/cgroup/<controller>/berth/<id> on v1
(plus /sys/fs/cgroup/unified/berth/<id> on hybrid hosts); callers never ask which.
"""

from __future__ import annotations

from engine.cgroups.base import Cgroup
from engine.cgroups.hierarchy import CGROUP_ROOT, Hierarchy, Layout, detect, mounted_hierarchies
from engine.cgroups.limits import Limits, Usage
from engine.cgroups.v1 import V1Cgroup
from engine.cgroups.v2 import V2Cgroup

__all__ = [
    "CGROUP_ROOT",
    "CONTAINERS_PARENT",
    "Cgroup",
    "Hierarchy",
    "Layout",
    "Limits",
    "Usage",
    "container_path",
    "create",
    "detect",
    "get",
]

#: the cgroup under which berth's containers live, on every hierarchy: berth/<id>
CONTAINERS_PARENT = "berth"


def container_path(container_id: str) -> str:
    """The cgroup path of a container of berth's (relative to each hierarchy's root)."""
    return f"{CONTAINERS_PARENT}/{container_id}"


def get(path: str, layout: Layout | None = None) -> Cgroup:
    """A handle on the cgroup at ``path`` (relative to each hierarchy's root); no changes."""
    layout = layout or detect()
    hierarchies = mounted_hierarchies(layout)
    driver = V2Cgroup if layout is Layout.UNIFIED else V1Cgroup
    return driver(path, layout, hierarchies)


def create(path: str) -> Cgroup:
    """Create the cgroup at ``path`` on every hierarchy and return its handle."""
    cgroup = get(path)
    cgroup.create()
    return cgroup
