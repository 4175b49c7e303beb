"""The engine as a whole: disk usage (``system df``) and the prunes (``system prune``,
``container prune``)."""

from engine.system.filters import PruneFilter
from engine.system.service import Pruned, SystemPruned, SystemService
from engine.system.usage import Category, ContainerUsage, DiskUsage, ImageUsage, VolumeSpace

__all__ = [
    "Category", "ContainerUsage", "DiskUsage", "ImageUsage", "PruneFilter", "Pruned",
    "SystemPruned", "SystemService", "VolumeSpace",
]  # fmt: skip
