"""Images and their layers.

The service's names load on first use: ``engine.images.progress`` or ``.model`` alone
must not import the whole image service (``berth ps`` needs neither).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.images.service import Image, ImageService, ImageSummary

__all__ = ["Image", "ImageService", "ImageSummary"]


def __getattr__(name: str) -> object:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module("engine.images.service"), name)
